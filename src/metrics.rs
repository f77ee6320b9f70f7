//! Query counters, recorded lock-free on the query path and rendered in the Prometheus
//! text format by the admin API.
//!
//! Lines are counted by *slot*: a line name gets a slot the first time a snapshot with it
//! goes live and keeps it for the life of the process, so counters survive reloads
//! (Prometheus counters must not reset while the process runs).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::answer::{Route, Served};
use crate::handle::Transport;
use crate::rdata::RecordType;

/// Line slots; lines past this count as `other`.
pub const LINE_SLOTS: usize = 256;
/// Slot of answers that did not depend on a line.
pub const NO_LINE: u16 = 0;
/// Slot of lines past [`LINE_SLOTS`].
const OTHER_LINE: u16 = (LINE_SLOTS - 1) as u16;

const QTYPES: [&str; 11] = ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA", "SOA", "ANY", "other"];
const RCODES: [&str; 7] = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS"];
const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

fn qtype_bucket(qtype: u16) -> usize {
    match RecordType::from(qtype) {
        RecordType::A => 0,
        RecordType::AAAA => 1,
        RecordType::CNAME => 2,
        RecordType::MX => 3,
        RecordType::TXT => 4,
        RecordType::NS => 5,
        RecordType::SRV => 6,
        RecordType::CAA => 7,
        RecordType::SOA => 8,
        RecordType::ANY => 9,
        _ => 10,
    }
}

fn rcode_bucket(rcode: u16) -> usize {
    match rcode {
        0..=5 => rcode as usize,
        _ => 6, // BADVERS, the only extended rcode we send
    }
}

/// The counters.
#[derive(Debug)]
pub struct Metrics {
    line_names: Mutex<Vec<String>>,
    /// Indexed `[line slot][qtype][rcode][transport]`.
    queries: Box<[AtomicU64]>,
    ecs_classified: AtomicU64,
    source_classified: AtomicU64,
    fallback: AtomicU64,
    degraded: AtomicU64,
    all_down: [AtomicU64; 3],
}

impl Default for Metrics {
    fn default() -> Self {
        let cells = LINE_SLOTS * QTYPES.len() * RCODES.len() * TRANSPORTS.len();
        Metrics {
            line_names: Mutex::new(vec!["none".into()]),
            queries: (0..cells).map(|_| AtomicU64::new(0)).collect(),
            ecs_classified: AtomicU64::new(0),
            source_classified: AtomicU64::new(0),
            fallback: AtomicU64::new(0),
            degraded: AtomicU64::new(0),
            all_down: Default::default(),
        }
    }
}

impl Metrics {
    /// Slots for `lines` (by name), for a snapshot about to go live.
    pub fn slots_for(&self, lines: &[Box<str>]) -> Vec<u16> {
        let mut names = self.line_names.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .map(|line| match names.iter().position(|n| n == &**line) {
                Some(i) => i as u16,
                None if names.len() < OTHER_LINE as usize => {
                    names.push(line.to_string());
                    (names.len() - 1) as u16
                }
                None => OTHER_LINE,
            })
            .collect()
    }

    /// Counts one answered query. `slot` is the client line's slot when the answer
    /// depended on it ([`NO_LINE`] otherwise), `ecs` whether the query carried ECS.
    #[inline]
    pub fn record(&self, slot: u16, qtype: u16, rcode: u16, transport: Transport, route: Option<&Route>, ecs: bool) {
        let t = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
        };
        let cell =
            ((usize::from(slot) * QTYPES.len() + qtype_bucket(qtype)) * RCODES.len() + rcode_bucket(rcode)) * 2 + t;
        self.queries[cell].fetch_add(1, Ordering::Relaxed);
        if let Some(route) = route {
            if ecs { &self.ecs_classified } else { &self.source_classified }.fetch_add(1, Ordering::Relaxed);
            if route.fallback_depth > 0 && route.how == Served::Pool {
                self.fallback.fetch_add(1, Ordering::Relaxed);
            }
            if route.degraded {
                self.degraded.fetch_add(1, Ordering::Relaxed);
            }
            let down = match route.how {
                Served::Pool => None,
                Served::FailOpen => Some(0),
                Served::LastResort => Some(1),
                Served::ServFail => Some(2),
            };
            if let Some(i) = down {
                self.all_down[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes the query counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let names = self.line_names.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP linedns_queries_total Queries answered, by client line (none: the answer did not depend on it), type, rcode and transport."
        );
        let _ = writeln!(out, "# TYPE linedns_queries_total counter");
        for (slot, line) in names.iter().enumerate().chain(std::iter::once((OTHER_LINE as usize, &"other".to_string())))
        {
            for (q, qtype) in QTYPES.iter().enumerate() {
                for (r, rcode) in RCODES.iter().enumerate() {
                    for (t, transport) in TRANSPORTS.iter().enumerate() {
                        let cell = ((slot * QTYPES.len() + q) * RCODES.len() + r) * 2 + t;
                        let n = self.queries[cell].load(Ordering::Relaxed);
                        if n > 0 {
                            let _ = writeln!(
                                out,
                                "linedns_queries_total{{line=\"{}\",qtype=\"{qtype}\",rcode=\"{rcode}\",transport=\"{transport}\"}} {n}",
                                escape(line)
                            );
                        }
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP linedns_line_answers_total Line-dependent answers, by what classified the client (ECS option or source address)."
        );
        let _ = writeln!(out, "# TYPE linedns_line_answers_total counter");
        let _ = writeln!(
            out,
            "linedns_line_answers_total{{classified_by=\"ecs\"}} {}",
            self.ecs_classified.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "linedns_line_answers_total{{classified_by=\"source\"}} {}",
            self.source_classified.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP linedns_fallback_answers_total Answers from a pool further down the fallback chain than the client's line."
        );
        let _ = writeln!(out, "# TYPE linedns_fallback_answers_total counter");
        let _ = writeln!(out, "linedns_fallback_answers_total {}", self.fallback.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP linedns_degraded_answers_total Answers given the degraded TTL.");
        let _ = writeln!(out, "# TYPE linedns_degraded_answers_total counter");
        let _ = writeln!(out, "linedns_degraded_answers_total {}", self.degraded.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP linedns_all_down_answers_total Answers when no pool of the chain was usable, by policy."
        );
        let _ = writeln!(out, "# TYPE linedns_all_down_answers_total counter");
        for (i, how) in ["fail_open", "last_resort", "servfail"].iter().enumerate() {
            let _ = writeln!(
                out,
                "linedns_all_down_answers_total{{policy=\"{how}\"}} {}",
                self.all_down[i].load(Ordering::Relaxed)
            );
        }
    }
}

/// A label value with `\`, `"` and newlines escaped (Prometheus text format).
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
