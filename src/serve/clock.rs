//! The one wall clock serve reads and hands the engine.

/// Seconds since the Unix epoch: TSIG times, override times, and view serials.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
