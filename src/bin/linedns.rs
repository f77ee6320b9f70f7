//! The `linedns` command: check rules, explain answers (and, later, serve).

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use linedns::rdata::{STATIC_TYPES, parse_type};
use linedns::{CompileOptions, GEO_DATA_ENV, RecordType, Snapshot, compile_file, explain};

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
    /// Serve DNS on UDP and TCP at the rules' `server.listen` addresses (default
    /// 127.0.0.1:5353 and [::1]:5353) until SIGTERM or SIGINT. Logs go to stderr
    /// (`RUST_LOG=debug` for more).
    Serve {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Listen on this address instead of the rules' (repeat for several; port 0
        /// picks a free port, printed in the start log line).
        #[arg(long = "listen", value_name = "IP:PORT")]
        listen: Vec<std::net::SocketAddr>,
        /// UDP sockets per address and runtime threads (default: the rules', else one
        /// per core).
        #[arg(long)]
        workers: Option<usize>,
        /// Admin API and metrics listener instead of the rules' `server.admin.listen`
        /// (default 127.0.0.1:9153; `off` disables it). Beyond loopback it needs a token
        /// (LINEDNS_ADMIN_TOKEN or server.admin.token_file).
        #[arg(long, value_name = "IP:PORT|off")]
        admin_listen: Option<String>,
    },
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
    /// Print the compiled prefix table: every block of the partition of the IPv4 and
    /// IPv6 address space with its line, one `PREFIX LINE` per line. The blocks do not
    /// overlap; each block's length is the ECS scope answered for addresses in it.
    Table {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        #[command(flatten)]
        data: DataArgs,
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
        Command::Serve { config, data, listen, workers, admin_listen } => {
            serve(&config, data, listen, workers, admin_listen)
        }
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
        Command::Table { config, data } => {
            let Some(snapshot) = load(&config, data) else { return ExitCode::FAILURE };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let lines = &snapshot.lines;
            for (block, line) in snapshot.classifier.v4_blocks() {
                let _ = writeln!(out, "{}/{} {}", std::net::Ipv4Addr::from(block.start), block.len, lines.name(line));
            }
            for (block, line) in snapshot.classifier.v6_blocks() {
                let _ = writeln!(out, "{}/{} {}", std::net::Ipv6Addr::from(block.start), block.len, lines.name(line));
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
            let explanation = explain(&snapshot, addr, ecs, query, &snapshot.live_health());
            if json {
                println!("{}", serde_json::to_string_pretty(&explanation).expect("serializable"));
            } else {
                print!("{explanation}");
            }
            ExitCode::SUCCESS
        }
    }
}

fn serve(
    rules: &std::path::Path,
    data: DataArgs,
    listen: Vec<std::net::SocketAddr>,
    workers: Option<usize>,
    admin_listen: Option<String>,
) -> ExitCode {
    use std::sync::Arc;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let engine = match linedns::Engine::from_rules(rules, CompileOptions { geo_data: data.geo_data }) {
        Ok(e) => Arc::new(e),
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!("{e}");
            }
            tracing::error!("{}: {} error(s); not started", rules.display(), errors.0.len());
            return ExitCode::FAILURE;
        }
    };
    let settings = engine.snapshot().settings.clone();
    let listen = if listen.is_empty() { settings.listen.clone() } else { listen };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = workers.filter(|&w| w > 0).unwrap_or(if settings.workers > 0 { settings.workers } else { cores });
    let listeners = match linedns::net::bind(&listen, workers) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{e}; not started");
            return ExitCode::FAILURE;
        }
    };
    let admin_addr = match admin_listen.as_deref() {
        Some("off") => None,
        Some(text) => match text.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                tracing::error!("--admin-listen {text:?}: not IP:PORT or off; not started");
                return ExitCode::FAILURE;
            }
        },
        None => settings.admin_listen,
    };
    let token = match admin_token(&settings) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}; not started");
            return ExitCode::FAILURE;
        }
    };
    let admin_listener = match admin_addr {
        None => None,
        Some(addr) => {
            if let Err(e) = linedns::admin::check_bind(addr, token.as_deref()) {
                tracing::error!("{e}; not started");
                return ExitCode::FAILURE;
            }
            match std::net::TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::error!("cannot bind the admin API to {addr}: {e}; not started");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (udp, tcp) = listeners.local_addrs().unwrap_or_default();
    let mut tcp_addrs: Vec<String> = tcp.iter().map(ToString::to_string).collect();
    tcp_addrs.dedup();
    let summary = engine.snapshot().summary();
    let admin_shown =
        admin_listener.as_ref().and_then(|l| l.local_addr().ok()).map_or("off".to_string(), |a| a.to_string());
    tracing::info!(
        "linedns {} serving {} ({} lines, {} zones, {} nodes, {} probes) on udp+tcp {} ({} UDP sockets, {workers} workers); admin API {admin_shown}",
        env!("CARGO_PKG_VERSION"),
        rules.display(),
        summary.lines.len(),
        summary.zones.len(),
        summary.nodes,
        engine.snapshot().probes.len(),
        tcp_addrs.join(" "),
        udp.len(),
    );
    let server = linedns::net::Server::new(engine.clone());
    let watch_files = settings.watch;
    let result = runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let reload_stats = Arc::new(linedns::reload::ReloadStats::default());
        let checker_stats = Arc::new(linedns::health::checker::CheckerStats::default());
        // Probes start before the first query is answered.
        let checker = tokio::spawn(linedns::health::checker::run(engine.clone(), checker_stats.clone(), stopped()));
        let admin = admin_listener.and_then(|l| tokio::net::TcpListener::from_std(l).ok()).map(|listener| {
            let admin = Arc::new(linedns::admin::Admin {
                engine: engine.clone(),
                checker: checker_stats.clone(),
                reloads: reload_stats.clone(),
                token: token.clone(),
            });
            tokio::spawn(linedns::admin::serve(listener, admin, stopped()))
        });
        let hup = tokio::spawn(reload_on_sighup(engine.clone(), reload_stats.clone(), stopped()));
        let watcher = watch_files.then(|| {
            tokio::spawn(linedns::reload::watch(
                engine.clone(),
                reload_stats.clone(),
                std::time::Duration::from_secs(1),
                std::time::Duration::from_millis(500),
                stopped(),
            ))
        });
        let result = server
            .run(listeners, async {
                shutdown_signal().await;
            })
            .await;
        let _ = stop_tx.send(true);
        let _ = checker.await;
        let _ = hup.await;
        if let Some(w) = watcher {
            let _ = w.await;
        }
        if let Some(a) = admin {
            let _ = a.await;
        }
        result
    });
    match result {
        Ok(()) => {
            tracing::info!("linedns stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("linedns stopped on an error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The admin token: LINEDNS_ADMIN_TOKEN, else the rules' `server.admin.token_file`.
fn admin_token(settings: &linedns::settings::ServerSettings) -> Result<Option<String>, String> {
    if let Some(t) = std::env::var(linedns::admin::TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        return Ok(Some(t));
    }
    match &settings.admin_token_file {
        None => Ok(None),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
            Ok(_) => Err(format!("admin token file {} is empty", path.display())),
            Err(e) => Err(format!("cannot read the admin token file {}: {e}", path.display())),
        },
    }
}

/// Reloads the rules on every SIGHUP until `stop`.
async fn reload_on_sighup(
    engine: std::sync::Arc<linedns::Engine>,
    stats: std::sync::Arc<linedns::reload::ReloadStats>,
    stop: impl std::future::Future<Output = ()>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler: reload through the file watch or the admin API");
        return;
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = hup.recv() => {
                let _ = linedns::reload::reload_and_log(&engine, &stats, "SIGHUP");
            }
        }
    }
}

/// Completes on SIGTERM or SIGINT, logging which.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!("{name} received: stopping (in-flight TCP answers finish first)");
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
    println!("health probes: {}", s.probes);
}
