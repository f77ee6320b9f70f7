//! The server in this test process: the library's `serve::Server` on port 0 with its own
//! runtime, the addresses read from the handle it returns. What `linedns serve` runs, minus
//! argument parsing and signals; tests drive it with the same real clients.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};

use linedns::serve::{Control, Running, Server, bind, bind_admin};
use linedns::{CompileOptions, Engine};

/// Threads of in-process servers that panicked, by name.
static PANICKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records every panic's thread name, then does what the default hook does.
fn record_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(name) = std::thread::current().name() {
                PANICKED.lock().unwrap_or_else(|e| e.into_inner()).push(name.to_string());
            }
            previous(info)
        }));
    });
}

/// A server started in this process.
pub struct InProcess {
    /// The DNS addresses (UDP and TCP share each), in `listen` order.
    pub addrs: Vec<SocketAddr>,
    /// The admin API's address.
    pub admin: SocketAddr,
    /// The engine it serves.
    pub engine: Arc<Engine>,
    /// Its engine, host settings and counters (reload it with `control.reload`).
    pub control: Arc<Control>,
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    threads: String,
}

impl InProcess {
    /// Serves the rules file `rules` (relative to the repository) on port 0 of each of
    /// `listen`, with the admin API on a loopback port.
    pub fn start(rules: &str, listen: &[&str]) -> InProcess {
        Self::start_with_token(rules, listen, None)
    }

    /// [`InProcess::start`] with an admin token for mutating calls.
    pub fn start_with_token(rules: &str, listen: &[&str], token: Option<&str>) -> InProcess {
        record_panics();
        static SERVERS: AtomicUsize = AtomicUsize::new(0);
        let threads = format!("linedns-inprocess-{}", SERVERS.fetch_add(1, Ordering::Relaxed));
        let server = Server::from_rules(&super::repo_path(rules), CompileOptions::default(), token.map(str::to_string))
            .unwrap_or_else(|e| panic!("{rules} must compile:\n{e}"));
        let listen: Vec<SocketAddr> = listen.iter().map(|a| a.parse().unwrap()).collect();
        let mut listeners = bind(&listen, 2).expect("bind DNS on loopback");
        listeners.admin = Some(bind_admin("127.0.0.1:0".parse().unwrap(), token, false).expect("bind the admin API"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(threads.clone())
            .enable_all()
            .build()
            .unwrap();
        let control = server.control().clone();
        let engine = control.engine.clone();
        let running = {
            let _inside = runtime.enter();
            server.spawn(listeners).expect("spawn the server")
        };
        let mut addrs = running.tcp.clone();
        addrs.dedup();
        let admin = running.admin.expect("the admin API listens");
        InProcess { addrs, admin, engine, control, runtime, running: Some(running), threads }
    }

    /// Shuts the server down as `linedns serve` does on SIGTERM, and fails the test if it
    /// stopped on an error or any of its threads panicked.
    pub fn stop(mut self) {
        let running = self.running.take().expect("running");
        let result = self.runtime.block_on(running.stop());
        assert!(result.is_ok(), "the server stopped on an error: {result:?}");
        let panicked: Vec<String> = PANICKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|name| name.starts_with(&self.threads))
            .cloned()
            .collect();
        assert!(panicked.is_empty(), "server threads panicked: {panicked:?}");
    }
}

impl Drop for InProcess {
    /// A test that failed before `stop` still stops its server (the UDP threads would
    /// otherwise keep the runtime, and the test, from ending).
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.stop());
        }
    }
}
