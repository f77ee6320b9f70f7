//! Server settings from the rules' `server:` section, compiled (defaults:
//! `config::defaults`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::geo::table::LineId;

/// What the rules' `server:` section says about answers; taken at every reload. (How
/// the server listens and runs is the host's: `compile::host::HostSettings`.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerSettings {
    /// Largest UDP response we send and advertise (512..=4096).
    pub udp_payload_max: u16,
    /// Answer for CHAOS `version.bind` / `version.server` (off when `None`).
    pub chaos_version: Option<String>,
    /// Answer for CHAOS `id.server` / `hostname.bind` (off when `None`).
    pub chaos_id: Option<String>,
    /// Response rate limiting over UDP.
    pub rrl: RrlSettings,
    /// DNS cookies.
    pub cookies: CookieSettings,
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
