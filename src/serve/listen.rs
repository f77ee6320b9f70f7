//! What a server listens on: the plan made from the host settings and the command line
//! ([`Plan`]), and the sockets bound for it ([`Listeners`]), each `SO_REUSEPORT` so that
//! a successor can share them for a hand-over.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::admin;
use super::privileges;
use crate::compile::host::HostSettings;

/// Sockets a [`Server`](super::Server) serves.
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
