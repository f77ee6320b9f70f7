//! Rules + geo data → [`Snapshot`]. Load, reload and `check-config` all run this one path;
//! `check-config` throws the result away.
//!
//! Errors are collected rather than stopping at the first, and each names its file,
//! line/column, rule and value.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use rustc_hash::FxHashMap;

use crate::config::{self, At, RulesFile, place_of};
mod catalog;
mod check;
mod cname_chains;
pub mod dnssec;
#[cfg(test)]
pub(crate) mod fixtures;
mod fleet;
mod health_checks;
mod hint;
pub mod host;
pub mod import;
pub mod key_file;
pub mod keygen;
mod keys;
mod line_records;
mod lines;
mod providers;
pub mod rollover;
mod settings;
mod sources;
mod transfers;
pub mod zone_copy;
pub mod zone_file;
mod zone_text;
mod zones;

use crate::engine::Engine;
use crate::engine::health::{CheckSpec, Probe, ProbeId, ProbeKey};
use crate::engine::line::{LineRecord, LineTable, Node, NodeId};
use crate::engine::snapshot::{Snapshot, SourcePrefix};
use crate::error::{CompileErrors, ConfigError, Place};
use crate::geo::lists::NumberedNet;
use crate::geo::table::LineId;
use crate::geo::{Classifier, LinePrefix, LineShape};
use crate::rdata::RData;
use host::HostSettings;

/// Environment variable naming the geo-data root (overridden by `--geo-data`).
pub const GEO_DATA_ENV: &str = "LINEDNS_GEO_DATA";

/// Most lines a rule set may define (line ids are 16-bit).
const MAX_LINES: usize = 4096;

/// Settings from outside the rules file.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Geo-data root overriding the rules' `geo_data`.
    pub geo_data: Option<PathBuf>,
    /// The clock (seconds since the Unix epoch), read once per compile: key times, a
    /// secondary zone's expiry, serials ahead of the clock. The default,
    /// [`system_clock`], is the clock the server reads too (`serve::unix_now`).
    pub clock: fn() -> u64,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { geo_data: None, clock: system_clock }
    }
}

impl CompileOptions {
    /// Options from the environment: [`GEO_DATA_ENV`] if set.
    pub fn from_env() -> Self {
        let geo_data = std::env::var_os(GEO_DATA_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        CompileOptions { geo_data, ..CompileOptions::default() }
    }
}

/// What compiling rules gives: the snapshot the engine answers from, and the settings of
/// the host around it, apart (the engine never reads those).
#[derive(Debug)]
pub struct Compiled {
    /// What the engine answers from.
    pub snapshot: Snapshot,
    /// How the server listens, runs and keeps state.
    pub host: HostSettings,
}

/// Compiles the rules file at `path`.
pub fn compile_file(path: &Path, options: &CompileOptions) -> Result<Compiled, CompileErrors> {
    // Stamped before reading: a write racing the compile shows up as a change later.
    let rules_stamp = stamp(path);
    let rules = config::load(path)?;
    let mut compiler = Compiler::new(path, options);
    compiler.inputs[0].1 = rules_stamp;
    compiler.run(rules)
}

/// A rules file and the options to compile it with: where a server reloads from.
#[derive(Clone, Debug)]
pub struct RulesSource {
    /// The rules file.
    pub path: PathBuf,
    /// Options from outside the file.
    pub options: CompileOptions,
}

impl RulesSource {
    /// Compiles the rules, and never returns rules read from a file that may be half
    /// written (an editor or `rsync --inplace` writing it in place): if an input changed
    /// while it was read, or was modified less than `SETTLE` (300 ms) before the compile
    /// ended, it waits `SETTLE` and compiles again, at most `SETTLE_TRIES` (6) times in
    /// all; then it fails, and the running rules stay. A compile error is reported at once
    /// (a half-written file that does not compile never goes live either).
    pub fn load(&self) -> Result<Compiled, CompileErrors> {
        let mut tries = 1;
        loop {
            let compiled = compile_file(&self.path, &self.options)?;
            let now = std::time::SystemTime::now();
            // A file's age at the end of the compile; a time ahead of the clock by less
            // than SETTLE is a write racing the clock, any more a skewed clock.
            let fresh = |modified: std::time::SystemTime| match now.duration_since(modified) {
                Ok(age) => age < SETTLE,
                Err(ahead) => ahead.duration() < SETTLE,
            };
            let unsettled: Vec<&Path> = compiled
                .snapshot
                .inputs
                .iter()
                .filter(|(path, read)| stamp(path) != *read || read.is_some_and(|(m, _)| fresh(m)))
                .map(|(path, _)| path.as_path())
                .collect();
            if unsettled.is_empty() {
                return Ok(compiled);
            }
            if tries == SETTLE_TRIES {
                let message = format!(
                    "still being written: it kept changing for {} ms; not used, the running rules stay",
                    (SETTLE * (SETTLE_TRIES - 1)).as_millis()
                );
                return Err(CompileErrors(
                    unsettled.iter().map(|p| ConfigError::new(Place::file(p), &message)).collect(),
                ));
            }
            tries += 1;
            std::thread::sleep(SETTLE);
        }
    }

    /// What it loads from, for logs: the rules file's path.
    pub fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// An input modified this recently may still be being written: a reload waits for it.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// Compiles a reload tries before it gives up on inputs that keep changing.
const SETTLE_TRIES: u32 = 6;

impl Engine {
    /// Compiles the rules file and serves its snapshot (a host that reloads keeps a
    /// [`RulesSource`] and hands [`Engine::swap`] what it loads).
    pub fn from_rules(path: &Path, options: CompileOptions) -> Result<Engine, CompileErrors> {
        let source = RulesSource { path: path.to_path_buf(), options };
        Ok(Engine::new(source.load()?.snapshot))
    }
}

/// Seconds since the Unix epoch from the system clock: [`CompileOptions::clock`] unless
/// the host gives its own.
pub fn system_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A file's modification time and length, what the reload watch compares.
pub fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Compiles rules given as text; `path` names them in errors and anchors relative paths.
pub fn compile_str(text: &str, path: &Path, options: &CompileOptions) -> Result<Compiled, CompileErrors> {
    let rules = config::parse(text, path)?;
    Compiler::new(path, options).run(rules)
}

struct Compiler<'o> {
    file: PathBuf,
    /// The time of this compile ([`CompileOptions::clock`], read once).
    now: u64,
    options: &'o CompileOptions,
    errors: Vec<ConfigError>,
    lines: LineTable,
    ranks: Vec<u32>,
    /// Fallback chain of each line (without the line itself), ending with `default`.
    chains: Vec<Vec<LineId>>,
    prefixes: Vec<SourcePrefix>,
    sources: Vec<Box<str>>,
    source_ids: FxHashMap<String, u32>,
    list_cache: FxHashMap<PathBuf, Rc<Vec<NumberedNet>>>,
    nodes: Vec<Node>,
    node_ids: FxHashMap<RData, NodeId>,
    line_records: Vec<LineRecord>,
    checks: FxHashMap<String, std::sync::Arc<CheckSpec>>,
    probes: Vec<Probe>,
    probe_ids: FxHashMap<ProbeKey, ProbeId>,
    inputs: Vec<(PathBuf, Option<(std::time::SystemTime, u64)>)>,
    /// Checks that failed to compile: records naming them add no errors of their own.
    broken_checks: Vec<String>,
    /// Where each name with a CNAME (static or per line) is written, for chain errors.
    cname_places: FxHashMap<Box<str>, Place>,
}

impl<'o> Compiler<'o> {
    fn new(file: &Path, options: &'o CompileOptions) -> Self {
        Compiler {
            file: file.to_path_buf(),
            now: (options.clock)(),
            options,
            errors: Vec::new(),
            lines: LineTable { names: vec![config::defaults::LINE_NAME.into()], parents: vec![None] },
            ranks: vec![u32::MAX],
            chains: vec![Vec::new()],
            prefixes: Vec::new(),
            sources: Vec::new(),
            source_ids: FxHashMap::default(),
            list_cache: FxHashMap::default(),
            nodes: Vec::new(),
            node_ids: FxHashMap::default(),
            line_records: Vec::new(),
            checks: FxHashMap::default(),
            probes: Vec::new(),
            probe_ids: FxHashMap::default(),
            inputs: vec![(file.to_path_buf(), stamp(file))],
            broken_checks: Vec::new(),
            cname_places: FxHashMap::default(),
        }
    }

    fn place<T>(&self, at: &At<T>) -> Place {
        place_of(&self.file, at)
    }

    fn fail(&mut self, place: Place, rule: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(place, message).in_rule(rule));
    }

    /// The server addresses `written` (each `IP`, `IP:PORT` or `[IPv6]:PORT`); a bad one
    /// is an error at its place, its message behind `field` (`""`, or `"dnssec.parent: "`).
    fn server_addresses(&mut self, written: &[At<String>], rule: &str, field: &str) -> Vec<std::net::SocketAddr> {
        let mut addresses = Vec::new();
        for text in written {
            match parse_server_address(&text.value) {
                Ok(addr) => addresses.push(addr),
                Err(m) => {
                    let place = self.place(text);
                    self.fail(place, rule, format!("{field}{m}"));
                }
            }
        }
        addresses
    }

    fn run(mut self, rules: RulesFile) -> Result<Compiled, CompileErrors> {
        if rules.version.value != config::RULES_VERSION {
            let place = self.place(&rules.version);
            self.fail(
                place,
                "version",
                format!(
                    "unsupported rules version {} (this linedns reads version {})",
                    rules.version.value,
                    config::RULES_VERSION
                ),
            );
            return Err(CompileErrors(self.errors));
        }
        let root = self.geo_root(&rules);
        self.define_lines(&rules.lines, &rules.priority);
        if !self.errors.is_empty() {
            // Sources and zones refer to lines; with broken lines they would only add noise.
            return Err(CompileErrors(self.errors));
        }
        for (i, def) in rules.lines.iter().enumerate() {
            for source in &def.value.sources {
                self.load_source(&root, LineId::from_index(i + 1), source);
            }
        }
        let shapes: Vec<LineShape> =
            self.lines.parents.iter().zip(&self.ranks).map(|(&parent, &rank)| LineShape { parent, rank }).collect();
        let line_prefixes: Vec<LinePrefix> =
            self.prefixes.iter().map(|p| LinePrefix { net: p.net, line: p.line }).collect();
        let (classifier, ties) = Classifier::build(&shapes, &line_prefixes);

        for (name, def) in &rules.health_checks {
            match self.health_check(name, def) {
                Some(spec) => {
                    self.checks.insert(name.clone(), std::sync::Arc::new(spec));
                }
                None => self.broken_checks.push(name.clone()),
            }
        }
        let (settings, mut host) = match &rules.server {
            Some(def) => self.server_settings(def),
            None => (settings::answer_defaults(), HostSettings::default()),
        };
        let keys = self.keys(&rules.keys);
        let mut zones = Vec::new();
        let mut zone_by_origin = FxHashMap::default();
        for def in &rules.zones {
            if let Some(zone) = self.compile_zone(def, host.state_dir.as_deref(), &keys) {
                if zone_by_origin.contains_key(&zone.origin) {
                    let place = self.place(&def.value.origin);
                    self.fail(place, format!("zone {}", zone.origin), "zone defined twice");
                    continue;
                }
                zone_by_origin.insert(zone.origin.clone(), zones.len() as u32);
                zones.push(zone);
            }
        }
        self.cname_chains(&zones);
        if let Some(def) = &rules.catalog
            && let Some(catalog) = self.catalog(def, &zones)
        {
            zone_by_origin.insert(catalog.origin.clone(), zones.len() as u32);
            zones.push(catalog);
        }
        let transfers = self.transfers(&rules.transfers, &zones, &keys, host.state_dir.is_some());
        let check = rules.check.as_ref().map(|def| self.check(def, &zones)).unwrap_or_default();
        host.providers = self.providers(&rules.providers, &zones, &keys);
        host.fleet = rules.fleet.as_ref().and_then(|def| self.fleet(def));
        if !self.errors.is_empty() {
            return Err(CompileErrors(self.errors));
        }
        let snapshot = Snapshot {
            settings,
            lines: self.lines,
            classifier,
            prefixes: self.prefixes,
            sources: self.sources,
            ties,
            zones,
            zone_by_origin,
            line_records: self.line_records,
            nodes: self.nodes,
            probes: self.probes,
            inputs: self.inputs,
            transfers,
            keys,
            check,
        };
        Ok(Compiled { snapshot, host })
    }

    /// `--geo-data`/`LINEDNS_GEO_DATA`, else the rules' `geo_data` (relative to the rules
    /// file), else the rules file's directory.
    fn geo_root(&self, rules: &RulesFile) -> PathBuf {
        let rules_dir = self.file.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(dir) = &self.options.geo_data {
            return dir.clone();
        }
        match &rules.geo_data {
            Some(dir) => rules_dir.join(&dir.value),
            None => rules_dir,
        }
    }

    /// Reads and parses a text source once per path (several lines may share a file).
    fn read_list(
        &mut self,
        path: &Path,
        place: &Place,
        rule: &str,
        parse: impl Fn(&str, &Path) -> Result<Vec<NumberedNet>, ConfigError>,
    ) -> Option<Rc<Vec<NumberedNet>>> {
        if let Some(cached) = self.list_cache.get(path) {
            return Some(cached.clone());
        }
        self.inputs.push((path.to_path_buf(), stamp(path)));
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.fail(place.clone(), rule, format!("cannot read {}: {e}", path.display()));
                return None;
            }
        };
        match parse(&text, path) {
            Ok(nets) => {
                let nets = Rc::new(nets);
                self.list_cache.insert(path.to_path_buf(), nets.clone());
                Some(nets)
            }
            Err(e) => {
                self.errors.push(e.in_rule(format!("{rule} (source at {place})")));
                None
            }
        }
    }
}

/// A server's address as the rules write it: `IP:PORT`, `[IPv6]:PORT`, or a bare address
/// (port 53).
fn parse_server_address(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not an address (IP, IP:PORT or [IPv6]:PORT)"))
}

/// `root/file`, with `.` and `a/..` removed lexically so errors and explanations show
/// the path an operator would type (symlinks are left alone: nothing is resolved).
fn data_path(root: &Path, file: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in root.join(file).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn clone_at<T: Clone>(at: &At<T>) -> At<T> {
    At { value: at.value.clone(), referenced: at.referenced, defined: at.defined }
}
