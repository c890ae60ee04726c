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

pub struct Relay {
    pub port: u16,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counters = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(backend) = TcpStream::connect(("127.0.0.1", target_port)).await else {
                        return;
                    };
                    counters.open.fetch_add(1, Ordering::SeqCst);
                    relay(client, backend, &counters).await;
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
async fn relay(client: TcpStream, backend: TcpStream, counters: &Counters) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut backend_read, mut backend_write) = backend.into_split();
    let upstream = async {
        let _ = tokio::io::copy(&mut client_read, &mut backend_write).await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match backend_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
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
    task: tokio::task::JoinHandle<()>,
}

impl Silent {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        Self { port, task }
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
