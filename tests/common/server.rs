//! Starting the real `linedns` binary on loopback for a test, and stopping it by PID.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `linedns serve` started by this test.
pub struct RunningServer {
    child: Child,
    /// The addresses it listens on (UDP and TCP share them), in `--listen` order.
    pub addrs: Vec<SocketAddr>,
    /// The admin API's address.
    pub admin: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl RunningServer {
    /// Starts `linedns serve -c RULES` on port 0 of each of `listen` and waits for its
    /// start line (at most 20 s).
    pub fn start(rules: &str, listen: &[&str]) -> RunningServer {
        Self::start_with(rules, listen, &[])
    }

    /// [`RunningServer::start`] with extra environment variables.
    pub fn start_with(rules: &str, listen: &[&str], env: &[(&str, &str)]) -> RunningServer {
        Self::start_args(rules, listen, env, &[])
    }

    /// [`RunningServer::start_with`] with extra arguments to `serve`.
    pub fn start_args(rules: &str, listen: &[&str], env: &[(&str, &str)], args: &[&str]) -> RunningServer {
        Self::start_admin(rules, listen, env, args, "127.0.0.1:0")
    }

    /// [`RunningServer::start_args`] with the admin API on `admin`.
    pub fn start_admin(
        rules: &str,
        listen: &[&str],
        env: &[(&str, &str)],
        args: &[&str],
        admin: &str,
    ) -> RunningServer {
        Self::launch(Command::new(env!("CARGO_BIN_EXE_linedns")), rules, listen, env, args, admin)
    }

    /// [`RunningServer::start`] inside the network namespace `netns` (`ip netns exec`,
    /// which becomes linedns: the PID is the server's).
    pub fn start_in_netns(netns: &str, rules: &str, listen: &[&str]) -> RunningServer {
        let mut cmd = super::tools::tool("ip");
        cmd.args(["netns", "exec", netns, env!("CARGO_BIN_EXE_linedns")]);
        Self::launch(cmd, rules, listen, &[], &[], "127.0.0.1:0")
    }

    /// Runs `cmd` (linedns, or what execs it) as `serve` and waits for its start line.
    fn launch(
        mut cmd: Command,
        rules: &str,
        listen: &[&str],
        env: &[(&str, &str)],
        args: &[&str],
        admin: &str,
    ) -> RunningServer {
        // `stop` signals it with kill(1): fail now, not after the test, if it is missing.
        super::tools::require(&["kill"]);
        cmd.current_dir(super::repo_path(""))
            .args(["serve", "-c", rules, "--workers", "2", "--admin-listen", admin])
            // The rules' own geo_data applies: a LINEDNS_GEO_DATA of the caller's (CI sets
            // one) would point the bundled rules at other data.
            .env_remove("LINEDNS_GEO_DATA")
            .env_remove("LINEDNS_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .args(args);
        for l in listen {
            cmd.args(["--listen", l]);
        }
        let mut child =
            cmd.env("RUST_LOG", "info").stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("start linedns");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Into the log first: a test reading the log once started sees the line.
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
                if line.contains(" on udp+tcp ") {
                    let _ = tx.send(line.clone());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("linedns did not start:\n{}", log.lock().unwrap()));
        let addrs = line
            .split(" on udp+tcp ")
            .nth(1)
            .unwrap()
            .split(" (")
            .next()
            .unwrap()
            .split(' ')
            .map(|a| a.parse().unwrap())
            .collect();
        let admin = line.rsplit("admin API ").next().unwrap().trim().parse().unwrap();
        RunningServer { child, addrs, admin, log }
    }

    /// The process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (at most 10 s) for a clean exit; returns the log.
    pub fn stop(self) -> String {
        self.stop_with("TERM")
    }

    /// Sends `signal` (`TERM`, `INT`) and waits (at most 10 s) for a clean exit.
    pub fn stop_with(mut self, signal: &str) -> String {
        let pid = self.child.id().to_string();
        super::tools::tool("kill").args([&format!("-{signal}"), &pid]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "linedns exited with {status}:\n{}", self.log());
                break;
            }
            assert!(Instant::now() < deadline, "linedns did not stop on SIGTERM:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50)); // let the log reader drain
        self.log()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // A failing test still ends the process it started, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `kdig` with `args` and returns its stdout (panics if kdig is missing).
pub fn kdig(args: &[String]) -> String {
    let out = super::tools::tool("kdig").args(args).output().expect("run kdig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kdig @ADDR -p PORT +timeout=2 +retry=0 ARGS...`.
pub fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let mut all =
        vec![format!("@{}", addr.ip()), "-p".into(), addr.port().to_string(), "+timeout=2".into(), "+retry=0".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    kdig(&all)
}

/// The serial of the first SOA record kdig printed (`None` if none).
pub fn soa_serial(output: &str) -> Option<u32> {
    let soa = output.lines().find(|l| l.contains("\tSOA\t") && !l.starts_with(';'))?;
    soa.split_whitespace().nth(6)?.parse().ok()
}

/// The record lines of kdig's answer section.
pub fn answer_lines(output: &str) -> impl Iterator<Item = &str> {
    output
        .split(";; ANSWER SECTION:")
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with(";;"))
}

/// The data of kdig's answer section (the last field of each record line), sorted.
pub fn answers(output: &str) -> Vec<String> {
    let mut data: Vec<String> =
        answer_lines(output).filter_map(|l| l.split_whitespace().last().map(str::to_string)).collect();
    data.sort();
    data
}

/// A directory for one test's rules, emptied first.
pub fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("linedns-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server tests' rules with `extra` added to their `server:` section, written in
/// `dir`; returns the rules' path.
pub fn rules_with(dir: &std::path::Path, extra: &str) -> String {
    let original = std::fs::read_to_string(super::repo_path("tests/rules/server.yaml")).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, original.replacen("server:\n", &format!("server:\n{extra}"), 1)).unwrap();
    rules.to_str().unwrap().to_string()
}
