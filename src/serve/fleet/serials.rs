//! Serials the fleet agrees on: each view's serial and the content it is for are one
//! entry of the store. An instance whose view changed writes its serial there (compare-
//! and-set): the fleet's if the store holds the same content with a greater one (taken
//! here too), else one past the store's when another content holds it (so a serial never
//! names two contents), else its own. An instance that sees the store give its own
//! content a greater serial takes it. So the same content ends with the same serial
//! everywhere, and no instance's serial goes back. An instance that holds other content
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
    /// last handled.
    pub async fn push(&mut self, store: &Store, engine: &Engine) -> Result<(), StoreError> {
        let live: Vec<(Box<str>, Box<str>, u32)> = engine.serials.list();
        let stored = engine.serials.stored();
        for (zone, line, _) in live {
            let Some(view) = stored.iter().find(|v| v.zone == zone && v.line == line) else { continue };
            let key = (zone.to_string(), line.to_string());
            let handled = self.handled.get(&key).copied();
            if handled == Some((view.digest, view.serial)) {
                continue;
            }
            let content_changed = handled.is_none_or(|(digest, _)| digest != view.digest);
            let serial = self.write(store, engine, &key, view.digest, view.serial, content_changed).await?;
            self.handled.insert(key, (view.digest, serial));
        }
        Ok(())
    }

    /// Writes one view's serial; the serial it ends with here.
    async fn write(
        &self,
        store: &Store,
        engine: &Engine,
        (zone, line): &(String, String),
        digest: Digest,
        serial: u32,
        content_changed: bool,
    ) -> Result<u32, StoreError> {
        let hex = digest.to_hex();
        for _ in 0..ATTEMPTS {
            let current = store.serial(zone, line).await?;
            let target = match &current {
                None => serial,
                Some((fleet, _)) if fleet.digest == hex => later(serial, fleet.serial),
                // Another content holds the store's serial: one past it, when this
                // content is new here (not when only a re-signing moved it).
                Some((fleet, _)) if content_changed && !serial_gt(serial, fleet.serial) => fleet.serial.wrapping_add(1),
                Some(_) => serial,
            };
            if target != serial {
                engine.serials.agree(zone, line, digest, target);
            }
            let wanted = ViewSerial { zone: zone.clone(), line: line.clone(), digest: hex.clone(), serial: target };
            match &current {
                Some((fleet, _)) if *fleet == wanted => return Ok(target),
                Some((fleet, _)) if fleet.digest == hex && !serial_gt(target, fleet.serial) => return Ok(target),
                Some((fleet, _)) if fleet.digest != hex && !content_changed => return Ok(target),
                _ => {}
            }
            if store.put_serial(&wanted, current.map(|(_, revision)| revision)).await? {
                return Ok(target);
            }
        }
        Err(StoreError(format!(
            "the serial of {zone} line {line} changed at other instances {ATTEMPTS} times in a row"
        )))
    }
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
