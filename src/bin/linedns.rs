//! The `linedns` command: arguments, logging, binding and signals. The server itself is
//! the library's `serve::Server`; the rules' compiler and the explanation are the
//! library's too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use linedns::compile::{Compiled, RulesSource};
use linedns::engine::explain::parse_asked;
use linedns::engine::export::master_file;
use linedns::engine::versions::stored_serial;
use linedns::serve::check::consistency;
use linedns::serve::push::{self, PushOptions};
use linedns::serve::replication::SerialsStore;
use linedns::serve::{Control, Overrides, Plan, Server};
use linedns::{CompileOptions, GEO_DATA_ENV, compile_file, explain};
use tokio::signal::unix::{SignalKind, signal};

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
        #[command(flatten)]
        rules: RulesArgs,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Compile the rules and their geo data, print what they hold, and exit non-zero on
    /// any error (each error names file, line, rule and value). Nothing is served.
    #[command(override_usage = "linedns check-config -c RULES [--geo-data DIR] [--json]")]
    CheckConfig {
        /// The rules file (YAML), as every other command takes it.
        #[arg(long, short = 'c', value_name = "RULES")]
        config: Option<PathBuf>,
        /// The rules file, written without `-c` (as earlier versions took it).
        #[arg(value_name = "RULES", required_unless_present = "config", conflicts_with = "config")]
        rules: Option<PathBuf>,
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
        #[command(flatten)]
        rules: RulesArgs,
    },
    /// Show what a client gets and why: its line, the prefix and source that put it
    /// there, the ECS scope, and for a name the pool chosen, each fallback step, the
    /// records and the TTL.
    Explain {
        #[command(flatten)]
        rules: RulesArgs,
        /// The client: an address (`203.0.113.7`), or a subnet as an ECS option would
        /// carry it (`203.0.113.0/24`).
        client: String,
        /// A name to resolve for the client.
        name: Option<String>,
        /// The record type to ask for.
        #[arg(default_value = "A")]
        qtype: Option<String>,
        /// Print JSON (fields: address, ecs_source_prefix, line, line_parents, prefix,
        /// source, scope, records, ttl, query.zone, query.rcode, query.line_record,
        /// query.steps, query.served_line, query.response_scope; records, ttl and query are
        /// empty without NAME).
        #[arg(long)]
        json: bool,
    },
    /// Print a zone as an RFC 1035 master file as one line sees it: its static records,
    /// and for each line record the answer that line gets (health: the probes' initial
    /// states). For providers that import zone files, pipelines, or a diff. The SOA
    /// serial is the server's for that view when the rules' `server.state_dir` holds
    /// this same content, else the serial written in the rules.
    Export {
        #[command(flatten)]
        rules: RulesArgs,
        /// The zone's origin.
        #[arg(long, value_name = "ORIGIN")]
        zone: String,
        /// The line whose view to print.
        #[arg(long, default_value = "default")]
        line: String,
    },
    /// Print the rules (YAML) that serve the same zone as an RFC 1035 master file (a
    /// BIND, Knot or provider export), for keeping everything in one rules file. To keep
    /// the file where it is instead, write `file: PATH` in the zone's rules.
    Import {
        /// The master file (RFC 1035 zone file) to read; not a rules file.
        #[arg(value_name = "ZONEFILE")]
        zonefile: PathBuf,
        /// The zone's name (default: the owner of the file's SOA record).
        #[arg(long, value_name = "NAME")]
        origin: Option<String>,
    },
    /// Make a zone's first DNSSEC keys in its key directory (`server.state_dir`/keys/ZONE,
    /// or the zone's `dnssec.keys`): one combined signing key (CSK), or a KSK and a ZSK
    /// with --split. Prints the DS record to give the parent. The zone is signed from its
    /// next load; later keys come from the automatic rollover.
    Keygen {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        /// The zone.
        zone: String,
        /// ecdsa-p256 (algorithm 13, the default) or ed25519 (15).
        #[arg(long, default_value = linedns::config::defaults::DNSSEC_ALGORITHM)]
        algorithm: String,
        /// A KSK and a ZSK instead of one CSK.
        #[arg(long)]
        split: bool,
    },
    /// A zone's DNSSEC keys: where each one is, and importing keys made elsewhere.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write the manual pages into DIR: linedns.1 and one per command (linedns-serve.1,
    /// linedns-keys-status.1, ...), made from the same definitions as --help. For
    /// packagers (`man -l DIR/linedns-serve.1` reads one).
    Man {
        /// The directory to write them into (made if missing).
        dir: PathBuf,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell):
    /// `linedns completions bash > /usr/share/bash-completion/completions/linedns`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Push each provider of the rules (`providers:`) its line's view once, and exit: its
    /// copy read back, the plan made (per RRset: create, update or delete, old -> new) and
    /// printed, and applied. A plan that updates or deletes more than the provider's
    /// `max_change` share of the RRsets linedns manages there is refused, nothing of it
    /// applied, unless --force. Exits 1 if any provider or zone failed or was refused, 2 on
    /// a usage error; the other providers are pushed all the same.
    Push {
        #[command(flatten)]
        rules: RulesArgs,
        /// Only the provider of this name.
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// Print the plans; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply a plan that changes more than the provider's max_change.
        #[arg(long)]
        force: bool,
    },
    /// Check that every server of each zone's NS set (and the rules' `check.servers`)
    /// answers like the primary: SOA over UDP and TCP, the serial of each view (which
    /// server lags, by how much), each line record's answer per line, and any address in
    /// no pool of the rules (a possible hijack); and each provider's copy (`providers:`)
    /// against its view (drift). Prints a table (or JSON); exits 1 on any problem, 2 on
    /// a usage error. Every query has a time limit.
    Check {
        #[command(flatten)]
        rules: RulesArgs,
        /// The primary to compare with (default: the rules' `check.primary`, else the
        /// first `server.listen` address).
        #[arg(long, value_name = "IP:PORT")]
        primary: Option<std::net::SocketAddr>,
        /// Print the report as JSON (fields: primary, problems, findings[].server,
        /// .address, .role, .zone, .check, .ok, .detail).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Each key of the zone (every zone without ZONE): role, tag, algorithm, state
    /// (published, signing, in CDS), its times, its file, and the DS for the parent.
    Status {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        /// The zone.
        zone: Option<String>,
    },
    /// Start a key roll now, whatever the key's lifetime: the ZSK (pre-publish), or with
    /// --ksk the KSK or CSK (new key published, then in CDS; the old one retires once the
    /// parent serves the new DS). A running server takes each step as its time comes.
    Roll {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        /// The zone.
        zone: String,
        /// Roll the KSK or CSK instead of the ZSK.
        #[arg(long)]
        ksk: bool,
    },
    /// Copy keys into the zone's key directory: BIND's K*.key/K*.private pairs (their
    /// times kept) or Knot DNS's PKCS#8 .pem files (published and signing at once).
    Import {
        /// The rules file (YAML).
        #[arg(long, short = 'c', value_name = "RULES")]
        config: PathBuf,
        /// The zone.
        zone: String,
        /// The key files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The role of a .pem key (csk, ksk or zsk); BIND keys carry theirs.
        #[arg(long, default_value = "csk")]
        role: String,
    },
}

/// `-c RULES` and `--geo-data DIR`.
#[derive(Args)]
struct RulesArgs {
    /// The rules file (YAML).
    #[arg(long, short = 'c', value_name = "RULES")]
    config: PathBuf,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct DataArgs {
    /// Directory that data file names in the rules are relative to; overrides the rules'
    /// `geo_data` setting.
    #[arg(long, value_name = "DIR", env = GEO_DATA_ENV)]
    geo_data: Option<PathBuf>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve { rules, overrides } => {
            init_logging();
            let served = serve(rules, &overrides);
            served.as_ref().map_or_else(|e| tracing::error!("{e}"), |()| tracing::info!("linedns stopped"));
            if served.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Command::CheckConfig { config, rules, data, json } => {
            let Some(rules) = config.or(rules) else { return ExitCode::from(2) };
            let Some(Compiled { snapshot, .. }) = load(&rules, data) else { return ExitCode::FAILURE };
            let summary = snapshot.summary();
            print_out(json, &summary, || summary.text(&rules.display().to_string()))
        }
        Command::Table { rules } => {
            let Some(Compiled { snapshot, .. }) = load(&rules.config, rules.data) else { return ExitCode::FAILURE };
            let _ = snapshot.write_table(&mut std::io::BufWriter::new(std::io::stdout().lock()));
            ExitCode::SUCCESS
        }
        Command::Explain { rules, client, name, qtype, json } => {
            let asked = parse_asked(&client, name.as_deref(), qtype.as_deref());
            let Ok((addr, ecs, query)) = asked.map_err(|m| eprintln!("error: {m}")) else { return ExitCode::from(2) };
            let Some(Compiled { snapshot, .. }) = load(&rules.config, rules.data) else { return ExitCode::FAILURE };
            let explanation =
                explain(&snapshot, addr, ecs, query.as_ref().map(|(n, t)| (n.as_str(), *t)), &snapshot.probe_health());
            print_out(json, &explanation, || explanation.to_string())
        }
        Command::Export { rules, zone, line } => {
            let Some(Compiled { snapshot, host }) = load(&rules.config, rules.data) else { return ExitCode::FAILURE };
            // The serial the server answers with, when its state file still holds this
            // very content.
            let stored = host.state_dir.as_deref().map(|dir| {
                SerialsStore::open(dir).and_then(|s| s.read()).unwrap_or_else(|e| {
                    eprintln!("note: {e}; the rules' serial is printed");
                    Vec::new()
                })
            });
            let health = snapshot.probe_health();
            let served = |z: &_, l| stored_serial(&snapshot, z, l, &health, stored.as_deref().unwrap_or_default());
            let text = master_file(&snapshot, &zone, &line, &health, served);
            let Ok(text) = text.map_err(|m| eprintln!("error: {m}")) else { return ExitCode::from(2) };
            print_out(false, &(), || text)
        }
        Command::Import { zonefile, origin } => {
            match linedns::compile::import::rules_of_zone_file(&zonefile, origin.as_deref()) {
                Ok(text) => print_out(false, &(), || text),
                Err(errors) => {
                    eprintln!("{errors}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Man { dir } => print_or_fail(write_manual(&dir)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "linedns",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Keygen { config, zone, algorithm, split } => {
            let made = linedns::engine::sign::keys::Algorithm::parse(&algorithm)
                .and_then(|a| linedns::compile::keygen::keygen(&config, &zone, a, split, unix_now()));
            print_or_fail(made)
        }
        Command::Keys { command: KeysCommand::Status { config, zone } } => {
            print_or_fail(linedns::compile::keygen::status(&config, zone.as_deref(), unix_now()))
        }
        Command::Keys { command: KeysCommand::Roll { config, zone, ksk } } => {
            print_or_fail(linedns::compile::keygen::roll(&config, &zone, ksk, unix_now()).map(|m| format!("{m}\n")))
        }
        Command::Keys { command: KeysCommand::Import { config, zone, files, role } } => {
            let role = match role.to_ascii_lowercase().as_str() {
                "csk" => Ok(linedns::engine::sign::keys::Role::Csk),
                "ksk" => Ok(linedns::engine::sign::keys::Role::Ksk),
                "zsk" => Ok(linedns::engine::sign::keys::Role::Zsk),
                other => Err(format!("--role {other:?} is not csk, ksk or zsk")),
            };
            print_or_fail(role.and_then(|r| linedns::compile::keygen::import(&config, &zone, &files, r, unix_now())))
        }
        Command::Push { rules, provider, dry_run, force } => {
            let Some(Compiled { snapshot, host }) = load(&rules.config, rules.data) else { return ExitCode::from(2) };
            let options = PushOptions { dry_run, force, only: provider, state_dir: host.state_dir.clone() };
            if let Err(m) = push::check_choice(&host.providers, &options) {
                eprintln!("error: {m}");
                return ExitCode::from(2);
            }
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(runtime) = runtime.map_err(|e| eprintln!("error: cannot start the runtime: {e}")) else {
                return ExitCode::FAILURE;
            };
            let targets = push::targets(&snapshot, &snapshot.probe_health(), &host.providers, &options);
            let results = runtime.block_on(push::push(targets, &options));
            print!("{}", push::report(&results));
            if results.iter().all(|r| r.result.is_ok()) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Command::Check { rules, primary, json } => {
            let Some(Compiled { snapshot, host }) = load(&rules.config, rules.data) else { return ExitCode::from(2) };
            let Some(primary) = primary.or_else(|| consistency::default_primary(&snapshot, &host.listen)) else {
                eprintln!("error: no primary to compare with: give --primary or check.primary");
                return ExitCode::from(2);
            };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(runtime) = runtime.map_err(|e| eprintln!("error: cannot start the runtime: {e}")) else {
                return ExitCode::FAILURE;
            };
            let mut report = runtime.block_on(consistency::run(&snapshot, primary, snapshot.check.timeout));
            let providers = consistency::check_providers(
                &snapshot,
                &snapshot.probe_health(),
                &host.providers,
                host.state_dir.as_deref(),
            );
            report.add(runtime.block_on(providers));
            // A name lookup still blocked in the system resolver is not waited for.
            runtime.shutdown_timeout(std::time::Duration::from_millis(100));
            print_out(json, &report, || report.table());
            if report.problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
    }
}

/// Prints `value` as pretty JSON, or `text()`.
fn print_out(json: bool, value: &impl serde::Serialize, text: impl FnOnce() -> String) -> ExitCode {
    match json {
        true => println!("{}", serde_json::to_string_pretty(value).expect("serializable")),
        false => print!("{}", text()),
    }
    ExitCode::SUCCESS
}

/// Writes `linedns.1` and a page per command and subcommand (`linedns-keys-roll.1`) into
/// `dir`; returns the files written, one per line.
fn write_manual(dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot make it: {e}", dir.display()))?;
    let mut written = String::new();
    let mut pending = vec![("linedns".to_string(), <Cli as clap::CommandFactory>::command())];
    while let Some((name, command)) = pending.pop() {
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let page = command.name(name.clone()).bin_name(name.replace('-', " "));
        let mut roff = Vec::new();
        clap_mangen::Man::new(page).render(&mut roff).map_err(|e| format!("{name}: {e}"))?;
        let file = dir.join(format!("{name}.1"));
        std::fs::write(&file, roff).map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
        written.push_str(&format!("{}\n", file.display()));
    }
    Ok(written)
}

/// Prints the text, or the error (exit status 1).
fn print_or_fail(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(text) => print_out(false, &(), || text),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

/// Compiles the rules, binds every socket, and serves until SIGTERM or SIGINT (SIGHUP
/// reloads). Any error before serving stops the start with a message naming its cause.
fn serve(rules: RulesArgs, overrides: &Overrides) -> Result<(), String> {
    let source = RulesSource {
        path: rules.config.clone(),
        options: CompileOptions { geo_data: rules.data.geo_data, ..CompileOptions::default() },
    };
    let compiled = source.load().map_err(|e| {
        e.0.iter().for_each(|e| tracing::error!("{e}"));
        format!("{}: {} error(s); not started", rules.config.display(), e.0.len())
    })?;
    let plan = Plan::new(&compiled.host, overrides);
    let (listeners, token) = plan.bind(&compiled.host).map_err(|e| format!("{e}; not started"))?;
    // Root is given up before any thread starts or any query is read.
    if let Some(run_as) = &plan.run_as {
        let dropped = linedns::serve::privileges::drop_privileges(run_as, compiled.host.state_dir.as_deref());
        tracing::info!("{}", dropped.map_err(|e| format!("{e}; not started"))?);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(plan.workers).enable_all().build();
    let runtime = runtime.map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(async {
        // The handlers first: a SIGTERM sent once the start line is out stops it cleanly.
        let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()));
        let server = Server::reloading(compiled, Some(source), token);
        let control = server.control().clone();
        linedns::serve::log_serving(&control, &listeners, plan.workers);
        server.run(listeners, signals(control, handlers)).await
    });
    result.map_err(|e| format!("linedns stopped on an error: {e}"))
}

/// A signal handler as installed (or why it could not be).
type SignalStream = std::io::Result<tokio::signal::unix::Signal>;

/// Reloads on SIGHUP; completes on SIGTERM or SIGINT, logging which. It runs once the
/// server's tasks are started (the first snapshot live, every socket bound): the service
/// manager hears READY=1 then, RELOADING=1 and READY=1 around each SIGHUP reload, and
/// STOPPING=1 at the end (`sd_notify(3)`; nothing without `NOTIFY_SOCKET`).
async fn signals(control: Arc<Control>, handlers: (SignalStream, SignalStream, SignalStream)) {
    let tell = |state: &str| {
        if let Err(e) = linedns::serve::systemd::notify(state) {
            tracing::warn!("{e}");
        }
    };
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = handlers else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL, reload by the file watch or the API");
        tell("READY=1");
        return std::future::pending().await;
    };
    tell("READY=1\nSTATUS=serving");
    let name = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = hup.recv() => {
                tell("RELOADING=1");
                drop(control.reload(linedns::serve::ReloadCause::Signal));
                tell("READY=1\nSTATUS=serving");
            }
        }
    };
    tell("STOPPING=1");
    tracing::info!("{name} received: stopping (in-flight TCP answers finish first)");
}

/// Compiles the rules, or prints every error and returns `None`.
fn load(rules: &Path, data: DataArgs) -> Option<Compiled> {
    let compiled = compile_file(rules, &CompileOptions { geo_data: data.geo_data, ..CompileOptions::default() });
    compiled.map_err(|e| eprintln!("{e}\n{}: {} error(s); nothing was loaded", rules.display(), e.0.len())).ok()
}
