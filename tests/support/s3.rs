//! A real S3-compatible server for tests: `s3s-fs` (installed by
//! `make test`), one per test process, a bucket per test.

use std::net::TcpListener;
use std::path::PathBuf;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sharetoken::settings::S3Settings;
use tempfile::TempDir;

pub const ACCESS_KEY: &str = "test-access-key";
pub const SECRET_KEY: &str = "test-secret-key-0123456789";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    pub port: u16,
    root: TempDir,
    /// The shell watchdog; it outlives nothing but this process.
    _watchdog: std::sync::Mutex<std::process::Child>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl S3Server {
    /// The server of this test process, started on first use.
    pub fn shared() -> &'static S3Server {
        static SERVER: OnceLock<S3Server> = OnceLock::new();
        SERVER.get_or_init(S3Server::start)
    }

    /// A server of the caller's own, which it may stop and restart.
    pub fn start() -> Self {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let root = tempfile::tempdir().unwrap();
        let watchdog = launch(port, &root);
        Self {
            port,
            root,
            _watchdog: std::sync::Mutex::new(watchdog),
        }
    }

    /// Kills the server (SIGKILL) and waits until its port is closed.
    pub fn kill(&self) {
        if let Ok(pid) = std::fs::read_to_string(pid_file(self.port)) {
            let _ = std::process::Command::new("kill")
                .args(["-9", pid.trim()])
                .status();
        }
        let _ = self._watchdog.lock().unwrap().wait();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "s3s-fs did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&self) {
        *self._watchdog.lock().unwrap() = launch(self.port, &self.root);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new, empty bucket of its own (s3s-fs keeps a bucket as a directory).
    pub fn bucket(&self, hint: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{hint}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        std::fs::create_dir_all(self.root.path().join(&name)).unwrap();
        name
    }

    /// Where s3s-fs keeps an object.
    pub fn object_file(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// Connector settings for `bucket` on this server.
    pub fn settings(&self, bucket: &str) -> S3Settings {
        S3Settings {
            endpoint: Some(self.endpoint()),
            region: REGION.into(),
            bucket: bucket.into(),
            access_key_id: Some(SecretString::from(ACCESS_KEY)),
            secret_access_key: Some(SecretString::from(SECRET_KEY)),
            access_key_id_file: None,
            secret_access_key_file: None,
            virtual_hosted_style: false,
            allow_http: true,
            connect_timeout_ms: 2_000,
            first_byte_timeout_ms: 5_000,
        }
    }
}

/// Starts s3s-fs on `port` serving `root`, and waits until it listens.
fn launch(port: u16, root: &TempDir) -> std::process::Child {
    let command_line = format!(
        "s3s-fs --host 127.0.0.1 --port {port} --access-key {ACCESS_KEY} --secret-key {SECRET_KEY} {}",
        root.path().display()
    );
    let watchdog = super::spawn_with_watchdog(&command_line, &pid_file(port), "s3s-fs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s3s-fs did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    watchdog
}

/// Outside the server's root, where it would look like an object.
fn pid_file(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!("sharetoken-test-s3s-fs-{port}.pid"))
}
