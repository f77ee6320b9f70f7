//! Server settings from the rules' `server:` section, compiled (defaults:
//! `config::defaults`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::geo::table::LineId;

/// How the server listens and answers. Listen addresses and workers take effect at
/// start; the rest at every reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// UDP and TCP addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// UDP sockets (and runtime threads) per address; 0 = one per core.
    pub workers: usize,
    /// Largest UDP response we send and advertise (512..=4096).
    pub udp_payload_max: u16,
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
    /// Answer for CHAOS `version.bind` / `version.server` (off when `None`).
    pub chaos_version: Option<String>,
    /// Answer for CHAOS `id.server` / `hostname.bind` (off when `None`).
    pub chaos_id: Option<String>,
    /// Reload when the rules or data files change (checked every second, debounced).
    pub watch: bool,
    /// Admin API listener (`None`: off).
    pub admin_listen: Option<SocketAddr>,
    /// File with the admin token, relative paths against the rules file's directory.
    pub admin_token_file: Option<std::path::PathBuf>,
    /// Host names the admin API answers to besides `localhost` and its addresses.
    pub admin_hosts: Vec<Box<str>>,
    /// A listener serving `/metrics` alone (`None`: none besides the admin API).
    pub metrics_listen: Option<SocketAddr>,
    /// CPUs the UDP workers are pinned to (empty: unpinned); taken at start.
    pub cpus: Vec<usize>,
    /// Where serve keeps state across restarts (`None`: nowhere); taken at start.
    pub state_dir: Option<std::path::PathBuf>,
    /// The user serve changes to once bound, when started as root; taken at start.
    pub user: Option<String>,
    /// That user's group (`None`: the user's own); taken at start.
    pub group: Option<String>,
    /// Least time between two new serials of the server's views (changes wait).
    pub serial_coalesce: Duration,
    /// Response rate limiting over UDP.
    pub rrl: RrlSettings,
    /// DNS cookies.
    pub cookies: CookieSettings,
    /// dnstap query logs (`None`: off); taken at start.
    pub dnstap: Option<DnstapSettings>,
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
    Socket(std::path::PathBuf),
    /// A file (unidirectional Frame Streams).
    File(std::path::PathBuf),
}

/// `server.rrl`: response rate limiting (see [`super::rrl`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrlSettings {
    /// Answers a second per account; 0 turns rate limiting off.
    pub rate: u32,
    /// Every `slip`-th limited answer goes out truncated (0: none, 1: all).
    pub slip: u32,
    /// IPv4 sources are counted per prefix of this length.
    pub ipv4_prefix: u8,
    /// IPv6 sources are counted per prefix of this length.
    pub ipv6_prefix: u8,
    /// Accounts in the table (taken at start).
    pub table_size: usize,
    /// Sources never limited.
    pub allow: Vec<ipnet::IpNet>,
}

impl RrlSettings {
    /// Whether `source` is on the allow-list.
    pub fn allows(&self, source: std::net::IpAddr) -> bool {
        self.allow.iter().any(|net| net.contains(&source))
    }
}

/// `server.cookies`: DNS cookies (see [`super::cookies`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// Whether answers carry server cookies and valid ones exempt clients from RRL.
    pub enabled: bool,
    /// The secret file's current secret and the previous one it names, if a file is
    /// configured (else the server makes a random secret at start).
    pub secrets: Option<(super::cookies::Secret, Option<super::cookies::Secret>)>,
    /// How long after a rollover the previous secret is still accepted.
    pub overlap: Duration,
}

/// What a checked server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Answers per line by ECS (another linedns, a geo-aware provider): asked with a
    /// subnet of each line.
    Geo,
    /// A static copy of one line's view (a secondary that transfers it): asked plainly.
    Secondary(LineId),
}

/// A server of the rules' `check.servers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckServer {
    /// Its name (an NS target, or a label).
    pub name: Box<str>,
    /// Where it is asked.
    pub address: SocketAddr,
    /// What it is.
    pub role: Role,
    /// The zones (indexes) it serves, if not all; only those are checked there.
    pub zones: Option<Vec<u32>>,
}

/// The rules' `check:`, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSettings {
    /// Servers listed.
    pub servers: Vec<CheckServer>,
    /// The reference primary, if the rules name one.
    pub primary: Option<SocketAddr>,
    /// Each query's time limit.
    pub timeout: Duration,
    /// How often `serve` runs the check (`None`: never).
    pub interval: Option<Duration>,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings { servers: Vec::new(), primary: None, timeout: Duration::from_secs(2), interval: None }
    }
}
