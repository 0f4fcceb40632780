//! [`wait_with_limit`]: a child process under a time limit.
use std::io::Read;
use std::process::{Child, ExitStatus};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Reads `pipe` to its end in a thread; its text (lossy UTF-8).
fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits for `child` at most `limit` (killing it then) while draining its
/// piped stdout and stderr, so a chatty child cannot block on a full pipe.
/// Returns (status, stdout, stderr), or `None` on timeout.
pub fn wait_with_limit(mut child: Child, limit: Duration) -> Option<(ExitStatus, String, String)> {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    status.map(|s| (s, out, err))
}
