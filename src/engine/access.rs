//! Who may transfer a zone: the rules' `transfers:`, compiled. The snapshot holds the
//! rules; [`super::transfer`] applies them.

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
}
