//! The NS-set checker: what every server answers against what it should
//! (`consistency`, also `linedns check`) and its periodic run (`schedule`).

pub mod consistency;
pub mod schedule;
