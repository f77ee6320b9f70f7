//! The one wall clock serve reads and hands the engine.

/// Seconds since the Unix epoch: TSIG times, override times, and view serials (the
/// system clock the compile reads by default too).
pub use crate::compile::system_clock as unix_now;

/// How long until the clock's whole seconds have moved `seconds` past the current one:
/// from now to the start of second `floor(now) + seconds`.
pub fn until_seconds_pass(seconds: u64) -> std::time::Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    std::time::Duration::from_secs(now.as_secs() + seconds).saturating_sub(now)
}

/// Milliseconds since the Unix epoch (when a fleet's result was published).
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}
