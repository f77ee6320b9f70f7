//! DNS over UDP, batched: one thread per `SO_REUSEPORT` socket, each receiving up to
//! [`BATCH`] queries with one `recvmmsg`, answering them into buffers it owns, and
//! sending the answers with one `sendmmsg`.
//!
//! The system calls come from `nix` (maintained, and its `recvmmsg`/`sendmmsg` write into
//! headers allocated once, `MultiHeaders::preallocate`); `quinn-udp` batches receives
//! but sends one `sendmsg` per datagram unless they share a destination (GSO), which
//! answers to many resolvers never do. On the common path nothing is allocated and
//! nothing is locked; each worker counts in its own metrics shard.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};

use crate::engine::Engine;
use crate::engine::prepared::PreparedAnswers;
use crate::engine::query::Transport;
use crate::engine::request::Request;

/// Queries per system call.
pub const BATCH: usize = 32;
/// Largest query read; a longer datagram is cut (`MSG_TRUNC`) and dropped. linedns
/// advertises at most 4096 octets (RFC 6891 §6.2.5), and queries are far smaller.
const MAX_QUERY: usize = 4096;
/// How often a worker waiting for queries looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);
/// Longest a stopped worker goes on answering what is still queued.
const FINISH: Duration = Duration::from_millis(100);

/// Answers queries on `socket` as worker `worker` (pinned to `cpu` if given) until
/// `stop` is set, then what is still queued. Blocks: run it on a thread of its own.
pub(crate) fn serve(
    engine: Arc<Engine>,
    socket: std::net::UdpSocket,
    worker: usize,
    cpu: Option<usize>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    if let Some(cpu) = cpu {
        pin_to(cpu, &socket);
    }
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(STOP_CHECK))?;
    let local = socket.local_addr()?;
    let fd = socket.as_raw_fd();
    let mut queries = vec![[0u8; MAX_QUERY]; BATCH];
    let mut answers: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(MAX_QUERY)).collect();
    let mut received = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut sending = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut lens = [0usize; BATCH];
    let mut peers: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    // Answers made once and copied (this thread's own: no lock).
    let mut prepared = PreparedAnswers::new();
    // The metrics shard: 0 is everything that is not a UDP worker.
    let shard = worker + 1;
    // Once stopped, what is still queued is answered (without waiting, for at most
    // FINISH): at a hand-over nothing new arrives by then (see `handover`).
    let mut finish_by = None;
    loop {
        if finish_by.is_none() && stop.load(Ordering::Relaxed) {
            finish_by = Some(std::time::Instant::now() + FINISH);
        }
        if finish_by.is_some_and(|by| std::time::Instant::now() >= by) {
            break;
        }
        // Wait for one query, then take what else is queued (up to BATCH).
        let wait = if finish_by.is_some() { MsgFlags::MSG_DONTWAIT } else { MsgFlags::MSG_WAITFORONE };
        let count = {
            let mut buffers = queries.iter_mut();
            let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(buffers.next().expect("BATCH buffers"))]);
            match recvmmsg(fd, &mut received, slices.iter_mut(), wait, None) {
                Ok(results) => {
                    let mut count = 0;
                    for (i, r) in results.enumerate() {
                        let cut = r.flags.contains(MsgFlags::MSG_TRUNC);
                        lens[i] = if cut { 0 } else { r.bytes };
                        peers[i] = r.address;
                        count += 1;
                    }
                    count
                }
                // Stopped and nothing queued any more: done.
                Err(Errno::EAGAIN) if finish_by.is_some() => break,
                // The stop check's timeout, a signal, or an ICMP error of an earlier
                // send: nothing about this socket.
                Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNREFUSED | Errno::ECONNRESET) => continue,
                Err(e) => {
                    tracing::error!("UDP {local}: receive failed: {e}");
                    return Err(e.into());
                }
            }
        };
        // Load what classifying each query reads, for the whole batch at once, so that
        // its memory waits overlap instead of adding up (a hint: no answer depends on it).
        {
            let live = engine.snapshot();
            let mut hints = [(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0u8); BATCH];
            let mut n = 0;
            for i in 0..count {
                if let Some(hint) = crate::wire::decode::ecs_hint(&queries[i][..lens[i]]) {
                    hints[n] = hint;
                    n += 1;
                }
            }
            live.classifier.prefetch_batch(&hints[..n]);
        }
        // Answer each into its own buffer; remember which get sent.
        let mut to_send = [0usize; BATCH];
        let mut n = 0;
        for i in 0..count {
            let Some(peer) = peers[i].as_ref().and_then(std_addr) else { continue };
            if lens[i] > 0
                && engine.answer(
                    Request::new(&queries[i][..lens[i]], peer, Transport::Udp)
                        .on_worker(shard)
                        .with_clock(crate::serve::clock::unix_now)
                        .with_prepared(&mut prepared),
                    &mut answers[i],
                )
            {
                to_send[n] = i;
                n += 1;
            }
        }
        let slices: [[IoSlice<'_>; 1]; BATCH] =
            std::array::from_fn(|j| [IoSlice::new(if j < n { &answers[to_send[j]] } else { &[] })]);
        let addrs: [Option<SockaddrStorage>; BATCH] =
            std::array::from_fn(|j| if j < n { peers[to_send[j]] } else { None });
        let mut sent = 0;
        while sent < n {
            match sendmmsg(fd, &mut sending, slices[sent..n].iter(), &addrs[sent..n], [], MsgFlags::empty()) {
                Ok(results) => sent += results.count().max(1),
                Err(Errno::EINTR) => {}
                // A full send buffer or an unreachable peer loses that answer (UDP).
                Err(e) => {
                    if !matches!(e, Errno::EAGAIN | Errno::ECONNREFUSED | Errno::EPERM) {
                        tracing::warn!("UDP {local}: send failed: {e}");
                    }
                    sent += 1;
                }
            }
        }
    }
    Ok(())
}

/// A received peer address as the engine takes it.
fn std_addr(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    addr.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

/// Pins the calling thread to `cpu` (`server.cpus`); a failure is logged and the worker
/// runs unpinned.
fn pin_to(cpu: usize, socket: &std::net::UdpSocket) {
    let mut set = nix::sched::CpuSet::new();
    let pinned = set.set(cpu).and_then(|()| nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set));
    let addr = socket.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string());
    match pinned {
        Ok(()) => tracing::debug!("UDP {addr}: worker pinned to CPU {cpu}"),
        Err(e) => tracing::warn!("UDP {addr}: cannot pin the worker to CPU {cpu}: {e}; it runs unpinned"),
    }
}
