//! One receive loop per UDP socket, with its buffers reused for every query.

use std::io;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::engine::Engine;
use crate::engine::query::Transport;

/// Largest UDP datagram.
const MAX_DATAGRAM: usize = 65_535;

/// Answers queries on `socket` until `stop` turns true.
pub(super) async fn serve(engine: Arc<Engine>, socket: UdpSocket, mut stop: watch::Receiver<bool>) -> io::Result<()> {
    let mut packet = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(4096);
    loop {
        let (len, peer) = tokio::select! {
            received = socket.recv_from(&mut packet) => match received {
                Ok(r) => r,
                // ICMP errors from earlier sends surface here on some systems; they say
                // nothing about this socket.
                Err(e) if is_transient(&e) => continue,
                Err(e) => {
                    tracing::error!("UDP {}: receive failed: {e}", socket.local_addr()?);
                    return Err(e);
                }
            },
            _ = stop.changed() => return Ok(()),
        };
        if engine.handle_packet_with_clock(&packet[..len], peer, Transport::Udp, super::unix_now, &mut out)
            && let Err(e) = socket.send_to(&out, peer).await
            && !is_transient(&e)
        {
            tracing::warn!("UDP {}: send to {peer} failed: {e}", socket.local_addr()?);
        }
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::Interrupted
    )
}
