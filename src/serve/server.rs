//! The whole server over one engine ([`Server`]): it builds the engine with what its
//! services need, starts each service's one entry point in [`Server::run`], and stops
//! them in order.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::admin;
use super::check::{consistency, schedule as check_schedule};
use super::clock;
use super::control::{Control, ReloadStats};
use super::dns::{handover, tcp, udp};
use super::dnstap;
use super::file_watch;
use super::fleet;
use super::health::checker;
use super::listen::Listeners;
use super::override_store;
use super::push;
use super::replication;
use super::rollover;
use super::secondary;
use crate::compile::{CompileOptions, Compiled, RulesSource};
use crate::engine::builder::EngineBuilder;
use crate::error::CompileErrors;

/// Logs the start line: version, rules, what they hold, and every address served (tests
/// and operators read the ports from it).
pub fn log_serving(control: &Control, listeners: &Listeners, workers: usize) {
    let engine = &control.engine;
    let (udp, tcp) = listeners.local_addrs().unwrap_or_default();
    let mut tcp: Vec<String> = tcp.iter().map(ToString::to_string).collect();
    tcp.dedup();
    let summary = engine.snapshot().summary();
    let admin = listeners.admin_addr().map_or("off".to_string(), |a| a.to_string());
    let metrics = match listeners.metrics.as_ref().and_then(|l| l.local_addr().ok()) {
        Some(addr) => format!("; metrics only {addr}"),
        None => String::new(),
    };
    tracing::info!(
        "linedns {} serving {} ({} lines, {} zones, {} nodes, {} probes) on udp+tcp {} ({} UDP sockets, {workers} workers){metrics}; admin API {admin}",
        env!("CARGO_PKG_VERSION"),
        control.source().unwrap_or_else(|| "rules".into()),
        summary.lines.len(),
        summary.zones.len(),
        summary.nodes,
        summary.probes,
        tcp.join(" "),
        udp.len(),
    );
}

/// What the state directory keeps, back in force before the first query: the operator
/// overrides, then the views' serials (which the overrides may change), looked at once.
fn restore_state(control: &Control, serials_restored: bool) {
    override_store::restore(&control.engine, control.host().state_dir.as_deref());
    replication::first_look(&control.engine, serials_restored);
}

/// What the server made with its engine and hands to its services when it starts.
#[derive(Debug)]
struct Startup {
    /// Woken by the engine when a view may have changed (for `replication`).
    changed: Arc<tokio::sync::Notify>,
    /// The same, for the providers' pushes.
    push_changed: Arc<tokio::sync::Notify>,
    /// The zones whose primary sent an accepted NOTIFY (for `secondary`).
    notified: tokio::sync::mpsc::UnboundedReceiver<Box<str>>,
    /// The query log's tap, its writer not started yet.
    dnstap: Option<dnstap::Prepared>,
    /// Whether the state directory held serials.
    serials_restored: bool,
}

/// How long in-flight TCP answers get to finish after shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The whole server over an [`Engine`](crate::engine::Engine): DNS on UDP and TCP, the health checker, the
/// admin API (when [`Listeners::admin`] is set) and the file watch (when the rules'
/// `server.watch` is on).
#[derive(Debug)]
pub struct Server {
    control: Arc<Control>,
    startup: Startup,
}

/// Time between looks at the input files, and the quiet time after a change before the
/// reload (an editor or `git pull` writes several files).
const WATCH_EVERY: Duration = Duration::from_secs(1);
const WATCH_DEBOUNCE: Duration = Duration::from_millis(500);

impl Server {
    /// A server answering `compiled`, that never reloads, with no admin token.
    pub fn new(compiled: Compiled) -> Self {
        Server::reloading(compiled, None, None)
    }

    /// A server answering the rules file at `path`, that reloads from it, whose admin API
    /// requires `token` on mutating calls (see [`Server::reloading`]).
    pub fn from_rules(path: &Path, options: CompileOptions, token: Option<String>) -> Result<Self, CompileErrors> {
        let source = RulesSource { path: path.to_path_buf(), options };
        Ok(Server::reloading(source.load()?, Some(source), token))
    }

    /// A server answering `compiled`, that reloads from `source` (the file watch,
    /// `POST /reload`, SIGHUP), whose admin API requires `token` on mutating calls. It
    /// builds the engine with what its services need of it: the clock, the hooks that
    /// wake them (a view that may have changed, a NOTIFY accepted), the query log's tap,
    /// and the views' serials kept in the state directory.
    pub fn reloading(compiled: Compiled, source: Option<RulesSource>, token: Option<String>) -> Self {
        let Compiled { snapshot, host } = compiled;
        let changed = Arc::new(tokio::sync::Notify::new());
        let (notified_tx, notified) = tokio::sync::mpsc::unbounded_channel::<Box<str>>();
        let dnstap_stats: Arc<dnstap::DnstapStats> = Arc::default();
        let dnstap = host.dnstap.as_ref().map(|s| dnstap::prepare(s, dnstap_stats.clone()));
        let serials = replication::open(&host);
        let push_changed = Arc::new(tokio::sync::Notify::new());
        let wakers = (changed.clone(), push_changed.clone());
        let mut engine = EngineBuilder::new(snapshot)
            .clock(clock::unix_now)
            .on_change(move || {
                wakers.0.notify_one();
                wakers.1.notify_one();
            })
            .on_notify(move |zone| {
                let _ = notified_tx.send(zone.into());
            })
            .follow_versions(serials.stored, serials.hooks);
        if let Some(prepared) = &dnstap {
            engine = engine.tap(prepared.tap());
        }
        let startup = Startup { changed, push_changed, notified, dnstap, serials_restored: serials.restored };
        let control = Control {
            engine: Arc::new(engine.build()),
            source,
            host: Arc::new(arc_swap::ArcSwap::from_pointee(host)),
            checker: Arc::default(),
            reloads: ReloadStats::default(),
            notify: Arc::default(),
            secondary: Arc::default(),
            rollover: Arc::default(),
            push: Arc::default(),
            fleet: Arc::default(),
            dnstap: dnstap_stats,
            last_check: std::sync::Mutex::default(),
            token,
            admin_refused: std::sync::atomic::AtomicU64::new(0),
        };
        Server { control: Arc::new(control), startup }
    }

    /// The engine and counters shared with the admin API (to reload on a signal, say).
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Serves `listeners` until `shutdown` completes, then stops accepting, lets
    /// in-flight TCP answers finish (up to 5 s), then stops the checker, the file watch
    /// and the admin API (which answer until then), and returns. A listener that fails
    /// or panics stops the server the same way and is the error returned. Must run
    /// inside a tokio runtime.
    pub async fn run(self, listeners: Listeners, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        restore_state(&self.control, self.startup.serials_restored);
        self.run_with(listeners, shutdown).await
    }

    /// [`Server::run`], the views already looked at by [`replication::first_look`].
    async fn run_with(self, listeners: Listeners, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Startup { changed, push_changed, notified, dnstap, .. } = self.startup;
        let engine = self.control.engine.clone();
        // What a successor sharing these addresses is handed at shutdown (see [`handover`]).
        let groups = handover_groups(&listeners)?;
        // DNS stops first; the helpers (checker, admin, watch) once DNS has drained.
        let (stop_tx, stop_rx) = watch::channel(false);
        let (helpers_stop_tx, helpers_stop_rx) = watch::channel(false);
        let stopped = || {
            let mut rx = helpers_stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let mut helpers = JoinSet::new();
        // Serials first: the first answer already carries its view's serial.
        helpers.spawn(replication::run(self.control.clone(), changed, stopped()));
        helpers.spawn(checker::run(engine.clone(), self.control.checker.clone(), stopped()));
        let control = self.control.clone();
        let secondaries = secondary::Secondaries {
            engine: engine.clone(),
            host: self.control.host.clone(),
            stats: self.control.secondary.clone(),
            reload: Box::new(move |cause| control.reload(cause).map(|_| ()).map_err(|e| e.to_string())),
            notified,
        };
        helpers.spawn(secondary::run(secondaries, stopped()));
        let control = self.control.clone();
        let rollovers = rollover::Rollovers {
            engine: engine.clone(),
            stats: self.control.rollover.clone(),
            reload: Box::new(move |cause| control.reload(cause).map(|_| ()).map_err(|e| e.to_string())),
        };
        helpers.spawn(rollover::run(rollovers, stopped()));
        let pushes = push::service::Pushes {
            engine: engine.clone(),
            host: self.control.host.clone(),
            stats: self.control.push.clone(),
            changed: push_changed,
        };
        helpers.spawn(push::service::run(pushes, stopped()));
        // A fleet decides node health together (the store is only needed for one).
        if let Some(settings) = self.control.host().fleet.clone() {
            let state_dir = self.control.host().state_dir.clone();
            let stats = self.control.fleet.clone();
            helpers.spawn(fleet::service::run(engine.clone(), settings, stats, state_dir, stopped()));
        }
        // The consistency check compares the NS set with this server, on its first address.
        if let Some(own) = listeners.tcp.first().and_then(|l| l.local_addr().ok()) {
            let own = consistency::loopback_if_wildcard(own);
            helpers.spawn(check_schedule::periodic(self.control.clone(), own, stopped()));
        }
        if let Some(listener) = listeners.admin {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            helpers.spawn(admin::serve(listener, self.control.clone(), admin::Access::Api, stopped()));
        }
        if let Some(listener) = listeners.metrics {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            helpers.spawn(admin::serve(listener, self.control.clone(), admin::Access::MetricsOnly, stopped()));
        }
        let host = self.control.host();
        if host.watch {
            helpers.spawn(file_watch::run(self.control.clone(), WATCH_EVERY, WATCH_DEBOUNCE, stopped()));
        }
        // The query log, before the first query is read.
        let dnstap = match (dnstap, &host.dnstap) {
            (Some(prepared), Some(settings)) => Some(prepared.start(settings)?),
            _ => None,
        };
        let mut tasks = JoinSet::new();
        // UDP: one blocking thread per socket (batched system calls), stopped by a flag.
        let udp_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cpus = host.cpus.clone();
        for (worker, socket) in listeners.udp.into_iter().enumerate() {
            let (engine, stop) = (engine.clone(), udp_stop.clone());
            let cpu = (!cpus.is_empty()).then(|| cpus[worker % cpus.len()]);
            tasks.spawn_blocking(move || udp::serve(engine, socket, worker, cpu, stop));
        }
        for listener in listeners.tcp {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.spawn(tcp::serve(engine.clone(), self.control.host.clone(), listener, stop_rx.clone()));
        }
        let mut result = Ok(());
        tokio::select! {
            () = shutdown => {}
            Some(joined) = tasks.join_next() => {
                // A listener loop only ends on its own after a fatal socket error, or a
                // panic: either stops the server with the error.
                result = match joined {
                    Ok(ended) => ended,
                    Err(e) => Err(io::Error::other(format!("a listener task ended: {e}"))),
                };
            }
        }
        // New queries to a successor sharing the addresses, if there is one; what is
        // queued here is read meanwhile.
        handover::steer_away(&groups.0);
        tokio::time::sleep(handover::DRAIN).await;
        handover::stop_receiving(&groups.1);
        let _ = stop_tx.send(true);
        udp_stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("shutdown: some TCP connections did not finish within {SHUTDOWN_GRACE:?}; closed");
        }
        if let Some(writer) = dnstap {
            // It waits for the reader's FINISH: not on a runtime thread.
            let _ = tokio::task::spawn_blocking(move || writer.close()).await;
        }
        let _ = helpers_stop_tx.send(true);
        while helpers.join_next().await.is_some() {}
        // The groups given back to the kernel's choice, then this server's last
        // descriptors of its sockets closed.
        handover::release(&groups.0);
        drop(groups);
        result
    }

    /// Starts [`Server::run`] on the current tokio runtime and returns at once with the
    /// addresses it serves: what a host program or a test on port 0 needs. The server
    /// runs until [`Running::stop`], or until the [`Running`] is dropped.
    pub fn spawn(self, listeners: Listeners) -> io::Result<Running> {
        let (udp, tcp) = listeners.local_addrs()?;
        let admin = listeners.admin_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // The views are looked at before this returns: the first query already gets
        // each view's serial.
        restore_state(&self.control, self.startup.serials_restored);
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(self.run_with(listeners, shutdown));
        Ok(Running { udp, tcp, admin, stop, task })
    }
}

/// The `SO_REUSEPORT` groups of `listeners` (each address's UDP sockets, each TCP
/// listener, the admin listener), and every UDP socket (a duplicate descriptor of each,
/// which also keeps it open until the server is done).
fn handover_groups(listeners: &Listeners) -> io::Result<(Vec<handover::Group>, Vec<socket2::Socket>)> {
    let udp_sockets =
        listeners.udp.iter().map(|u| u.try_clone().map(socket2::Socket::from)).collect::<io::Result<Vec<_>>>()?;
    let mut groups: Vec<(SocketAddr, handover::Group)> = Vec::new();
    for udp in &listeners.udp {
        let addr = udp.local_addr()?;
        match groups.iter_mut().find(|(a, _)| *a == addr) {
            Some((_, group)) => group.own += 1,
            None => groups.push((addr, handover::Group { socket: udp.try_clone()?.into(), own: 1 })),
        }
    }
    let mut groups: Vec<handover::Group> = groups.into_iter().map(|(_, g)| g).collect();
    for tcp in listeners.tcp.iter().chain(&listeners.admin).chain(&listeners.metrics) {
        groups.push(handover::Group { socket: tcp.try_clone()?.into(), own: 1 });
    }
    Ok((groups, udp_sockets))
}

/// A server started by [`Server::spawn`].
#[derive(Debug)]
pub struct Running {
    /// UDP sockets' addresses (one per socket; sockets of one address share its port).
    pub udp: Vec<SocketAddr>,
    /// TCP listeners' addresses, one per listen address.
    pub tcp: Vec<SocketAddr>,
    /// The admin API's address, if it is on.
    pub admin: Option<SocketAddr>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl Running {
    /// Shuts the server down as [`Server::run`] does and waits for it.
    pub async fn stop(self) -> io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(io::Error::other)?
    }
}
