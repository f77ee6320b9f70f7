//! The admin API as an operator's script calls it: curl, a JSON body type on every call
//! that changes state (the API refuses others), and the token when one is given.

use std::net::SocketAddr;

/// `METHOD http://ADMIN/PATH` with `Content-Type: application/json`, `body` if given and
/// `Authorization: Bearer TOKEN` if `token` is; the HTTP status and the body.
pub fn call(admin: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut curl = super::tools::tool("curl");
    curl.args(["-s", "-w", "\n%{http_code}", "--max-time", "10", "-X", method])
        .args(["-H", "Content-Type: application/json"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(body) = body {
        curl.args(["--data-binary", body]);
    }
    let out = curl.arg(format!("http://{admin}{path}")).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// `POST /reload`: the HTTP status.
pub fn reload(admin: SocketAddr, token: Option<&str>) -> u16 {
    call(admin, "POST", "/reload", token, None).0
}
