//! A fleet: instances at several sites sharing their probe results and the operators'
//! overrides through a store (NATS with JetStream), each deciding every node's health from
//! all sites' results by the rules' policy (`engine::fleet`). `store` is the one module
//! that talks to the store; `service` is the task `serve` runs; `health` publishes this
//! instance's verdicts and decides; `overrides` keeps the fleet's overrides in force;
//! `serials` agrees on each view's serial.

pub mod health;
pub mod overrides;
pub mod serials;
pub mod service;
pub mod stats;
pub mod store;
