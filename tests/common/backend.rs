//! A TCP service for health checks to probe: accepts and closes every connection until
//! stopped (then its port refuses them).

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A TCP port that accepts connections (a healthy node) until stopped or dropped.
pub struct Backend {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    /// Listens on a free port of loopback.
    pub fn start() -> Backend {
        Backend::start_on(IpAddr::from([127, 0, 0, 1]))
    }

    /// Listens on a free port of `ip`.
    pub fn start_on(ip: IpAddr) -> Backend {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend { addr, stop, thread: Some(thread) }
    }

    /// Closes the port: connections are refused from now on.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}
