//! The `linedns` command: check rules, explain answers (and, later, serve).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use linedns::rdata::{STATIC_TYPES, parse_type};
use linedns::{AllUp, CompileOptions, GEO_DATA_ENV, RecordType, Snapshot, compile_file, explain};

/// linedns: a GeoDNS / split-horizon authoritative DNS engine that answers each client
/// with the nodes of its line (carrier or region), classified by its address or its EDNS
/// Client Subnet.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile the rules and their geo data, print what they hold, and exit non-zero on
    /// any error (each error names file, line, rule and value). Nothing is served.
    CheckConfig {
        /// The rules file (YAML).
        rules: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what a client gets and why: its line, the prefix and source that put it
    /// there, the ECS scope, and for a name the pool chosen, each fallback step, the
    /// records and the TTL.
    Explain {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// The client: an address (`203.0.113.7`), or a subnet as an ECS option would
        /// carry it (`203.0.113.0/24`).
        client: String,
        /// A name to resolve for the client.
        name: Option<String>,
        /// The record type to ask for.
        #[arg(default_value = "A")]
        qtype: Option<String>,
        /// Print JSON (fields: line, prefix, source, scope, query.records, query.ttl, ...).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DataArgs {
    /// Directory that data file names in the rules are relative to; overrides the rules'
    /// `geo_data` setting.
    #[arg(long, value_name = "DIR", env = GEO_DATA_ENV)]
    geo_data: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { rules, data, json } => {
            let Some(snapshot) = load(&rules, data) else { return ExitCode::FAILURE };
            let summary = snapshot.summary();
            if json {
                println!("{}", serde_json::to_string_pretty(&summary).expect("serializable"));
            } else {
                print_summary(&rules, &snapshot, &summary);
            }
            ExitCode::SUCCESS
        }
        Command::Explain { config, data, client, name, qtype, json } => {
            let (addr, ecs) = match parse_client(&client) {
                Ok(c) => c,
                Err(m) => {
                    eprintln!("error: {m}");
                    return ExitCode::from(2);
                }
            };
            let query = match &name {
                Some(n) => {
                    let mut types = STATIC_TYPES.to_vec();
                    types.extend([RecordType::SOA, RecordType::ANY]);
                    match parse_type(qtype.as_deref().unwrap_or("A"), &types) {
                        Ok(t) => Some((n.as_str(), t)),
                        Err(m) => {
                            eprintln!("error: {m}");
                            return ExitCode::from(2);
                        }
                    }
                }
                None => None,
            };
            let Some(snapshot) = load(&config, data) else { return ExitCode::FAILURE };
            let explanation = explain(&snapshot, addr, ecs, query, &AllUp);
            if json {
                println!("{}", serde_json::to_string_pretty(&explanation).expect("serializable"));
            } else {
                print!("{explanation}");
            }
            ExitCode::SUCCESS
        }
    }
}

fn load(rules: &std::path::Path, data: DataArgs) -> Option<Snapshot> {
    match compile_file(rules, &CompileOptions { geo_data: data.geo_data }) {
        Ok(s) => Some(s),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} error(s); nothing was loaded", rules.display(), errors.0.len());
            None
        }
    }
}

/// `ADDR` or `ADDR/LEN` (an ECS subnet; host bits must be zero, as RFC 7871 §6 asks).
fn parse_client(text: &str) -> Result<(IpAddr, Option<u8>), String> {
    match text.split_once('/') {
        None => text.parse().map(|a| (a, None)).map_err(|_| format!("bad client address {text:?}")),
        Some(_) => {
            let net = linedns::geo::lists::parse_cidr(text)?;
            Ok((net.addr(), Some(net.prefix_len())))
        }
    }
}

fn print_summary(rules: &std::path::Path, snapshot: &Snapshot, s: &linedns::Summary) {
    println!("{}: OK", rules.display());
    println!("lines ({}):", s.lines.len());
    let width = s.lines.iter().map(|l| l.name.len()).max().unwrap_or(7);
    for l in &s.lines {
        let parent = l.parent.as_deref().map(|p| format!("in {p}")).unwrap_or_default();
        println!("  {:width$}  {:>7} v4 prefixes  {:>6} v6 prefixes  {parent}", l.name, l.prefixes_v4, l.prefixes_v6);
    }
    print!("ties: {} equal prefixes in two lines, decided by priority", s.ties);
    if let Some(t) = snapshot.ties.first() {
        print!(" (e.g. {}: {} over {})", t.net, snapshot.lines.name(t.winner), snapshot.lines.name(t.loser));
    }
    println!();
    println!("tables: {} IPv4 blocks, {} IPv6 blocks", s.table_blocks.0, s.table_blocks.1);
    println!("zones ({}):", s.zones.len());
    for z in &s.zones {
        println!("  {}.  {} names, {} line records", z.origin, z.names, z.line_records);
    }
    println!("nodes: {}", s.nodes);
}
