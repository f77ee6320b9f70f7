//! RFC 1982 serial number arithmetic for SOA serials, and how far a serial may lead the
//! clock: what [`super::versions`] gives each view, and what a host waits for at start.

/// How far (in seconds) a serial may run ahead of the clock: a view changed twice in one
/// second gets the next second's serial at once, a third change in that second waits.
pub const MAX_LEAD: u32 = 1;

/// Whole seconds a host without stored serials waits at start before its first look at
/// the views: every serial an earlier run gave was at most [`MAX_LEAD`] ahead of its
/// clock, so the clock [`MAX_LEAD`] + 1 seconds later gives a greater one.
pub const START_WAIT: u64 = MAX_LEAD as u64 + 1;

/// RFC 1982 §3.2: s1 is greater than s2 when "(i1 < i2 and i2 - i1 > 2^(SERIAL_BITS - 1))
/// or (i1 > i2 and i1 - i2 < 2^(SERIAL_BITS - 1))", with `a` as s1 (i1) and `b` as s2
/// (i2): `a - b` (mod 2^32) is in 1..2^31.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

/// The serial of a new version after `last`, at `now` (seconds since the Unix epoch):
/// the clock's 32 bits when greater than `last` (RFC 1982), else `last + 1` (RFC 1982
/// §3.1 addition, which wraps).
pub fn next_serial(last: u32, now: u64) -> u32 {
    let clock = now as u32;
    if serial_gt(clock, last) { clock } else { last.wrapping_add(1) }
}

/// The serial of a view first seen at `now` whose zone is written with `written`: the
/// clock's 32 bits, or `written` when that is greater (RFC 1982).
pub fn first_serial(written: u32, now: u64) -> u32 {
    let clock = now as u32;
    if serial_gt(written, clock) { written } else { clock }
}

/// A lead beyond which a serial is taken to be date-style (or the clock to have been
/// set back): waiting for the clock to catch up is then no use.
const NO_CATCH_UP: u32 = 10;

/// How many seconds a new `serial` must wait at `now` to be at most [`MAX_LEAD`] ahead
/// of the clock, when the clock will pass it soon; `None`: it may be given now.
pub(super) fn wait_for_clock(serial: u32, now: u64) -> Option<u64> {
    let lead = serial.wrapping_sub(now as u32);
    (lead > MAX_LEAD && lead <= NO_CATCH_UP).then(|| u64::from(lead - MAX_LEAD))
}

/// Whether `serial` is ahead of the clock at `now` by more than [`MAX_LEAD`] (a
/// date-style serial, say): a view of a zone written with it does not start from the
/// clock.
pub fn ahead_of_clock(serial: u32, now: u64) -> bool {
    serial_gt(serial, (now as u32).wrapping_add(MAX_LEAD))
}
