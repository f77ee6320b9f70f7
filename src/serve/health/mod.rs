//! Health checks: the checker (`checker`: one task per probe, its state flips, the
//! stats) and the checks themselves (`probe`: TCP, HTTP(S), DNS).

pub mod checker;
pub mod probe;
