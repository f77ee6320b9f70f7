//! What the host gives the engine to call back: the tap that sees answered queries, the
//! hook told of each NOTIFY accepted from a zone's primary; and the request's clock,
//! read at most once.

use std::net::SocketAddr;
use std::sync::Arc;

use super::live::Live;
use super::outcome::Outcome;
use super::query::Transport;
use super::serials::Hook;
use super::tap::{self, Tap};
use crate::geo::table::LineId;

/// What the host does with a zone whose primary sent a NOTIFY.
pub type NotifyHook = Hook<dyn Fn(&str) + Send + Sync>;

/// The host's hooks on answers.
#[derive(Debug, Default)]
pub struct HostHooks {
    /// Told the zone of each NOTIFY accepted from its primary.
    notified: Option<NotifyHook>,
    /// Shown some answered queries.
    tap: Option<Arc<dyn Tap>>,
}

impl HostHooks {
    /// The hooks the host gave (see [`super::builder::EngineBuilder`]).
    pub(super) fn new(notified: Option<NotifyHook>, tap: Option<Arc<dyn Tap>>) -> Self {
        HostHooks { notified, tap }
    }

    /// Tells the host that `zone`'s primary sent a NOTIFY that was accepted.
    pub(super) fn notified(&self, zone: &str) {
        if let Some(hook) = &self.notified {
            (hook.0)(zone);
        }
    }

    /// Shows the answer just made to the tap, if one is set and samples it.
    #[inline]
    pub(super) fn tap(&self, live: &Live, outcome: &Outcome, tapped: (&[u8], SocketAddr, Transport, &[u8])) {
        let Some(tap) = &self.tap else { return };
        if tap.sample() {
            let (query, peer, transport, response) = tapped;
            let line = |l: LineId| live.lines.name(l);
            tap.record(tap::Tapped {
                query,
                response,
                peer,
                transport,
                line: outcome.route.map(|r| line(r.client_line)),
                served_line: outcome.route.map(|r| line(r.served_line)),
            });
        }
    }
}

/// A clock read at most once, when first needed (most queries never need it).
pub(super) struct LazyClock<F> {
    clock: Option<F>,
    now: Option<u64>,
}

impl<F: FnOnce() -> u64> LazyClock<F> {
    pub(super) fn new(clock: Option<F>) -> Self {
        LazyClock { clock, now: None }
    }

    /// Whether there is a clock (read or not).
    pub(super) fn is_given(&self) -> bool {
        self.clock.is_some() || self.now.is_some()
    }

    /// The time, read on the first call; `None` without a clock.
    pub(super) fn now(&mut self) -> Option<u64> {
        if let Some(clock) = self.clock.take() {
            self.now = Some(clock());
        }
        self.now
    }
}
