//! A fault-injecting TCP proxy for whole-system tests: sits between clients and the server on
//! loopback and, by a seeded schedule, passes a connection, delays it, drops it before the request
//! reaches the server, drops the answer after the server handled the request (a lost response),
//! answers 503 itself, or refuses everything while "offline". Clients should open one connection
//! per request (no keep-alive pool) so every request meets its own fault.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Delay(u64),
    DropBeforeRequest,
    DropResponse,
    Unavailable,
}

struct Schedule {
    state: u64,
    fault_percent: u64,
    offline: bool,
}

impl Schedule {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.state >> 33
    }

    fn fault(&mut self) -> Fault {
        if self.next() % 100 >= self.fault_percent {
            return Fault::Pass;
        }
        match self.next() % 4 {
            0 => Fault::Delay(self.next() % 200),
            1 => Fault::DropBeforeRequest,
            2 => Fault::DropResponse,
            _ => Fault::Unavailable,
        }
    }
}

/// The proxy's control handle.
#[derive(Clone)]
pub struct FaultProxy {
    pub address: SocketAddr,
    schedule: Arc<Mutex<Schedule>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` with `fault_percent` of connections faulty, seeded by `seed`.
    pub async fn start(upstream: SocketAddr, seed: u64, fault_percent: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let schedule = Arc::new(Mutex::new(Schedule { state: seed, fault_percent, offline: false }));
        let control = schedule.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (fault, offline) = {
                    let mut s = control.lock().unwrap();
                    (s.fault(), s.offline)
                };
                tokio::spawn(handle(client, upstream, if offline { Fault::DropBeforeRequest } else { fault }));
            }
        });
        FaultProxy { address, schedule }
    }

    /// Cuts or restores the link (an offline window).
    pub fn set_offline(&self, offline: bool) {
        self.schedule.lock().unwrap().offline = offline;
    }

    /// Changes how many connections in a hundred meet a fault.
    pub fn set_fault_percent(&self, percent: u64) {
        self.schedule.lock().unwrap().fault_percent = percent;
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::DropBeforeRequest => drop(client),
        Fault::Unavailable => {
            let mut buf = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
            let _ = client
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
        Fault::Delay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            pass(client, upstream).await;
        }
        Fault::Pass => pass(client, upstream).await,
        Fault::DropResponse => {
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            let (mut client_read, _client_write) = client.split();
            let (mut server_read, mut server_write) = server.split();
            // Forward the request; as soon as the answer starts, hang up on both sides.
            let forward = tokio::io::copy(&mut client_read, &mut server_write);
            let mut first = [0u8; 1];
            tokio::select! {
                _ = forward => {}
                _ = server_read.read(&mut first) => {}
            }
        }
    }
}

async fn pass(mut client: TcpStream, upstream: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}
