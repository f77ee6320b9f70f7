//! Who may transfer a zone: the rules' `transfers:`, compiled. The snapshot holds the
//! rules; [`super::transfer`] applies them.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::geo::table::LineId;

/// A rule of the rules' `transfers:`, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRule {
    /// Its name, for logs and metrics.
    pub name: Box<str>,
    /// Source prefixes it admits (empty: any source, the key decides).
    pub allow: Vec<IpNet>,
    /// The TSIG key (index into the snapshot's keys) a transfer must be signed with.
    pub key: Option<u32>,
    /// The view it transfers.
    pub line: LineId,
    /// The zones (indexes into the snapshot's zones) it may transfer; `None`: all.
    pub zones: Option<Vec<u32>>,
    /// Secondaries sent a NOTIFY (RFC 1996) when one of its zones changes in its view.
    pub notify: Vec<SocketAddr>,
}

impl TransferRule {
    /// Whether it may transfer the zone with index `zone`.
    pub fn covers(&self, zone: u32) -> bool {
        self.zones.as_ref().is_none_or(|z| z.contains(&zone))
    }

    /// Whether it admits a request from `peer` signed (and verified) with the key of
    /// index `key`, for the zone with index `zone`.
    pub fn admits(&self, peer: IpAddr, key: Option<u32>, zone: u32) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        (self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&peer)))
            && self.key.is_none_or(|k| key == Some(k))
            && self.covers(zone)
    }
}
