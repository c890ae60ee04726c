//! A TCP relay between the server under test and its backend, to count the
//! backend connections it holds and the bytes that flow from the backend.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Counters {
    /// Connections open to the backend right now.
    pub open: AtomicUsize,
    /// Bytes relayed from the backend to the server, in all.
    pub downstream_bytes: AtomicU64,
}

/// Sees a GET's request head on its way to the backend.
pub type OnGet = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// A fault the relay injects.
#[derive(Clone, Default)]
pub struct Faults {
    /// Runs before each GET is passed on (to change the object between a
    /// HEAD and its GET).
    pub on_get: Option<OnGet>,
    /// The backend's answer stops after this many bytes, the connection
    /// kept open (a backend gone silent, a network partition).
    pub stall_after: Option<u64>,
}

pub struct Relay {
    pub port: u16,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target_port: u16) -> Self {
        Self::start_with(target_port, Faults::default()).await
    }

    pub async fn start_with(target_port: u16, faults: Faults) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counters = Arc::clone(&shared);
                let faults = faults.clone();
                tokio::spawn(async move {
                    let Ok(backend) = TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    counters.open.fetch_add(1, Ordering::SeqCst);
                    relay(client, backend, &counters, &faults).await;
                    counters.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            port,
            counters,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes, then closes both.
async fn relay(client: TcpStream, backend: TcpStream, counters: &Counters, faults: &Faults) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut backend_read, mut backend_write) = backend.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let (Some(on_get), true) = (&faults.on_get, buffer[..n].starts_with(b"GET "))
                    {
                        on_get(&buffer[..n]);
                    }
                    if backend_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut sent = 0u64;
        loop {
            match backend_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let n = match faults.stall_after {
                        Some(limit) => n.min(limit.saturating_sub(sent) as usize),
                        None => n,
                    };
                    if n == 0 {
                        // Silent from here on, the connection kept open.
                        std::future::pending::<()>().await;
                    }
                    sent += n as u64;
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    counters
                        .downstream_bytes
                        .fetch_add(n as u64, Ordering::SeqCst);
                }
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

/// A server that accepts connections and never answers.
pub struct Silent {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        Self {
            port,
            accepted,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}
