//! Real `redis-server` processes for tests, on free ports.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A free TCP port whose cluster-bus port (+10000) is free too.
pub fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// One redis-server with append-only persistence (fsync on every write), so
/// that a kill -9 and restart keeps what was acknowledged.
pub struct RedisServer {
    pub port: u16,
    dir: TempDir,
    cluster: bool,
    watchdog: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    fn start_with(cluster: bool) -> Self {
        let mut server = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("a directory for redis"),
            cluster,
            watchdog: None,
        };
        server.launch();
        server
    }

    /// Starts redis-server under a shell watchdog that kills it when this
    /// test process is gone (statics are never dropped).
    fn launch(&mut self) {
        let mut args = vec![
            format!("--port {}", self.port),
            "--bind 127.0.0.1".into(),
            format!("--dir {}", self.dir.path().display()),
            "--save ''".into(),
            "--appendonly yes".into(),
            "--appendfsync always".into(),
            "--logfile redis.log".into(),
            "--enable-debug-command local".into(),
        ];
        if self.cluster {
            args.push("--cluster-enabled yes".into());
            args.push("--cluster-config-file nodes.conf".into());
            args.push("--cluster-node-timeout 2000".into());
        }
        let command_line = format!("redis-server {}", args.join(" "));
        let watchdog = super::spawn_with_watchdog(&command_line, &self.pid_file(), "redis-server");
        self.watchdog = Some(watchdog);
        self.wait_until_up();
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("redis.pid.test")
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.cli(&["PING"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs redis-cli against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is installed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.pid_file()) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.wait();
        }
        // The port is free once nothing answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.cli(&["PING"]).trim() == "PONG" {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn restart(&mut self) {
        self.launch();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three masters.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::start_with(true)).collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        'wait: while Instant::now() < deadline {
            for node in &nodes {
                if !node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                    std::thread::sleep(Duration::from_millis(100));
                    continue 'wait;
                }
            }
            return Self { nodes };
        }
        panic!("the Redis Cluster did not become ready");
    }

    /// One cluster per test process: creating one takes seconds.
    pub fn shared() -> &'static RedisCluster {
        static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
        CLUSTER.get_or_init(RedisCluster::start)
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
