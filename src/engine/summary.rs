//! What a snapshot holds, in numbers: `check-config`'s report and the admin API's
//! `/lines`.

use ipnet::IpNet;

use super::snapshot::Snapshot;
use super::zone::Content;

/// Counts of what a snapshot holds, for `check-config` and reload reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// Per line: name, parent, source prefixes (v4, v6).
    pub lines: Vec<LineSummary>,
    /// Blocks in the compiled tables (v4, v6).
    pub table_blocks: (usize, usize),
    /// Equal prefixes in two lines, decided by priority.
    pub ties: usize,
    /// The first of them, as `PREFIX: WINNER over LOSER`.
    #[serde(skip)]
    pub example_tie: Option<String>,
    /// Zones with their name and line-record counts.
    pub zones: Vec<ZoneSummary>,
    /// Distinct nodes over all pools.
    pub nodes: usize,
    /// Health probes (distinct target and check) the checker will run.
    pub probes: usize,
    /// Transfer rules, each as `NAME: view LINE, N NOTIFY target(s)`.
    pub transfers: Vec<String>,
    /// TSIG keys, by name (never their secrets).
    pub keys: Vec<String>,
    /// Servers the consistency checker asks, besides the NS set's.
    pub check_servers: usize,
}

/// One line in a [`Summary`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct LineSummary {
    /// Line name.
    pub name: String,
    /// Parent line name.
    pub parent: Option<String>,
    /// Source prefixes, IPv4.
    pub prefixes_v4: usize,
    /// Source prefixes, IPv6.
    pub prefixes_v6: usize,
}

/// One zone in a [`Summary`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneSummary {
    /// Zone origin.
    pub origin: String,
    /// Names with records (empty non-terminals not counted).
    pub names: usize,
    /// Line records.
    pub line_records: usize,
    /// Its DNSSEC keys that sign now, as `ROLE TAG` (empty: unsigned).
    pub signed_by: Vec<String>,
}

impl Snapshot {
    /// What the snapshot holds, in numbers.
    pub fn summary(&self) -> Summary {
        let lines = (0..self.lines.len())
            .map(|i| {
                let count = |v4: bool| {
                    self.prefixes.iter().filter(|p| p.line.index() == i && matches!(p.net, IpNet::V4(_)) == v4).count()
                };
                LineSummary {
                    name: self.lines.names[i].to_string(),
                    parent: self.lines.parents[i].map(|p| self.lines.name(p).to_string()),
                    prefixes_v4: count(true),
                    prefixes_v6: count(false),
                }
            })
            .collect();
        let zones = self
            .zones
            .iter()
            .map(|z| ZoneSummary {
                origin: z.origin.to_string(),
                names: z.names.values().filter(|n| !n.sets.is_empty()).count(),
                line_records: z
                    .names
                    .values()
                    .flat_map(|n| n.sets.iter())
                    .filter(|s| matches!(s.content, Content::Line(_)))
                    .count(),
                signed_by: z
                    .signing
                    .iter()
                    .flat_map(|s| s.keys.iter())
                    .filter(|k| k.signs)
                    .map(|k| format!("{} {}", k.key.role.name().to_uppercase(), k.key.tag))
                    .collect(),
            })
            .collect();
        Summary {
            lines,
            table_blocks: self.classifier.block_counts(),
            ties: self.ties.len(),
            example_tie: self
                .ties
                .first()
                .map(|t| format!("{}: {} over {}", t.net, self.lines.name(t.winner), self.lines.name(t.loser))),
            zones,
            nodes: self.nodes.len(),
            probes: self.probes.len(),
            transfers: self
                .transfers
                .iter()
                .map(|r| format!("{}: view {}, {} NOTIFY target(s)", r.name, self.lines.name(r.line), r.notify.len()))
                .collect(),
            keys: self.keys.iter().map(|k| k.name.to_string()).collect(),
            check_servers: self.check.servers.len(),
        }
    }
}

impl Snapshot {
    /// Writes the compiled prefix table: every block of the partition of the IPv4 and
    /// IPv6 space with its line, one `PREFIX LINE` per line (what `linedns table` prints).
    pub fn write_table(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        for (block, line) in self.classifier.v4_blocks() {
            writeln!(out, "{}/{} {}", std::net::Ipv4Addr::from(block.start), block.len, self.lines.name(line))?;
        }
        for (block, line) in self.classifier.v6_blocks() {
            writeln!(out, "{}/{} {}", std::net::Ipv6Addr::from(block.start), block.len, self.lines.name(line))?;
        }
        Ok(())
    }
}

impl Summary {
    /// The text `check-config` prints for the rules file `rules`.
    pub fn text(&self, rules: &str) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "{rules}: OK");
        let _ = writeln!(out, "lines ({}):", self.lines.len());
        let width = self.lines.iter().map(|l| l.name.len()).max().unwrap_or(7);
        for l in &self.lines {
            let parent = l.parent.as_deref().map(|p| format!("in {p}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:width$}  {:>7} v4 prefixes  {:>6} v6 prefixes  {parent}",
                l.name, l.prefixes_v4, l.prefixes_v6
            );
        }
        let _ = write!(out, "ties: {} equal prefixes in two lines, decided by priority", self.ties);
        if let Some(tie) = &self.example_tie {
            let _ = write!(out, " (e.g. {tie})");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "tables: {} IPv4 blocks, {} IPv6 blocks", self.table_blocks.0, self.table_blocks.1);
        let _ = writeln!(out, "zones ({}):", self.zones.len());
        for z in &self.zones {
            let signed = match z.signed_by.is_empty() {
                true => String::new(),
                false => format!(", signed ({})", z.signed_by.join(", ")),
            };
            let _ = writeln!(out, "  {}.  {} names, {} line records{signed}", z.origin, z.names, z.line_records);
        }
        let _ = writeln!(out, "nodes: {}", self.nodes);
        let _ = writeln!(out, "health probes: {}", self.probes);
        if !self.transfers.is_empty() {
            let _ = writeln!(out, "transfers ({}): {}", self.transfers.len(), self.transfers.join("; "));
        }
        if !self.keys.is_empty() {
            let _ = writeln!(out, "TSIG keys: {}", self.keys.join(", "));
        }
        if self.check_servers > 0 {
            let _ = writeln!(out, "check: {} server(s) listed", self.check_servers);
        }
        out
    }
}
