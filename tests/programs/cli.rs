//! The `linedns` binary as an operator runs it.

use crate::common;

use std::process::{Command, Output};

use common::{real_geo_data, repo_path};

fn linedns(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(repo_path(""))
        .env_remove("LINEDNS_GEO_DATA")
        .args(args)
        .output()
        .expect("run linedns")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The README's first screen: the serve command names the bundled rules, and the
/// explain example prints exactly what the README shows.
#[test]
fn readme_first_screen_is_true() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let first_screen: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("\ncargo run --release -- serve --config rules/default.yaml\n"));
    assert!(first_screen.contains("\nscripts/test\n"), "the test command is on the first screen");
    assert!(
        repo_path("scripts/test").is_file()
            && std::fs::read_to_string(repo_path(".ci/run")).unwrap().contains("\nscripts/test\n")
    );
    let command = "$ cargo run --release -- explain --config rules/default.yaml 198.51.100.64/26 www.example.com\n";
    let shown = readme.split(command).nth(1).expect("the README's explain example").split("```").next().unwrap();
    let out = linedns(&["explain", "--config", "rules/default.yaml", "198.51.100.64/26", "www.example.com"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), shown, "README output block is stale");
}

/// The README's `check-config` example on the real lists is what the binary prints.
#[test]
fn readme_check_config_example_is_true() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let shown = readme
        .split("tests/data/geo-data -c rules/china-carriers.yaml`) prints:\n\n```\n")
        .nth(1)
        .expect("the README's check-config example")
        .split("```")
        .next()
        .unwrap();
    let out = linedns(&["check-config", "--geo-data", "tests/data/geo-data", "-c", "rules/china-carriers.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out), shown, "README check-config block is stale");
}

#[test]
fn check_config_on_the_bundled_rules() {
    let out = linedns(&["check-config", "rules/default.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    for needle in [
        "rules/default.yaml: OK",
        "lines (7):",
        "gd-telecom",
        "in telecom",
        "zones (1):",
        "example.com.  10 names, 3 line records",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let json = linedns(&["check-config", "--json", "rules/default.yaml"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["lines"].as_array().unwrap().len(), 7);
    assert_eq!(v["ties"], 0);
}

#[test]
fn check_config_fails_with_every_error_and_exit_1() {
    let dir = std::env::temp_dir().join(format!("linedns-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("broken.yaml");
    std::fs::write(&rules, "version: 1\nlines:\n  - name: a\n    sources: [{ file: missing.txt }]\n  - name: b\n    sources: [{ cidr: [10.0.0.1/8] }]\n").unwrap();
    let out = linedns(&["check-config", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.yaml:4:15: line \"a\": cannot read"), "{err}");
    assert!(err.contains("broken.yaml:6:15: line \"b\": bad CIDR \"10.0.0.1/8\""), "{err}");
    assert!(err.contains("2 error(s); nothing was loaded"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn explain_json_has_the_fields_scripts_use() {
    let out = linedns(&["explain", "--config", "rules/default.yaml", "--json", "198.51.100.9", "www.example.com"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["line"], "gd-telecom");
    assert_eq!(v["prefix"], "198.51.100.0/27");
    let rules = std::fs::read_to_string(repo_path("rules/default.yaml")).unwrap();
    let line = rules.lines().position(|l| l.contains("- cidr: [198.51.100.0/27")).unwrap() + 1;
    assert_eq!(v["source"], format!("rules/default.yaml:{line} (inline)"));
    assert_eq!(v["scope"], 27);
    assert_eq!(v["records"], serde_json::json!(["www.example.com. 60 IN A 192.0.2.11"]));
    assert_eq!(v["ttl"], 60);
    assert_eq!(v["query"]["steps"][0]["line"], "gd-telecom");
}

#[test]
fn explain_shows_each_fallback_step_and_the_data_source() {
    let out = linedns(&["explain", "--config", "rules/default.yaml", "203.0.113.200", "www.example.com", "AAAA"]);
    let text = stdout(&out);
    for needle in [
        "line     domestic",
        "from geo-data/sample/delegated-sample.txt:8",
        "step 1   domestic: no pool",
        "step 2   default: chosen (1 of 1 healthy)",
        "answer   www.example.com. 60 IN AAAA 2001:db8:f::100",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn geo_data_flag_and_variable_point_at_the_real_data() {
    let geo = real_geo_data();
    let geo = geo.to_str().unwrap();
    let flag = linedns(&["explain", "-c", "rules/china-carriers.yaml", "--geo-data", geo, "--json", "240e::1"]);
    assert!(flag.status.success(), "{}", String::from_utf8_lossy(&flag.stderr));
    let v: serde_json::Value = serde_json::from_slice(&flag.stdout).unwrap();
    assert_eq!(v["line"], "telecom");
    assert!(v["source"].as_str().unwrap().ends_with("china-operator-ip/chinanet6.txt:272"));
    let var = Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(repo_path(""))
        .env("LINEDNS_GEO_DATA", geo)
        .args(["explain", "-c", "rules/china-carriers.yaml", "--json", "27.192.0.1"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&var.stdout).unwrap();
    assert_eq!(v["line"], "unicom");
    // Without either, the rules' own geo_data (/var/lib/linedns/geo-data) is used.
    let none = linedns(&["check-config", "rules/china-carriers.yaml"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("/var/lib/linedns/geo-data/china-operator-ip/china.txt"));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = linedns(&["explain", "-c", "rules/default.yaml", "10.0.0.1/8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("host bits set"));
    let out = linedns(&["explain", "-c", "rules/default.yaml", "10.0.0.1", "www.example.com", "BOGUS"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown record type \"BOGUS\""));
    assert!(stdout(&linedns(&["--help"])).contains("check-config"));
}

#[test]
fn the_production_sample_compiles() {
    let out = linedns(&["check-config", "rules/production.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("example.com.  6 names, 3 line records"), "{text}");
    // www: 13 nodes with the web check (one probed at its internal address), secure: 2
    // with web-tls, api: 4 with api-port.
    assert!(text.contains("health probes: 19"), "{text}");
}

/// The rules the Debian package installs as /etc/linedns/rules.yaml compile on the
/// sample data it installs with them (the package's geo_data path replaced by the
/// repository's copy), and serve port 53 and the state directory the unit gives.
#[test]
fn the_packaged_rules_compile_on_the_packaged_data() {
    let out = linedns(&["check-config", "--geo-data", "geo-data", "contrib/debian/rules.yaml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("lines (6)"), "{}", stdout(&out));
    let rules = std::fs::read_to_string(common::repo_path("contrib/debian/rules.yaml")).unwrap();
    let unit = std::fs::read_to_string(common::repo_path("contrib/debian/linedns.service")).unwrap();
    assert!(rules.contains("state_dir: /var/lib/linedns") && unit.contains("StateDirectory=linedns"));
    assert!(rules.contains("127.0.0.1:53") && unit.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    assert!(unit.contains("ExecStart=/usr/bin/linedns serve --config /etc/linedns/rules.yaml"), "{unit}");
}

/// The README's primary/backup example compiles (its key file made by `tsig-keygen`, its
/// elided secret filled in) and `check-config` lists its transfer rules and keys.
#[test]
fn readme_primary_backup_example_compiles() {
    common::tools::require(&["tsig-keygen"]);
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let example = readme.split("### A worked example").nth(1).unwrap();
    let yaml = example.split("```yaml\n").nth(1).unwrap().split("```").next().unwrap();
    let dir = std::env::temp_dir().join(format!("linedns-readme-backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = common::tools::tool("tsig-keygen").args(["-a", "hmac-sha256", "provider-a"]).output().unwrap();
    std::fs::write(dir.join("provider-a.key"), key.stdout).unwrap();
    let yaml = yaml
        .replace("/etc/linedns/provider-a.key", dir.join("provider-a.key").to_str().unwrap())
        .replace("/var/lib/linedns", dir.join("state").to_str().unwrap())
        .replace("secret: \"…\"", "secret: \"c2VjcmV0LWZvci10aGUtcmVhZG1lLWV4YW1wbGU=\"");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, yaml).unwrap();
    let out = linedns(&["check-config", "--geo-data", "tests/data/geo-data", rules.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains("transfers (2): provider-a: view default, 1 NOTIFY target(s); provider-b: view telecom"),
        "{text}"
    );
    assert!(text.contains("catalog.example.net.") && text.contains("check: 3 server(s) listed"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `linedns man` writes a manual page per command from the same definitions as `--help`
/// (man renders them), and `linedns completions bash` is a script bash accepts.
#[test]
fn manual_pages_and_completions_come_from_the_command_definitions() {
    common::tools::require(&["man", "bash"]);
    let dir = std::env::temp_dir().join(format!("linedns-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = linedns(&["man", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every command `--help` lists has its page, and the nested ones too.
    let help = stdout(&linedns(&["--help"]));
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .take_while(|w| !w.ends_with(':'))
        .filter(|w| *w != "help")
        .collect();
    assert!(commands.len() >= 10, "{help}");
    for command in
        commands.iter().map(|c| format!("linedns-{c}")).chain(["linedns".into(), "linedns-keys-status".into()])
    {
        assert!(dir.join(format!("{command}.1")).is_file(), "{command}.1 was written");
    }
    let page = common::tools::tool("man")
        .args(["-l"])
        .arg(dir.join("linedns-serve.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    // man justifies the text: compare it word by word.
    let page = String::from_utf8_lossy(&page.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        page.contains("SYNOPSIS linedns serve") && page.contains("--listen") && page.contains("--share-port"),
        "{page}"
    );
    let script = stdout(&linedns(&["completions", "bash"]));
    assert!(script.contains("keygen") && script.contains("check-config"), "{script}");
    let file = dir.join("linedns.bash");
    std::fs::write(&file, &script).unwrap();
    let checked = common::tools::tool("bash").arg("-n").arg(&file).output().unwrap();
    assert!(checked.status.success(), "bash -n: {}", String::from_utf8_lossy(&checked.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every command that reads rules takes them as `-c RULES` (`check-config` takes them
/// alone too); one of the two is required, not both.
#[test]
fn every_command_takes_the_rules_as_dash_c() {
    for args in [
        &["check-config", "-c", "rules/default.yaml"][..],
        &["check-config", "--config", "rules/default.yaml"],
        &["check-config", "rules/default.yaml"],
        &["table", "-c", "rules/default.yaml"],
        &["explain", "-c", "rules/default.yaml", "198.51.100.9"],
        &["export", "-c", "rules/default.yaml", "--zone", "example.com"],
        &["keys", "status", "-c", "rules/default.yaml"],
    ] {
        let out = linedns(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let none = linedns(&["check-config"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("linedns check-config -c RULES"));
    let both = linedns(&["check-config", "-c", "rules/default.yaml", "rules/default.yaml"]);
    assert_eq!(both.status.code(), Some(2));
    for command in ["serve", "check-config", "table", "explain", "export", "keygen", "check", "push"] {
        let help = stdout(&linedns(&[command, "--help"]));
        assert!(help.contains("-c, --config <RULES>"), "{command} --help:\n{help}");
    }
    for command in ["status", "roll", "import"] {
        let help = stdout(&linedns(&["keys", command, "--help"]));
        assert!(help.contains("-c, --config <RULES>"), "keys {command} --help:\n{help}");
    }
}

/// Every field `explain --help` names for `--json` is where it says (a dotted path).
#[test]
fn explain_help_names_the_json_fields_where_they_are() {
    let help = stdout(&linedns(&["explain", "--help"]));
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let fields = flat.split("fields: ").nth(1).expect("the --json help names its fields");
    let fields = fields.split(';').next().unwrap();
    let out = linedns(&["explain", "-c", "rules/default.yaml", "--json", "198.51.100.64/26", "www.example.com"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut named = 0;
    for path in fields.split(',').map(str::trim) {
        let found = path.split('.').try_fold(&json, |v, key| v.as_object().and_then(|o| o.get(key)));
        assert!(found.is_some_and(|v| !v.is_null()), "explain --help names {path:?}, which the JSON lacks:\n{json:#}");
        named += 1;
    }
    assert!(named >= 10, "{fields}");
}

/// Every `linedns` command the README shows, in a code block or inline, run as the
/// README writes it: its placeholders given real values from the repository (a synopsis's
/// `[optional]` parts left out), in a scratch directory holding what its paths name.
/// Commands that read files run for real and must succeed (`check-config` of the README's
/// broken example must fail with exit 1, as shown); `serve` must start (on port 0) and
/// stop on SIGTERM; `check` runs against a server of the test on loopback.
#[test]
fn every_command_the_readme_shows_runs() {
    common::tools::require(&["kill", "kdig"]);
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let commands = readme_commands(&readme);
    assert!(commands.len() >= 20, "{commands:#?}");
    let dir = common::server::test_dir("readme-commands");
    // What the README's relative paths name: rules.yaml (a signed zone's rules, with a
    // state directory), the zone files of the import example, the geo data.
    let signed = std::fs::read_to_string(repo_path("rules/default.yaml"))
        .unwrap()
        .replace("geo_data: ../geo-data", &format!("geo_data: {}", repo_path("geo-data").display()))
        .replacen("server:\n", "server:\n  state_dir: state\n", 1)
        .replacen("    ttl: 300\n", "    ttl: 300\n    dnssec: {}\n", 1);
    std::fs::write(dir.join("rules.yaml"), &signed).unwrap();
    std::fs::create_dir_all(dir.join("zones")).unwrap();
    for f in std::fs::read_dir(repo_path("tests/data/zones")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join("zones").join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("broken.yaml"), "version: 1\nlines:\n  - name: a\n    sources: [{ file: missing.txt }]\n")
        .unwrap();
    // A server for `check` to compare with: a zone whose NS is on loopback.
    let check_rules = dir.join("check.yaml");
    std::fs::write(
        &check_rules,
        "version: 1\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\n    \
         records: [{ name: ns1, type: A, values: 127.0.0.1 }]\n",
    )
    .unwrap();
    let server = common::server::RunningServer::start(check_rules.to_str().unwrap(), &["127.0.0.1:0"]);
    let mut ran = Vec::new();
    for command in &commands {
        let mut args = substitute(command, &dir, &check_rules, server.addrs[0]);
        let subcommand = args[0].clone();
        // The keys commands need a zone with keys: made once, first.
        if !dir.join("state/keys/example.com").exists() && subcommand.starts_with("keys") {
            let made = linedns_in(&dir, &["keygen", "-c", "rules.yaml", "example.com", "--split"]);
            assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        }
        if subcommand == "serve" {
            args.extend(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"].map(String::from));
            serve_briefly(&dir, &args, command);
        } else {
            let out = linedns_in(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
            let err = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            match (subcommand.as_str(), args.get(2).map(String::as_str)) {
                // The README shows it failing.
                ("check-config", Some("broken.yaml")) => assert_eq!(code, Some(1), "{command}: {err}"),
                // The bundled rules name no provider: a usage error that says so.
                ("push", _) => {
                    assert_eq!(code, Some(2), "{command}: {err}");
                    assert!(err.contains("the rules name no provider"), "{command}: {err}");
                }
                // A check finds problems (nothing answers on 127.0.0.1:53): 1, not a usage error.
                ("check", _) => assert!(matches!(code, Some(0 | 1)), "{command}: {err}"),
                // keygen run twice (two README examples) refuses the second time, naming keys status.
                ("keygen", _) if err.contains("holds keys") => {}
                // A roll already under way is refused the same way; so is a ZSK roll of a
                // zone whose one key is a CSK (the README's keygen made one).
                ("keys", _) if err.contains("under way") || err.contains("has no ZSK") => {}
                _ => assert!(out.status.success(), "{command} ({args:?}): {err}"),
            }
        }
        ran.push(command.clone());
    }
    server.stop();
    eprintln!("ran {} README commands", ran.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `linedns` commands of the README: code-block lines (`linedns ...`, `$ linedns ...`,
/// `cargo run --release -- ...`) and inline code that is a whole command; comments and
/// shell redirections cut off.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut candidates: Vec<String> = Vec::new();
    let mut prose = String::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            candidates.push(line.trim().trim_start_matches("$ ").to_string());
        } else {
            // Inline code may run over a line break: the prose is read as one text.
            prose.push_str(line);
            prose.push(' ');
        }
    }
    candidates.extend(prose.split('`').skip(1).step_by(2).map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")));
    let mut commands = Vec::new();
    {
        for text in &candidates {
            let text = text.strip_prefix("cargo run --release -- ").map_or(text.clone(), |t| format!("linedns {t}"));
            let Some(rest) = text.strip_prefix("linedns ") else { continue };
            let rest = rest.split(" #").next().unwrap().split(';').next().unwrap().split(" > ").next().unwrap().trim();
            // A bare command name in prose (`linedns check`) is a mention, not an example.
            if rest.split_whitespace().count() < 2 {
                continue;
            }
            commands.push(format!("linedns {rest}"));
        }
    }
    commands.dedup();
    commands
}

/// `command`'s arguments with the README's placeholders given values, and its `[...]`
/// parts left out.
fn substitute(
    command: &str,
    dir: &std::path::Path,
    check_rules: &std::path::Path,
    primary: std::net::SocketAddr,
) -> Vec<String> {
    let mut text = String::new();
    let mut depth = 0;
    for c in command.chars() {
        match c {
            '[' if command.contains(" [") => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let rules = repo_path("rules/default.yaml").display().to_string();
    let words: Vec<String> = text.split_whitespace().skip(1).map(String::from).collect();
    let is_check = words.first().is_some_and(|w| w == "check");
    // The key commands work on a signed zone with a state directory: the scratch rules.
    let keyed = words.first().is_some_and(|w| w == "keygen" || w == "keys");
    let mut out: Vec<String> = words
        .into_iter()
        .filter(|w| w != "...")
        .map(|w| match w.trim_end_matches("...") {
            "RULES" if is_check => check_rules.display().to_string(),
            "RULES" if keyed => "rules.yaml".into(),
            "RULES" => rules.clone(),
            "ZONE" | "ORIGIN" => "example.com".into(),
            "CLIENT" => "198.51.100.64/26".into(),
            "DIR" => dir.join("man").display().to_string(),
            "ZONEFILE" => "zones/example.org.zone".into(),
            "FILE" => dir.join("import.key").display().to_string(),
            "bash|zsh|fish|elvish|powershell" => "bash".into(),
            // Paths relative to the repository root (the README's commands run there).
            other if other.contains('/') && !dir.join(other).exists() && repo_path(other).exists() => {
                repo_path(other).display().to_string()
            }
            other => other.to_string(),
        })
        .collect();
    if is_check {
        out.extend(["--primary".to_string(), primary.to_string()]);
    }
    if out.first().is_some_and(|w| w == "keys") && out.get(1).is_some_and(|w| w == "import") {
        // A key made by keygen elsewhere, to import.
        let other = dir.join("other");
        if !other.join("state/keys/example.com").exists() {
            std::fs::create_dir_all(other.join("state")).unwrap();
            std::fs::copy(dir.join("rules.yaml"), other.join("rules.yaml")).unwrap();
            let made = linedns_in(&other, &["keygen", "-c", "rules.yaml", "example.com"]);
            assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        }
        let key = std::fs::read_dir(other.join("state/keys/example.com"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "key"))
            .unwrap();
        // The key files the README names (its own examples): ours instead.
        out.retain(|w| !(w.ends_with(".key") || w.ends_with(".private") || w.ends_with(".pem") || w == "..."));
        out.push(key.display().to_string());
        out.push(key.with_extension("private").display().to_string());
    }
    out
}

/// `linedns ARGS` run in `dir`.
fn linedns_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(dir)
        .env_remove("LINEDNS_GEO_DATA")
        .env_remove("LINEDNS_ADMIN_TOKEN")
        .args(args)
        .output()
        .expect("run linedns")
}

/// Starts `linedns ARGS` in `dir`, waits for its start line (20 s at most), stops it with
/// SIGTERM by its PID, and requires a clean exit.
fn serve_briefly(dir: &std::path::Path, args: &[String], command: &str) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_linedns"))
        .current_dir(dir)
        .env_remove("LINEDNS_GEO_DATA")
        .env_remove("LINEDNS_ADMIN_TOKEN")
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start linedns serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains(" on udp+tcp ") {
                let _ = tx.send(Ok(()));
            }
        }
        let _ = tx.send(Err(log));
    });
    let started = rx.recv_timeout(std::time::Duration::from_secs(20));
    common::tools::tool("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(matches!(started, Ok(Ok(()))), "{command}: did not start: {started:?}");
    assert!(status.success(), "{command}: exited with {status}");
}
