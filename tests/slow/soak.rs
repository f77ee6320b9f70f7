//! The soak command (`benches/soak.py`) for 60 seconds against this build: load at half
//! the measured maximum, a reload every 2 s, ten flapping backends, a malformed burst and
//! an RRL flood from one /24; nothing lost, no SERVFAIL, RSS and fds flat. The 30-minute
//! run is recorded in benches/README.md.

use crate::common;

#[test]
fn a_minute_of_soak_loses_nothing_and_leaks_nothing() {
    common::tools::require(&["python3", "dnsperf"]);
    let out = common::tools::tool("python3")
        .arg(common::repo_path("benches/soak.py"))
        .args(["--seconds", "60", "--linedns", env!("CARGO_BIN_EXE_linedns")])
        .output()
        .expect("run benches/soak.py");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    assert!(out.status.success(), "the soak failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("soak passed") && stdout.contains("lost 0 "), "{stdout}");
}
