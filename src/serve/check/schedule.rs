//! The consistency check inside `serve`: run every `check.interval_ms`, each report kept
//! for `GET /check` and `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::serve::check::consistency::{LastCheck, check_providers, run};
use crate::serve::control::Control;

/// Runs the check every `check.interval` of the live rules (none: waits for a reload that
/// sets one), comparing with `primary` (this server), until `stopped`; each report is
/// kept for `GET /check` and `/metrics`, and its problems are logged.
pub(crate) async fn periodic(
    control: Arc<Control>,
    primary: SocketAddr,
    stopped: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stopped);
    loop {
        let (interval, timeout) = {
            let live = control.engine.snapshot();
            (live.check.interval, live.check.timeout)
        };
        let Some(interval) = interval else {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => continue,
                () = &mut stopped => return,
            }
        };
        let snapshot = control.engine.snapshot();
        let primary = snapshot.check.primary.unwrap_or(primary);
        let host = control.host();
        let providers = check_providers(&snapshot, &snapshot.live_health(), &host.providers, host.state_dir.as_deref());
        let mut report = tokio::select! {
            report = run(&snapshot, primary, timeout) => report,
            () = &mut stopped => return,
        };
        drop(snapshot);
        report.add(tokio::select! {
            findings = providers => findings,
            () = &mut stopped => return,
        });
        for f in report.findings.iter().filter(|f| !f.ok) {
            tracing::warn!("check: {} ({}) {} {}: {}", f.server, f.address, f.zone, f.check.name(), f.detail);
        }
        match report.problems {
            0 => tracing::debug!("check: all {} checks ok", report.findings.len()),
            n => tracing::info!("check: {n} problem(s) in {} checks", report.findings.len()),
        }
        let last = LastCheck { finished_at: crate::serve::clock::unix_now(), report };
        *control.last_check.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stopped => return,
        }
    }
}
