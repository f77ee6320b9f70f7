//! The rules file as written by operators: YAML types, versioned, unknown fields rejected.
//!
//! These are file types, not runtime types: [`crate::compile`] turns them into a
//! [`crate::Snapshot`]. Values that later checks may reject are wrapped in [`At`] so the
//! error can name their line and column.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub mod bind_key;
pub mod defaults;
mod yaml_error;

use crate::error::{ConfigError, Place};
pub use crate::geo::mmdb::Family;

/// A value with the place it was written at.
pub type At<T> = serde_saphyr::Spanned<T>;

/// The rules format version this build reads.
pub const RULES_VERSION: u32 = 1;

/// One rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Format version; must be 1.
    pub version: At<u32>,
    /// Directory that data file names are relative to; itself relative to the rules file.
    /// `--geo-data DIR` and `LINEDNS_GEO_DATA` override it. Default: the rules file's
    /// directory.
    #[serde(default)]
    pub geo_data: Option<At<String>>,
    /// Order in which lines win an equal prefix (first wins). Unlisted lines follow, in
    /// the order they are defined.
    #[serde(default)]
    pub priority: Vec<At<String>>,
    /// Line definitions. The catch-all line `default` is built in.
    #[serde(default)]
    pub lines: Vec<At<LineDef>>,
    /// Authoritative zones.
    #[serde(default)]
    pub zones: Vec<At<ZoneDef>>,
    /// How `linedns serve` listens and answers.
    #[serde(default)]
    pub server: Option<At<ServerDef>>,
    /// Named health checks that line records refer to.
    #[serde(default)]
    pub health_checks: BTreeMap<String, At<HealthCheckDef>>,
    /// Who may transfer the zones (AXFR, RFC 5936), and which line's view each gets.
    #[serde(default)]
    pub transfers: Vec<At<TransferDef>>,
    /// DNS services kept in sync with one line's view through their APIs (providers that
    /// take no zone transfer: DNS UPDATE servers, and more kinds to come).
    #[serde(default)]
    pub providers: Vec<At<ProviderDef>>,
    /// TSIG keys (RFC 8945) by name, for `transfers`.
    #[serde(default)]
    pub keys: BTreeMap<String, At<KeyDef>>,
    /// A catalog zone (RFC 9432) listing every zone served, for secondaries that add and
    /// remove member zones by it.
    #[serde(default)]
    pub catalog: Option<At<CatalogDef>>,
    /// The consistency and hijack checker (`linedns check`, and periodically in `serve`):
    /// the servers of the NS set and beyond, and what each should answer.
    #[serde(default)]
    pub check: Option<At<CheckDef>>,
    /// Several instances that agree on node health through a shared store (only for a
    /// fleet: a single instance needs none).
    #[serde(default)]
    pub fleet: Option<At<FleetDef>>,
}

/// `fleet:`: this instance, its site, the store the fleet shares, and how health is
/// decided from every site's probes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetDef {
    /// This instance's name, unique in the fleet (letters, digits, `-` and `_`).
    pub instance: At<String>,
    /// Its site (a data centre, a city): instances of one site count as one vantage point.
    pub site: At<String>,
    /// The store.
    pub store: At<FleetStoreDef>,
    /// How a node's health is decided from the sites' probes: `majority` (the default),
    /// `any`, `{ quorum: K }` (K sites), or `{ share: 0.18 }` (that share of the sites).
    #[serde(default)]
    pub health: Option<At<FleetHealthDef>>,
    /// Probe each node from only this many sites (default: every site): the sites are
    /// chosen per node the same way by every instance, and a site that goes quiet hands
    /// its nodes to the next.
    #[serde(default)]
    pub probe_sites: Option<u32>,
    /// A site's probe result older than this is not counted (default 10000; results are
    /// published at least every third of it). With the store unreachable, the results
    /// last heard count until then; after, an instance follows its own probes.
    #[serde(default)]
    pub result_expiry_ms: Option<u64>,
}

/// How the fleet decides a node's health.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "majority, any, { quorum: K } or { share: S }")]
pub enum FleetHealthDef {
    /// `majority` or `any`.
    Named(String),
    /// At least K sites see the node up.
    Quorum {
        /// K.
        quorum: u32,
    },
    /// At least this share of the sites with a result see it up.
    Share {
        /// From 0 to 1.
        share: f64,
    },
}

/// The store a fleet shares: NATS with JetStream (key-value buckets).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetStoreDef {
    /// `nats`.
    pub kind: String,
    /// Server URLs: `nats://HOST:PORT`, or `tls://HOST:PORT` for TLS.
    pub servers: Vec<String>,
    /// User name (with `password_file`).
    #[serde(default)]
    pub user: Option<String>,
    /// File holding the user's password, relative to the rules file.
    #[serde(default)]
    pub password_file: Option<String>,
    /// File holding a token (instead of a user and password).
    #[serde(default)]
    pub token_file: Option<String>,
    /// A NATS credentials file (`.creds`: a user JWT and its NKey seed).
    #[serde(default)]
    pub credentials_file: Option<String>,
    /// PEM file of the CAs the servers' certificates are checked against (TLS).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// PEM client certificate and its key, for servers that ask for one (mutual TLS).
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The client certificate's key.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Prefix of the fleet's bucket names (default `linedns`): fleets sharing a store
    /// keep apart by it.
    #[serde(default)]
    pub bucket_prefix: Option<String>,
}

/// The checker's settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    /// Servers to check, by the name an NS record gives (or any label for another
    /// provider's server), with the address to ask and what they are.
    #[serde(default)]
    pub servers: Vec<CheckServerDef>,
    /// The primary whose answers are the reference (`IP:PORT`; default: the first
    /// `server.listen` address, a wildcard address asked on loopback).
    #[serde(default)]
    pub primary: Option<String>,
    /// Each query's time limit in milliseconds (default 2000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// `serve` runs the check this often (milliseconds) and exports the results as
    /// metrics; default: never.
    #[serde(default)]
    pub interval_ms: Option<u64>,
}

/// A server the checker asks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckServerDef {
    /// Its name: an NS target of the zones (which this entry then describes) or a label.
    pub name: String,
    /// Where to ask it: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 53 by default).
    pub address: String,
    /// `geo` (answers per line by ECS: another linedns, or a geo-aware provider), or
    /// `secondary` (a static copy of one line's view, `line`). Default `secondary`.
    #[serde(default)]
    pub role: Option<String>,
    /// For a secondary: the line whose view it serves (default `default`).
    #[serde(default)]
    pub line: Option<String>,
    /// The zones it serves (default: every zone but the catalog); it is asked about
    /// these only.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
}

/// The catalog zone (RFC 9432).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogDef {
    /// Its name (e.g. `catalog.example.net`): any name that is not a served zone.
    pub zone: String,
}

/// A TSIG key: `algorithm` and `secret`, or a BIND-style key `file` holding a key of the
/// same name. Its secret is never shown in errors or logs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyDef {
    /// `hmac-sha256` or `hmac-sha512`.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// The shared secret, base64 (as `tsig-keygen` and `keymgr -t` print it).
    #[serde(default)]
    pub secret: Option<String>,
    /// A file of `key "name" { algorithm …; secret "…"; };` statements (what
    /// `tsig-keygen NAME` writes), relative to the rules file: the key of this name is
    /// taken from it.
    #[serde(default)]
    pub file: Option<String>,
}

impl std::fmt::Debug for KeyDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyDef {{ algorithm: {:?}, secret: <hidden>, file: {:?} }}", self.algorithm, self.file)
    }
}

/// One rule of `transfers:`: the secondaries it admits and the view they get. The first
/// rule that admits a transfer decides its view.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferDef {
    /// A name for logs and metrics (e.g. the backup provider's).
    pub name: String,
    /// Source addresses or prefixes the secondaries transfer from (default: any, when a
    /// `key` is required).
    #[serde(default)]
    pub allow: Vec<String>,
    /// A TSIG key (of `keys:`) the transfer must be signed with. With `allow` too, both
    /// are required.
    #[serde(default)]
    pub key: Option<String>,
    /// The line whose view the zone is transferred as (default `default`): its static
    /// records, and each line record's answer for that line now.
    #[serde(default)]
    pub line: Option<String>,
    /// The zones it may transfer (default: every zone).
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// Secondaries to send a NOTIFY (RFC 1996) whenever one of its zones changes in its
    /// view: `IP` (port 53) or `IP:PORT`, signed with `key` when it is set.
    #[serde(default)]
    pub notify: Vec<String>,
}

/// One provider of `providers:`: a DNS service that linedns keeps in sync with one line's
/// view of some zones, through the service's own interface.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDef {
    /// A name for logs, metrics and `linedns push --provider`.
    pub name: String,
    /// How it is reached.
    pub kind: ProviderKind,
    /// `dns_update`: the server that takes the updates, `IP` (port 53) or `IP:PORT`.
    #[serde(default)]
    pub server: Option<String>,
    /// `dns_update`: the TSIG key (of `keys:`) the updates and the read-back transfer are
    /// signed with.
    #[serde(default)]
    pub key: Option<String>,
    /// `powerdns`: the HTTP API's base URL (`http://127.0.0.1:8081`).
    #[serde(default)]
    pub api: Option<String>,
    /// `powerdns`: the file holding the API key (relative to the rules file); it is never
    /// logged or shown.
    #[serde(default)]
    pub api_key_file: Option<String>,
    /// `powerdns`: the server id of the API's paths (default `localhost`).
    #[serde(default)]
    pub server_id: Option<String>,
    /// `octodns`: the directory linedns writes the octoDNS configuration (`config.yaml`)
    /// and the zones (`zones/ZONE.yaml`) into, relative to the rules file.
    #[serde(default)]
    pub directory: Option<String>,
    /// `octodns`: the octoDNS provider the view goes to, as octoDNS's configuration names
    /// it (`class:` and its settings; secrets as `env/VARIABLE`).
    #[serde(default)]
    pub target: Option<serde_json::Value>,
    /// The line whose view it serves (default `default`), as for `transfers:`.
    #[serde(default)]
    pub line: Option<String>,
    /// The zones it holds (default: every zone).
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// The largest share of the RRsets linedns manages there that one push may update or
    /// delete (default 0.3); a larger push is refused unless forced.
    #[serde(default)]
    pub max_change: Option<f64>,
    /// How often `serve` reads the copy back when no view changed, to find and put back
    /// what was changed at the provider (default 30000, at least 1000).
    #[serde(default)]
    pub drift_interval_ms: Option<u64>,
}

/// How a provider is kept in sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// DNS UPDATE (RFC 2136), TSIG-signed: BIND 9, Knot DNS, PowerDNS and the services that
    /// take updates; the provider's copy is read back by AXFR.
    DnsUpdate,
    /// The PowerDNS Authoritative Server's HTTP API: the zone read by GET, RRsets replaced
    /// and deleted by PATCH.
    Powerdns,
    /// octoDNS: linedns writes the view as an octoDNS YAML zone and a configuration that
    /// sends it to `target`; `octodns-sync` pushes it to any provider octoDNS supports.
    Octodns,
}

/// What a health check does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// A TCP connection to the port opens.
    Tcp,
    /// An HTTP GET answers an expected status (and body).
    Http,
    /// The same over TLS, with the certificate verified.
    Https,
    /// A DNS query answers the expected rcode.
    Dns,
}

/// A node's state before its first probe result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitialState {
    /// Answered until probes say otherwise (the default).
    Up,
    /// Not answered until `rise` probes succeed.
    Down,
}

/// A health check.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckDef {
    /// `tcp`, `http`, `https` or `dns`.
    pub kind: CheckKind,
    /// Port to probe (default: the node's probe port, else 80 for http, 53 for dns; tcp
    /// needs one).
    #[serde(default)]
    pub port: Option<u16>,
    /// HTTP path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// HTTP Host header (default: the probed address).
    #[serde(default)]
    pub host: Option<String>,
    /// HTTP status codes that count as healthy (default 200..=399).
    #[serde(default)]
    pub expect_status: Option<Vec<u16>>,
    /// Text the HTTP body must contain.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// HTTPS: PEM file of the CA certificates to trust (relative to the rules file;
    /// default: the Mozilla root set).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// HTTPS: the name the certificate must be valid for, also sent as SNI (default:
    /// `host`, else the probed IP address).
    #[serde(default)]
    pub server_name: Option<String>,
    /// DNS name to ask (required for `dns`).
    #[serde(default)]
    pub query: Option<String>,
    /// DNS type to ask (default A).
    #[serde(default)]
    pub qtype: Option<String>,
    /// DNS rcode that counts as healthy (default NOERROR).
    #[serde(default)]
    pub expect_rcode: Option<String>,
    /// Time between probes, ms (default 2000).
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// A probe without a result in this many ms fails (default 1000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Consecutive failures that mark a node down (default 3).
    #[serde(default)]
    pub fall: Option<u32>,
    /// Consecutive successes that mark it up again (default 2).
    #[serde(default)]
    pub rise: Option<u32>,
    /// Random delay added to each interval, ms (default a tenth of the interval).
    #[serde(default)]
    pub jitter_ms: Option<u64>,
    /// State before the first result (default `up`).
    #[serde(default)]
    pub initial: Option<InitialState>,
}

/// The `server:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDef {
    /// Addresses (`IP:PORT`, IPv6 in brackets) for UDP and TCP; default 127.0.0.1:5353
    /// and `[::1]:5353`.
    #[serde(default)]
    pub listen: Option<Vec<String>>,
    /// UDP sockets per address and runtime threads; 0 or unset = one per core.
    #[serde(default)]
    pub workers: Option<usize>,
    /// Largest UDP response (512..=4096; default 1232).
    #[serde(default)]
    pub udp_payload_max: Option<u16>,
    /// Idle TCP connections are closed after this many milliseconds (default 10000).
    #[serde(default)]
    pub tcp_idle_timeout_ms: Option<u64>,
    /// Most TCP connections at once (default 1024).
    #[serde(default)]
    pub tcp_max_connections: Option<usize>,
    /// Most TCP connections at once from one client address (default 32).
    #[serde(default)]
    pub tcp_max_per_client: Option<usize>,
    /// Once a query's first octet has arrived, the whole query must arrive within this many
    /// milliseconds, or the connection is closed (default 2000).
    #[serde(default)]
    pub tcp_query_timeout_ms: Option<u64>,
    /// An answer (each message of a transfer) must be written within this many
    /// milliseconds, or the connection is closed (default 10000).
    #[serde(default)]
    pub tcp_write_timeout_ms: Option<u64>,
    /// CHAOS-class answers; off unless set.
    #[serde(default)]
    pub chaos: Option<ChaosDef>,
    /// Reload when the rules or data files change (default true).
    #[serde(default)]
    pub watch: Option<bool>,
    /// The admin HTTP API and metrics listener.
    #[serde(default)]
    pub admin: Option<AdminDef>,
    /// A second listener that serves `/metrics` alone (for scraping from other hosts
    /// without exposing the API).
    #[serde(default)]
    pub metrics: Option<MetricsDef>,
    /// CPUs to pin the UDP workers to, in order (worker i on `cpus[i % len]`); default:
    /// unpinned.
    #[serde(default)]
    pub cpus: Option<Vec<usize>>,
    /// A directory where the server keeps what must survive a restart (each view's
    /// serial); relative to the rules file. Default: none (serials follow the clock).
    #[serde(default)]
    pub state_dir: Option<String>,
    /// Started as root, change to this user (name or uid) once the sockets are bound;
    /// `serve --user` overrides it. Default: stay who started it.
    #[serde(default)]
    pub user: Option<String>,
    /// The group for `user` (default: the user's own group).
    #[serde(default)]
    pub group: Option<String>,
    /// Changes to a view within this many milliseconds of its last new serial wait and
    /// go out together as one new serial and one NOTIFY (default 2000, at least 1000).
    #[serde(default)]
    pub serial_coalesce_ms: Option<u64>,
    /// Response rate limiting over UDP (off unless `rate` is set).
    #[serde(default)]
    pub rrl: Option<RrlDef>,
    /// DNS cookies (on by default).
    #[serde(default)]
    pub cookies: Option<CookiesDef>,
    /// dnstap query logs (off unless set).
    #[serde(default)]
    pub dnstap: Option<DnstapDef>,
}

/// `server.dnstap`: queries and answers logged in dnstap (Frame Streams of protobuf
/// messages, what Knot, BIND and Unbound write), taken at start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnstapDef {
    /// Send the frames to this Unix socket, where a reader listens (`fstrm_capture`, a
    /// dnstap collector); reconnects when the reader goes away. Relative to the rules file.
    #[serde(default)]
    pub socket: Option<String>,
    /// Or append them to this file (an existing one is kept as FILE.TIMESTAMP first).
    /// Relative to the rules file.
    #[serde(default)]
    pub file: Option<String>,
    /// The share of queries logged, above 0 and at most 1 (default 1: every query);
    /// 0.01 logs one query in 100.
    #[serde(default)]
    pub sample: Option<f64>,
    /// Log the queries (default true).
    #[serde(default)]
    pub queries: Option<bool>,
    /// Log the answers (default true).
    #[serde(default)]
    pub responses: Option<bool>,
    /// The identity written in each frame (default: the host name).
    #[serde(default)]
    pub identity: Option<String>,
    /// Queries waiting for the writer at most (default 8192); past it they are dropped
    /// and counted, so a slow reader never slows the answers.
    #[serde(default)]
    pub queue: Option<usize>,
}

/// `server.rrl`: response rate limiting, per source prefix and kind of answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RrlDef {
    /// Answers per second per account (prefix, kind, and name for positive answers);
    /// 0 or unset = off.
    #[serde(default)]
    pub rate: Option<u32>,
    /// Every Nth limited answer goes out truncated (TC=1) so real clients retry over
    /// TCP; 0 drops them all, 1 truncates them all (default 2).
    #[serde(default)]
    pub slip: Option<u32>,
    /// IPv4 sources are counted per prefix of this length (default 24).
    #[serde(default)]
    pub ipv4_prefix: Option<u8>,
    /// IPv6 sources are counted per prefix of this length (default 56).
    #[serde(default)]
    pub ipv6_prefix: Option<u8>,
    /// Accounts in the fixed table (default 65536; taken at start).
    #[serde(default)]
    pub table_size: Option<usize>,
    /// Networks never limited (CIDR).
    #[serde(default)]
    pub allow: Option<Vec<String>>,
}

/// `server.cookies`: DNS cookies (RFC 7873, server cookies as RFC 9018 makes them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookiesDef {
    /// Answer cookies (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// File with the server secret (32 hex digits) on its first line and, optionally, the
    /// previous secret on its second; relative to the rules file. Share it across an
    /// anycast fleet. Default: a random secret made at start.
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Seconds the previous secret is still accepted after a rollover (default 3600).
    #[serde(default)]
    pub overlap_s: Option<u64>,
}

/// `server.admin`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminDef {
    /// `IP:PORT` (default 127.0.0.1:9153); `off` disables the API.
    #[serde(default)]
    pub listen: Option<String>,
    /// File holding the token mutating calls must send (the variable
    /// LINEDNS_ADMIN_TOKEN overrides it). Required to listen beyond loopback.
    #[serde(default)]
    pub token_file: Option<String>,
    /// Host names the API answers to besides `localhost` and its addresses (a request
    /// whose `Host` names anything else is refused, against DNS rebinding).
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `server.metrics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsDef {
    /// `IP:PORT` of a listener that answers `GET /metrics` and nothing else.
    pub listen: String,
}

/// CHAOS TXT answers for server identification (off by default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosDef {
    /// Text for `version.bind` and `version.server`.
    #[serde(default)]
    pub version: Option<String>,
    /// Text for `id.server` and `hostname.bind`.
    #[serde(default)]
    pub id: Option<String>,
}

/// A line: a set of client addresses that get the same answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDef {
    /// Unique name, used in pools and chains.
    pub name: At<String>,
    /// Free text for operators.
    #[serde(default)]
    pub description: Option<String>,
    /// Parent line: this line only claims addresses that classify to the parent, and its
    /// default fallback chain walks up through the parents.
    #[serde(default)]
    pub parent: Option<At<String>>,
    /// Fallback chain for this line in every line record (default: parents, then `default`).
    #[serde(default)]
    pub fallback: Option<At<Vec<At<String>>>>,
    /// Where the line's addresses come from.
    #[serde(default)]
    pub sources: Vec<At<SourceDef>>,
}

/// One source of a line's addresses. Exactly one of `file`, `cidr`, `apnic`, `mmdb`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// A CIDR list file (one prefix per line, `#` comments), under the geo-data root.
    #[serde(default)]
    pub file: Option<String>,
    /// Prefixes written inline.
    #[serde(default)]
    pub cidr: Option<Vec<String>>,
    /// An RIR delegated-statistics file (e.g. `delegated-apnic-latest`); needs `country`.
    #[serde(default)]
    pub apnic: Option<String>,
    /// A MaxMind-format database; needs at least one of `country`, `subdivision`, `asn`.
    #[serde(default)]
    pub mmdb: Option<String>,
    /// Country codes (ISO 3166-1 alpha-2) for `apnic` and `mmdb`.
    #[serde(default)]
    pub country: Option<OneOrMany<String>>,
    /// Subdivision (province) ISO codes for `mmdb`: `44` or `CN-44`.
    #[serde(default)]
    pub subdivision: Option<OneOrMany<String>>,
    /// Autonomous system numbers for `mmdb`.
    #[serde(default)]
    pub asn: Option<OneOrMany<u32>>,
    /// Families to take from an `mmdb` (`both`, `v4`, `v6`; default `both`).
    #[serde(default)]
    pub family: Option<Family>,
}

/// A scalar or a list of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged, expecting = "one value, or a list of values of the same kind")]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list of values.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a list.
    pub fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(v) => v,
        }
    }
}

/// An authoritative zone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneDef {
    /// The zone's apex, e.g. `example.com` (a trailing dot is allowed).
    pub origin: At<String>,
    /// Default TTL of the zone's records.
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Start of authority (not written with `file` or `primary`: the zone data holds it).
    #[serde(default)]
    pub soa: Option<At<SoaDef>>,
    /// Name servers of the zone (the apex NS set); at least one (not written with `file`
    /// or `primary`).
    #[serde(default)]
    pub ns: Vec<At<String>>,
    /// An RFC 1035 master file (relative to the rules file) holding the zone's static
    /// records, its SOA and apex NS included: a file exported from BIND, Knot or a
    /// provider. Watched and reloaded like the rules.
    #[serde(default)]
    pub file: Option<At<String>>,
    /// The hidden primary the zone's static records are transferred from (linedns is its
    /// secondary for them, RFC 5936/1995): the copy is kept in `server.state_dir`.
    #[serde(default)]
    pub primary: Option<At<PrimaryDef>>,
    /// Static records.
    #[serde(default)]
    pub records: Vec<At<RecordDef>>,
    /// Records whose answer depends on the client's line.
    #[serde(default)]
    pub line_records: Vec<At<LineRecordDef>>,
    /// DNSSEC signing. Without it a zone is signed when its keys are in the state
    /// directory (`linedns keygen` puts them there), and unsigned otherwise.
    #[serde(default)]
    pub dnssec: Option<At<DnssecDef>>,
}

/// How a zone is signed (RFC 4033–4035).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecDef {
    /// Sign the zone (default true with this block; `false` serves it unsigned even with
    /// keys).
    #[serde(default)]
    pub sign: Option<bool>,
    /// The zone's key directory, relative to the rules file (default:
    /// `STATE_DIR/keys/ORIGIN`).
    #[serde(default)]
    pub keys: Option<String>,
    /// Without usable keys (none, unreadable, or not matching): `refuse` (the default:
    /// the rules do not load, so a signed zone is never served unsigned by accident) or
    /// `unsigned` (serve the zone unsigned).
    #[serde(default)]
    pub without_keys: Option<String>,
    /// Seconds an RRSIG is valid from when it is made (default 1209600: 14 days).
    #[serde(default)]
    pub signature_validity: Option<u32>,
    /// Seconds before it expires an RRSIG is made again (default: half the validity).
    #[serde(default)]
    pub signature_refresh: Option<u32>,
    /// TTL of the DNSKEY, CDS and CDNSKEY sets (default 3600).
    #[serde(default)]
    pub dnskey_ttl: Option<u32>,
    /// Seconds a ZSK signs before the server rolls it (pre-publish, RFC 6781 §4.1.1;
    /// default 7776000: 90 days; 0: never).
    #[serde(default)]
    pub zsk_lifetime: Option<u64>,
    /// Seconds a KSK or CSK signs before the server rolls it through the parent's DS
    /// (CDS, RFC 7344; default 0: only when asked, `linedns keys roll`).
    #[serde(default)]
    pub ksk_lifetime: Option<u64>,
    /// Seconds for a change to reach every secondary (RFC 7583's Dprp; default 3600).
    #[serde(default)]
    pub propagation_delay: Option<u64>,
    /// The parent zone's servers (`IP` or `IP:PORT`), asked for the zone's DS during a
    /// KSK or CSK roll: the old key retires once they all serve the new key's DS.
    #[serde(default)]
    pub parent: Vec<At<String>>,
}

/// Where a zone's static records are transferred from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryDef {
    /// The primary's addresses, `IP` (port 53) or `IP:PORT`, tried in order; a NOTIFY
    /// is accepted from these addresses only (RFC 1996 §3.10).
    pub servers: Vec<At<String>>,
    /// A TSIG key (of `keys:`) the transfers, SOA queries and NOTIFYs are signed with.
    #[serde(default)]
    pub key: Option<At<String>>,
}

/// The SOA record's fields (RFC 1035 §3.3.13); times in seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoaDef {
    /// Primary name server.
    pub mname: String,
    /// Mailbox of the person responsible, as a name (`hostmaster.example.com`).
    pub rname: String,
    /// Serial number.
    pub serial: u32,
    /// Refresh interval for secondaries.
    #[serde(default = "default_refresh")]
    pub refresh: u32,
    /// Retry interval for secondaries.
    #[serde(default = "default_retry")]
    pub retry: u32,
    /// Expiry for secondaries.
    #[serde(default = "default_expire")]
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308 §4).
    #[serde(default = "default_minimum")]
    pub minimum: u32,
    /// TTL of the SOA record itself (default: the zone TTL).
    #[serde(default)]
    pub ttl: Option<u32>,
}

fn default_refresh() -> u32 {
    3600
}
fn default_retry() -> u32 {
    600
}
fn default_expire() -> u32 {
    1_209_600
}
fn default_minimum() -> u32 {
    300
}

/// A static record set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordDef {
    /// Owner name: relative to the origin, `@` for the apex, absolute with a trailing dot;
    /// `*` as the first label makes a wildcard (RFC 4592).
    pub name: At<String>,
    /// Record type: any a zone file may hold (a name, or `TYPEnnn`).
    #[serde(rename = "type")]
    pub rtype: At<String>,
    /// TTL (default: the zone TTL).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// The record data in zone-file presentation, one record per value.
    pub values: OneOrMany<String>,
    /// This set replaces the set of the same name and type in the zone's `file` or
    /// `primary` data (without it, a set in both is an error).
    #[serde(default)]
    pub replace: bool,
}

/// A record answered from the client line's pool (an address, a CNAME's target, ...).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRecordDef {
    /// Owner name, as for static records.
    pub name: At<String>,
    /// `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `SRV`, `NS` (below the apex), `CAA`, `HTTPS` or
    /// `SVCB`.
    #[serde(rename = "type")]
    pub rtype: At<String>,
    /// TTL (default: the zone TTL).
    #[serde(default)]
    pub ttl: Option<u32>,
    /// Most records in one answer (default: all of the pool; a CNAME answers one).
    #[serde(default)]
    pub max_answers: Option<u16>,
    /// This record replaces the set of the same name and type in the zone's `file` or
    /// `primary` data (without it, a set in both is an error).
    #[serde(default)]
    pub replace: bool,
    /// Nodes per line; a `default` pool is required.
    pub pools: BTreeMap<String, At<Vec<NodeDef>>>,
    /// Per-line fallback chains for this record, overriding the lines' own.
    #[serde(default)]
    pub fallback: BTreeMap<String, At<Vec<String>>>,
    /// Health check (a name under `health_checks`) probing every node of the pools.
    #[serde(default)]
    pub health_check: Option<At<String>>,
    /// A pool is used only with at least this many healthy nodes: a count (`2`) or a
    /// share of the pool (`"50%"`). Default 1.
    #[serde(default)]
    pub min_healthy: Option<At<MinHealthyDef>>,
    /// TTL of answers from a fallback line, a pool with down nodes, or fail-open
    /// (default: half the record's TTL).
    #[serde(default)]
    pub degraded_ttl: Option<u32>,
    /// When no pool in the chain is usable: `fail_open` (the first pool whole, the
    /// default), `servfail`, or `{ last_resort: [addresses] }`.
    #[serde(default)]
    pub when_all_down: Option<At<WhenAllDownDef>>,
}

/// A source as the rules mean it: one of the four kinds, with the fields that kind takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    /// A CIDR list file under the geo-data root.
    File(&'a str),
    /// Prefixes written inline.
    Cidr(&'a [String]),
    /// An RIR delegated-statistics file, the records of `countries`.
    Apnic {
        /// The file, under the geo-data root.
        file: &'a str,
        /// Country codes (at least one).
        countries: Vec<String>,
    },
    /// A MaxMind-format database, the networks every given field matches.
    Mmdb {
        /// The file, under the geo-data root.
        file: &'a str,
        /// What to select.
        selector: crate::geo::mmdb::Selector,
    },
}

impl SourceDef {
    /// Which kind of source this is, or why it is none: exactly one of `file`, `cidr`,
    /// `apnic`, `mmdb`, with only the fields that kind takes.
    pub fn kind(&self) -> Result<Source<'_>, String> {
        let kinds: Vec<&str> = [
            ("file", self.file.is_some()),
            ("cidr", self.cidr.is_some()),
            ("apnic", self.apnic.is_some()),
            ("mmdb", self.mmdb.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if kinds.len() != 1 {
            let found = if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") };
            return Err(format!("a source needs exactly one of file, cidr, apnic, mmdb (found: {found})"));
        }
        let misplaced: Vec<&str> = [
            ("country", self.country.is_some() && (self.file.is_some() || self.cidr.is_some())),
            ("subdivision", self.subdivision.is_some() && self.mmdb.is_none()),
            ("asn", self.asn.is_some() && self.mmdb.is_none()),
            ("family", self.family.is_some() && self.mmdb.is_none()),
        ]
        .iter()
        .filter(|(_, bad)| *bad)
        .map(|(k, _)| *k)
        .collect();
        if !misplaced.is_empty() {
            return Err(format!("`{}` does not apply to a {} source", misplaced.join("`, `"), kinds[0]));
        }
        let list = |v: &Option<OneOrMany<String>>| v.clone().map(OneOrMany::into_vec).unwrap_or_default();
        if let Some(file) = &self.file {
            return Ok(Source::File(file));
        }
        if let Some(cidrs) = &self.cidr {
            return Ok(Source::Cidr(cidrs));
        }
        if let Some(file) = &self.apnic {
            let countries = list(&self.country);
            if countries.is_empty() {
                return Err("an apnic source needs `country` (e.g. country: CN)".into());
            }
            return Ok(Source::Apnic { file, countries });
        }
        let file = self.mmdb.as_deref().expect("the one kind left");
        let selector = crate::geo::mmdb::Selector {
            country: list(&self.country),
            subdivision: list(&self.subdivision),
            asn: self.asn.clone().map(OneOrMany::into_vec).unwrap_or_default(),
            family: self.family.unwrap_or(Family::Both),
        };
        if selector.country.is_empty() && selector.subdivision.is_empty() && selector.asn.is_empty() {
            return Err("an mmdb source needs at least one of `country`, `subdivision`, `asn`".into());
        }
        Ok(Source::Mmdb { file, selector })
    }
}

/// What a line record answers when no pool of its chain is usable, as the rules mean it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllDownPolicy<'a> {
    /// The first pool of the chain, whole.
    FailOpen,
    /// SERVFAIL.
    ServFail,
    /// These addresses, as written.
    LastResort(&'a [String]),
}

impl WhenAllDownDef {
    /// The policy, or why the text names none.
    pub fn policy(&self) -> Result<AllDownPolicy<'_>, String> {
        match self {
            WhenAllDownDef::Mode(m) if m == "fail_open" => Ok(AllDownPolicy::FailOpen),
            WhenAllDownDef::Mode(m) if m == "servfail" => Ok(AllDownPolicy::ServFail),
            WhenAllDownDef::LastResort { last_resort } => Ok(AllDownPolicy::LastResort(last_resort)),
            WhenAllDownDef::Mode(other) => {
                Err(format!("bad when_all_down {other:?}: fail_open, servfail, or {{ last_resort: [addresses] }}"))
            }
        }
    }
}

/// `min_healthy`: a count or a percentage.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a count of nodes (like 2) or a share of the pool (like \"50%\")")]
pub enum MinHealthyDef {
    /// At least this many nodes.
    Count(u32),
    /// At least this share, written `"50%"`.
    Share(String),
}

/// `when_all_down`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "fail_open, servfail, or a mapping with `last_resort` (a list of addresses)")]
pub enum WhenAllDownDef {
    /// `fail_open` or `servfail`.
    Mode(String),
    /// A last-resort pool.
    LastResort {
        /// Addresses (or record data of the record's type) answered when every pool of
        /// the chain is down.
        last_resort: Vec<String>,
    },
}

/// A node of a pool: an address (A, AAAA) or the record data of the line record's type
/// (a CNAME's target, an MX's `PREFERENCE EXCHANGE`, ...), optionally with a weight and
/// a probe address.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "an address or record data, or a mapping with `address` or `data` (and optional `weight` and `probe`)"
)]
pub enum NodeDef {
    /// Just the address or data (weight 1).
    Address(String),
    /// Address or data with options.
    Detailed {
        /// What answers carry: the address, or the record data in zone-file presentation
        /// (`data:` is the same field, for types that are no address).
        #[serde(alias = "data")]
        address: String,
        /// Relative weight, at least 1 (default 1).
        #[serde(default)]
        weight: Option<u32>,
        /// Where health checks probe it, if not at `address`: `IP` or `IP:PORT` (an
        /// internal address behind NAT; for a type that is no address, where the service
        /// behind the record answers, e.g. the CDN edge a CNAME leads to).
        #[serde(default)]
        probe: Option<String>,
    },
}

/// Reads and parses a rules file. YAML errors and unknown fields name the line and column,
/// and say in words what is wrong with which key and value (`yaml_error`).
pub fn load(path: &Path) -> Result<RulesFile, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(Place::file(path), format!("cannot read rules: {e}")))?;
    parse(&text, path)
}

/// Parses rules text; `path` is used in error messages.
pub fn parse(text: &str, path: &Path) -> Result<RulesFile, ConfigError> {
    serde_saphyr::from_str_with_options::<RulesFile>(text, parse_options()).map_err(|e| {
        let place = match e.location() {
            Some(loc) => Place::at(path, loc.line(), loc.column()),
            None => Place::file(path),
        };
        ConfigError::new(place, yaml_error::message(&e, text))
    })
}

/// The YAML parser's limits: its defaults (which keep alias and anchor expansion
/// bounded), with room for large rule sets: serde-saphyr's default of 250,000 nodes is
/// reached near 10,000 zones, and operators run 100,000 (`benches/scale.py`).
fn parse_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    if let Some(budget) = options.budget.as_mut() {
        budget.max_nodes = 50_000_000;
        budget.max_events = 100_000_000;
    }
    options
}

/// The place of a spanned value in `file`.
pub fn place_of<T>(file: &Path, at: &At<T>) -> Place {
    Place::at(file, at.referenced.line(), at.referenced.column())
}
