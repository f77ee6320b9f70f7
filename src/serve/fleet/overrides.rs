//! Overrides made at any instance apply fleet-wide: the fleet's list is one entry of the
//! store, written by compare-and-set; every instance puts each list it sees in force (and
//! in its state directory, so a restart without the store keeps it), and writes the
//! changes made here (admin API, `ctl`, status page) into the fleet's list, with where
//! they were made. Made while the store was away, they are written once it is back.

use std::path::PathBuf;

use super::store::{Store, StoreError};
use crate::engine::Engine;
use crate::engine::overrides::Override;
use crate::serve::override_store;

/// Attempts to write this instance's changes when other instances keep changing the list.
const ATTEMPTS: usize = 5;

/// This instance's side of the fleet's overrides.
pub struct Shared {
    /// The fleet's list as last put in force here.
    synced: Vec<Override>,
    /// Its revision in the store (`None`: not read yet).
    revision: Option<u64>,
    /// The engine's override change count right after that: a later one is a change
    /// made here.
    seen: u64,
    /// This instance's name, written as the `where` of its changes.
    instance: String,
    /// Where the overrides in force are kept across restarts.
    state_dir: Option<PathBuf>,
}

impl Shared {
    /// This instance's side, its overrides as they are now counted as synced.
    pub fn new(engine: &Engine, instance: String, state_dir: Option<PathBuf>) -> Shared {
        Shared { synced: local(engine), revision: None, seen: engine.overrides.changes(), instance, state_dir }
    }

    /// Whether overrides were changed here since the fleet's were put in force.
    fn changed_here(&self, engine: &Engine) -> bool {
        engine.overrides.changes() != self.seen
    }

    /// The fleet's `list` (at `revision`), as another instance wrote it: put in force
    /// here, unless overrides were changed here since the last one (then the next
    /// [`Shared::push`] merges those changes into the store's list and puts that in force).
    pub fn adopt(&mut self, engine: &Engine, list: Vec<Override>, revision: u64) {
        if self.revision.is_some_and(|r| r >= revision) || self.changed_here(engine) {
            return;
        }
        self.take(engine, list, revision, engine.overrides.changes());
    }

    /// Puts `list` (at `revision`) in force here and in the state directory, unless the
    /// overrides changed here since `read` (the change count when the list was made):
    /// then they stay, and the next push merges them.
    fn take(&mut self, engine: &Engine, list: Vec<Override>, revision: u64, read: u64) {
        if engine.overrides.changes() != read {
            self.synced = list;
            self.revision = Some(revision);
            return;
        }
        if local(engine) != list {
            for o in list.iter().filter(|o| !self.synced.contains(o)) {
                let place = o.place.as_deref().unwrap_or("?");
                tracing::warn!(
                    "fleet override {}: {} forced {} by {:?} at {place:?} ({:?})",
                    o.id,
                    o.target,
                    o.state,
                    o.who,
                    o.why
                );
            }
            for o in self.synced.iter().filter(|o| !list.iter().any(|l| l.id == o.id)) {
                tracing::warn!("fleet override {} removed: {}", o.id, o.target);
            }
            engine.restore_overrides(list.clone());
            if let Err(e) = override_store::save(engine, self.state_dir.as_deref()) {
                tracing::error!("fleet overrides: {e}");
            }
        }
        self.synced = list;
        self.revision = Some(revision);
        self.seen = engine.overrides.changes();
    }

    /// On reaching the store: its list, unless overrides changed here meanwhile (then
    /// those changes are written into it); this instance's list if the store has none.
    pub async fn join(&mut self, store: &Store, engine: &Engine) -> Result<(), StoreError> {
        self.revision = None;
        match store.overrides().await? {
            Some((Some(list), revision)) if !self.changed_here(engine) => {
                self.take(engine, list, revision, engine.overrides.changes());
                Ok(())
            }
            _ => self.write(store, engine).await,
        }
    }

    /// Writes the changes made here since the last list put in force, if any.
    pub async fn push(&mut self, store: &Store, engine: &Engine) -> Result<(), StoreError> {
        if self.changed_here(engine) { self.write(store, engine).await } else { Ok(()) }
    }

    /// Merges the changes made here into the store's list, compare-and-set; the store
    /// holding none (a new fleet, or its data lost), this instance's list as it is.
    async fn write(&mut self, store: &Store, engine: &Engine) -> Result<(), StoreError> {
        for _ in 0..ATTEMPTS {
            let read = engine.overrides.changes();
            let here = local(engine);
            let (merged, revision) = match store.overrides().await? {
                Some((Some(base), revision)) => (merge(&base, &self.synced, &here, &self.instance), Some(revision)),
                // An entry that is no list (deleted, or written by something else):
                // replaced by this instance's.
                Some((None, revision)) => (merge(&[], &[], &here, &self.instance), Some(revision)),
                None => (merge(&[], &[], &here, &self.instance), None),
            };
            if let Some(written) = store.put_overrides(&merged, revision).await? {
                self.take(engine, merged, written, read);
                return Ok(());
            }
        }
        Err(StoreError(format!(
            "overrides changed at other instances {ATTEMPTS} times while writing this one's; trying again"
        )))
    }
}

/// The overrides in force here.
fn local(engine: &Engine) -> Vec<Override> {
    engine.list_overrides().into_iter().map(|listed| listed.over).collect()
}

/// The changes `local` made since `synced` (overrides set or replaced here, overrides
/// removed here, by id) applied to the fleet's list `base`. An override set here keeps its id
/// unless the fleet's list has that id for another target (then it takes the next free
/// one), and says it was set at `instance`.
fn merge(base: &[Override], synced: &[Override], local: &[Override], instance: &str) -> Vec<Override> {
    let set_here: Vec<&Override> = local.iter().filter(|o| !synced.contains(o)).collect();
    // Removed here: by id, so that one set elsewhere for the same target meanwhile stays.
    let cleared_here: Vec<u64> = synced.iter().filter(|s| !local.iter().any(|o| o.id == s.id)).map(|s| s.id).collect();
    let mut out: Vec<Override> = base
        .iter()
        .filter(|b| !cleared_here.contains(&b.id) && !set_here.iter().any(|o| o.target == b.target))
        .cloned()
        .collect();
    let mut next = base.iter().chain(local).map(|o| o.id).max().unwrap_or(0);
    for o in set_here {
        let mut o = o.clone();
        if out.iter().any(|b| b.id == o.id) {
            next += 1;
            o.id = next;
        }
        o.place.get_or_insert_with(|| instance.to_string());
        out.push(o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::overrides::{Forced, Target};

    fn node(id: u64, addr: &str, state: Forced, place: Option<&str>) -> Override {
        Override {
            id,
            target: Target::Node(addr.into()),
            state,
            who: "ops".into(),
            why: "test".into(),
            at: 1,
            place: place.map(str::to_string),
        }
    }

    #[test]
    fn changes_here_are_merged_into_the_fleets_list() {
        let a = node(1, "192.0.2.1", Forced::Down, Some("bj1"));
        let b = node(2, "192.0.2.2", Forced::Drained, Some("sh1"));
        // Synced {a}; meanwhile sh1 added b (id 2); here a was cleared and c added (id 2).
        let c = node(2, "192.0.2.3", Forced::Down, None);
        let merged = merge(&[a.clone(), b.clone()], std::slice::from_ref(&a), std::slice::from_ref(&c), "gz1");
        let shown: Vec<(u64, &Target, Option<&str>)> =
            merged.iter().map(|o| (o.id, &o.target, o.place.as_deref())).collect();
        assert_eq!(shown, [(2, &b.target, Some("sh1")), (3, &c.target, Some("gz1"))], "a cleared; c renumbered");
        // Nothing changed here: the fleet's list as it is.
        let synced = std::slice::from_ref(&a);
        assert_eq!(merge(&[a.clone(), b.clone()], synced, synced, "gz1"), [a.clone(), b.clone()]);
        // A target forced otherwise here replaces the fleet's override of it.
        let up = node(1, "192.0.2.1", Forced::Up, None);
        let merged = merge(synced, synced, std::slice::from_ref(&up), "gz1");
        assert_eq!((merged.len(), merged[0].state, merged[0].place.as_deref()), (1, Forced::Up, Some("gz1")));
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::engine::overrides::{Forced, Target};

    #[test]
    fn a_store_without_a_list_takes_this_instances_as_it_is() {
        let o = Override {
            id: 4,
            target: Target::Line("telecom".into()),
            state: Forced::Drained,
            who: "ops".into(),
            why: "test".into(),
            at: 1,
            place: None,
        };
        let merged = merge(&[], &[], std::slice::from_ref(&o), "bj1");
        assert_eq!((merged.len(), merged[0].id, merged[0].place.as_deref()), (1, 4, Some("bj1")));
    }
}
