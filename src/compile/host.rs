//! What the rules' `server:` section tells the host around the engine (how it listens,
//! runs and keeps state), compiled apart from the [`Snapshot`](crate::engine::snapshot::Snapshot)
//! the engine answers from: the engine never reads these, and `serve` reads them from
//! [`Compiled::host`](super::Compiled::host) at start and after every reload.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::defaults;
use crate::name::Name;

/// How the server listens, runs and keeps state. Listen addresses, workers, CPUs, the
/// user, the state directory and dnstap take effect at start; the rest at every reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSettings {
    /// UDP and TCP addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// UDP sockets (and runtime threads) per address; 0 = one per core.
    pub workers: usize,
    /// A TCP connection idle this long is closed (RFC 7766 §6.2.3).
    pub tcp_idle_timeout: Duration,
    /// Most TCP connections open at once; more are closed on accept.
    pub tcp_max_connections: usize,
    /// Most TCP connections open at once from one address; more are closed on accept.
    pub tcp_max_per_client: usize,
    /// A TCP query whose first octet has arrived must be whole within this.
    pub tcp_query_timeout: Duration,
    /// A TCP answer (each message of a transfer) must be written within this.
    pub tcp_write_timeout: Duration,
    /// Reload when the rules or data files change (checked every second, debounced).
    pub watch: bool,
    /// Admin API listener (`None`: off).
    pub admin_listen: Option<SocketAddr>,
    /// File with the admin token, relative paths against the rules file's directory.
    pub admin_token_file: Option<PathBuf>,
    /// Host names the admin API answers to besides `localhost` and its addresses.
    pub admin_hosts: Vec<Box<str>>,
    /// A listener serving `/metrics` alone (`None`: none besides the admin API).
    pub metrics_listen: Option<SocketAddr>,
    /// CPUs the UDP workers are pinned to (empty: unpinned).
    pub cpus: Vec<usize>,
    /// Where serve keeps state across restarts (`None`: nowhere).
    pub state_dir: Option<PathBuf>,
    /// The user serve changes to once bound, when started as root.
    pub user: Option<String>,
    /// That user's group (`None`: the user's own).
    pub group: Option<String>,
    /// Least time between two new serials of the server's views (changes wait).
    pub serial_coalesce: Duration,
    /// dnstap query logs (`None`: off).
    pub dnstap: Option<DnstapSettings>,
    /// The providers kept in sync with a view (`providers:`).
    pub providers: Vec<Provider>,
    /// This instance's fleet (`fleet:`; `None`: on its own).
    pub fleet: Option<FleetSettings>,
}

/// `fleet:`, compiled: who this instance is, the store, and the health policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSettings {
    /// This instance's name.
    pub instance: String,
    /// Its site.
    pub site: String,
    /// The store the fleet shares.
    pub store: StoreSettings,
    /// How node health is decided from the sites' probes.
    pub policy: crate::engine::fleet::Policy,
    /// From how many sites each node is probed (`None`: all).
    pub probe_sites: Option<u32>,
    /// A site's result older than this is not counted.
    pub result_expiry: Duration,
}

/// How the fleet's store (NATS with JetStream) is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSettings {
    /// Server URLs (`nats://` or `tls://`).
    pub servers: Vec<String>,
    /// How this instance proves who it is.
    pub auth: StoreAuth,
    /// CAs the servers' certificates are checked against (TLS).
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Prefix of the bucket names.
    pub bucket_prefix: String,
}

/// A store credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreAuth {
    /// None.
    None,
    /// A user and password.
    UserPassword {
        /// The user.
        user: String,
        /// The password (from its file).
        password: Secret,
    },
    /// A token (from its file).
    Token(Secret),
    /// A NATS credentials file.
    Credentials(PathBuf),
}

impl Default for HostSettings {
    /// The settings of rules without a `server:` section.
    fn default() -> Self {
        HostSettings {
            listen: defaults::LISTEN.to_vec(),
            workers: defaults::WORKERS,
            tcp_idle_timeout: defaults::TCP_IDLE_TIMEOUT,
            tcp_max_connections: defaults::TCP_MAX_CONNECTIONS,
            tcp_max_per_client: defaults::TCP_MAX_PER_CLIENT,
            tcp_query_timeout: defaults::TCP_QUERY_TIMEOUT,
            tcp_write_timeout: defaults::TCP_WRITE_TIMEOUT,
            watch: defaults::WATCH,
            admin_listen: Some(defaults::ADMIN_LISTEN),
            admin_token_file: None,
            admin_hosts: Vec::new(),
            metrics_listen: None,
            cpus: Vec::new(),
            state_dir: None,
            user: None,
            group: None,
            serial_coalesce: defaults::SERIAL_COALESCE,
            dnstap: None,
            providers: Vec::new(),
            fleet: None,
        }
    }
}

/// `server.dnstap`: what is logged, where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnstapSettings {
    /// Where the frames go.
    pub output: DnstapOutput,
    /// One query in this many is logged (1: all).
    pub every: u32,
    /// Log the queries.
    pub queries: bool,
    /// Log the answers.
    pub responses: bool,
    /// The identity of each frame (`None`: the host name).
    pub identity: Option<String>,
    /// Queries waiting for the writer at most.
    pub queue: usize,
}

/// Where dnstap frames go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnstapOutput {
    /// A reader's Unix socket (bidirectional Frame Streams).
    Socket(PathBuf),
    /// A file (unidirectional Frame Streams).
    File(PathBuf),
}

/// A provider of `providers:`, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// Its name.
    pub name: String,
    /// How it is reached.
    pub kind: ProviderKind,
    /// The line whose view it serves, by name (looked up in the snapshot of the same
    /// compile).
    pub line: String,
    /// The zones it holds, by origin.
    pub zones: Vec<Name>,
    /// The largest share of its managed RRsets one push may update or delete, in
    /// thousandths (300: 30 %).
    pub max_change_permille: u32,
    /// How often `serve` reads the copy back when no view changed.
    pub drift_interval: Duration,
}

/// How a provider is reached, with what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// DNS UPDATE (RFC 2136) to `server`, signed with the key named `key` (RFC 8945; one
    /// of the snapshot's keys); its copy read back by AXFR signed the same way.
    DnsUpdate {
        /// The server taking updates.
        server: SocketAddr,
        /// The TSIG key's name.
        key: Option<Name>,
    },
    /// The PowerDNS HTTP API.
    PowerDns {
        /// The API's address (HTTP, no TLS).
        api: SocketAddr,
        /// The `Host` the requests name.
        host: String,
        /// The server id of the paths (`localhost`).
        server_id: String,
        /// The API key.
        key: Secret,
    },
    /// Files for octoDNS.
    Octodns {
        /// Where the configuration and the zones are written.
        directory: std::path::PathBuf,
        /// The octoDNS provider the zones go to (its configuration, as the rules give it).
        target: String,
    },
}

impl std::fmt::Display for ProviderKind {
    /// Where the provider is reached: its server, its API, or the octoDNS directory.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderKind::DnsUpdate { server, .. } => write!(f, "{server}"),
            ProviderKind::PowerDns { host, .. } => write!(f, "http://{host}"),
            ProviderKind::Octodns { directory, .. } => write!(f, "{}", directory.display()),
        }
    }
}

/// A credential read from a file: compared, never shown (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(hidden)")
    }
}
