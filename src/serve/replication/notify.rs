//! NOTIFY out (RFC 1996): tells a secondary that a zone it transfers has a new serial,
//! so it checks and transfers at once instead of at its refresh timer. One task per
//! (secondary, zone): a newer serial replaces the task still retrying an older one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::serve::client::{Client, ClientError, Request, Transport};
use crate::wire::tsig::Key;

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
    let mut wait = FIRST_WAIT;
    for attempt in 1..=ATTEMPTS {
        let started = tokio::time::Instant::now();
        let request = Request::notify(zone).signed_if(key.as_ref());
        let client = Client { timeout: wait, source: *source };
        match client.ask(*target, &request, Transport::Udp).await {
            Ok(reply) if reply.rcode() == 0 => {
                stats.answered.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    "NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}) answered (attempt {attempt})"
                );
                return;
            }
            Ok(reply) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}) refused by the secondary: {}",
                    rcode_text(reply.rcode())
                );
                return;
            }
            Err(ClientError::Socket(e)) => {
                tracing::error!("NOTIFY {zone} serial {serial} to {target} (transfer rule {rule}): no socket: {e}");
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // Nothing listening there (ICMP port unreachable): as good as silence, so the
            // wait is kept before the next attempt.
            Err(ClientError::Unreachable(_)) => tokio::time::sleep_until(started + wait).await,
            Err(e) => tracing::debug!("NOTIFY {zone} to {target}: {e}"),
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

/// An rcode's mnemonic when it is one the engine knows, else its number.
pub(crate) fn rcode_text(code: u8) -> String {
    crate::engine::answer::Rcode::from_code(u16::from(code)).map_or(format!("rcode {code}"), |r| r.name().to_string())
}
