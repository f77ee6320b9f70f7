//! Serials the fleet agrees on: each view's serial and the content it is for are one
//! entry of the store. An instance whose view changed (content or serial) writes there
//! (compare-and-set): the fleet's serial if the store holds the same content with a
//! greater one, one past the store's when another content holds it (so the store never
//! gives two contents one serial), else its own; it takes a serial that is not its own
//! once the store holds it. An instance that sees the store give its own content a
//! greater serial takes it. So the same content ends with the same serial everywhere, and
//! no instance's serial goes back; between a change and the agreement (a tick, plus the
//! coalescing window) an instance serves the serial it made. One that holds other content
//! (other rules) keeps its own serial: the checker shows it.

use std::collections::HashMap;

use super::store::{Store, StoreError, ViewSerial};
use crate::engine::Engine;
use crate::engine::serial_number::serial_gt;
use crate::engine::versions::Digest;

/// Attempts to write a view's serial when other instances keep writing it.
const ATTEMPTS: usize = 5;

/// What this instance last wrote or took, by (zone, line): digest and serial.
#[derive(Default)]
pub struct Agreement {
    handled: HashMap<(String, String), (Digest, u32)>,
}

impl Agreement {
    /// Forgets what was handled (after a reconnection every view is written again).
    pub fn reset(&mut self) {
        self.handled.clear();
    }

    /// Writes the serial of every view whose content or serial changed here since it was
    /// last handled; a view that cannot be written now is tried again at the next call,
    /// the others go on.
    pub async fn push(&mut self, store: &Store, engine: &Engine) -> Result<(), StoreError> {
        let live: Vec<(Box<str>, Box<str>, u32)> = engine.serials.list();
        let stored = engine.serials.stored();
        let mut first_error = None;
        for (zone, line, _) in live {
            let Some(view) = stored.iter().find(|v| v.zone == zone && v.line == line) else { continue };
            let key = (zone.to_string(), line.to_string());
            if self.handled.get(&key) == Some(&(view.digest, view.serial)) {
                continue;
            }
            match write(store, engine, &key, view.digest, view.serial).await {
                Ok(serial) => {
                    self.handled.insert(key, (view.digest, serial));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Writes one view's serial (content `digest`, serial `serial` here); the serial it ends
/// with here. The store's serial is taken when it holds this content with a greater one;
/// another content's serial is passed by one (so no serial names two contents); a
/// serial of this instance's is taken here only once the store holds it.
async fn write(
    store: &Store,
    engine: &Engine,
    (zone, line): &(String, String),
    digest: Digest,
    serial: u32,
) -> Result<u32, StoreError> {
    let hex = digest.to_hex();
    for _ in 0..ATTEMPTS {
        let current = store.serial(zone, line).await?;
        let (fleet, revision) = match current {
            Some((fleet, revision)) => (fleet, Some(revision)),
            None => (None, None),
        };
        let target = match &fleet {
            None => serial,
            Some(fleet) if fleet.digest == hex => later(serial, fleet.serial),
            Some(fleet) if serial_gt(serial, fleet.serial) => serial,
            Some(fleet) => fleet.serial.wrapping_add(1),
        };
        if fleet.as_ref().is_some_and(|f| f.digest == hex && f.serial == target) {
            // The store holds this content at this serial already.
            if target != serial {
                engine.serials.agree(zone, line, digest, target);
            }
            return Ok(target);
        }
        let wanted = ViewSerial { zone: zone.clone(), line: line.clone(), digest: hex.clone(), serial: target };
        if store.put_serial(&wanted, revision).await? {
            if target != serial {
                engine.serials.agree(zone, line, digest, target);
            }
            return Ok(target);
        }
    }
    Err(StoreError(format!("the serial of {zone} line {line} changed at other instances {ATTEMPTS} times in a row")))
}

/// Takes a serial another instance wrote, if it is for this instance's content of the
/// view and ahead of its serial.
pub fn heard(engine: &Engine, view: ViewSerial) {
    let Some(digest) = Digest::from_hex(&view.digest) else { return };
    let ours = engine.serials.stored().into_iter().find(|v| *v.zone == *view.zone && *v.line == *view.line);
    if let Some(ours) = ours
        && ours.digest == digest
        && serial_gt(view.serial, ours.serial)
    {
        engine.serials.agree(&view.zone, &view.line, digest, view.serial);
    }
}

/// The later of two serials (RFC 1982).
fn later(a: u32, b: u32) -> u32 {
    if serial_gt(b, a) { b } else { a }
}
