//! Node health as queries see it: check specs, the probe states (atomics only) that the
//! checker in `serve` writes, and what an operator override forces.
//!
//! A probe is one (target address, check) pair, however many pools use it. Its state is
//! an [`Arc<ProbeState>`] of atomics held by the snapshot; queries read one atomic, the
//! checker writes with rise/fall thresholds, and a reload adopts the previous snapshot's
//! states by [`ProbeKey`] so nodes that did not change keep their state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Probe state changes in this process: bumped after every flip of any probe, so that a
/// host that reuses answers (see [`crate::PreparedAnswers`]) can tell when health may
/// have changed with one load. Shared by all engines of the process: a flip in one only
/// makes the others' reused answers be made again.
static FLIPS: AtomicU64 = AtomicU64::new(0);

/// The number of probe state flips in this process so far: any change to it means some
/// probe went up or down since.
#[inline]
pub fn flips() -> u64 {
    FLIPS.load(Ordering::Acquire)
}

/// What an operator override forces on a node, a pool or a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forced {
    /// Answered whatever the probes say.
    Up,
    /// Not answered (a failure the probes do not see).
    Down,
    /// Not answered (planned maintenance); probes keep running.
    Drained,
}

impl std::fmt::Display for Forced {
    /// As the rules and the API write it: `up`, `down`, `drained`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Forced::Up => "up",
            Forced::Down => "down",
            Forced::Drained => "drained",
        })
    }
}

impl Forced {
    /// Whether the target may be answered.
    pub fn answerable(self) -> bool {
        self == Forced::Up
    }
}

/// What a check does, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// A TCP connection opens.
    Tcp,
    /// HTTP/1.1 GET, over TLS when `tls` is set.
    Http {
        /// Request path.
        path: String,
        /// Host header (default: the target address).
        host: Option<String>,
        /// Status codes counted as healthy.
        expect_status: Vec<u16>,
        /// Text the body must contain.
        body_contains: Option<String>,
        /// HTTPS settings.
        tls: Option<TlsCheck>,
    },
    /// A DNS query over UDP.
    Dns {
        /// Name asked.
        query: String,
        /// Type asked.
        qtype: u16,
        /// Rcode counted as healthy.
        expect_rcode: u8,
    },
}

/// How an HTTPS check verifies the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCheck {
    /// PEM file of trusted CAs; `None`: the Mozilla root set.
    pub ca_file: Option<std::path::PathBuf>,
    /// Name the certificate must be valid for (and SNI); `None`: the Host header's name,
    /// else the probed IP address.
    pub server_name: Option<String>,
}

/// A named check with its timing and thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// Name in the rules.
    pub name: String,
    /// What it does.
    pub kind: CheckKind,
    /// Port to probe when the node's probe address has none.
    pub port: Option<u16>,
    /// Time between probes.
    pub interval: Duration,
    /// A probe without a result by then fails.
    pub timeout: Duration,
    /// Random delay added to each interval, up to this.
    pub jitter: Duration,
    /// Consecutive failures that mark the node down.
    pub fall: u32,
    /// Consecutive successes that mark it up.
    pub rise: u32,
    /// State before the first result.
    pub initially_up: bool,
}

/// What identifies a probe across reloads: where it goes and which check it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey {
    /// Address and port probed.
    pub target: SocketAddr,
    /// Check name.
    pub check: String,
}

/// A probe: its index in the snapshot's probe list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct ProbeId(pub u32);

impl ProbeId {
    /// Its index into the probe list.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One probe of the snapshot: its key, its check, and its shared state.
#[derive(Debug)]
pub struct Probe {
    /// Identity across reloads.
    pub key: ProbeKey,
    /// The check it runs.
    pub spec: Arc<CheckSpec>,
    /// State read by queries and written by the checker.
    pub state: Arc<ProbeState>,
}

/// The live state of one probe: atomics only, so queries never wait for the checker.
///
/// Alone, an instance answers by its own probes' verdict. In a fleet
/// ([`ProbeState::follow_fleet`]) its verdict is what it publishes, and queries read the
/// fleet's decision ([`ProbeState::decide`]).
#[derive(Debug)]
pub struct ProbeState {
    /// What queries read.
    up: AtomicBool,
    /// This instance's own verdict (rise/fall over its probes).
    own_up: AtomicBool,
    /// Whether the fleet decides `up` (else it is `own_up`).
    fleet: AtomicBool,
    /// Whether this instance leaves the probing to other sites (a fleet that probes each
    /// node from only some of its sites).
    idle: AtomicBool,
    /// The probes run when it was last taken up again after being idle.
    runs_at_wake: AtomicU64,
    /// Consecutive successes (reset by a failure).
    successes: AtomicU32,
    /// Consecutive failures (reset by a success).
    failures: AtomicU32,
    /// Probes run, and of them failed.
    runs: AtomicU64,
    failed_runs: AtomicU64,
    /// Duration of the last probe, microseconds.
    last_latency_us: AtomicU64,
    /// Probe durations: counts per [`LATENCY_BUCKETS`] bound (not cumulative), then over.
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of probe durations, microseconds.
    latency_sum_us: AtomicU64,
}

/// Upper bounds (seconds) of the probe latency histogram.
pub const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// What a probe result did to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Still the same state.
    Unchanged,
    /// `rise` successes: now up.
    WentUp,
    /// `fall` failures: now down.
    WentDown,
}

impl ProbeState {
    /// A new state, up or down.
    pub fn new(up: bool) -> Self {
        ProbeState {
            up: AtomicBool::new(up),
            own_up: AtomicBool::new(up),
            fleet: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            runs_at_wake: AtomicU64::new(0),
            successes: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            runs: AtomicU64::new(0),
            failed_runs: AtomicU64::new(0),
            last_latency_us: AtomicU64::new(0),
            latency_buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
        }
    }

    /// Whether queries may answer with the node.
    #[inline]
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// This instance's own verdict, by its probes alone.
    pub fn own_up(&self) -> bool {
        self.own_up.load(Ordering::Relaxed)
    }

    /// From now on the fleet decides what queries read ([`ProbeState::decide`]); until
    /// its first decision they keep reading what they read.
    pub fn follow_fleet(&self) {
        self.fleet.store(true, Ordering::Relaxed);
    }

    /// Whether the fleet decides what queries read.
    pub fn follows_fleet(&self) -> bool {
        self.fleet.load(Ordering::Relaxed)
    }

    /// Whether this instance leaves this probe to other sites (it does not run it).
    pub fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Relaxed)
    }

    /// Leaves this probe to other sites, or takes it up again (its verdict from before
    /// is then not counted until a probe has run: [`ProbeState::has_fresh_verdict`]).
    pub fn set_idle(&self, idle: bool) {
        if self.idle.swap(idle, Ordering::Relaxed) && !idle {
            self.runs_at_wake.store(self.runs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Whether this instance has a verdict of its own to count: a probe ran, and since
    /// it last took the probe up again.
    pub fn has_fresh_verdict(&self) -> bool {
        self.runs.load(Ordering::Relaxed) > self.runs_at_wake.load(Ordering::Relaxed)
    }

    /// The fleet's decision: what queries read from now on. Whether it changed.
    pub fn decide(&self, up: bool) -> bool {
        let changed = self.up.swap(up, Ordering::Relaxed) != up;
        if changed {
            FLIPS.fetch_add(1, Ordering::Release);
        }
        changed
    }

    /// Sets this instance's verdict, and what queries read unless the fleet decides it.
    fn set_own(&self, up: bool) {
        self.own_up.store(up, Ordering::Relaxed);
        if !self.follows_fleet() {
            self.up.store(up, Ordering::Relaxed);
            FLIPS.fetch_add(1, Ordering::Release);
        }
    }

    /// Records one probe result; `fall` consecutive failures mark the node down and
    /// `rise` consecutive successes mark it up (this instance's verdict). Only the checker
    /// task of this probe calls it, so the counters need no compare-and-swap.
    pub fn record(&self, ok: bool, latency: Duration, fall: u32, rise: u32) -> Transition {
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.last_latency_us.store(latency.as_micros() as u64, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(latency.as_micros() as u64, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        if ok {
            self.failures.store(0, Ordering::Relaxed);
            let successes = self.successes.fetch_add(1, Ordering::Relaxed) + 1;
            if !self.own_up() && successes >= rise {
                self.set_own(true);
                return Transition::WentUp;
            }
        } else {
            self.failed_runs.fetch_add(1, Ordering::Relaxed);
            self.successes.store(0, Ordering::Relaxed);
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if self.own_up() && failures >= fall {
                self.set_own(false);
                return Transition::WentDown;
            }
        }
        Transition::Unchanged
    }

    /// Probe latency histogram: cumulative counts per [`LATENCY_BUCKETS`] bound, then
    /// the total count and the sum in seconds.
    pub fn latency_histogram(&self) -> (Vec<u64>, u64, f64) {
        let mut cumulative = Vec::with_capacity(LATENCY_BUCKETS.len());
        let mut running = 0;
        for b in &self.latency_buckets[..LATENCY_BUCKETS.len()] {
            running += b.load(Ordering::Relaxed);
            cumulative.push(running);
        }
        let total = running + self.latency_buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        (cumulative, total, self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6)
    }

    /// Whether the last probe succeeded (`None`: none has run yet).
    pub fn last_ok(&self) -> Option<bool> {
        match self.runs.load(Ordering::Relaxed) {
            0 => None,
            _ => Some(self.failures.load(Ordering::Relaxed) == 0),
        }
    }

    /// (probes run, probes failed, last latency in µs).
    pub fn counters(&self) -> (u64, u64, u64) {
        (
            self.runs.load(Ordering::Relaxed),
            self.failed_runs.load(Ordering::Relaxed),
            self.last_latency_us.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_and_rise() {
        let s = ProbeState::new(true);
        let d = Duration::from_millis(1);
        assert_eq!(s.record(false, d, 3, 2), Transition::Unchanged);
        assert_eq!(s.record(false, d, 3, 2), Transition::Unchanged);
        assert_eq!(s.record(true, d, 3, 2), Transition::Unchanged, "a success resets the failures");
        assert!(s.is_up());
        for _ in 0..2 {
            s.record(false, d, 3, 2);
        }
        assert_eq!(s.record(false, d, 3, 2), Transition::WentDown);
        assert!(!s.is_up());
        assert_eq!(s.record(true, d, 3, 2), Transition::Unchanged);
        assert_eq!(s.record(true, d, 3, 2), Transition::WentUp);
        assert_eq!(s.counters().0, 8);
    }
}
