//! Why a reload runs ([`ReloadCause`]): named in its log lines and on the status page.

use std::fmt;
use std::net::SocketAddr;

/// The server's reload (logged and counted; `Err` with the errors when the rules do not
/// compile) as a service that reloads calls it, without holding the whole `Control`.
pub type Reload = dyn Fn(ReloadCause) -> Result<(), String> + Send + Sync;

/// What started a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReloadCause {
    /// SIGHUP.
    Signal,
    /// `POST /reload` on the admin API.
    AdminApi,
    /// The file watch saw the inputs change.
    FilesChanged,
    /// A DNSSEC key roll took a step, or a key time passed.
    KeyRollover,
    /// A secondary zone's copy was transferred from its primary.
    ZoneTransferred {
        /// The zone.
        zone: String,
        /// Its new serial.
        serial: u32,
        /// The primary it came from.
        primary: SocketAddr,
        /// `AXFR` or `IXFR`.
        kind: &'static str,
    },
    /// A secondary zone's primary confirmed the copy again after it had expired.
    ZoneConfirmed {
        /// The zone.
        zone: String,
    },
    /// A secondary zone's copy expired (its primary has not confirmed it in the SOA
    /// expire time).
    ZoneExpired {
        /// The zone.
        zone: String,
    },
}

impl fmt::Display for ReloadCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadCause::Signal => f.write_str("SIGHUP"),
            ReloadCause::AdminApi => f.write_str("admin API"),
            ReloadCause::FilesChanged => f.write_str("files changed"),
            ReloadCause::KeyRollover => f.write_str("key rollover"),
            ReloadCause::ZoneTransferred { zone, serial, primary, kind } => {
                write!(f, "zone {zone} serial {serial} transferred from {primary} ({kind})")
            }
            ReloadCause::ZoneConfirmed { zone } => write!(f, "zone {zone} confirmed by its primary"),
            ReloadCause::ZoneExpired { zone } => write!(f, "zone {zone} expired"),
        }
    }
}
