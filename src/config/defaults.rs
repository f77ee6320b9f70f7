//! Every default of the rules file, named in one place. The field docs of the file types
//! and the README quote these values.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Name of the built-in catch-all line: every address no other line claims.
pub const LINE_NAME: &str = "default";

/// The largest share of a provider's managed RRsets one push may update or delete without
/// `--force` (octoDNS's update and delete thresholds are 30 % too).
pub const PROVIDER_MAX_CHANGE: f64 = 0.3;

/// How often `serve` reads a provider's copy back when no view changed (drift).
pub const PROVIDER_DRIFT_INTERVAL: Duration = Duration::from_secs(30);

/// TTL of a zone's records when neither the record nor the zone sets one.
pub const TTL: u32 = 300;

/// Relative weight of a pool node.
pub const NODE_WEIGHT: u32 = 1;
/// Largest weight a pool node may have.
pub const MAX_NODE_WEIGHT: u32 = 1_000_000;
/// Most addresses in one answer: unlimited (every healthy node of the pool).
pub const MAX_ANSWERS: u16 = u16::MAX;
/// Healthy nodes a pool needs to answer.
pub const MIN_HEALTHY_COUNT: u32 = 1;
/// The degraded TTL is the record's TTL divided by this.
pub const DEGRADED_TTL_DIVISOR: u32 = 2;

/// Time between probes.
pub const PROBE_INTERVAL_MS: u64 = 2000;
/// A probe without a result by then fails.
pub const PROBE_TIMEOUT_MS: u64 = 1000;
/// The jitter added to each interval is at most the interval divided by this.
pub const PROBE_JITTER_DIVISOR: u64 = 10;
/// Consecutive failures that mark a node down.
pub const PROBE_FALL: u32 = 3;
/// Consecutive successes that mark it up again.
pub const PROBE_RISE: u32 = 2;
/// Path an HTTP check asks for.
pub const HTTP_PATH: &str = "/";
/// Status codes an HTTP check counts as healthy.
pub const HTTP_HEALTHY_STATUS: std::ops::Range<u16> = 200..400;
/// Type a DNS check asks for.
pub const DNS_CHECK_QTYPE: &str = "A";
/// Rcode a DNS check counts as healthy.
pub const DNS_CHECK_RCODE: &str = "NOERROR";

/// Addresses to listen on: loopback, an unprivileged port.
pub const LISTEN: [SocketAddr; 2] = [
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 5353),
    SocketAddr::new(std::net::IpAddr::V6(Ipv6Addr::LOCALHOST), 5353),
];
/// UDP sockets per address and runtime threads: 0 means one per core.
pub const WORKERS: usize = 0;
/// RFC 6891 §6.2.5 and DNS Flag Day 2020: 1232 octets avoids IP fragmentation.
pub const UDP_PAYLOAD_MAX: u16 = 1232;
/// An idle TCP connection is closed after this (RFC 7766 §6.2.3).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most TCP connections open at once.
pub const TCP_MAX_CONNECTIONS: usize = 1024;
/// Most TCP connections open at once from one client address.
pub const TCP_MAX_PER_CLIENT: usize = 32;
/// Time for a whole TCP query once its first octet has arrived.
pub const TCP_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Time for writing one whole TCP answer (or transfer message).
pub const TCP_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Reload when the rules or data files change: off, so that what is served changes only
/// when the operator says so (SIGHUP, `systemctl reload`, `POST /reload`), never in the
/// middle of an edit, a `git pull` or a copy of a data file.
pub const WATCH: bool = false;
/// The admin API and metrics listener.
pub const ADMIN_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9153);
/// Changes to a view this close to its last new serial are coalesced into the next one.
pub const SERIAL_COALESCE: Duration = Duration::from_secs(2);
/// RRL: every second limited answer goes out truncated (BIND's and Knot's default).
pub const RRL_SLIP: u32 = 2;
/// RRL: IPv4 sources are counted per /24.
pub const RRL_IPV4_PREFIX: u8 = 24;
/// RRL: IPv6 sources are counted per /56.
pub const RRL_IPV6_PREFIX: u8 = 56;
/// Cookies: the previous secret is accepted for an hour after a rollover (as long as a
/// server cookie is valid anyway, RFC 9018 §4.3).
pub const COOKIE_OVERLAP: Duration = Duration::from_secs(3600);
/// Seconds an RRSIG is valid from when it is made (14 days, as Knot DNS's default).
pub const SIGNATURE_VALIDITY: u32 = 14 * 86_400;
/// TTL of the DNSKEY, CDS and CDNSKEY sets.
pub const DNSKEY_TTL: u32 = 3600;
/// The algorithm `linedns keygen` makes keys of: ECDSA P-256 (13), RFC 8624's
/// recommended one.
pub const DNSSEC_ALGORITHM: &str = "ecdsa-p256";
/// Seconds a ZSK signs before it is rolled (90 days).
pub const ZSK_LIFETIME: u64 = 90 * 86_400;
/// Seconds for a change to reach every secondary (RFC 7583 Dprp).
pub const PROPAGATION_DELAY: u64 = 3600;
/// The parent's DS TTL assumed when its answer does not say (RFC 7583 TTLds; a day, as
/// most TLDs).
pub const PARENT_DS_TTL: u32 = 86_400;

/// Queries waiting for the dnstap writer at most (`server.dnstap.queue`).
pub const DNSTAP_QUEUE: usize = 8192;

/// How long a site's probe result counts while the fleet's store is reachable.
pub const FLEET_RESULT_EXPIRY: Duration = Duration::from_secs(10);

/// Prefix of a fleet's bucket names in its store.
pub const FLEET_BUCKET_PREFIX: &str = "linedns";
