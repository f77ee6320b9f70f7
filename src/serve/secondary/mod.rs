//! linedns as the secondary of a hidden primary for a zone's static records (RFC 1034
//! §4.3.5, RFC 5936 AXFR, RFC 1995 IXFR, RFC 1996 NOTIFY): one task keeps every zone with
//! a `primary:` current.
//!
//! Each zone is checked at start, at its SOA refresh timer, at once after a NOTIFY from
//! its primary, and at the retry timer after a failure: an SOA query (UDP), then, for a
//! newer serial, an IXFR over TCP (an AXFR when there is no copy yet, or when the primary
//! answers the IXFR with the whole zone). The result is written to the state directory
//! ([`crate::compile::zone_copy`]) and the rules are reloaded, which read it like a zone
//! file; a copy the reload rejects is put back as it was. When the primary has not
//! confirmed the copy for the SOA expire time, the zone is reloaded as expired and every
//! query in it gets SERVFAIL until a transfer succeeds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

mod copy;
mod reader;

use self::copy::{ZoneRecord, ZoneState, write_copy, write_info};
use self::reader::{TransferReader, answer_records};
use crate::compile::zone_copy::{self, CopyInfo};
use crate::engine::Engine;
use crate::engine::versions::serial_gt;
use crate::rdata::{RData, RecordType};
use crate::serve::client::{Client, Request, Transport};
use crate::serve::reload_cause::{Reload, ReloadCause};
use crate::wire::tsig::Key;

/// Wait for an SOA answer.
const SOA_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait for a TCP connection, and for each message of a transfer.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole transfer may take.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// Retry wait of a zone with no copy yet (no SOA gives one).
const FIRST_RETRY: Duration = Duration::from_secs(10);
/// The longest wait between looks at the rules for zones added or removed.
const TICK: Duration = Duration::from_secs(1);

/// A zone's state, for metrics and the log.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ZoneStatus {
    /// The copy's serial, if there is one.
    pub serial: Option<u32>,
    /// Whether the copy has expired (the zone answers SERVFAIL).
    pub expired: bool,
    /// When the primary last confirmed the copy (seconds since the Unix epoch).
    pub refreshed: u64,
    /// Transfers done, AXFR and IXFR.
    pub axfr: u64,
    /// Incremental transfers done.
    pub ixfr: u64,
    /// Checks that reached no primary, or whose transfer failed or was rejected.
    pub failures: u64,
}

/// Every secondary zone's status, by origin.
#[derive(Debug, Default)]
pub struct SecondaryStats {
    /// By zone origin.
    pub zones: Mutex<BTreeMap<Box<str>, ZoneStatus>>,
}

/// What the secondary task works with: the engine, its stats, and the server's reload
/// (logged and counted; `Err` with the errors when the rules do not compile).
pub struct Secondaries {
    /// The engine served.
    pub engine: Arc<Engine>,
    /// The host settings of the live rules (the state directory keeps the copies).
    pub host: Arc<arc_swap::ArcSwap<crate::compile::host::HostSettings>>,
    /// Where each zone's status is shown.
    pub stats: Arc<SecondaryStats>,
    /// Reloads the rules, naming the cause.
    pub reload: Box<Reload>,
    /// The zones whose primary sent a NOTIFY the engine accepted (the engine was built
    /// to send them here).
    pub notified: mpsc::UnboundedReceiver<Box<str>>,
}

impl Secondaries {
    fn reload(&self, cause: ReloadCause) -> Result<(), String> {
        (self.reload)(cause)
    }
}

/// Runs the secondary zones of the engine until `stop` completes.
pub async fn run(mut control: Secondaries, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut zones: BTreeMap<Box<str>, ZoneState> = BTreeMap::new();
    loop {
        let live = control.engine.snapshot();
        let state_dir = control.host.load().state_dir.clone();
        let wanted: Vec<(Box<str>, crate::engine::zone::Primary)> =
            live.zones.iter().filter_map(|z| z.primary.clone().map(|p| (z.origin.clone().into(), p))).collect();
        let keys = live.keys.clone();
        drop(live);
        zones.retain(|origin, _| wanted.iter().any(|(o, _)| o == origin));
        control.stats.zones.lock().expect("stats lock").retain(|origin, _| zones.contains_key(origin));
        let Some(state_dir) = state_dir else {
            // The compile refuses a `primary` without a state directory.
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(TICK) => continue,
            }
        };
        for (origin, primary) in &wanted {
            let state = zones.entry(origin.clone()).or_insert_with(|| ZoneState::load(&state_dir, origin));
            if state.next_check <= tokio::time::Instant::now() {
                let key = primary.key.map(|k| keys[k as usize].clone());
                refresh(&control, &state_dir, state, &primary.servers, key.as_ref()).await;
                publish(&control, state);
            }
        }
        let next = zones.values().map(|z| z.next_check).min().unwrap_or_else(tokio::time::Instant::now);
        let wake = next.min(tokio::time::Instant::now() + TICK);
        tokio::select! {
            () = &mut stop => return,
            Some(zone) = control.notified.recv() => {
                if let Some(state) = zones.get_mut(&zone) {
                    tracing::info!("NOTIFY for {zone} from its primary: checking its serial now");
                    state.next_check = tokio::time::Instant::now();
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Shows `state` in the stats.
fn publish(control: &Secondaries, state: &ZoneState) {
    let mut zones = control.stats.zones.lock().expect("stats lock");
    let status = zones.entry(state.origin.clone()).or_default();
    status.serial = state.soa().map(|s| s.0);
    status.expired = state.expired;
    status.refreshed = state.info.as_ref().map_or(0, |i| i.refreshed);
}

/// Counts one outcome of a check.
fn count(control: &Secondaries, origin: &str, what: impl FnOnce(&mut ZoneStatus)) {
    what(control.stats.zones.lock().expect("stats lock").entry(origin.into()).or_default());
}

/// One check of a zone: every primary in order until one answers.
async fn refresh(
    control: &Secondaries,
    state_dir: &Path,
    state: &mut ZoneState,
    servers: &[SocketAddr],
    key: Option<&Key>,
) {
    let origin = state.origin.clone();
    let retry = state.soa().map_or(FIRST_RETRY, |s| Duration::from_secs(u64::from(s.2.max(1))));
    let mut last_error = String::new();
    for &server in servers {
        match check_server(control, state_dir, state, server, key).await {
            Ok(()) => {
                let refresh = state.soa().map_or(FIRST_RETRY, |s| Duration::from_secs(u64::from(s.1.max(1))));
                state.next_check = tokio::time::Instant::now() + refresh;
                if state.expired {
                    state.expired = false;
                    tracing::info!("zone {origin}: the primary {server} is back; the zone is served again");
                    let _ = control.reload(ReloadCause::ZoneConfirmed { zone: origin.to_string() });
                }
                return;
            }
            Err(e) => last_error = format!("{server}: {e}"),
        }
    }
    count(control, &origin, |s| s.failures += 1);
    state.next_check = tokio::time::Instant::now() + retry;
    let now = super::clock::unix_now();
    match (&state.info, state.soa()) {
        (Some(info), Some((serial, _, _, expire))) => {
            let deadline = info.refreshed.saturating_add(u64::from(expire));
            if now >= deadline && !state.expired {
                state.expired = true;
                tracing::error!(
                    "zone {origin}: EXPIRED: no primary has confirmed serial {serial} for {} s (SOA expire {expire} s); every query in it now gets SERVFAIL until a transfer succeeds (last error: {last_error})",
                    now - info.refreshed
                );
                let _ = control.reload(ReloadCause::ZoneExpired { zone: origin.to_string() });
            } else if !state.expired {
                tracing::warn!(
                    "zone {origin}: no primary answered ({last_error}); serving serial {serial} from the copy, retry in {retry:?}, expires in {} s",
                    deadline.saturating_sub(now)
                );
            }
        }
        _ => tracing::warn!(
            "zone {origin}: not transferred yet, the zone answers SERVFAIL: {last_error}; retry in {retry:?}"
        ),
    }
}

/// Asks `server` for the zone's serial and transfers a newer version.
async fn check_server(
    control: &Secondaries,
    state_dir: &Path,
    state: &mut ZoneState,
    server: SocketAddr,
    key: Option<&Key>,
) -> Result<(), String> {
    let origin = state.origin.clone();
    let theirs = soa_serial(server, &origin, key).await?;
    let ours = state.soa().map(|s| s.0);
    if let (Some(ours), Some(info)) = (ours, state.info.as_mut())
        && !serial_gt(theirs, ours)
    {
        // RFC 1034 §4.3.5: the copy is current; the expire timer starts again.
        info.refreshed = super::clock::unix_now();
        write_info(state_dir, &origin, info)?;
        tracing::debug!("zone {origin}: serial {ours} is current at {server}");
        return Ok(());
    }
    let held =
        ours.and_then(|serial| state.records.iter().find(|r| matches!(r.data, RData::Soa { .. })).map(|r| (serial, r)));
    let (records, kind) = tokio::time::timeout(TRANSFER_TIMEOUT, transfer(server, &origin, key, held, &state.records))
        .await
        .map_err(|_| format!("the transfer took longer than {TRANSFER_TIMEOUT:?}"))??;
    let serial = records
        .iter()
        .find_map(|r| match r.data {
            RData::Soa { serial, .. } => Some(serial),
            _ => None,
        })
        .ok_or("the transfer holds no SOA")?;
    let now = super::clock::unix_now();
    let info = CopyInfo { primary: server.to_string(), serial, kind: kind.into(), transferred: now, refreshed: now };
    let previous = (std::fs::read(zone_copy::zone_path(state_dir, &origin)).ok(), state.info.clone());
    write_copy(state_dir, &origin, &records, &info)?;
    let cause = ReloadCause::ZoneTransferred { zone: origin.to_string(), serial, primary: server, kind };
    if let Err(errors) = control.reload(cause) {
        // The rules reject this version: the last good copy stays, on disk too.
        match previous {
            (Some(text), Some(old)) => {
                let _ = super::state_file::write_atomic(
                    &zone_copy::zone_path(state_dir, &origin),
                    &String::from_utf8_lossy(&text),
                );
                let _ = write_info(state_dir, &origin, &old);
            }
            _ => {
                let _ = std::fs::remove_file(zone_copy::zone_path(state_dir, &origin));
                let _ = std::fs::remove_file(zone_copy::info_path(state_dir, &origin));
            }
        }
        return Err(format!("serial {serial} ({kind}) not served: the rules reject it: {errors}"));
    }
    tracing::info!("zone {origin}: serial {serial} transferred from {server} by {kind} ({} records)", records.len());
    count(control, &origin, |s| if kind == "IXFR" { s.ixfr += 1 } else { s.axfr += 1 });
    (state.records, state.info) = (records, Some(info));
    Ok(())
}

/// The primary's SOA serial (RFC 1996 §3.11), over UDP (TCP if truncated), signed with
/// `key` if given.
async fn soa_serial(server: SocketAddr, origin: &str, key: Option<&Key>) -> Result<u32, String> {
    let request = Request::query(origin, u16::from(RecordType::SOA)).signed_if(key);
    let reply = Client::new(SOA_TIMEOUT)
        .ask(server, &request, Transport::Udp)
        .await
        .map_err(|e| format!("the SOA query: {e}"))?;
    answer_records(&reply.message, origin)?
        .iter()
        .find_map(|r| match r.data {
            RData::Soa { serial, .. } if r.owner == origin => Some(serial),
            _ => None,
        })
        .ok_or_else(|| "the SOA answer holds no SOA".to_string())
}

/// Transfers the zone from `server`: an IXFR from `held` (our serial and SOA record)
/// when we have a copy (RFC 1995 §3), else an AXFR. Returns the new records and how.
async fn transfer(
    server: SocketAddr,
    origin: &str,
    key: Option<&Key>,
    held: Option<(u32, &ZoneRecord)>,
    current: &[ZoneRecord],
) -> Result<(Vec<ZoneRecord>, &'static str), String> {
    let qtype = if held.is_some() { RecordType::IXFR } else { RecordType::AXFR };
    let mut request = Request::query(origin, u16::from(qtype));
    if let Some((_, soa)) = held {
        request = request.with_client_soa(&soa.owner, soa.ttl, &soa.data);
    }
    let request = request.signed_if(key);
    let mut transfer =
        Client::new(TCP_TIMEOUT).transfer(server, &request).await.map_err(|e| format!("{qtype}: {e}"))?;
    let mut reader = TransferReader::new(held.map(|h| h.0));
    while !reader.done() {
        let message = transfer.next_message().await.map_err(|e| format!("{qtype}: {e}"))?;
        let rcode = message[3] & 0x0f;
        if rcode != 0 {
            let name = super::replication::notify::rcode_text(rcode);
            return Err(format!("{qtype} refused: {name}"));
        }
        for record in answer_records(&message, origin)? {
            reader.push(record)?;
        }
        if reader.only_soa_so_far() && held.is_some() {
            // RFC 1995 §4: a lone SOA (not newer than ours) means no change to send.
            reader.finish_single_soa()?;
        }
    }
    transfer.finish().map_err(|_| "the transfer's last message is not signed".to_string())?;
    reader.result(current)
}
