//! The status page: `GET /` on the admin listener is one self-contained HTML page
//! (`status.html`: no CDN, no build step) that reads `GET /status`, this module's JSON,
//! every few seconds and draws it. The JSON is the API's like any other call: lines with
//! their query counts, every line record's pools with each node's health as queries see
//! it (probe state, the last probe's result and latency, or the override forcing it),
//! the overrides in force, the last reloads with what changed or the errors that kept
//! the old rules, each view's serial, and the last consistency check (each secondary's
//! serial). The page only reads: every change stays an API call with the token.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::engine::ListedOverride;
use crate::engine::health::Forced;
use crate::engine::line::NodeHealth;
use crate::serve::check::consistency::LastCheck;
use crate::serve::control::{Control, ReloadEvent};
use crate::serve::fleet::stats::SiteResult;

/// The page served at `/`.
pub const PAGE: &str = include_str!("status.html");

/// Everything the page shows, as `GET /status` serves it.
#[derive(Serialize)]
pub struct Status {
    /// linedns's version.
    pub version: &'static str,
    /// When this was made, seconds since the Unix epoch (the page's rates divide by it).
    pub now: u64,
    /// The rules file served.
    pub source: Option<String>,
    /// The generation of the live snapshot (1: the first rules, +1 per reload).
    pub generation: u64,
    /// Every line, in the rules' order.
    pub lines: Vec<LineStatus>,
    /// Queries answered whose answer did not depend on the line (static records, errors).
    pub queries_without_line: u64,
    /// Every line record with its pools.
    pub records: Vec<RecordStatus>,
    /// The overrides, with whether each names something live.
    pub overrides: Vec<ListedOverride>,
    /// The last reloads, newest first.
    pub reloads: Vec<ReloadEvent>,
    /// While the rules on disk do not load (the last reload failed, none succeeded
    /// since): that reload, with its errors. The page shows it as a banner.
    pub rules_failing: Option<ReloadEvent>,
    /// Each view's serial.
    pub serials: Vec<ViewSerial>,
    /// The last periodic consistency check (each NS and secondary's serial), once run.
    pub check: Option<LastCheck>,
    /// Each provider's zone as the pushes left it (`providers:`).
    pub providers: Vec<ProviderStatus>,
    /// This instance's fleet (`fleet:`), if it is in one.
    pub fleet: Option<FleetStatus>,
}

/// This instance in its fleet.
#[derive(Serialize)]
pub struct FleetStatus {
    /// Its name.
    pub instance: String,
    /// Its site.
    pub site: String,
    /// Whether the store is reachable (else: deciding from the results last heard and
    /// its own probes; the page shows a banner).
    pub store_up: bool,
    /// The health policy, in words.
    pub policy: String,
    /// Results held from the other instances.
    pub results_held: u64,
}

/// One zone at one provider.
#[derive(Serialize)]
pub struct ProviderStatus {
    /// The provider's name.
    pub provider: String,
    /// The zone.
    pub zone: String,
    /// Its pushes and what they left.
    #[serde(flatten)]
    pub stats: crate::serve::push::service::ZoneStats,
}

/// One line.
#[derive(Serialize)]
pub struct LineStatus {
    /// Its name.
    pub name: String,
    /// Its parent line.
    pub parent: Option<String>,
    /// Queries from its clients so far (a counter: the page turns it into a rate).
    pub queries: u64,
}

/// One line record (`www.example.com A`) and its pools.
#[derive(Serialize)]
pub struct RecordStatus {
    /// Owner and type, as overrides name it.
    pub record: String,
    /// The TTL of healthy answers.
    pub ttl: u32,
    /// One pool per line that has one, in the rules' order.
    pub pools: Vec<PoolStatus>,
}

/// One line's pool of a record.
#[derive(Serialize)]
pub struct PoolStatus {
    /// The line.
    pub line: String,
    /// What an override forces on the whole pool, if one does.
    pub forced: Option<Forced>,
    /// Its nodes.
    pub nodes: Vec<NodeStatus>,
}

/// A node of a pool, with its health there.
#[derive(Serialize)]
pub struct NodeStatus {
    /// What answers carry: the address (or a CNAME's target, ...).
    pub address: String,
    /// Its weight in the pool.
    pub weight: u32,
    /// `up`, `down` or `drained`: whether queries answer with it.
    pub health: &'static str,
    /// Whether an override (of the node or the pool) decides it, not the probe.
    pub forced: bool,
    /// Its probe; `None`: not health-checked (always up).
    pub probe: Option<ProbeStatus>,
}

/// A node's probe.
#[derive(Serialize)]
pub struct ProbeStatus {
    /// The health check's name.
    pub check: String,
    /// Where it probes.
    pub target: SocketAddr,
    /// The probe's state (after the rise and fall thresholds).
    pub up: bool,
    /// Whether the last probe succeeded (`None`: none has run yet).
    pub last_ok: Option<bool>,
    /// How long the last probe took, milliseconds.
    pub last_latency_ms: f64,
    /// Probes run.
    pub runs: u64,
    /// Probes failed.
    pub failures: u64,
    /// In a fleet: each site's result (this instance's own included) beside the decision
    /// (`up`); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<SiteResult>,
}

/// A view's serial.
#[derive(Serialize)]
pub struct ViewSerial {
    /// The zone.
    pub zone: String,
    /// The line whose view it is.
    pub line: String,
    /// Its SOA serial.
    pub serial: u32,
}

/// The status of `control`'s engine now.
pub fn status(control: &Control) -> Status {
    let engine = &control.engine;
    let live = engine.snapshot();
    let health = live.live_health();
    let mut queries: BTreeMap<String, u64> = BTreeMap::new();
    for q in &engine.metrics.read().queries {
        *queries.entry(q.line.clone()).or_default() += q.count;
    }
    let lines = (0..live.lines.len())
        .map(|i| {
            let name = live.lines.names[i].to_string();
            LineStatus {
                parent: live.lines.parents[i].map(|p| live.lines.name(p).to_string()),
                queries: queries.get(&name).copied().unwrap_or(0),
                name,
            }
        })
        .collect();
    let fleet_sites = control.fleet.sites.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let records = live
        .line_records
        .iter()
        .enumerate()
        .map(|(index, record)| RecordStatus {
            record: format!("{} {}", record.name, record.rtype),
            ttl: record.ttl,
            pools: record
                .pools
                .iter()
                .map(|pool| {
                    let forced = health.pool_override(index as u32, pool.line);
                    let nodes = pool
                        .nodes
                        .iter()
                        .map(|node| {
                            let probe = node.probe.map(|p| {
                                let probe = &live.probes[p.index()];
                                let (runs, failures, last_us) = probe.state.counters();
                                ProbeStatus {
                                    check: probe.key.check.clone(),
                                    target: probe.key.target,
                                    up: probe.state.is_up(),
                                    last_ok: probe.state.last_ok(),
                                    last_latency_ms: last_us as f64 / 1000.0,
                                    runs,
                                    failures,
                                    sites: fleet_sites.get(&probe.key).cloned().unwrap_or_default(),
                                }
                            });
                            let decided = health.forced_in_pool(index as u32, pool.line, node.node);
                            let state = match decided {
                                Some(Forced::Up) => "up",
                                Some(Forced::Down) => "down",
                                Some(Forced::Drained) => "drained",
                                None if health.is_up(node) => "up",
                                None => "down",
                            };
                            NodeStatus {
                                address: live.nodes[node.node.index()].key.to_string(),
                                weight: node.weight,
                                health: state,
                                forced: decided.is_some(),
                                probe,
                            }
                        })
                        .collect();
                    PoolStatus { line: live.lines.name(pool.line).to_string(), forced, nodes }
                })
                .collect(),
        })
        .collect();
    Status {
        version: env!("CARGO_PKG_VERSION"),
        now: crate::serve::clock::unix_now(),
        source: control.source(),
        generation: engine.generation(),
        lines,
        queries_without_line: queries.get("none").copied().unwrap_or(0),
        records,
        overrides: engine.list_overrides(),
        reloads: control.reloads.recent(),
        rules_failing: control.reloads.failing(),
        serials: view_serials(engine),
        check: control.last_check.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        providers: control
            .push
            .list()
            .into_iter()
            .map(|((provider, zone), stats)| ProviderStatus { provider, zone, stats })
            .collect(),
        fleet: control.host().fleet.as_ref().map(|f| FleetStatus {
            instance: f.instance.clone(),
            site: f.site.clone(),
            store_up: control.fleet.connected.load(Ordering::Relaxed),
            policy: f.policy.to_string(),
            results_held: control.fleet.results_held.load(Ordering::Relaxed),
        }),
    }
}

/// Each view's serial (`GET /serials`, and the page's table).
pub fn view_serials(engine: &crate::engine::Engine) -> Vec<ViewSerial> {
    let views = engine.serials.list().into_iter();
    views.map(|(zone, line, serial)| ViewSerial { zone: zone.into(), line: line.into(), serial }).collect()
}
