//! The Prometheus text exposition format (version 0.0.4), written in this one place:
//! every metric `/metrics` shows, read from the engine's lock-free counters, the probe
//! states, and serve's own task and reload counters.

use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering;

use crate::engine::Engine;
use crate::engine::health::{LATENCY_BUCKETS, Probe};
use crate::engine::metrics::{ALL_DOWN_POLICIES, TRANSFER_RESULTS};
use crate::serve::control::Control;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kind of a metric family (`# TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets with the process).
    Counter,
    /// Any value.
    Gauge,
    /// Buckets, a sum and a count.
    Histogram,
}

/// A text exposition being written: families, each a header then its samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample: `name{labels} value`, label values escaped.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value with `\`, `"` and newlines escaped, as the text format asks.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Everything `/metrics` shows.
pub fn render(control: &Control) -> String {
    let (engine, checker, reloads) = (&control.engine, &control.checker, &control.reloads);
    let mut x = Exposition::default();
    queries(&mut x, engine);
    probes(&mut x, &engine.snapshot().probes);
    x.family("linedns_probe_tasks", Kind::Gauge, "Probe tasks running.");
    x.sample("linedns_probe_tasks", &[], load(&checker.running));
    x.family("linedns_probe_task_restarts_total", Kind::Counter, "Probe tasks restarted, by cause.");
    x.sample("linedns_probe_task_restarts_total", &[("cause", "ended")], load(&checker.restarts));
    x.sample("linedns_probe_task_restarts_total", &[("cause", "stalled")], load(&checker.stalls));
    x.family(
        "linedns_rrl_limited_total",
        Kind::Counter,
        "UDP answers over their rate limit, by what became of them (dropped, or slipped: sent truncated or BADCOOKIE).",
    );
    x.sample("linedns_rrl_limited_total", &[("action", "dropped")], load(&engine.defences.dropped));
    x.sample("linedns_rrl_limited_total", &[("action", "slipped")], load(&engine.defences.slipped));
    x.family("linedns_reloads_total", Kind::Counter, "Reloads, by result (a failure keeps the running snapshot).");
    x.sample("linedns_reloads_total", &[("result", "success")], load(&reloads.successes));
    x.sample("linedns_reloads_total", &[("result", "failure")], load(&reloads.failures));
    x.family(
        "linedns_reload_last_success",
        Kind::Gauge,
        "1 if the rules loaded at the last reload (or at start), 0 while the rules on disk do not load (the running snapshot stays).",
    );
    x.sample("linedns_reload_last_success", &[], u64::from(reloads.last_ok.load(Ordering::Relaxed)));
    x.family(
        "linedns_reload_last_attempt_timestamp_seconds",
        Kind::Gauge,
        "When the rules were last loaded or tried (the start, or the last reload), seconds since the Unix epoch.",
    );
    x.sample("linedns_reload_last_attempt_timestamp_seconds", &[], load(&reloads.last_attempt));
    x.family(
        "linedns_reload_last_success_timestamp_seconds",
        Kind::Gauge,
        "When the rules last loaded (the start, or the last successful reload), seconds since the Unix epoch.",
    );
    x.sample("linedns_reload_last_success_timestamp_seconds", &[], load(&reloads.last_success));
    x.family(
        "linedns_admin_refused_total",
        Kind::Counter,
        "Admin API requests refused: a Host not naming the listener, another web origin, or a change not sent as JSON.",
    );
    x.sample("linedns_admin_refused_total", &[], load(&control.admin_refused));
    x.family(
        "linedns_snapshot_generation",
        Kind::Gauge,
        "Generation of the live snapshot (1 at start, +1 per reload).",
    );
    x.sample("linedns_snapshot_generation", &[], engine.generation());
    x.family(
        "linedns_dnstap_frames_total",
        Kind::Counter,
        "dnstap frames, by result: written, or dropped (queue full, no reader, write failed).",
    );
    x.sample("linedns_dnstap_frames_total", &[("result", "written")], load(&control.dnstap.written));
    x.sample("linedns_dnstap_frames_total", &[("result", "dropped")], load(&control.dnstap.dropped));
    replication(&mut x, control);
    dnssec(&mut x, control);
    x.family("linedns_build_info", Kind::Gauge, "Build information.");
    x.sample("linedns_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
    x.finish()
}

/// DNSSEC: the signature cache, each key's state, the rollover's steps.
fn dnssec(x: &mut Exposition, control: &Control) {
    let cache = control.engine.signatures.stats();
    x.family("linedns_dnssec_signatures_made_total", Kind::Counter, "RRSIGs made (one per key per set signed).");
    x.sample("linedns_dnssec_signatures_made_total", &[], cache.made);
    x.family(
        "linedns_dnssec_signature_cache_hits_total",
        Kind::Counter,
        "Sets whose RRSIGs came from the signature cache.",
    );
    x.sample("linedns_dnssec_signature_cache_hits_total", &[], cache.hits);
    x.family("linedns_dnssec_signature_cache_sets", Kind::Gauge, "Sets whose RRSIGs the cache holds.");
    x.sample("linedns_dnssec_signature_cache_sets", &[], cache.entries);
    x.family("linedns_dnssec_signature_cache_bytes", Kind::Gauge, "Octets of RRSIG RDATA the cache holds.");
    x.sample("linedns_dnssec_signature_cache_bytes", &[], cache.octets);
    x.family(
        "linedns_dnssec_key",
        Kind::Gauge,
        "Each key of a signed zone (1), by role and what it does now: published (in DNSKEY), signing, in CDS.",
    );
    let live = control.engine.snapshot();
    for zone in &live.zones {
        let Some(signing) = &zone.signing else { continue };
        for k in signing.keys.iter() {
            let tag = k.key.tag.to_string();
            let yes = |b: bool| if b { "yes" } else { "no" };
            let labels = [
                ("zone", &*zone.origin),
                ("tag", tag.as_str()),
                ("role", k.key.role.name()),
                ("algorithm", k.key.algorithm.mnemonic()),
                ("published", yes(k.published)),
                ("signing", yes(k.signs)),
                ("cds", yes(k.in_cds)),
            ];
            x.sample("linedns_dnssec_key", &labels, 1);
        }
    }
    x.family(
        "linedns_dnssec_rollover_steps_total",
        Kind::Counter,
        "Key rollover steps taken, by zone and step (zsk-roll-started, ksk-roll-started, ds-seen, key-retired).",
    );
    for (zone, step, count) in control.rollover.list() {
        x.sample("linedns_dnssec_rollover_steps_total", &[("zone", &zone), ("step", step)], count);
    }
}

/// A counter of serve's own, read for a scrape.
fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The zones transferred from a primary: serial, expiry, transfers and failures.
fn secondary_zones(x: &mut Exposition, control: &Control) {
    let zones = control.secondary.zones.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if zones.is_empty() {
        return;
    }
    x.family(
        "linedns_secondary_serial",
        Kind::Gauge,
        "SOA serial of the copy of each zone transferred from its primary.",
    );
    for (zone, s) in &zones {
        if let Some(serial) = s.serial {
            x.sample("linedns_secondary_serial", &[("zone", zone)], serial);
        }
    }
    x.family(
        "linedns_secondary_expired",
        Kind::Gauge,
        "1 while a secondary zone's copy has expired (no primary confirmed it for the SOA expire time): it answers SERVFAIL.",
    );
    for (zone, s) in &zones {
        x.sample("linedns_secondary_expired", &[("zone", zone)], u8::from(s.expired));
    }
    x.family(
        "linedns_secondary_refreshed_timestamp_seconds",
        Kind::Gauge,
        "When the primary last confirmed each secondary zone's copy (by a transfer or its SOA serial).",
    );
    for (zone, s) in &zones {
        x.sample("linedns_secondary_refreshed_timestamp_seconds", &[("zone", zone)], s.refreshed);
    }
    x.family("linedns_secondary_transfers_total", Kind::Counter, "Transfers in from a primary, by kind (axfr, ixfr).");
    for (zone, s) in &zones {
        x.sample("linedns_secondary_transfers_total", &[("zone", zone), ("kind", "axfr")], s.axfr);
        x.sample("linedns_secondary_transfers_total", &[("zone", zone), ("kind", "ixfr")], s.ixfr);
    }
    x.family(
        "linedns_secondary_failures_total",
        Kind::Counter,
        "Checks of a secondary zone that reached no primary, or whose transfer failed or was rejected by the rules.",
    );
    for (zone, s) in &zones {
        x.sample("linedns_secondary_failures_total", &[("zone", zone)], s.failures);
    }
}

/// Each provider's zone: pushes by result, the last success, what is out of sync, drift.
fn pushes(x: &mut Exposition, control: &Control) {
    let zones = control.push.list();
    if zones.is_empty() {
        return;
    }
    x.family(
        "linedns_push_total",
        Kind::Counter,
        "Pushes to a provider's zone, by result (in_sync, applied, failed, refused: over max_change).",
    );
    for ((provider, zone), s) in &zones {
        for result in ["in_sync", "applied", "failed", "refused"] {
            let count = s.results.get(result).copied().unwrap_or(0);
            x.sample("linedns_push_total", &[("provider", provider), ("zone", zone), ("result", result)], count);
        }
    }
    x.family(
        "linedns_push_last_success_timestamp_seconds",
        Kind::Gauge,
        "When a push last left the provider's copy holding the view (absent: never).",
    );
    for ((provider, zone), s) in &zones {
        if let Some(at) = s.last_success {
            x.sample("linedns_push_last_success_timestamp_seconds", &[("provider", provider), ("zone", zone)], at);
        }
    }
    x.family(
        "linedns_push_out_of_sync_rrsets",
        Kind::Gauge,
        "RRsets the provider's copy holds differently from the view (0 once a push succeeds).",
    );
    for ((provider, zone), s) in &zones {
        x.sample("linedns_push_out_of_sync_rrsets", &[("provider", provider), ("zone", zone)], s.out_of_sync);
    }
    x.family(
        "linedns_push_drift_total",
        Kind::Counter,
        "Rounds that found the provider's copy changed there while the view was not (put back).",
    );
    for ((provider, zone), s) in &zones {
        x.sample("linedns_push_drift_total", &[("provider", provider), ("zone", zone)], s.drifts);
    }
}

/// The fleet: whether the store is reachable, results published and held, decisions.
fn fleet(x: &mut Exposition, control: &Control) {
    let Some(settings) = control.host().fleet.clone() else { return };
    let f = &control.fleet;
    let labels = [("instance", settings.instance.as_str()), ("site", settings.site.as_str())];
    x.family(
        "linedns_fleet_store_up",
        Kind::Gauge,
        "1 while the fleet's store is reachable; 0: deciding from the last results heard and this instance's own probes.",
    );
    x.sample("linedns_fleet_store_up", &labels, u8::from(f.connected.load(Ordering::Relaxed)));
    x.family("linedns_fleet_store_errors_total", Kind::Counter, "Failed attempts to reach or use the fleet's store.");
    x.sample("linedns_fleet_store_errors_total", &labels, f.store_errors.load(Ordering::Relaxed));
    x.family("linedns_fleet_results_published_total", Kind::Counter, "Probe results this instance published.");
    x.sample("linedns_fleet_results_published_total", &labels, f.published.load(Ordering::Relaxed));
    x.family("linedns_fleet_results_held", Kind::Gauge, "Probe results held from the other instances.");
    x.sample("linedns_fleet_results_held", &labels, f.results_held.load(Ordering::Relaxed));
    x.family(
        "linedns_fleet_decision_changes_total",
        Kind::Counter,
        "Nodes whose fleet decision changed (up to down, or back).",
    );
    x.sample("linedns_fleet_decision_changes_total", &labels, f.decisions_changed.load(Ordering::Relaxed));
}

/// Each view's serial and the NOTIFY outcomes.
fn replication(x: &mut Exposition, control: &Control) {
    x.family("linedns_zone_serial", Kind::Gauge, "SOA serial of each zone as each line sees it (its view).");
    for (zone, line, serial) in control.engine.serials.list() {
        x.sample("linedns_zone_serial", &[("zone", &zone), ("line", &line)], serial);
    }
    let n = &control.notify;
    x.family(
        "linedns_notify_total",
        Kind::Counter,
        "NOTIFY messages to secondaries (RFC 1996), by outcome: answered, rejected (an error rcode), retried (no answer in time, sent again), failed (no answer after every attempt).",
    );
    x.sample("linedns_notify_total", &[("result", "answered")], load(&n.answered));
    x.sample("linedns_notify_total", &[("result", "rejected")], load(&n.rejected));
    x.sample("linedns_notify_total", &[("result", "retried")], load(&n.retried));
    x.sample("linedns_notify_total", &[("result", "failed")], load(&n.failed));
    secondary_zones(x, control);
    pushes(x, control);
    fleet(x, control);
    let last = control.last_check.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(last) = last {
        let r = &last.report;
        x.family("linedns_check_last_run_timestamp_seconds", Kind::Gauge, "When the last consistency check ended.");
        x.sample("linedns_check_last_run_timestamp_seconds", &[], last.finished_at);
        x.family("linedns_check_problems", Kind::Gauge, "Problems the last consistency check found.");
        x.sample("linedns_check_problems", &[], r.problems);
        x.family(
            "linedns_check_ok",
            Kind::Gauge,
            "Each check of the last run (soa, serial, answers, hijack) per server and zone: 1 ok, 0 a problem.",
        );
        for f in &r.findings {
            let labels =
                [("server", &*f.server), ("address", &*f.address), ("zone", &*f.zone), ("check", f.check.name())];
            x.sample("linedns_check_ok", &labels, u8::from(f.ok));
        }
        x.family("linedns_check_serial", Kind::Gauge, "The SOA serial each checked server answered, per zone.");
        for f in r.findings.iter().filter(|f| f.serial.is_some()) {
            let labels = [("server", &*f.server), ("address", &*f.address), ("zone", &*f.zone)];
            x.sample("linedns_check_serial", &labels, f.serial.unwrap_or_default());
        }
    }
}

/// The query counters of the engine.
fn queries(x: &mut Exposition, engine: &Engine) {
    let m = engine.metrics.read();
    x.family(
        "linedns_queries_total",
        Kind::Counter,
        "Queries answered, by client line (none: the answer did not depend on it), type, rcode and transport.",
    );
    for q in &m.queries {
        let labels = [
            ("line", q.line.as_str()),
            ("qtype", &q.qtype),
            ("rcode", q.rcode.name()),
            ("transport", q.transport.name()),
        ];
        x.sample("linedns_queries_total", &labels, q.count);
    }
    x.family(
        "linedns_line_answers_total",
        Kind::Counter,
        "Line-dependent answers, by what classified the client (ECS option or source address).",
    );
    x.sample("linedns_line_answers_total", &[("classified_by", "ecs")], m.ecs_classified);
    x.sample("linedns_line_answers_total", &[("classified_by", "source")], m.source_classified);
    x.family(
        "linedns_fallback_answers_total",
        Kind::Counter,
        "Answers from a pool further down the fallback chain than the client's line.",
    );
    x.sample("linedns_fallback_answers_total", &[], m.fallback);
    x.family("linedns_degraded_answers_total", Kind::Counter, "Answers given the degraded TTL.");
    x.sample("linedns_degraded_answers_total", &[], m.degraded);
    x.family(
        "linedns_all_down_answers_total",
        Kind::Counter,
        "Answers when no pool of the chain was usable, by policy.",
    );
    for (policy, count) in ALL_DOWN_POLICIES.iter().zip(m.all_down) {
        x.sample("linedns_all_down_answers_total", &[("policy", policy)], count);
    }
    x.family(
        "linedns_transfers_total",
        Kind::Counter,
        "Zone transfer queries (AXFR, IXFR over TCP), by what they got: the whole zone, the differences, the SOA alone, or a refusal.",
    );
    for (result, count) in TRANSFER_RESULTS.iter().zip(m.transfers) {
        x.sample("linedns_transfers_total", &[("result", result)], count);
    }
}

/// Per-probe health, failures and latency histograms.
fn probes(x: &mut Exposition, probes: &[Probe]) {
    let target = |p: &Probe| p.key.target.to_string();
    x.family("linedns_node_up", Kind::Gauge, "Whether a probed node is answered (1) or not (0), per probe.");
    for p in probes {
        x.sample("linedns_node_up", &[("target", &target(p)), ("check", &p.key.check)], u8::from(p.state.is_up()));
    }
    x.family("linedns_probe_failures_total", Kind::Counter, "Failed probes, per probe.");
    for p in probes {
        x.sample(
            "linedns_probe_failures_total",
            &[("target", &target(p)), ("check", &p.key.check)],
            p.state.counters().1,
        );
    }
    x.family("linedns_probe_duration_seconds", Kind::Histogram, "Time a probe took, per probe.");
    for p in probes {
        let (target, check) = (target(p), p.key.check.as_str());
        let (cumulative, total, sum) = p.state.latency_histogram();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&cumulative) {
            let le = bound.to_string();
            x.sample(
                "linedns_probe_duration_seconds_bucket",
                &[("target", &target), ("check", check), ("le", &le)],
                count,
            );
        }
        x.sample(
            "linedns_probe_duration_seconds_bucket",
            &[("target", &target), ("check", check), ("le", "+Inf")],
            total,
        );
        x.sample("linedns_probe_duration_seconds_sum", &[("target", &target), ("check", check)], sum);
        x.sample("linedns_probe_duration_seconds_count", &[("target", &target), ("check", check)], total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_label_values() {
        let mut x = Exposition::default();
        x.family("m", Kind::Gauge, "A metric.");
        x.sample("m", &[("a", "x\"y\\z\nw"), ("b", "c")], 2);
        x.sample("m", &[], 1.5);
        assert_eq!(x.finish(), "# HELP m A metric.\n# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\nw\",b=\"c\"} 2\nm 1.5\n");
    }
}
