//! The health checker: one task per probe of the live snapshot, supervised.
//!
//! The supervisor follows the engine's generation: after a reload it starts the probes
//! that are new and stops those that are gone (probes kept by the reload keep running,
//! and keep their state). A probe task that ends or stops beating is restarted and
//! counted.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasher;
#[cfg(test)]
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::engine::health::{CheckSpec, ProbeKey, ProbeState, Transition};
use crate::serve::health::probe;

/// How often the supervisor looks at the generation and the probe tasks.
const SUPERVISE_EVERY: Duration = Duration::from_millis(200);

/// Counters of the checker's own health, for metrics.
#[derive(Debug, Default)]
pub struct CheckerStats {
    /// Probe tasks restarted because they ended.
    pub restarts: AtomicU64,
    /// Probe tasks restarted because they stopped beating.
    pub stalls: AtomicU64,
    /// Probe tasks running.
    pub running: AtomicU64,
}

/// What a probe task calls when its node's state flips (the engine's
/// [`Serials::mark_changed`](crate::engine::serials::Serials::mark_changed): the views are looked at at once).
type OnFlip = Arc<dyn Fn() + Send + Sync>;

struct Running {
    spec: Arc<CheckSpec>,
    on_flip: OnFlip,
    state: Arc<ProbeState>,
    beat: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

/// Runs the checker for `engine` until `stop` completes. Probes of the live snapshot
/// start at once (before the server answers its first query, if started first).
pub async fn run(engine: Arc<Engine>, stats: Arc<CheckerStats>, stop: impl Future<Output = ()>) {
    let started = Instant::now();
    let mut running: HashMap<ProbeKey, Running> = HashMap::new();
    let mut seen_generation = 0;
    tokio::pin!(stop);
    loop {
        let generation = engine.generation();
        if generation != seen_generation {
            seen_generation = generation;
            reconcile(&engine, &mut running, started);
        }
        restart_dead(&mut running, started, &stats);
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(SUPERVISE_EVERY) => {}
        }
    }
    for (_, r) in running {
        r.task.abort();
    }
}

/// Restarts probe tasks that ended (a panic, say) or stopped beating for longer than a
/// probe can take, and counts them.
fn restart_dead(running: &mut HashMap<ProbeKey, Running>, started: Instant, stats: &CheckerStats) {
    for (key, r) in running.iter_mut() {
        let silent_for = started.elapsed().saturating_sub(Duration::from_millis(r.beat.load(Ordering::Relaxed)));
        let allowed = r.spec.interval + r.spec.jitter + r.spec.timeout + Duration::from_secs(2);
        let stalled = silent_for > allowed;
        if r.task.is_finished() || stalled {
            if stalled {
                r.task.abort();
                stats.stalls.fetch_add(1, Ordering::Relaxed);
                tracing::error!("health probe {} {} stalled for {silent_for:?}: restarted", key.check, key.target);
            } else {
                stats.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::error!("health probe {} {} ended: restarted", key.check, key.target);
            }
            r.beat.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            r.task = spawn(key.clone(), r.spec.clone(), r.state.clone(), r.beat.clone(), started, r.on_flip.clone());
        }
    }
    stats.running.store(running.len() as u64, Ordering::Relaxed);
}

/// Starts probes new in the live snapshot, stops those it no longer has, and restarts
/// those whose check changed (their state is the snapshot's, adopted by the reload).
fn reconcile(engine: &Arc<Engine>, running: &mut HashMap<ProbeKey, Running>, started: Instant) {
    let snapshot = engine.snapshot();
    let wanted: HashMap<&ProbeKey, _> = snapshot.probes.iter().map(|p| (&p.key, p)).collect();
    running.retain(|key, r| {
        let keep = wanted.get(key).is_some_and(|p| p.spec == r.spec && Arc::ptr_eq(&p.state, &r.state));
        if !keep {
            r.task.abort();
        }
        keep
    });
    for (key, p) in wanted {
        if !running.contains_key(key) {
            let beat = Arc::new(AtomicU64::new(started.elapsed().as_millis() as u64));
            let flipped = engine.clone();
            let on_flip: OnFlip = Arc::new(move || flipped.serials.mark_changed());
            let task = spawn(key.clone(), p.spec.clone(), p.state.clone(), beat.clone(), started, on_flip.clone());
            running.insert(key.clone(), Running { spec: p.spec.clone(), on_flip, state: p.state.clone(), beat, task });
        }
    }
}

fn spawn(
    key: ProbeKey,
    spec: Arc<CheckSpec>,
    state: Arc<ProbeState>,
    beat: Arc<AtomicU64>,
    started: Instant,
    on_flip: OnFlip,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let random = std::collections::hash_map::RandomState::new();
        let mut round: u64 = 0;
        let prepared = probe::prepare(&spec);
        if let Err(e) = &prepared {
            tracing::error!(
                "health check {} for {}: {e}; every probe fails until the rules are fixed",
                key.check,
                key.target
            );
        }
        loop {
            beat.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            if state.is_idle() {
                // Other sites of the fleet probe it.
                tokio::time::sleep(spec.interval).await;
                continue;
            }
            let began = Instant::now();
            let result = match &prepared {
                Err(e) => Err(e.clone()),
                Ok(prepared) => {
                    match tokio::time::timeout(spec.timeout, probe::run(&spec, prepared, key.target)).await {
                        Ok(r) => r,
                        Err(_) => Err(format!("no answer within {:?}", spec.timeout)),
                    }
                }
            };
            beat.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            let transition = state.record(result.is_ok(), began.elapsed(), spec.fall, spec.rise);
            if transition != Transition::Unchanged {
                on_flip();
            }
            match transition {
                Transition::WentDown => tracing::warn!(
                    "node {} DOWN ({} failed {} time(s) in a row): {}",
                    key.target,
                    key.check,
                    spec.fall,
                    result.as_ref().err().map_or("", String::as_str)
                ),
                Transition::WentUp => {
                    tracing::info!("node {} UP ({} passed {} time(s) in a row)", key.target, key.check, spec.rise)
                }
                Transition::Unchanged => {}
            }
            round += 1;
            // Jitter spreads probes that share an interval so they do not fire together.
            let jitter_ms = spec.jitter.as_millis() as u64;
            let jitter = if jitter_ms == 0 { 0 } else { random.hash_one((round, 1u8)) % jitter_ms };
            tokio::time::sleep(spec.interval + Duration::from_millis(jitter)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::health::CheckKind;

    fn running(task: JoinHandle<()>, beat_ms: u64, port: u16) -> (ProbeKey, Running) {
        let spec = Arc::new(CheckSpec {
            name: "t".into(),
            kind: CheckKind::Tcp,
            port: None,
            interval: Duration::from_secs(60),
            timeout: Duration::from_millis(100),
            jitter: Duration::ZERO,
            fall: 1,
            rise: 1,
            initially_up: true,
        });
        // A closed loopback port: the restarted probes fail fast and stay on loopback.
        let key = ProbeKey { target: SocketAddr::from(([127, 0, 0, 1], port)), check: "t".into() };
        let r = Running {
            spec,
            on_flip: Arc::new(|| {}),
            state: Arc::new(ProbeState::new(true)),
            beat: Arc::new(AtomicU64::new(beat_ms)),
            task,
        };
        (key, r)
    }

    #[tokio::test]
    async fn ended_and_stalled_probe_tasks_are_restarted_and_counted() {
        let started = Instant::now() - Duration::from_secs(3600);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut tasks = HashMap::new();
        // One task that ended (as after a panic), beating recently.
        let ended = tokio::spawn(async {});
        tokio::task::yield_now().await;
        while !ended.is_finished() {
            tokio::task::yield_now().await;
        }
        let now_ms = started.elapsed().as_millis() as u64;
        let (k, r) = running(ended, now_ms, closed);
        tasks.insert(k, r);
        // One task still "running" but silent for an hour: stalled.
        let (k, r) = running(tokio::spawn(std::future::pending()), 0, closed.wrapping_add(1));
        tasks.insert(k, r);
        let stats = CheckerStats::default();
        restart_dead(&mut tasks, started, &stats);
        assert_eq!(stats.restarts.load(Ordering::Relaxed), 1);
        assert_eq!(stats.stalls.load(Ordering::Relaxed), 1);
        assert_eq!(stats.running.load(Ordering::Relaxed), 2);
        assert!(tasks.values().all(|r| !r.task.is_finished()), "both were respawned");
        // A second pass finds them healthy: nothing more is restarted.
        restart_dead(&mut tasks, started, &stats);
        assert_eq!((stats.restarts.load(Ordering::Relaxed), stats.stalls.load(Ordering::Relaxed)), (1, 1));
        for r in tasks.values() {
            r.task.abort();
        }
    }
}
