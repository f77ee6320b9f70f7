//! The fleet's one task in `serve`: reaches the store (again, with doubling waits up to
//! 4 s, whenever it is lost), follows the other instances' probe results, the fleet's
//! overrides and the views' serials as they are written, and every tick publishes this
//! instance's verdicts, overrides and serials and decides every node
//! ([`super::health`], [`super::overrides`], [`super::serials`]). No query waits on it: without the store the
//! instance answers from what it last heard and its own probes.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};

use super::health::{self, Results};
use super::overrides::Shared;
use super::serials::{self, Agreement};
use super::stats::FleetStats;
use super::store::{Change, Store, ViewSerial};
use crate::compile::host::FleetSettings;
use crate::engine::Engine;
use crate::engine::overrides::Override;

/// How often results are looked at, verdicts published and decisions made.
const TICK: Duration = Duration::from_millis(100);

/// Every this many ticks the results are recorded for the status page.
const VIEWS_EVERY: u64 = 10;

/// The longest wait between two attempts to reach the store (it is back within this of
/// its return).
const MAX_RETRY: Duration = Duration::from_secs(4);

/// A stream of changes, boxed.
type Changes<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// What the store is watched for.
struct Watches {
    results: Changes<Change>,
    overrides: Changes<(Vec<Override>, u64)>,
    serials: Changes<ViewSerial>,
}

/// Runs the fleet for `engine` until `stop` completes; overrides adopted from the fleet
/// are also written to `state_dir` (as the admin API's are).
pub async fn run(
    engine: Arc<Engine>,
    settings: FleetSettings,
    stats: Arc<FleetStats>,
    state_dir: Option<PathBuf>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut results = Results::default();
    let mut shared = Shared::new(&engine, settings.instance.clone(), state_dir);
    let mut agreement = Agreement::default();
    let mut retry = Duration::from_secs(1);
    let mut next_attempt = Instant::now();
    let mut store: Option<Store> = None;
    let mut watches: Option<Watches> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks: u64 = 0;
    loop {
        if store.is_none() && Instant::now() >= next_attempt {
            match connect(&settings, &engine, &mut shared).await {
                Ok((s, w)) => {
                    tracing::info!(
                        "fleet: store {} reached; following the other instances' probes and overrides",
                        super::store::shown(&settings.store.servers)
                    );
                    store = Some(s);
                    watches = Some(w);
                    retry = Duration::from_secs(1);
                    results.republish();
                    agreement.reset();
                }
                Err(e) => {
                    stats.store_errors.fetch_add(1, Ordering::Relaxed);
                    if stats.connected.load(Ordering::Relaxed) || retry == Duration::from_secs(1) {
                        tracing::warn!(
                            "fleet: {e}; deciding from the last results heard and this instance's own probes; retrying in {retry:?}"
                        );
                    }
                    next_attempt = Instant::now() + retry;
                    retry = (retry * 2).min(MAX_RETRY);
                }
            }
        }
        let up = store.as_ref().is_some_and(Store::is_connected);
        if stats.connected.swap(up, Ordering::Relaxed) && !up {
            tracing::warn!(
                "fleet: store unreachable; deciding from the last results heard and this instance's own probes"
            );
        }
        let (result_changes, override_lists, view_serials) = match watches.as_mut() {
            Some(w) => (Some(&mut w.results), Some(&mut w.overrides), Some(&mut w.serials)),
            None => (None, None, None),
        };
        let event = tokio::select! {
            () = &mut stop => break,
            change = next(result_changes) => Event::Result(change),
            list = next(override_lists) => Event::Overrides(list),
            view = next(view_serials) => Event::Serial(view),
            _ = tick.tick() => Event::Tick,
        };
        match event {
            Event::Result(Some(change)) => health::hear(&mut results, &settings, change),
            Event::Overrides(Some((list, revision))) => shared.adopt(&engine, list, revision),
            Event::Serial(Some(view)) => serials::heard(&engine, view),
            // A watch broke (the connection dropped): reach the store again.
            Event::Result(None) | Event::Overrides(None) | Event::Serial(None) => {
                store = None;
                watches = None;
                next_attempt = Instant::now() + retry;
            }
            Event::Tick => {
                // Decisions first: they never wait on the store.
                health::decide(&engine, &settings, &results, &stats);
                if let Some(s) = &store {
                    health::publish(s, &engine, &settings, &mut results, &stats).await;
                    if let Err(e) = shared.push(s, &engine).await {
                        stats.store_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("fleet: {e}");
                    }
                    if let Err(e) = agreement.push(s, &engine).await {
                        stats.store_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("fleet: {e}");
                    }
                }
                ticks += 1;
                if ticks.is_multiple_of(VIEWS_EVERY) {
                    results.prune(settings.result_expiry * 3);
                    health::record_views(&engine, &settings, &results, &stats);
                }
                stats.results_held.store(results.held() as u64, Ordering::Relaxed);
            }
        }
    }
}

/// Reaches the store, starts both watches, and joins the fleet's overrides.
async fn connect(
    settings: &FleetSettings,
    engine: &Engine,
    shared: &mut Shared,
) -> Result<(Store, Watches), super::store::StoreError> {
    let store = Store::connect(&settings.store, settings.result_expiry * 3).await?;
    let results: Changes<Change> = Box::pin(store.watch().await?);
    let overrides: Changes<(Vec<Override>, u64)> = Box::pin(store.watch_overrides().await?);
    let serials: Changes<ViewSerial> = Box::pin(store.watch_serials().await?);
    shared.join(&store, engine).await?;
    Ok((store, Watches { results, overrides, serials }))
}

/// What woke the task.
enum Event {
    /// A change of the results bucket (`None`: its watch broke).
    Result(Option<Change>),
    /// A new list of the fleet's overrides (`None`: its watch broke).
    Overrides(Option<(Vec<Override>, u64)>),
    /// A view's serial another instance wrote (`None`: its watch broke).
    Serial(Option<ViewSerial>),
    /// Time to publish and decide.
    Tick,
}

/// The next item of `stream`, or never when there is none.
async fn next<T>(stream: Option<&mut Changes<T>>) -> Option<T> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
