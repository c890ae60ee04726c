//! Test servers started by the harness on free ports: Redis, a Redis
//! Cluster, the S3 server s3s-fs. Each dies with the test process, even
//! when it aborts.

#![allow(dead_code)]

pub mod instance;
pub mod proxy;
pub mod redis;
pub mod s3;

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `command_line` under a shell watchdog that kills it when this
/// test process is gone (a static's server is never dropped). The server's
/// pid is written to `pid_file`.
pub fn spawn_with_watchdog(command_line: &str, pid_file: &Path, what: &str) -> Child {
    let script = format!(
        "{command_line} & child=$!; echo $child > {pid_file}; \
         while kill -0 {parent} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done; \
         kill -9 $child 2>/dev/null",
        pid_file = pid_file.display(),
        parent = std::process::id(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} is installed (make test installs it): {e}"))
}

/// Reads a streamed answer until it ends or is cut, within `limit`
/// (panics past it: the body must not hang). The bytes received, and how
/// it ended: `Err` for a cut connection, `Ok` for a clean end.
pub async fn read_until_end_or_cut(
    response: &mut reqwest::Response,
    limit: std::time::Duration,
) -> (usize, Result<(), reqwest::Error>) {
    let mut received = 0;
    let outcome = tokio::time::timeout(limit, async {
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => received += chunk.len(),
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the body ends or is cut, it does not hang");
    (received, outcome)
}
