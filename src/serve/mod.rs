//! Everything async (feature `server`): DNS over UDP and TCP, the health checker, the
//! admin API, and reloads, run together by [`Server::run`] until a shutdown future
//! completes.
//!
//! The library takes already-bound sockets, so a host program (or a test, on port 0)
//! runs the same server the binary runs; the binary only parses arguments, binds, and
//! turns signals into [`Control::reload`] and the shutdown future.
//!
//! ```text
//!  Listeners ──► udp (a thread per SO_REUSEPORT socket) ──┐
//!            ──► tcp (RFC 7766 connections) ─────────────┼─► Engine::answer
//!            ──► admin (hyper) ─► Control ──► Engine (explain, overrides, reload)
//!  checker: one task per probe ──► ProbeState atomics the engine reads
//!  reload:  file watch / SIGHUP / POST /reload ──► Control::reload ──► Engine::swap
//!  replication: changes ──► Engine::refresh_versions ──► serials.json, NOTIFY out
//!  secondary: primary's SOA, NOTIFY in ──► IXFR/AXFR ──► zones/ORIGIN.zone ──► reload
//!  rollover: key times, the parent's DS ──► key files ──► reload
//! ```

pub mod admin;
pub mod check;
pub mod client;
mod clock;
pub mod control;
pub mod dns;
pub mod dnstap;
pub mod file_watch;
pub mod fleet;
pub mod health;
mod listen;
pub mod override_store;
pub mod privileges;
pub mod push;
mod random;
mod reload_cause;
pub mod replication;
pub mod rollover;
pub mod secondary;
mod server;
mod state_file;
pub mod systemd;

pub use self::clock::unix_now;
pub use self::control::{Control, ReloadCause};
pub use self::listen::{AdminListen, Listeners, Overrides, Plan, bind, bind_admin, bind_shared_tcp, bind_sharing};
pub use self::server::{Running, Server, log_serving};
