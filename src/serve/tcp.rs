//! DNS over TCP (RFC 7766): two-octet length framing, pipelined queries answered in
//! order, an idle timeout, and a cap on open connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::engine::Engine;
use crate::engine::query::Transport;
use crate::engine::transfer::Kind;

/// Accepts connections until `stop`, then waits for the open ones to finish their query.
pub(super) async fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let max = engine.snapshot().settings.tcp_max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    // Per-connection failures (reset before accept, fd limits) do not stop
                    // the listener.
                    Err(e) => {
                        tracing::warn!("TCP {}: accept failed: {e}", listener.local_addr()?);
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // RFC 7766 §6.2.2: servers may limit connections; over the cap we close.
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    tracing::debug!("TCP: {max} connections open, closing one from {peer}");
                    continue;
                };
                connections.spawn(connection(engine.clone(), stream, peer, stop.clone(), slot));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection: read a length, read the message, answer, repeat.
async fn connection(
    engine: Arc<Engine>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let idle = engine.snapshot().settings.tcp_idle_timeout;
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut message = vec![0u8; usize::from(u16::MAX)];
    let mut out = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    loop {
        // Waiting for the next query is where shutdown and the idle timeout apply; a
        // query that has started arriving is answered.
        let len = tokio::select! {
            read = tokio::time::timeout(idle, reader.read_u16()) => match read {
                Ok(Ok(len)) => usize::from(len),
                _ => return, // idle, closed by the client, or broken
            },
            _ = stop.changed() => return,
        };
        match tokio::time::timeout(idle, reader.read_exact(&mut message[..len])).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        // RFC 5936 §4.1: a zone transfer runs over TCP, as a sequence of messages.
        if let Some(transfer) = engine.transfer(&message[..len], peer.ip(), super::unix_now()) {
            log_transfer(&transfer, peer);
            for m in &transfer.messages {
                if send(&mut writer, &mut framed, m).await.is_err() {
                    return;
                }
            }
            continue;
        }
        if !engine.handle_packet_with_clock(&message[..len], peer, Transport::Tcp, super::unix_now, &mut out) {
            continue;
        }
        if send(&mut writer, &mut framed, &out).await.is_err() {
            return;
        }
    }
}

/// RFC 7766 §8: one message with its two-octet length, in one write (`framed` is the
/// reused buffer).
async fn send(writer: &mut (impl AsyncWriteExt + Unpin), framed: &mut Vec<u8>, message: &[u8]) -> io::Result<()> {
    framed.clear();
    framed.extend_from_slice(&(message.len() as u16).to_be_bytes());
    framed.extend_from_slice(message);
    writer.write_all(framed).await
}

/// One line per transfer: who, which zone, which view, how much; or why it was refused.
/// Key names are logged, never secrets.
fn log_transfer(transfer: &crate::engine::transfer::Transfer, peer: SocketAddr) {
    let key = transfer.key.as_deref().map_or(String::new(), |k| format!(", TSIG key {k}"));
    match (&transfer.granted, transfer.tsig_error) {
        (Some((rule, line)), _) => {
            let serial = transfer.serial.unwrap_or_default();
            let what = match transfer.kind {
                Some(Kind::Incremental { from }) => format!("incremental, serial {from} -> {serial}"),
                Some(Kind::UpToDate) => format!("up to date at serial {serial}, SOA only"),
                _ => format!("full zone, serial {serial}"),
            };
            tracing::info!(
                "{} {} to {peer} (transfer rule {rule}, line {line}{key}): {what}; {} records in {} message(s)",
                transfer.qtype,
                transfer.zone,
                transfer.records,
                transfer.messages.len()
            )
        }
        (None, Some(error)) => {
            tracing::warn!("{} {} from {peer} refused: TSIG {error:?} (NOTAUTH)", transfer.qtype, transfer.zone)
        }
        (None, None) => tracing::warn!(
            "{} {} from {peer} refused{key}: no transfer rule admits this address and key for this zone",
            transfer.qtype,
            transfer.zone
        ),
    }
}
