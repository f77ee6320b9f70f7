//! The network server: UDP and TCP listeners feeding [`crate::Engine::handle_packet`].
//!
//! The library takes already-bound sockets and a shutdown future, so a host program (or
//! a test, on port 0) runs the same server the binary runs.

mod tcp;
mod udp;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::engine::Engine;

/// Sockets a [`Server`] serves.
#[derive(Debug, Default)]
pub struct Listeners {
    /// Bound UDP sockets; each gets one receive loop.
    pub udp: Vec<std::net::UdpSocket>,
    /// Bound, listening TCP sockets.
    pub tcp: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// The local addresses, UDP then TCP (ports resolved when bound to port 0).
    pub fn local_addrs(&self) -> io::Result<(Vec<SocketAddr>, Vec<SocketAddr>)> {
        let udp = self.udp.iter().map(|s| s.local_addr()).collect::<io::Result<_>>()?;
        let tcp = self.tcp.iter().map(|s| s.local_addr()).collect::<io::Result<_>>()?;
        Ok((udp, tcp))
    }
}

/// Binds `udp_per_addr` UDP sockets (`SO_REUSEPORT`, so the kernel spreads queries over
/// them) and one TCP listener to each address. Port 0 picks one free port per address,
/// shared by its UDP and TCP sockets.
pub fn bind(addrs: &[SocketAddr], udp_per_addr: usize) -> io::Result<Listeners> {
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

/// How long in-flight TCP answers get to finish after shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A DNS server over an [`Engine`].
#[derive(Debug, Clone)]
pub struct Server {
    engine: Arc<Engine>,
}

impl Server {
    /// A server answering from `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Server { engine }
    }

    /// Serves `listeners` until `shutdown` completes, then stops accepting, lets
    /// in-flight TCP answers finish (up to 5 s) and returns. Must run inside a tokio
    /// runtime.
    pub async fn run(self, listeners: Listeners, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for socket in listeners.udp {
            let socket = tokio::net::UdpSocket::from_std(socket)?;
            tasks.spawn(udp::serve(self.engine.clone(), socket, stop_rx.clone()));
        }
        for listener in listeners.tcp {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tasks.spawn(tcp::serve(self.engine.clone(), listener, stop_rx.clone()));
        }
        tokio::select! {
            () = shutdown => {}
            Some(joined) = tasks.join_next() => {
                // A listener loop only ends on its own after a fatal socket error.
                if let Ok(Err(e)) = joined {
                    let _ = stop_tx.send(true);
                    return Err(e);
                }
            }
        }
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("shutdown: some TCP connections did not finish within {SHUTDOWN_GRACE:?}; closed");
        }
        Ok(())
    }
}
