//! `process` and `sandbox` held inside the driver: each instance started
//! through the sandbox library itself ([`HeldSandbox`]), with the very
//! configuration `vmlab run --backend process|sandbox -- --hold` builds
//! ([`crate::configs`]), and released through a hold pipe of its own (the
//! workload's stdin). No `vmlab` is executed per instance: the plain
//! process and the sandbox are launched the same way, so their rates and
//! slopes compare like with like. The per-instance `vmlab run` path stays
//! available as the rows `process-run` and `sandbox-run` ([`via_run`]).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use vmlab_reports::stats::quantile;
use vmlab_sandbox::held::HeldSandbox;
use vmlab_sandbox::{Config, ExitStatus};

use super::held::{Held, Instance};
use super::holders::{self, Holder, HOLD_ARGS, READY_LIMIT};
use crate::compare::backend::Backend;
use crate::configs::{self, SandboxOptions};
use crate::id::BackendId;

/// Held instances of one configuration, started in this process.
pub struct InDriver {
    name: &'static str,
    config: Config,
    /// Each phase's durations over the starts so far, ns.
    phases: Mutex<BTreeMap<&'static str, Vec<u64>>>,
}

fn hold_args() -> Vec<String> {
    HOLD_ARGS.iter().map(|s| s.to_string()).collect()
}

impl InDriver {
    /// Instances of `config` (whose arguments include `--hold`) under the
    /// row name `name`.
    pub fn new(name: &'static str, config: Config) -> InDriver {
        InDriver {
            name,
            config,
            phases: Mutex::default(),
        }
    }

    /// `vmlab run --backend sandbox`'s sandbox on `images`' rootfs, held.
    pub fn sandbox(images: &Path) -> anyhow::Result<InDriver> {
        // The run's own timeout must not end a held instance: the most a
        // sandbox accepts, like `vmlab run` is given (it applies after the
        // release only: nothing watches a held sandbox).
        let o = SandboxOptions::new(
            images.join("rootfs"),
            hold_args(),
            vmlab_sandbox::config::MAX_TIMEOUT,
        );
        Ok(InDriver::new(
            BackendId::Sandbox.name(),
            configs::sandbox(&o)?,
        ))
    }

    /// `vmlab run --backend process`'s plain process (the rootfs's
    /// workload binary), held.
    pub fn process(images: &Path) -> anyhow::Result<InDriver> {
        let init = images.join("rootfs").join("init");
        if !init.is_file() {
            anyhow::bail!(
                "no workload binary at {}: build the images with `vmlab images build --out {}`",
                init.display(),
                images.display()
            );
        }
        Ok(InDriver::new(
            BackendId::Process.name(),
            configs::process(init, hold_args(), vmlab_sandbox::config::MAX_TIMEOUT),
        ))
    }

    /// The configuration each instance starts with.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl Holder for InDriver {
    fn name(&self) -> &str {
        self.name
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let held = HeldSandbox::start(&self.config, READY_LIMIT)
            .with_context(|| format!("a held {} did not start", self.name))?;
        let mut ends: Vec<(&'static str, u64)> = held.phases().to_vec();
        ends.push(("ready", held.to_ready_ns()));
        ends.sort_by_key(|(_, t)| *t);
        if let Ok(mut p) = self.phases.lock() {
            let mut last = 0;
            for (name, end) in ends {
                p.entry(name).or_default().push(end.saturating_sub(last));
                last = last.max(end);
            }
        }
        Ok(Held::new(
            held.to_ready_ns(),
            Box::new(Kept {
                held: Some(held),
                ended: None,
            }),
        ))
    }

    fn start_phases(&self) -> BTreeMap<String, f64> {
        let Ok(p) = self.phases.lock() else {
            return BTreeMap::new();
        };
        p.iter()
            .map(|(name, ns)| {
                let xs: Vec<f64> = ns.iter().map(|&n| n as f64).collect();
                (name.to_string(), quantile(&xs, 0.5))
            })
            .collect()
    }
}

/// How long an instance found exited has to be reaped.
const REAP_LIMIT: Duration = Duration::from_secs(2);

/// One held instance; `None` once released.
struct Kept {
    held: Option<HeldSandbox>,
    /// Reaped by [`Instance::ended`]: its exit code (128 + a signal).
    ended: Option<i32>,
}

impl Instance for Kept {
    fn pid(&self) -> Option<u32> {
        self.held.as_ref().map(|h| h.pid() as u32)
    }

    fn exited(&mut self) -> bool {
        self.held.as_ref().is_none_or(|h| h.exited())
    }

    fn let_go(&mut self) {
        if let Some(h) = &mut self.held {
            h.let_go();
        }
    }

    fn ended(&mut self) -> Option<String> {
        let held = self.held.take()?;
        Some(match held.release(REAP_LIMIT) {
            Ok(out) => {
                self.ended = Some(i32::from(out.status.as_code()));
                vmlab_sandbox::held::ended(&out)
            }
            Err(e) => format!("{e:#}"),
        })
    }

    fn reap(&mut self, limit: Duration) -> anyhow::Result<i32> {
        if let (None, Some(code)) = (&self.held, self.ended) {
            return Ok(code);
        }
        let held = self.held.take().context("already reaped")?;
        let out = held.release(limit).context("a released instance")?;
        if out.timed_out {
            anyhow::bail!(
                "did not exit within {:.0} s of its release",
                limit.as_secs_f64()
            );
        }
        match out.status {
            ExitStatus::Code(c) => Ok(c),
            ExitStatus::Signal(s) => anyhow::bail!("killed by signal {s}"),
        }
    }
}

/// A holder under another row name (the `vmlab run` rows).
pub struct Renamed {
    name: String,
    inner: Box<dyn Holder>,
}

impl Holder for Renamed {
    fn name(&self) -> &str {
        &self.name
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        self.inner.start_held()
    }
}

/// The row name of `id` held through `vmlab run` per instance.
pub fn run_row(id: BackendId) -> String {
    format!("{}-run", id.name())
}

/// `id` (process or sandbox) held through `vmlab run --backend ID --
/// --hold` per instance, as the row `ID-run`.
pub fn via_run(id: BackendId, exe: PathBuf, images: PathBuf) -> Box<dyn Holder> {
    Box::new(Renamed {
        name: run_row(id),
        inner: Box::new(holders::Ours::new(id, exe, images)),
    })
}

/// Whether `id` is held in the driver by [`holder`].
pub fn in_driver(id: BackendId) -> bool {
    matches!(id, BackendId::Process | BackendId::Sandbox)
}

/// The holder of `id`: process and sandbox in the driver, every other as
/// [`holders::holder`] gives it.
pub fn holder(
    id: BackendId,
    exe: PathBuf,
    images: PathBuf,
    backend: Box<dyn Backend>,
) -> anyhow::Result<Box<dyn Holder>> {
    Ok(match id {
        BackendId::Process => Box::new(InDriver::process(&images)?),
        BackendId::Sandbox => Box::new(InDriver::sandbox(&images)?),
        _ => holders::holder(id, exe, images, backend),
    })
}
