//! Managed providers kept in sync with a view (`providers:`): for each provider and zone,
//! its copy is read back, the plan that takes it to the view is made
//! ([`crate::engine::push::Plan`]), and the plan is applied, unless it would update or
//! delete more than the provider's `max_change` share of what linedns manages there
//! (then only `--force` applies it). `linedns push` runs this once.
//!
//! One provider's failure (unreachable, a wrong key, a zone it lacks, a refused update)
//! is its own: the others are pushed all the same.

pub mod dns_update;
mod memory;
pub mod octodns;
pub mod powerdns;
pub mod service;

use std::collections::BTreeSet;
use std::fmt;

use crate::compile::host::{Provider, ProviderKind};
use crate::engine::line::NodeHealth;
use crate::engine::push::{Plan, RrsetKey, Rrsets, managed, view};
use crate::engine::snapshot::Snapshot;
use crate::name::Name;
use crate::wire::tsig::Key;

/// How a push runs.
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    /// Make and show the plans; change nothing.
    pub dry_run: bool,
    /// Apply a plan even when it changes more than the provider's `max_change`.
    pub force: bool,
    /// Only the provider of this name (`None`: every provider).
    pub only: Option<String>,
    /// The state directory (`server.state_dir`), where each provider's zone remembers the
    /// RRsets linedns put there: one the rules no longer hold is then deleted. Without
    /// one, such an RRset stays at the provider.
    pub state_dir: Option<std::path::PathBuf>,
}

/// Why a provider's zone could not be pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushProblem {
    /// The rules name a line, zone or key the snapshot lacks.
    Rules(String),
    /// The provider's copy could not be read.
    Read(String),
    /// The provider does not hold the zone, or does not take the key (NOTAUTH).
    NotAuthoritative,
    /// An update was not applied.
    Update(String),
    /// An RRset changed at the provider between the read and the update (its
    /// prerequisite failed: RFC 2136 §3.2.5); the next push reads it again.
    ChangedMeanwhile(String),
    /// The plan updates or deletes more than the provider's `max_change` share.
    TooLarge {
        /// The share it would change, in thousandths.
        permille: u32,
        /// The provider's limit, in thousandths.
        max_permille: u32,
    },
}

impl fmt::Display for PushProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushProblem::Rules(why) => write!(f, "{why}"),
            PushProblem::Read(why) => write!(f, "cannot read its copy: {why}"),
            PushProblem::NotAuthoritative => {
                write!(f, "NOTAUTH: it does not hold the zone, or does not accept the key")
            }
            PushProblem::Update(why) => write!(f, "{why}"),
            PushProblem::ChangedMeanwhile(rcode) => {
                write!(f, "an RRset changed there since it was read ({rcode}); the next push reads it again")
            }
            PushProblem::TooLarge { permille, max_permille } => write!(
                f,
                "the plan updates or deletes {:.1} % of the RRsets linedns manages there, more than max_change \
                 ({:.1} %): nothing applied; check the plan (--dry-run) and push with --force if it is meant",
                f64::from(*permille) / 10.0,
                f64::from(*max_permille) / 10.0
            ),
        }
    }
}

impl std::error::Error for PushProblem {}

/// What came of one zone at one provider.
#[derive(Clone, Debug)]
pub struct ZonePush {
    /// The provider's name.
    pub provider: String,
    /// The zone.
    pub zone: Name,
    /// The plan, once the copy was read.
    pub plan: Option<Plan>,
    /// What was done, or why not.
    pub result: Result<Done, PushProblem>,
}

/// What a push did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// The copy already held the view.
    InSync,
    /// The plan was made and shown only.
    Planned,
    /// The plan was applied, in this many messages.
    Applied(usize),
}

impl fmt::Display for ZonePush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "provider {} zone {}: ", self.provider, self.zone)?;
        let summary = self.plan.as_ref().map_or(String::new(), Plan::summary);
        match &self.result {
            Ok(Done::InSync) => write!(f, "in sync (0 changes)"),
            Ok(Done::Planned) => write!(f, "plan: {summary} (dry run: nothing applied)"),
            Ok(Done::Applied(messages)) => write!(f, "applied {summary} in {messages} update(s)"),
            Err(problem) => write!(f, "{problem}"),
        }
    }
}

/// `Err` with the providers there are when `options` names a provider the rules lack, or
/// when the rules name none.
pub fn check_choice(providers: &[Provider], options: &PushOptions) -> Result<(), String> {
    let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
    match &options.only {
        _ if names.is_empty() => Err("the rules name no provider (`providers:`)".into()),
        Some(only) if !names.contains(&only.as_str()) => {
            Err(format!("no provider {only:?} in the rules (providers: {})", names.join(", ")))
        }
        _ => Ok(()),
    }
}

/// The results as `linedns push` prints them: a line per zone and provider, then each
/// change of its plan (`  create www.example.com. A: 300 192.0.2.1`).
pub fn report(results: &[ZonePush]) -> String {
    let mut out = String::new();
    for result in results {
        out.push_str(&format!("{result}\n"));
        for change in result.plan.iter().flat_map(|p| &p.changes) {
            out.push_str(&format!("  {change}\n"));
        }
    }
    out
}

/// One zone of one provider, with what it should hold: made from a snapshot at once, so
/// that the pushes that follow hold no snapshot across their waits.
#[derive(Clone, Debug)]
pub struct Target {
    /// The provider's name.
    pub provider: String,
    /// The zone.
    pub zone: Name,
    /// How the provider is reached (its key looked up in the snapshot).
    pub reach: Reach,
    /// The view's RRsets.
    pub wanted: Rrsets,
    /// The RRsets linedns manages in the zone: those the rules define, and those it put
    /// there before (remembered in `memory`).
    pub managed: BTreeSet<RrsetKey>,
    /// Where the RRsets linedns put there are remembered (`None`: nowhere).
    pub memory: Option<std::path::PathBuf>,
    /// The provider's `max_change`, in thousandths.
    pub max_change_permille: u32,
}

/// How a provider is reached, its key in hand.
#[derive(Clone, Debug)]
pub struct Reach {
    /// How, as compiled.
    pub kind: ProviderKind,
    /// A `dns_update` provider's TSIG key, looked up in the snapshot.
    pub tsig: Option<Key>,
    /// Every zone of the provider (an octoDNS configuration names them all).
    pub zones: Vec<Name>,
}

impl Reach {
    /// The provider's copy of `zone` (where it can only be asked name by name: the RRsets
    /// of `names`).
    async fn read(&self, zone: &Name, names: &BTreeSet<RrsetKey>) -> Result<Rrsets, PushProblem> {
        match &self.kind {
            ProviderKind::DnsUpdate { server, .. } => dns_update::read(*server, zone, self.tsig.as_ref(), names).await,
            ProviderKind::PowerDns { api, host, server_id, key } => {
                powerdns::read(powerdns::Api { addr: *api, host, server_id, key }, zone).await
            }
            ProviderKind::Octodns { directory, .. } => octodns::read(directory, zone),
        }
    }

    /// Applies `plan` (which takes the copy to `wanted`) to the provider's copy of `zone`;
    /// the messages, requests or files sent.
    async fn apply(&self, zone: &Name, plan: &Plan, wanted: &Rrsets) -> Result<usize, PushProblem> {
        match &self.kind {
            ProviderKind::DnsUpdate { server, .. } => dns_update::apply(*server, zone, self.tsig.as_ref(), plan).await,
            ProviderKind::PowerDns { api, host, server_id, key } => {
                powerdns::apply(powerdns::Api { addr: *api, host, server_id, key }, zone, plan).await
            }
            ProviderKind::Octodns { directory, target } => octodns::write(directory, target, &self.zones, zone, wanted),
        }
    }
}

/// The zones of `providers` (only the one `options` names, if it names one) with what
/// each should hold in `snapshot` under `health`; a zone that cannot be made (a line,
/// zone or key the snapshot lacks) is its result at once.
pub fn targets(
    snapshot: &Snapshot,
    health: &impl NodeHealth,
    providers: &[Provider],
    options: &PushOptions,
) -> Vec<Result<Target, ZonePush>> {
    let mut out = Vec::new();
    for provider in providers.iter().filter(|p| options.only.as_ref().is_none_or(|only| *only == p.name)) {
        for zone in &provider.zones {
            out.push(target(snapshot, health, provider, zone, options).map_err(|problem| ZonePush {
                provider: provider.name.clone(),
                zone: zone.clone(),
                plan: None,
                result: Err(problem),
            }));
        }
    }
    out
}

/// What `provider` should hold for `origin`.
fn target(
    snapshot: &Snapshot,
    health: &impl NodeHealth,
    provider: &Provider,
    origin: &Name,
    options: &PushOptions,
) -> Result<Target, PushProblem> {
    let zone = snapshot.zone_by_origin.get(origin.as_key()).map(|&i| &snapshot.zones[i as usize]);
    let zone = zone.ok_or_else(|| PushProblem::Rules(format!("the rules have no zone {origin}")))?;
    let line = snapshot.lines.find(&provider.line);
    let line = line.ok_or_else(|| PushProblem::Rules(format!("the rules have no line {}", provider.line)))?;
    let tsig = match &provider.kind {
        ProviderKind::DnsUpdate { key: Some(name), .. } => Some(
            snapshot
                .keys
                .iter()
                .find(|k| *k.name == **name)
                .cloned()
                .ok_or_else(|| PushProblem::Rules(format!("the rules have no key {name}")))?,
        ),
        _ => None,
    };
    let reach = Reach { kind: provider.kind.clone(), tsig, zones: provider.zones.clone() };
    let memory = options.state_dir.as_deref().map(|dir| memory::path(dir, &provider.name, origin));
    let mut managed = managed(zone);
    if let Some(path) = &memory {
        managed.extend(memory::read(path)?);
    }
    Ok(Target {
        provider: provider.name.clone(),
        zone: origin.clone(),
        reach,
        wanted: view(snapshot, zone, line, health),
        managed,
        memory,
        max_change_permille: provider.max_change_permille,
    })
}

/// Pushes each target in turn (reads its copy, plans, applies as `options` allow); every
/// target gets its result, failures included.
pub async fn push(targets: Vec<Result<Target, ZonePush>>, options: &PushOptions) -> Vec<ZonePush> {
    let mut out = Vec::new();
    for target in targets {
        out.push(match target {
            Ok(target) => push_one(&target, options).await,
            Err(failed) => failed,
        });
    }
    out
}

/// One zone at one provider: read, plan, and apply unless told or bound not to.
pub async fn push_one(target: &Target, options: &PushOptions) -> ZonePush {
    let (plan, result) = match target.reach.read(&target.zone, &target.managed).await {
        Err(problem) => (None, Err(problem)),
        Ok(current) => {
            let plan = Plan::new(&target.wanted, &current, &target.managed);
            let permille = (plan.share_changed() * 1000.0).round() as u32;
            let result = if plan.is_empty() {
                Ok(Done::InSync)
            } else if options.dry_run {
                Ok(Done::Planned)
            } else if permille > target.max_change_permille && !options.force {
                Err(PushProblem::TooLarge { permille, max_permille: target.max_change_permille })
            } else {
                target.reach.apply(&target.zone, &plan, &target.wanted).await.map(Done::Applied)
            };
            (Some(plan), result)
        }
    };
    // What linedns holds there now: the view's RRsets (a refused or failed push leaves
    // the memory as it was).
    let result = match (result, &target.memory) {
        (Ok(done @ (Done::InSync | Done::Applied(_))), Some(path)) => {
            memory::write(path, target.wanted.keys()).map(|()| done)
        }
        (result, _) => result,
    };
    ZonePush { provider: target.provider.clone(), zone: target.zone.clone(), plan, result }
}
