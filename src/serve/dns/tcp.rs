//! DNS over TCP (RFC 7766): two-octet length framing, pipelined queries answered in
//! order, an idle timeout, and caps on open connections, in total and per client
//! address. A client that sends a query slowly (once it has started) or does not read
//! its answers loses its connection when the query or write time limit runs out; every
//! connection is its own task, so it holds nothing else up.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::compile::host::HostSettings;
use crate::engine::Engine;
use crate::engine::query::Transport;
use crate::engine::request::Request;
use crate::engine::transfer::Kind;

/// Accepts connections until `stop`, then waits for the open ones to finish their query.
/// The connection caps and time limits are the `host` settings as they stand when the
/// listener starts (the total) and when each connection is accepted.
pub(crate) async fn serve(
    engine: Arc<Engine>,
    host: Arc<ArcSwap<HostSettings>>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let max = host.load().tcp_max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let per_client = Arc::new(PerClient::default());
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
                let host = host.load();
                let most = host.tcp_max_per_client;
                let Some(client) = per_client.take(client_key(peer.ip()), most) else {
                    tracing::debug!("TCP: {most} connections open from {}, closing another", client_key(peer.ip()));
                    continue;
                };
                let limits = (host.tcp_idle_timeout, host.tcp_query_timeout, host.tcp_write_timeout);
                connections.spawn(connection(engine.clone(), stream, peer, stop.clone(), limits, (slot, client)));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// What the per-client cap counts by: an IPv4 address, or an IPv6 /64 (one host's share
/// of a network: a client holding a /64 must not get a connection per address of it).
fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & !((1u128 << 64) - 1)).into()),
    }
}

/// Open connections per client (see [`client_key`]; a connection holds a [`ClientSlot`]).
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerClient`], given back when it is dropped.
#[derive(Debug)]
struct ClientSlot {
    table: Arc<PerClient>,
    addr: IpAddr,
}

impl PerClient {
    /// A place for one more connection from `addr`, if it has fewer than `most` open.
    fn take(self: &Arc<Self>, addr: IpAddr, most: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(addr).or_insert(0);
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(ClientSlot { table: self.clone(), addr })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.addr) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Serves one connection: read a length, read the message, answer, repeat.
async fn connection(
    engine: Arc<Engine>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
    (idle, query_time, write_time): (Duration, Duration, Duration),
    _slots: (tokio::sync::OwnedSemaphorePermit, ClientSlot),
) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut message = vec![0u8; usize::from(u16::MAX)];
    let mut out = Vec::with_capacity(4096);
    let mut framed = Vec::with_capacity(4096);
    loop {
        // Waiting for the next query is where shutdown and the idle timeout apply; a
        // query that has started arriving is answered, if it is whole in time.
        let first = tokio::select! {
            read = tokio::time::timeout(idle, reader.read_u8()) => match read {
                Ok(Ok(octet)) => octet,
                _ => return, // idle, closed by the client, or broken
            },
            _ = stop.changed() => return,
        };
        let deadline = tokio::time::Instant::now() + query_time;
        let second = match tokio::time::timeout_at(deadline, reader.read_u8()).await {
            Ok(Ok(octet)) => octet,
            Ok(Err(_)) => return,
            Err(_) => return too_slow(peer, "send its query", query_time),
        };
        let len = usize::from(u16::from_be_bytes([first, second]));
        match tokio::time::timeout_at(deadline, reader.read_exact(&mut message[..len])).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => return too_slow(peer, "send its query", query_time),
        }
        // RFC 5936 §4.1: a zone transfer runs over TCP, as a sequence of messages.
        if let Some(transfer) = engine.transfer(&message[..len], peer.ip(), crate::serve::clock::unix_now()) {
            log_transfer(&transfer, peer);
            for m in &transfer.messages {
                if let Err(e) = send(&mut writer, &mut framed, m, write_time).await {
                    return closed(peer, e, write_time);
                }
            }
            continue;
        }
        if !engine.answer(
            Request::new(&message[..len], peer, Transport::Tcp).with_clock(crate::serve::clock::unix_now),
            &mut out,
        ) {
            continue;
        }
        if let Err(e) = send(&mut writer, &mut framed, &out, write_time).await {
            return closed(peer, e, write_time);
        }
    }
}

/// Logs a connection closed because its client was too slow to `what`.
fn too_slow(peer: SocketAddr, what: &str, limit: Duration) {
    tracing::debug!("TCP {peer}: closed, the client did not {what} within {} ms", limit.as_millis());
}

/// Logs a connection closed because an answer could not be written.
fn closed(peer: SocketAddr, e: io::Error, limit: Duration) {
    if e.kind() == io::ErrorKind::TimedOut {
        too_slow(peer, "read its answer", limit);
    }
}

/// RFC 7766 §8: one message with its two-octet length, in one write (`framed` is the
/// reused buffer), within `limit`.
async fn send(
    writer: &mut (impl AsyncWriteExt + Unpin),
    framed: &mut Vec<u8>,
    message: &[u8],
    limit: Duration,
) -> io::Result<()> {
    // Answers are made to fit (`size_limit`); a longer one is never sent cut.
    let Ok(len) = u16::try_from(message.len()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "a message over 65,535 octets"));
    };
    framed.clear();
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    match tokio::time::timeout(limit, writer.write_all(framed)).await {
        Ok(written) => written,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
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
            tracing::warn!("{} {} from {peer} refused: TSIG {error}, answered NOTAUTH", transfer.qtype, transfer.zone)
        }
        (None, None) => tracing::warn!(
            "{} {} from {peer} refused{key}: no transfer rule admits this address and key for this zone",
            transfer.qtype,
            transfer.zone
        ),
    }
}
