//! NOTIFY out (RFC 1996): tells a secondary that a zone it transfers has a new serial,
//! so it checks and transfers at once instead of at its refresh timer. One task per
//! (secondary, zone): a newer serial replaces the task still retrying an older one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::wire::encode;
use crate::wire::tsig::{self, Key};

/// Attempts per NOTIFY before giving up: the waits double from [`FIRST_WAIT`], about four
/// minutes in all (RFC 1996 §3.6 leaves the retry interval and count to the primary).
const ATTEMPTS: u32 = 8;
/// Wait for an answer to the first attempt.
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// NOTIFY outcomes, for metrics.
#[derive(Debug, Default)]
pub struct NotifyStats {
    /// Answered NOERROR.
    pub answered: AtomicU64,
    /// Answered with an error rcode (the secondary refused it): not retried.
    pub rejected: AtomicU64,
    /// Attempts that got no answer in time and were sent again.
    pub retried: AtomicU64,
    /// Given up after every attempt went unanswered.
    pub failed: AtomicU64,
}

/// One NOTIFY to send.
#[derive(Clone, Debug)]
pub struct Notify {
    /// The secondary.
    pub target: SocketAddr,
    /// The zone (normalized origin).
    pub zone: Box<str>,
    /// The serial it announces (for the log).
    pub serial: u32,
    /// The transfer rule it is sent for (for the log).
    pub rule: Box<str>,
    /// The TSIG key to sign with (RFC 1996 leaves it to policy; secondaries that
    /// transfer with a key expect NOTIFY signed with it).
    pub key: Option<Key>,
    /// The address to send from (a secondary accepts a NOTIFY only from its primary's
    /// address, RFC 1996 §3.10); `None`: the one the kernel picks.
    pub source: Option<std::net::IpAddr>,
}

/// The NOTIFY tasks in flight.
#[derive(Debug, Default)]
pub struct Notifier {
    stats: Arc<NotifyStats>,
    /// By secondary, zone and transfer rule: one rule's view never cancels another's.
    in_flight: HashMap<(SocketAddr, Box<str>, Box<str>), JoinHandle<()>>,
}

impl Notifier {
    /// A notifier counting into `stats`.
    pub fn new(stats: Arc<NotifyStats>) -> Self {
        Notifier { stats, in_flight: HashMap::new() }
    }

    /// Starts sending `notify`, replacing one still retrying for the same secondary,
    /// zone and rule (it announced an older serial of the same view).
    pub fn send(&mut self, notify: Notify) {
        self.in_flight.retain(|_, task| !task.is_finished());
        let key = (notify.target, notify.zone.clone(), notify.rule.clone());
        if let Some(old) = self.in_flight.remove(&key) {
            old.abort();
        }
        self.in_flight.insert(key, tokio::spawn(deliver(notify, self.stats.clone())));
    }

    /// Stops every task in flight.
    pub fn stop(&mut self) {
        for (_, task) in self.in_flight.drain() {
            task.abort();
        }
    }
}

/// Sends one NOTIFY until answered, doubling the wait after each silent attempt, and logs
/// and counts the outcome.
async fn deliver(notify: Notify, stats: Arc<NotifyStats>) {
    let Notify { target, zone, serial, rule, key, source } = &notify;
    let wildcard: std::net::IpAddr =
        if target.is_ipv4() { std::net::Ipv4Addr::UNSPECIFIED.into() } else { std::net::Ipv6Addr::UNSPECIFIED.into() };
    let bind = SocketAddr::new(source.filter(|s| s.is_ipv4() == target.is_ipv4()).unwrap_or(wildcard), 0);
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}): no socket: {e}");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    // Connected: only the secondary's answers are read.
    if let Err(e) = socket.connect(*target).await {
        tracing::error!("NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}): {e}");
        stats.failed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut wait = FIRST_WAIT;
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=ATTEMPTS {
        let id = super::random::message_id();
        let (message, request_mac) = message(id, zone, key.as_ref(), super::clock::unix_now());
        if let Err(e) = socket.send(&message).await {
            tracing::debug!("NOTIFY {zone} to {target}: send failed: {e}");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                // Nothing listening there (ICMP port unreachable): as good as silence,
                // so the wait is kept before the next attempt.
                Ok(Err(_)) => {
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
                Err(_) => break,
            };
            let reply = &buf[..n];
            // RFC 1996 §4.7: the answer echoes the ID, with QR set and opcode NOTIFY.
            if n < 12 || u16::from_be_bytes([reply[0], reply[1]]) != id || reply[2] & 0xf8 != 0x80 | (4 << 3) {
                continue;
            }
            // RFC 8945 §5.4.1: the answer to a signed request must be signed with the same
            // key over our MAC; one that is not is discarded (as if lost).
            if let (Some(key), Some(mac)) = (key, &request_mac)
                && let Err(e) = tsig::verify_response(reply, key, mac, super::clock::unix_now())
            {
                tracing::debug!("NOTIFY {zone} to {target}: answer discarded, its TSIG does not verify ({e})");
                continue;
            }
            let rcode = reply[3] & 0x0f;
            if rcode == 0 {
                stats.answered.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}) answered (attempt {attempt})"
                );
            } else {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}) refused by the secondary: {}",
                    rcode_text(rcode)
                );
            }
            return;
        }
        if attempt < ATTEMPTS {
            stats.retried.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("NOTIFY {zone} to {target}: no answer in {wait:?}, sending again");
            wait *= 2;
        }
    }
    stats.failed.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        "NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}): no answer after {ATTEMPTS} attempts; the secondary will find the new serial at its refresh timer"
    );
}

/// A NOTIFY message (RFC 1996 §3.7): opcode NOTIFY, AA set, one question `zone SOA IN`,
/// signed with `key` at `now` when given (then with the request's MAC, which the answer
/// must cover).
pub fn message(id: u16, zone: &str, key: Option<&Key>, now: u64) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut out = Vec::with_capacity(64);
    encode::query(&mut out, id, zone, 6);
    // Opcode 4 (NOTIFY) in bits 11-14 and AA: RFC 1996 §3.7 and §4.7.
    out[2] = (4 << 3) | 0x04;
    let mac = key.map(|key| tsig::sign_request(&mut out, key, now));
    (out, mac)
}

/// An rcode's mnemonic when it is one the engine knows, else its number.
pub(super) fn rcode_text(code: u8) -> String {
    crate::engine::answer::Rcode::from_code(u16::from(code)).map_or(format!("rcode {code}"), |r| r.name().to_string())
}
