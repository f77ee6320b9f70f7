//! The systemd readiness protocol (`sd_notify(3)`, a `Type=notify` unit): one datagram
//! to the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace) per state change: `READY=1` once the first snapshot is live and every
//! socket is bound, `RELOADING=1` then `READY=1` around a SIGHUP reload, `STOPPING=1` on
//! the way out. Without `NOTIFY_SOCKET` (not run by systemd) nothing is sent.

use std::os::unix::net::UnixDatagram;

/// The variable systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to the service manager;
/// `Ok(false)` when there is none to tell.
pub fn notify(state: &str) -> Result<bool, String> {
    let Some(path) = std::env::var_os(NOTIFY_SOCKET) else { return Ok(false) };
    let path = path.to_string_lossy().into_owned();
    let socket = UnixDatagram::unbound().map_err(|e| format!("{NOTIFY_SOCKET}: {e}"))?;
    let sent = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .map_err(|e| format!("{NOTIFY_SOCKET}={path}: {e}"))?;
            socket.send_to_addr(state.as_bytes(), &addr)
        }
        None => socket.send_to(state.as_bytes(), &path),
    };
    sent.map(|_| true).map_err(|e| format!("{NOTIFY_SOCKET}={path}: cannot tell the service manager: {e}"))
}
