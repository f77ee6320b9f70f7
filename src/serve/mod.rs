//! Everything async (feature `server`): DNS over UDP and TCP, the health checker, the
//! admin API, and reloads, run together by [`Server::run`] until a shutdown future
//! completes.
//!
//! The library takes already-bound sockets, so a host program (or a test, on port 0)
//! runs the same server the binary runs; the binary only parses arguments, binds, and
//! turns signals into [`Control::reload`] and the shutdown future.
//!
//! ```text
//!  Listeners ──► udp (a thread per SO_REUSEPORT socket) ──┐
//!            ──► tcp (RFC 7766 connections) ─────────────┼─► Engine::answer
//!            ──► admin (hyper) ─► Control ──► Engine (explain, overrides, reload)
//!  checker: one task per probe ──► ProbeState atomics the engine reads
//!  reload:  file watch / SIGHUP / POST /reload ──► Engine::reload ──► swap
//!  replication: changes ──► Engine::refresh_versions ──► serials.json, NOTIFY out
//!  secondary: primary's SOA, NOTIFY in ──► IXFR/AXFR ──► zones/ORIGIN.zone ──► reload
//!  rollover: key times, the parent's DS ──► key files ──► reload
//! ```

pub mod admin;
pub mod check;
pub mod client;
mod clock;
pub mod control;
pub mod dns;
pub mod dnstap;
pub mod file_watch;
pub mod health;
pub mod override_store;
pub mod privileges;
mod random;
mod reload_cause;
pub mod replication;
pub mod rollover;
pub mod secondary;
mod state_file;
pub mod systemd;

pub use self::clock::unix_now;
pub use self::control::{Control, ReloadCause};

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;
use tokio::task::JoinSet;

use self::check::{consistency, schedule as check_schedule};
use self::control::ReloadStats;
use self::dns::{handover, tcp, udp};
use self::health::checker;
use crate::compile::host::HostSettings;
use crate::compile::{CompileOptions, Compiled, RulesSource};
use crate::engine::builder::EngineBuilder;
use crate::error::CompileErrors;

/// Sockets a [`Server`] serves.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Bound UDP sockets; each gets one receive loop.
    pub udp: Vec<std::net::UdpSocket>,
    /// Bound, listening TCP sockets.
    pub tcp: Vec<std::net::TcpListener>,
    /// The admin API's listener, if it is on (see [`bind_admin`]).
    pub admin: Option<std::net::TcpListener>,
    /// The metrics-only listener, if the rules set one (see [`bind_shared_tcp`]).
    pub metrics: Option<std::net::TcpListener>,
}

impl Listeners {
    /// The local addresses, UDP then TCP (ports resolved when bound to port 0).
    pub fn local_addrs(&self) -> io::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
        let udp = self.udp.iter().map(|s| s.local_addr()).collect::<io::Result<_>>()?;
        let tcp = self.tcp.iter().map(|s| s.local_addr()).collect::<io::Result<_>>()?;
        Ok((udp, tcp))
    }

    /// The admin API's address, if it listens.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// What the command line (`linedns serve`) may set in place of the rules' `server:`
/// settings.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// Listen on this address instead of the rules' (repeat for several; port 0
    /// picks a free port, printed in the start log line).
    #[arg(long = "listen", value_name = "IP:PORT")]
    pub listen: Vec<SocketAddr>,
    /// UDP sockets per address and runtime threads (default: the rules', else one
    /// per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Admin API and metrics listener instead of the rules' `server.admin.listen`
    /// (default 127.0.0.1:9153; `off` disables it). Beyond loopback it needs a token
    /// (LINEDNS_ADMIN_TOKEN or server.admin.token_file).
    #[arg(long, value_name = "IP:PORT|off")]
    pub admin_listen: Option<AdminListen>,
    /// Serve addresses another process already serves, sharing their queries
    /// (`SO_REUSEPORT`), the admin API's too: for a hand-over without downtime, start the
    /// new instance with this flag, then stop the old one (which hands its queued queries
    /// over before it closes). Without it, an address already served is an error, so
    /// that a second instance never quietly takes half the queries.
    #[arg(long)]
    pub share_port: bool,
    /// Started as root, change to this user (name or uid) once every socket is bound,
    /// handing it the state directory; instead of the rules' `server.user`. For running
    /// on port 53 without systemd (whose unit does this with `DynamicUser`).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The group for --user (default: the user's own group); instead of `server.group`.
    #[arg(long, value_name = "GROUP", requires = "user")]
    pub group: Option<String>,
}

/// Where and how to listen: the rules' `server:` settings, with what the command line
/// overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// DNS addresses (UDP and TCP on each).
    pub listen: Vec<SocketAddr>,
    /// UDP sockets per address, and runtime threads.
    pub workers: usize,
    /// The admin API's address (`None`: off).
    pub admin: Option<SocketAddr>,
    /// Whether addresses another process serves may be shared ([`Overrides::share_port`]).
    pub share_port: bool,
    /// Who to run as once bound (`None`: stay who started it); see [`privileges`].
    pub run_as: Option<privileges::RunAs>,
}

impl Plan {
    /// The plan for `settings`, with what `overrides` gives in their place. Workers
    /// default to one per core.
    pub fn new(settings: &HostSettings, overrides: &Overrides) -> Plan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let from_rules = if settings.workers > 0 { settings.workers } else { cores };
        Plan {
            listen: if overrides.listen.is_empty() { settings.listen.clone() } else { overrides.listen.clone() },
            workers: overrides.workers.filter(|&w| w > 0).unwrap_or(from_rules),
            admin: overrides.admin_listen.map_or(settings.admin_listen, |a| a.0),
            share_port: overrides.share_port,
            run_as: match &overrides.user {
                Some(user) => Some(privileges::RunAs { user: user.clone(), group: overrides.group.clone() }),
                None => settings.user.clone().map(|user| privileges::RunAs { user, group: settings.group.clone() }),
            },
        }
    }

    /// Binds every socket of the plan, and reads the admin token (see [`admin::token`]):
    /// the admin API beyond loopback needs one.
    pub fn bind(&self, settings: &HostSettings) -> Result<(Listeners, Option<String>), String> {
        let bound =
            if self.share_port { bind_sharing(&self.listen, self.workers) } else { bind(&self.listen, self.workers) };
        let mut listeners = bound.map_err(|e| e.to_string())?;
        let token = admin::token(settings)?;
        listeners.admin = self.admin.map(|addr| bind_admin(addr, token.as_deref(), self.share_port)).transpose()?;
        listeners.metrics = settings
            .metrics_listen
            .map(|addr| {
                bind_shared_tcp(addr, self.share_port)
                    .map_err(|e| format!("cannot bind the metrics listener to {addr}: {e}"))
            })
            .transpose()?;
        Ok((listeners, token))
    }
}

/// The admin listener as an operator writes it: `IP:PORT`, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdminListen(pub Option<SocketAddr>);

impl std::str::FromStr for AdminListen {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(AdminListen(None)),
            _ => text.parse().map(|a| AdminListen(Some(a))).map_err(|_| format!("{text:?} is not IP:PORT or off")),
        }
    }
}

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

/// Binds the admin API's listener to `addr` (port 0 picks one), refusing an address
/// beyond loopback without a token ([`admin::check_bind`]). Like the DNS sockets it is
/// bound with `SO_REUSEPORT`, so that a successor started with `share` (`--share-port`)
/// can bind it too for a hand-over; without `share`, an address another process listens
/// on is an error.
pub fn bind_admin(addr: SocketAddr, token: Option<&str>, share: bool) -> Result<std::net::TcpListener, String> {
    admin::check_bind(addr, token)?;
    bind_shared_tcp(addr, share).map_err(|e| format!("cannot bind the admin API to {addr}: {e}"))
}

/// A TCP listener on `addr` with `SO_REUSEPORT`, shared with another process only when
/// `share` (`--share-port`); otherwise an address another process listens on is an error.
pub fn bind_shared_tcp(addr: SocketAddr, share: bool) -> io::Result<std::net::TcpListener> {
    if !share && addr.port() != 0 {
        ensure_unserved(addr, Protocol::TCP)?;
    }
    let socket = reuse_port_socket(addr, Type::STREAM, Protocol::TCP)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

/// Binds `udp_per_addr` UDP sockets (`SO_REUSEPORT`, so the kernel spreads queries over
/// them) and one TCP listener to each address. Port 0 picks one free port per address,
/// shared by its UDP and TCP sockets. An address another process already serves is an
/// error (see [`bind_sharing`]).
pub fn bind(addrs: &[SocketAddr], udp_per_addr: usize) -> io::Result<Listeners> {
    for &addr in addrs.iter().filter(|a| a.port() != 0) {
        ensure_unserved(addr, Protocol::UDP)?;
    }
    bind_sharing(addrs, udp_per_addr)
}

/// [`bind`], sharing addresses that other processes serve with `SO_REUSEPORT` (the
/// kernel then spreads queries over both): for a hand-over without downtime.
pub fn bind_sharing(addrs: &[SocketAddr], udp_per_addr: usize) -> io::Result<Listeners> {
    let mut listeners = Listeners::default();
    for &requested in addrs {
        let tcp = reuse_port_socket(requested, Type::STREAM, Protocol::TCP)?;
        tcp.bind(&requested.into()).map_err(|e| context(e, "TCP", requested))?;
        tcp.listen(1024)?;
        // With port 0, the TCP port chosen is the one UDP binds too.
        let addr = tcp.local_addr()?.as_socket().unwrap_or(requested);
        for _ in 0..udp_per_addr.max(1) {
            let udp = reuse_port_socket(addr, Type::DGRAM, Protocol::UDP)?;
            // Bursts queue here while a worker is busy; the kernel caps the size at
            // net.core.rmem_max, so a smaller buffer is not an error.
            let _ = udp.set_recv_buffer_size(UDP_RECV_BUFFER);
            udp.bind(&addr.into()).map_err(|e| context(e, "UDP", addr))?;
            listeners.udp.push(udp.into());
        }
        listeners.tcp.push(tcp.into());
    }
    Ok(listeners)
}

/// Fails if a process already serves `addr` over `protocol` (UDP or TCP). `SO_REUSEPORT`
/// would let our sockets join its group silently, each instance then getting part of the
/// queries; a socket bound without it is refused while any other is there. For TCP the
/// probe has `SO_REUSEADDR`, so that connections left in TIME_WAIT by a restart do not
/// pass for a server: only a listener counts.
fn ensure_unserved(addr: SocketAddr, protocol: Protocol) -> io::Result<()> {
    let (ty, name) = if protocol == Protocol::TCP { (Type::STREAM, "tcp") } else { (Type::DGRAM, "udp") };
    let probe = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        probe.set_only_v6(true)?;
    }
    if protocol == Protocol::TCP {
        probe.set_reuse_address(true)?;
    }
    match probe.bind(&addr.into()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "{name} {addr} is already served by another process (a second linedns?): stop it first, \
                 or pass --share-port to share the address for a hand-over"
            ),
        )),
        Err(e) => Err(context(e, &name.to_uppercase(), addr)),
    }
}

/// Receive buffer asked for each UDP socket.
const UDP_RECV_BUFFER: usize = 4 << 20;

fn reuse_port_socket(addr: SocketAddr, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn context(e: io::Error, what: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("cannot bind {what} {addr}: {e}"))
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
        let waker = changed.clone();
        let mut engine = EngineBuilder::new(snapshot)
            .clock(clock::unix_now)
            .on_change(move || waker.notify_one())
            .on_notify(move |zone| {
                let _ = notified_tx.send(zone.into());
            })
            .follow_versions(serials.stored, serials.hooks);
        if let Some(prepared) = &dnstap {
            engine = engine.tap(prepared.tap());
        }
        let startup = Startup { changed, notified, dnstap, serials_restored: serials.restored };
        let control = Control {
            engine: Arc::new(engine.build()),
            source,
            host: Arc::new(arc_swap::ArcSwap::from_pointee(host)),
            checker: Arc::default(),
            reloads: ReloadStats::default(),
            notify: Arc::default(),
            secondary: Arc::default(),
            rollover: control::RolloverStats::default(),
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
        let Startup { changed, notified, dnstap, .. } = self.startup;
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
        helpers.spawn(rollover::run(self.control.clone(), stopped()));
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
