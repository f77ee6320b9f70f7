//! Zone versions per view: the SOA serial each (zone, line) answers with, and, for the
//! views secondaries transfer, a bounded journal of recent versions for IXFR (RFC 1995).
//!
//! A view's serial changes exactly when what the view would transfer changes: its static
//! records, or a line record's answer for that line (a rules reload, a health change, an
//! operator override). Serials follow the clock: a view first seen starts at the current
//! Unix time (32 bits), or at the serial its zone is written with when that is greater
//! (RFC 1982); a new version gets the current time, or one more than the last serial if
//! that is not greater. A serial is never more than [`MAX_LEAD`] second ahead of the
//! clock: a change that would put it further ahead waits (the view keeps its version)
//! until the clock has moved on ([`Versions::next_look`] says when). So a host without a
//! state file that waits, at start, until the clock is [`MAX_LEAD`] + 1 seconds past its
//! start ([`START_WAIT`]) gives serials greater than any an earlier run gave. A state
//! file ([`Versions::stored`], [`Versions::restore`]) keeps an unchanged view's serial
//! across restarts as well, and a changed one continues from it.
//!
//! Pure: the time is passed in, and `serve` decides when to look (it coalesces flaps).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::export::export;
use super::line::NodeHealth;
use super::sign::cache::SignatureCache;
use super::sign::zone::sign_zone;
use super::snapshot::Snapshot;
use super::zone::Zone;
use crate::geo::table::LineId;
use crate::rdata::{Owner, RData, RecordRef};
use crate::wire::encode;

/// Versions each journal keeps (the current one included). An IXFR from an older serial
/// gets the whole zone (RFC 1995 §4).
pub const JOURNAL_DEPTH: usize = 16;

use super::serial_number::wait_for_clock;
pub use super::serial_number::{MAX_LEAD, START_WAIT, ahead_of_clock, first_serial, next_serial, serial_gt};

/// One version of a view: its serial and its records as they go on the wire.
#[derive(Debug, PartialEq, Eq)]
pub struct Version {
    /// The SOA serial of this version.
    pub serial: u32,
    /// The SOA record (uncompressed owner), its serial field set to [`Version::serial`].
    pub soa: Box<[u8]>,
    /// Every other record of the zone, uncompressed, in the export's order.
    pub records: Vec<Box<[u8]>>,
}

impl Version {
    /// The records of `zone` as `line` sees them under `health`, with the SOA serial set
    /// to `serial`.
    pub fn of(snapshot: &Snapshot, zone: &Zone, line: LineId, health: &impl NodeHealth, serial: u32) -> Version {
        let mut soa = Vec::new();
        let mut records = Vec::new();
        for (i, r) in export(snapshot, zone, line, health).into_iter().enumerate() {
            let mut bytes = Vec::with_capacity(r.owner.len() + 32);
            encode::write_record(&mut bytes, &RecordRef { owner: Owner::Name(r.owner), ttl: r.ttl, data: r.data });
            if i == 0 && matches!(r.data, RData::Soa { .. }) {
                soa = bytes;
            } else {
                records.push(bytes.into_boxed_slice());
            }
        }
        set_soa_serial(&mut soa, serial);
        Version { serial, soa: soa.into_boxed_slice(), records }
    }

    /// Makes this version of `zone` a signed zone if the zone is signed (see
    /// [`sign_zone`]), at `now`; returns when its signatures are to be made again.
    pub fn sign(&mut self, zone: &Zone, signatures: &SignatureCache, now: u64) -> Option<u64> {
        let signing = zone.signing.as_deref()?;
        let signed = sign_zone(&self.soa, &self.records, signing, signatures, now);
        self.records.extend(signed.records);
        Some(signed.fresh_until)
    }

    /// SHA-256 of the content of this version of `zone`, the serial and signatures left
    /// out, and of which keys publish and sign when the zone is signed (a signed copy
    /// changes when a key starts or stops signing): equal digests, equal zones.
    fn digest(&self, zone: &Zone) -> Digest {
        let mut soa = self.soa.to_vec();
        set_soa_serial(&mut soa, 0);
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        if let Some(signing) = &zone.signing {
            context.update(&signing.key_state().to_be_bytes());
        }
        for record in std::iter::once(&soa[..]).chain(self.records.iter().map(|r| &r[..])) {
            context.update(&(record.len() as u32).to_be_bytes());
            context.update(record);
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(context.finish().as_ref());
        Digest(digest)
    }
}

/// The serial a state file's `stored` views give the view (`zone`, `line`) if its
/// content is still what was stored (what the server would answer), else `None`.
pub fn stored_serial(
    snapshot: &Snapshot,
    zone: &Zone,
    line: LineId,
    health: &impl NodeHealth,
    stored: &[StoredView],
) -> Option<u32> {
    let name = snapshot.lines.name(line);
    let entry = stored.iter().find(|s| *s.zone == *zone.origin && &*s.line == name)?;
    (Version::of(snapshot, zone, line, health, 0).digest(zone) == entry.digest).then_some(entry.serial)
}

/// Sets the serial of an SOA record that ends `record` (RFC 1035 §3.3.13: SERIAL,
/// REFRESH, RETRY, EXPIRE and MINIMUM, 32 bits each, end the RDATA).
pub fn set_soa_serial(record: &mut [u8], serial: u32) {
    if let Some(at) = record.len().checked_sub(20) {
        record[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    }
}

/// A view's content digest (SHA-256, serial excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Lowercase hex, for the state file.
    pub fn to_hex(self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }

    /// From [`Digest::to_hex`].
    pub fn from_hex(text: &str) -> Option<Digest> {
        let bytes = data_encoding::HEXLOWER.decode(text.as_bytes()).ok()?;
        Some(Digest(bytes.try_into().ok()?))
    }
}

/// What a state file keeps of a view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredView {
    /// The zone's origin (normalized).
    pub zone: Box<str>,
    /// The line's name.
    pub line: Box<str>,
    /// Its serial.
    pub serial: u32,
    /// Its content digest.
    pub digest: Digest,
}

/// A view whose serial changed in [`Versions::update`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SerialChange {
    /// The zone's origin.
    pub zone: Box<str>,
    /// The line's name.
    pub line: Box<str>,
    /// The serial before (`None`: a view first seen, with nothing stored).
    pub previous: Option<u32>,
    /// The serial now.
    pub serial: u32,
}

/// How a secondary at some serial catches up with a view (RFC 1995 §2, §4).
#[derive(Clone, Debug)]
pub enum Since {
    /// It has the current version (or a newer serial): the current SOA is all it gets.
    UpToDate(Arc<Version>),
    /// Its version is in the journal: the difference from it to the current one.
    Diff {
        /// The secondary's version.
        from: Arc<Version>,
        /// The current version.
        to: Arc<Version>,
    },
    /// Unknown or older than the journal: the whole zone.
    Full(Arc<Version>),
}

#[derive(Clone, Debug)]
struct ViewState {
    serial: u32,
    digest: Digest,
    /// Newest last; empty for a view no secondary transfers.
    journal: VecDeque<Arc<Version>>,
    /// For a signed view in a journal: when its signatures are to be made again (a new
    /// version then, so that secondaries never hold expiring signatures).
    resign_at: Option<u64>,
}

/// Serials a fleet agreed on, by (zone, line) view: the content's digest and its serial.
pub type Agreed = BTreeMap<(Box<str>, Box<str>), (Digest, u32)>;

/// The serials of every (zone, line) view, and the journals of transferred views.
#[derive(Clone, Debug, Default)]
pub struct Versions {
    views: BTreeMap<(Box<str>, Box<str>), ViewState>,
    /// Serials of views not in the live rules (read from the state file, or removed by a
    /// reload): a view that comes back continues from them.
    retired: BTreeMap<(Box<str>, Box<str>), (u32, Digest)>,
    /// When a change that had to wait for the clock ([`MAX_LEAD`]) can be given its
    /// serial (seconds since the Unix epoch).
    waiting_until: Option<u64>,
}

impl Versions {
    /// Takes the views of a state file: each continues from its serial, kept if its
    /// content is unchanged at the first [`Versions::update`].
    pub fn restore(&mut self, stored: impl IntoIterator<Item = StoredView>) {
        for s in stored {
            self.retired.insert((s.zone, s.line), (s.serial, s.digest));
        }
    }

    /// Looks at every view of `snapshot` under `health` at `now` (seconds since the Unix
    /// epoch): a view whose content changed gets a new serial ([`next_serial`]); views
    /// that transfer rules name keep their versions in a journal, signed when their zone
    /// is (signatures from `signatures`), and get a new serial when their signatures are
    /// due to be made again. A view whose content is what `agreed` holds for it (a
    /// fleet's serial for that content) takes that serial when it is greater. Returns the
    /// changes.
    pub fn update(
        &mut self,
        snapshot: &Snapshot,
        health: &impl NodeHealth,
        now: u64,
        signatures: &SignatureCache,
        agreed: &Agreed,
    ) -> Vec<SerialChange> {
        let mut changes = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.waiting_until = None;
        for (zone_index, zone) in snapshot.zones.iter().enumerate() {
            // A secondary zone not served has no view (its serials wait for its data).
            if zone.unavailable.is_some() {
                continue;
            }
            for line_index in 0..snapshot.lines.len() {
                let line = LineId::from_index(line_index);
                let key: (Box<str>, Box<str>) = (zone.origin.clone().into(), snapshot.lines.name(line).into());
                let journaled = snapshot.transfers.iter().any(|r| r.line == line && r.covers(zone_index as u32));
                let mut version = Version::of(snapshot, zone, line, health, 0);
                let digest = version.digest(zone);
                // A view is never behind the serial its zone is written with.
                let next = |last: u32| match zone.written_serial {
                    written if serial_gt(written, last) => written,
                    _ => next_serial(last, now),
                };
                let resign = |view: &ViewState| journaled && view.resign_at.is_some_and(|at| now >= at);
                seen.insert(key.clone());
                let (previous, serial) = match self.views.get(&key) {
                    Some(view) if view.digest == digest && !resign(view) => (Some(view.serial), view.serial),
                    Some(view) => {
                        let serial = next(view.serial);
                        // Too far ahead of the clock: the view keeps its version (and its
                        // digest, so the next look sees the change) until the clock moves.
                        // A view newly transferred needs a version now.
                        if let Some(wait) = wait_for_clock(serial, now)
                            && !(journaled && view.journal.is_empty())
                        {
                            let at = now + wait;
                            self.waiting_until = Some(self.waiting_until.map_or(at, |w| w.min(at)));
                            // A re-signing due now waits with it (else the host would be
                            // told to look again at once, over and over).
                            if let Some(view) = self.views.get_mut(&key)
                                && view.resign_at.is_some_and(|r| r < at)
                            {
                                view.resign_at = Some(at);
                            }
                            continue;
                        }
                        (Some(view.serial), serial)
                    }
                    None => match self.retired.remove(&key) {
                        Some((serial, stored)) if stored == digest => (Some(serial), serial),
                        Some((serial, _)) => (Some(serial), next(serial)),
                        None => (None, first_serial(zone.written_serial, now)),
                    },
                };
                // The fleet's serial for this very content, when it is ahead of ours.
                let serial = match agreed.get(&key) {
                    Some(&(content, fleet)) if content == digest && serial_gt(fleet, serial) => fleet,
                    _ => serial,
                };
                let view = self.views.entry(key.clone()).or_insert_with(|| ViewState {
                    serial,
                    digest,
                    journal: VecDeque::new(),
                    resign_at: None,
                });
                let changed = previous != Some(serial);
                (view.serial, view.digest) = (serial, digest);
                if !journaled {
                    view.journal.clear();
                    view.resign_at = None;
                } else if changed || view.journal.is_empty() {
                    set_soa_serial(&mut version.soa, serial);
                    version.serial = serial;
                    view.resign_at = version.sign(zone, signatures, now);
                    view.journal.push_back(Arc::new(version));
                    while view.journal.len() > JOURNAL_DEPTH {
                        view.journal.pop_front();
                    }
                }
                if changed {
                    changes.push(SerialChange { zone: key.0, line: key.1, previous, serial });
                }
            }
        }
        // Views the rules no longer have: retired, so that they continue if they return.
        let gone: Vec<_> = self.views.keys().filter(|k| !seen.contains(k)).cloned().collect();
        for key in gone {
            if let Some(view) = self.views.remove(&key) {
                self.retired.insert(key, (view.serial, view.digest));
            }
        }
        changes
    }

    /// When the views are next to be looked at again even if nothing changes (seconds
    /// since the Unix epoch): a transferred signed view's signatures are due to be made
    /// again, or a change waits for the clock ([`MAX_LEAD`]).
    pub fn next_look(&self) -> Option<u64> {
        self.views.values().filter_map(|v| v.resign_at).chain(self.waiting_until).min()
    }

    /// The serial of the view (`zone`, `line`), if it has been looked at.
    pub fn serial(&self, zone: &str, line: &str) -> Option<u32> {
        self.views.get(&(zone.into(), line.into())).map(|v| v.serial)
    }

    /// Every live view with its serial: (zone, line, serial).
    pub fn list(&self) -> Vec<(Box<str>, Box<str>, u32)> {
        self.views.iter().map(|((z, l), v)| (z.clone(), l.clone(), v.serial)).collect()
    }

    /// How a secondary holding `serial` (`None`: nothing, an AXFR) catches up with the
    /// view (`zone`, `line`); `None` when the view has no journal.
    pub fn since(&self, zone: &str, line: &str, serial: Option<u32>) -> Option<Since> {
        let view = self.views.get(&(zone.into(), line.into()))?;
        let current = view.journal.back()?.clone();
        let Some(held) = serial else { return Some(Since::Full(current)) };
        // RFC 1995 §2: the same or a newer serial gets the current SOA alone.
        if held == current.serial || serial_gt(held, current.serial) {
            return Some(Since::UpToDate(current));
        }
        Some(match view.journal.iter().find(|v| v.serial == held) {
            Some(from) => Since::Diff { from: from.clone(), to: current },
            None => Since::Full(current),
        })
    }

    /// Every view's serial and digest, for the state file (retired views too, so that a
    /// view removed and restored across a restart still continues).
    pub fn stored(&self) -> Vec<StoredView> {
        let live = self.views.iter().map(|(k, v)| (k, v.serial, v.digest));
        let retired = self.retired.iter().map(|(k, (s, d))| (k, *s, *d));
        live.chain(retired)
            .map(|((zone, line), serial, digest)| StoredView { zone: zone.clone(), line: line.clone(), serial, digest })
            .collect()
    }

    /// The serials queries answer with.
    pub fn served(&self) -> ServedSerials {
        let mut zones: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>> = FxHashMap::default();
        for ((zone, line), view) in &self.views {
            zones.entry(zone.clone()).or_default().insert(line.clone(), view.serial);
        }
        ServedSerials { zones }
    }
}

/// The SOA serial of each (zone, line) view, as SOA records in answers carry it. Empty
/// (the rules' serials) until the server first looks at the views.
#[derive(Clone, Debug, Default)]
pub struct ServedSerials {
    zones: FxHashMap<Box<str>, FxHashMap<Box<str>, u32>>,
}

impl ServedSerials {
    /// Whether it holds no serial (nothing looked at yet).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The serial of (`zone`, `line`), if known.
    #[inline]
    pub fn get(&self, zone: &str, line: &str) -> Option<u32> {
        self.zones.get(zone)?.get(line).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1982_comparison_wraps() {
        assert!(serial_gt(2, 1));
        assert!(!serial_gt(1, 2));
        assert!(serial_gt(0, u32::MAX), "0 follows 2^32 - 1");
        assert!(!serial_gt(5, 5));
        assert!(serial_gt(1 << 30, 0));
        assert!(!serial_gt(0x8000_0001, 1), "2^31 + 1 ahead of 1 is behind it");
    }

    #[test]
    fn a_serial_waits_for_the_clock_only_when_it_would_lead_by_more_than_a_second() {
        let now = 1_800_000_000u64;
        assert_eq!(wait_for_clock(now as u32, now), None, "the clock's own serial");
        assert_eq!(wait_for_clock(now as u32 + 1, now), None, "one second ahead");
        assert_eq!(wait_for_clock(now as u32 + 2, now), Some(1));
        assert_eq!(wait_for_clock(now as u32 + 5, now), Some(4));
        assert_eq!(wait_for_clock(2_026_120_501, now), None, "a date-style serial is not waited for");
        assert_eq!(first_serial(1, now), now as u32, "a small written serial starts at the clock");
        assert_eq!(first_serial(2_026_120_501, now), 2_026_120_501, "a date serial ahead of the clock is kept");
    }

    #[test]
    fn a_fleets_serial_for_the_same_content_is_taken_and_none_that_is_behind() {
        let snapshot = crate::compile::fixtures::snapshot();
        let signatures = SignatureCache::default();
        let health = crate::engine::line::AllUp;
        let now = 1_800_000_000;
        let mut versions = Versions::default();
        versions.update(&snapshot, &health, now, &signatures, &Agreed::new());
        let (zone, line, serial) = versions.list()[0].clone();
        let digest = versions.views[&(zone.clone(), line.clone())].digest;
        let key = (zone.clone(), line.clone());
        // Ahead, for this content: taken (a change, to announce).
        let ahead = Agreed::from([(key.clone(), (digest, serial + 7))]);
        let changes = versions.update(&snapshot, &health, now, &signatures, &ahead);
        assert_eq!(versions.serial(&zone, &line), Some(serial + 7));
        assert!(changes.iter().any(|c| c.serial == serial + 7 && c.previous == Some(serial)));
        // Behind, or for other content: not taken, and the serial never goes back.
        let behind = Agreed::from([(key.clone(), (digest, serial + 1))]);
        versions.update(&snapshot, &health, now, &signatures, &behind);
        let other = Agreed::from([(key, (Digest([7; 32]), serial + 100))]);
        versions.update(&snapshot, &health, now, &signatures, &other);
        assert_eq!(versions.serial(&zone, &line), Some(serial + 7));
    }

    #[test]
    fn next_serial_follows_the_clock_and_never_goes_back() {
        assert_eq!(next_serial(100, 200), 200);
        assert_eq!(next_serial(200, 200), 201, "two versions in one second");
        assert_eq!(next_serial(2_026_120_101, 1_796_000_000), 2_026_120_102, "a date serial ahead of the clock");
        assert_eq!(next_serial(u32::MAX, 5), 5, "the clock after a wrap");
    }
}
