//! A fleet: instances at several sites sharing their probe results through a store (NATS
//! with JetStream), each deciding every node's health from all sites' results by the
//! rules' policy (`engine::fleet`). `store` is the one module that talks to the store;
//! `health` publishes this instance's results, follows the others' and decides.

pub mod health;
pub mod store;
