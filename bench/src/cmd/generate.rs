//! `vmlab completions SHELL` and `vmlab man`: a completion script and the
//! man page, both generated from the clap definitions, so they cannot
//! drift from the commands they describe.
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use clap_complete::Shell;

/// Arguments of `vmlab completions`.
#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "vmlab", &mut script);
    print(&script).context("cannot print the completion script")?;
    Ok(0)
}

/// Arguments of `vmlab man`.
#[derive(Args, Debug, Clone)]
pub struct ManArgs {
    /// Write vmlab.1 and a page per subcommand (vmlab-compare.1, ...) into
    /// DIR instead of printing vmlab.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the man page (section 1, roff) for `cmd`, or writes every page
/// into `args.out`.
pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<u8> {
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the man page directory {}", dir.display()))?;
        clap_mangen::generate_to(cmd, dir)
            .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        eprintln!(
            "man pages: {}/vmlab.1 and one per subcommand",
            dir.display()
        );
        return Ok(0);
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .context("cannot render the man page")?;
    print(&page).context("cannot print the man page")?;
    Ok(0)
}

fn print(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}
