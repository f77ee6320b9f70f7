//! A real validating resolver (Unbound from Debian) started by a test on a free loopback
//! port in front of an authoritative server, and a responder between them that alters
//! one byte of chosen answers (what a validator must catch).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::secondaries::{Secondary, free_port, spawn};

/// Unbound (stopped by its PID when dropped) validating with `trust_anchors`
/// (presentation-form DS or DNSKEY records),
/// sending `zone`'s queries to `stub` (with the client's ECS option: `subnetcache`),
/// configured and run in `dir`; `extra` is more `server:` clauses. Waits (at most 10 s)
/// until it answers.
pub fn start_unbound(dir: &Path, zone: &str, stub: SocketAddr, trust_anchors: &[String], extra: &str) -> Secondary {
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let d = dir.display();
    let anchors: String = trust_anchors.iter().map(|a| format!("  trust-anchor: \"{a}\"\n")).collect();
    let conf = format!(
        "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n  access-control: 127.0.0.0/8 allow\n  do-ip6: no\n  do-not-query-localhost: no\n  module-config: \"subnetcache validator iterator\"\n  send-client-subnet: {ip}\n  max-client-subnet-ipv4: 24\n{anchors}{extra}stub-zone:\n  name: \"{zone}\"\n  stub-addr: {ip}@{sport}\nremote-control:\n  control-enable: no\n",
        ip = stub.ip(),
        sport = stub.port()
    );
    let args = vec!["-d".to_string(), "-c".to_string(), dir.join("unbound.conf").display().to_string()];
    let resolver = spawn("unbound", "unbound", &args, &conf, dir, port);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !super::server::dig(resolver.addr, &["version.server", "CH", "TXT"]).contains("status: ") {
        assert!(std::time::Instant::now() < deadline, "unbound did not start:\n{}", resolver.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    resolver
}

/// A UDP responder that forwards each query to `upstream` and its answer back, replacing
/// the octets `from` by `to` (once) in answers that hold them: a man in the middle.
pub struct Tamper {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tamper {
    /// Starts it (stopped when dropped).
    pub fn start(upstream: SocketAddr, from: Vec<u8>, to: Vec<u8>) -> Tamper {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65535];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((len, client)) = socket.recv_from(&mut buf) else { continue };
                let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
                relay.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                if relay.send_to(&buf[..len], upstream).is_err() {
                    continue;
                }
                let mut answer = [0u8; 65535];
                let Ok(n) = relay.recv(&mut answer) else { continue };
                let mut answer = answer[..n].to_vec();
                if let Some(at) = answer.windows(from.len()).position(|w| w == from.as_slice()) {
                    answer[at..at + to.len()].copy_from_slice(&to);
                }
                let _ = socket.send_to(&answer, client);
            }
        });
        Tamper { addr, stop, thread: Some(thread) }
    }
}

impl Drop for Tamper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
