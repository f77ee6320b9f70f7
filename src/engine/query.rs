//! What a query asks and who asks it: the input of [`crate::Snapshot::resolve`].

use std::net::IpAddr;

use crate::rdata::RecordType;

/// How the query arrived; it decides the response size limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: at most 512 octets, or the EDNS size the client offers, up to our maximum.
    Udp = 0,
    /// TCP (RFC 7766): up to 65,535 octets.
    Tcp = 1,
}

impl Transport {
    /// Both transports, in the order counters index them.
    pub const ALL: [Transport; 2] = [Transport::Udp, Transport::Tcp];

    /// `udp` or `tcp`, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// The question of a query.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// The name asked, in any letter case, with or without the trailing dot.
    pub name: &'a str,
    /// The type asked.
    pub qtype: RecordType,
}

impl<'a> Query<'a> {
    /// A question for `name` and `qtype`.
    pub fn new(name: &'a str, qtype: RecordType) -> Self {
        Query { name, qtype }
    }
}

/// Who is asking, as far as classification goes.
#[derive(Clone, Copy, Debug)]
pub struct ClientInfo {
    /// The address to classify: the ECS option's address if the query carried one
    /// (RFC 7871 §7.1.1), else the query's source address.
    pub addr: IpAddr,
    /// ECS SOURCE PREFIX-LENGTH if the address came from an ECS option; `None` for a
    /// source address (all its bits count).
    pub ecs_source_prefix: Option<u8>,
    /// Random bits for the choice among nodes (rotation, weights). The engine reads no
    /// clock and no RNG; hosts pass anything that varies per query.
    pub entropy: u64,
}

impl ClientInfo {
    /// A client known by its source address.
    pub fn from_source(addr: IpAddr) -> Self {
        ClientInfo { addr, ecs_source_prefix: None, entropy: 0 }
    }

    /// A client known by an ECS option: `addr` with `source_prefix_len` significant bits.
    pub fn from_ecs(addr: IpAddr, source_prefix_len: u8) -> Self {
        ClientInfo { addr, ecs_source_prefix: Some(source_prefix_len), entropy: 0 }
    }

    /// The same client with other random bits.
    pub fn with_entropy(self, entropy: u64) -> Self {
        ClientInfo { entropy, ..self }
    }

    /// How many leading bits of `addr` classification may look at.
    pub fn significant_bits(&self) -> u8 {
        self.ecs_source_prefix.unwrap_or(match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        })
    }
}
