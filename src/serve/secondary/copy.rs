//! A secondary zone's copy: its records as transferred, read back from the state
//! directory at start ([`ZoneState::load`]) and written there whole after each transfer.

use std::path::Path;

use crate::compile::zone_copy::{self, CopyInfo};
use crate::compile::zone_file;
use crate::name::Name;
use crate::rdata::{Fqdn, RData};
use crate::wire::encode;

/// One record of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ZoneRecord {
    pub(super) owner: Name,
    pub(super) ttl: u32,
    pub(super) data: RData,
}

/// What is known of one secondary zone.
pub(super) struct ZoneState {
    pub(super) origin: Box<str>,
    pub(super) records: Vec<ZoneRecord>,
    pub(super) info: Option<CopyInfo>,
    pub(super) next_check: tokio::time::Instant,
    pub(super) expired: bool,
}

impl ZoneState {
    /// The zone as its copy in `state_dir` has it (none yet: nothing).
    pub(super) fn load(state_dir: &Path, origin: &str) -> ZoneState {
        let info = zone_copy::read_info(state_dir, origin);
        let records = match (&info, zone_file::read(&zone_copy::zone_path(state_dir, origin), origin)) {
            (Some(_), Ok(data)) => {
                data.records.into_iter().map(|r| ZoneRecord { owner: r.owner, ttl: r.ttl, data: r.data }).collect()
            }
            _ => Vec::new(),
        };
        let info = info.filter(|_| !records.is_empty());
        ZoneState { origin: origin.into(), records, info, next_check: tokio::time::Instant::now(), expired: false }
    }

    /// The copy's SOA fields: serial, refresh, retry, expire.
    pub(super) fn soa(&self) -> Option<(u32, u32, u32, u32)> {
        self.records.iter().find_map(|r| match r.data {
            RData::Soa { serial, refresh, retry, expire, .. } => Some((serial, refresh, retry, expire)),
            _ => None,
        })
    }
}

/// Writes the copy: an RFC 1035 master file, every record in RFC 3597 form, then its
/// facts; each file replaced whole.
pub(super) fn write_copy(
    state_dir: &Path,
    origin: &str,
    records: &[ZoneRecord],
    info: &CopyInfo,
) -> Result<(), String> {
    use std::fmt::Write as _;
    let dir = zone_copy::directory(state_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut text = format!(
        "; linedns's copy of {} from {}, serial {} ({}): replaced at every transfer, do not edit.\n",
        Fqdn(origin),
        info.primary,
        info.serial,
        info.kind
    );
    // The SOA first, as a master file has it.
    let mut ordered: Vec<&ZoneRecord> = records.iter().filter(|r| matches!(r.data, RData::Soa { .. })).collect();
    ordered.extend(records.iter().filter(|r| !matches!(r.data, RData::Soa { .. })));
    let mut wire = Vec::new();
    for record in ordered {
        wire.clear();
        encode::write_rdata(&mut wire, &record.data);
        let _ = write!(
            text,
            "{} {} IN TYPE{} \\# {}",
            Fqdn(&record.owner),
            record.ttl,
            u16::from(record.data.rtype()),
            wire.len()
        );
        if !wire.is_empty() {
            let _ = write!(text, " {}", data_encoding::HEXLOWER.encode(&wire));
        }
        text.push('\n');
    }
    crate::serve::state_file::write_atomic(&zone_copy::zone_path(state_dir, origin), &text)?;
    write_info(state_dir, origin, info)
}

pub(super) fn write_info(state_dir: &Path, origin: &str, info: &CopyInfo) -> Result<(), String> {
    let text = serde_json::to_string_pretty(info).expect("serializable");
    Ok(crate::serve::state_file::write_atomic(&zone_copy::info_path(state_dir, origin), &text)?)
}
