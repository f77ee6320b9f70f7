//! Bad input: every error names the place (file:line:column or file:line), the rule and
//! the value, and nothing panics.

use crate::common;

use std::path::{Path, PathBuf};

use common::{compile_text, real_geo_data};
use linedns::CompileOptions;

/// A rules text with one line whose sources are `sources` (YAML flow list).
fn with_sources(sources: &str) -> String {
    format!("version: 1\nlines:\n  - name: carrier\n    sources: {sources}\nzones: []\n")
}

/// Compiles and returns the error text; fails the test if it compiled.
fn error_of(text: &str, geo: &Path) -> String {
    match compile_text(text, geo) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(err: &str, needles: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "error does not mention {n:?}:\n{err}");
    }
}

/// A scratch directory for data files made by a test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("linedns-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let err = compile_text("version: 1\nlines:\n  - name: [unclosed\n", Path::new(".")).unwrap_err();
    let place = &err.0[0].place;
    assert!(place.file.ends_with("tests/inline.yaml"), "{err}");
    assert_eq!((place.line, place.column), (Some(3), Some(11)), "{err}");
    assert!(err.to_string().contains("tests/inline.yaml:3:11:"), "{err}");
}

#[test]
fn unknown_field_is_rejected_by_name() {
    let err = error_of("version: 1\nlines:\n  - name: a\n    sourcse: []\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:4:", "sourcse"]);
    let err = error_of("version: 1\nzonez: []\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:2:", "zonez"]);
}

#[test]
fn wrong_version_is_rejected() {
    let err = error_of("version: 2\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:1:", "unsupported rules version 2"]);
}

#[test]
fn unknown_line_in_a_chain() {
    let text = "version: 1\nlines:\n  - name: a\n    fallback: [nowhere]\n";
    let err = error_of(text, Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:4:", "line \"a\" fallback", "unknown line \"nowhere\""]);
    let text = "version: 1\nlines:\n  - name: a\n    parent: ghost\n";
    assert_mentions(&error_of(text, Path::new(".")), &["tests/inline.yaml:4:", "unknown line \"ghost\""]);
}

#[test]
fn cycles_in_chains_and_parents() {
    let text = "version: 1\nlines:\n  - name: a\n    fallback: [default, a]\n";
    assert_mentions(
        &error_of(text, Path::new(".")),
        &["tests/inline.yaml:4:", "cycle: line \"a\" falls back to itself"],
    );
    let text = "version: 1\nlines:\n  - name: a\n  - name: b\n    fallback: [a, a]\n";
    assert_mentions(&error_of(text, Path::new(".")), &["appears twice"]);
    let text = "version: 1\nlines:\n  - name: a\n    parent: b\n  - name: b\n    parent: a\n";
    assert_mentions(&error_of(text, Path::new(".")), &["tests/inline.yaml:4:", "parent cycle: a → b → a"]);
}

#[test]
fn bad_cidr_in_a_list_names_file_line_and_value() {
    let dir = scratch("badcidr");
    let mut list: String = (0..4011u32).map(|i| format!("10.{}.{}.0/24\n", i / 256, i % 256)).collect();
    list.push_str("10.200.0.1/16\n");
    std::fs::write(dir.join("big.txt"), list).unwrap();
    let err = error_of(&with_sources("[{ file: big.txt }]"), &dir);
    assert_mentions(
        &err,
        &["big.txt:4012:", "line \"carrier\"", "\"10.200.0.1/16\"", "host bits set", "10.200.0.0/16"],
    );
    // Inline prefixes too.
    let err = error_of(&with_sources("[{ cidr: [192.0.2.1/24] }]"), Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:4:", "\"192.0.2.1/24\"", "host bits set"]);
    let err = error_of(&with_sources("[{ cidr: [not-an-ip] }]"), Path::new("."));
    assert_mentions(&err, &["\"not-an-ip\""]);
}

#[test]
fn missing_data_file() {
    let err = error_of(&with_sources("[{ file: no/such/list.txt }]"), Path::new("/nonexistent-geo"));
    assert_mentions(
        &err,
        &["tests/inline.yaml:4:", "line \"carrier\"", "cannot read /nonexistent-geo/no/such/list.txt"],
    );
    let err = error_of(&with_sources("[{ mmdb: gone.mmdb, asn: [1] }]"), Path::new("/nonexistent-geo"));
    assert_mentions(&err, &["tests/inline.yaml:4:", "/nonexistent-geo/gone.mmdb"]);
}

#[test]
fn corrupt_mmdb_files_are_rejected() {
    let geo = real_geo_data();
    // Cyclic data: fails on open.
    let err = error_of(
        &with_sources("[{ mmdb: mmdb-test/bad-maxminddb-golang-cyclic-data-structure.mmdb, country: CN }]"),
        &geo,
    );
    assert_mentions(
        &err,
        &["tests/inline.yaml:4:", "bad-maxminddb-golang-cyclic-data-structure.mmdb", "not a valid MaxMind DB"],
    );
    // Corrupt search tree: opens and even answers lookups; its unreachable nodes point
    // back at the root (a cycle waiting for a lookup).
    let err = error_of(
        &with_sources("[{ mmdb: mmdb-test/bad-libmaxminddb-corrupt-search-tree.mmdb, country: CN, family: v4 }]"),
        &geo,
    );
    assert_mentions(
        &err,
        &["bad-libmaxminddb-corrupt-search-tree.mmdb", "search tree node 1 has the invalid record 0"],
    );
    // Not an MMDB at all.
    let err = error_of(&with_sources("[{ mmdb: china-operator-ip/chinanet.txt, country: CN }]"), &geo);
    assert_mentions(&err, &["chinanet.txt", "not a valid MaxMind DB"]);
}

#[test]
fn ipv6_in_an_ipv4_only_mmdb_is_an_error_unless_v4_is_asked() {
    let geo = real_geo_data();
    for db in ["chnroutes2/chnroutes.mmdb", "mmdb-test/MaxMind-DB-test-ipv4-24.mmdb"] {
        let err = error_of(&with_sources(&format!("[{{ mmdb: {db}, country: CN }}]")), &geo);
        assert_mentions(&err, &["tests/inline.yaml:4:", db, "IPv4-only", "family: v4"]);
    }
    let snap =
        compile_text(&with_sources("[{ mmdb: chnroutes2/chnroutes.mmdb, country: CN, family: v4 }]"), &geo).unwrap();
    let line = snap.classifier.classify("114.114.114.114".parse().unwrap(), 32).line;
    assert_eq!(snap.lines.name(line), "carrier");
    assert_eq!(snap.classifier.classify("8.8.8.8".parse().unwrap(), 32).line, linedns::geo::DEFAULT_LINE);
}

#[test]
fn mmdb_selectors_take_country_and_subdivision() {
    let geo = real_geo_data();
    let text = "version: 1\nlines:\n  - name: cn\n    sources: [{ mmdb: mmdb-test/GeoIP2-City-Test.mmdb, country: CN }]\n  - name: jilin\n    parent: cn\n    sources: [{ mmdb: mmdb-test/GeoIP2-City-Test.mmdb, subdivision: CN-22 }]\n";
    let snap = compile_text(text, &geo).unwrap_or_else(|e| panic!("{e}"));
    let line = |a: &str| snap.lines.name(snap.classifier.classify(a.parse().unwrap(), 128).line).to_string();
    assert_eq!(line("175.16.199.1"), "jilin");
    assert_eq!(line("2001:250::1"), "cn");
    assert_eq!(line("81.2.69.142"), "default");
}

#[test]
fn apnic_delegated_source_needs_a_country() {
    let geo = common::repo_path("geo-data");
    let err = error_of(&with_sources("[{ apnic: sample/delegated-sample.txt }]"), &geo);
    assert_mentions(&err, &["tests/inline.yaml:4:", "needs `country`"]);
    let snap = compile_text(&with_sources("[{ apnic: sample/delegated-sample.txt, country: JP }]"), &geo).unwrap();
    assert_eq!(snap.lines.name(snap.classifier.classify("192.0.2.1".parse().unwrap(), 32).line), "carrier");
}

#[test]
fn source_shape_errors() {
    let err = error_of(&with_sources("[{ file: a.txt, cidr: [10.0.0.0/8] }]"), Path::new("."));
    assert_mentions(&err, &["exactly one of file, cidr, apnic, mmdb (found: file, cidr)"]);
    let err = error_of(&with_sources("[{ cidr: [10.0.0.0/8], asn: [1] }]"), Path::new("."));
    assert_mentions(&err, &["`asn` does not apply to a cidr source"]);
    let err = error_of(&with_sources("[{ mmdb: x.mmdb }]"), Path::new("."));
    assert_mentions(&err, &["needs at least one of `country`, `subdivision`, `asn`"]);
}

#[test]
fn line_definition_errors() {
    let err = error_of("version: 1\nlines:\n  - name: default\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:3:", "`default` is built in"]);
    let err = error_of("version: 1\nlines:\n  - name: a\n  - name: a\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:4:", "defined twice"]);
    let err = error_of("version: 1\npriority: [zz]\nlines:\n  - name: a\n", Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:2:", "priority", "unknown line \"zz\""]);
}

const ZONE_HEAD: &str = "version: 1\nlines:\n  - name: a\n    sources: [{ cidr: [10.0.0.0/8] }]\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\n";

#[test]
fn zone_errors_name_the_record() {
    let cases: &[(&str, &[&str])] = &[
        (
            "    records: [{ name: www, type: BOGUS, values: x }]\n",
            &["tests/inline.yaml:9:", "unknown record type \"BOGUS\""],
        ),
        (
            "    records: [{ name: www, type: A, values: 300.1.2.3 }]\n",
            &["tests/inline.yaml:9:", "record www A", "\"300.1.2.3\""],
        ),
        ("    records: [{ name: www.other.org., type: A, values: 192.0.2.1 }]\n", &["outside the zone example.com"]),
        (
            "    records: [{ name: www, type: CNAME, values: a }, { name: www, type: TXT, values: t }]\n",
            &["www.example.com has a CNAME ("],
        ),
        (
            "    records: [{ name: www, type: A, values: 192.0.2.1 }, { name: www, type: A, values: 192.0.2.2 }]\n",
            &["www.example.com A is defined twice"],
        ),
        (
            "    line_records: [{ name: www, type: A, pools: { a: [192.0.2.1] } }]\n",
            &["tests/inline.yaml:9:", "no pool for line `default`"],
        ),
        (
            "    line_records: [{ name: www, type: A, pools: { b: [192.0.2.1], default: [192.0.2.2] } }]\n",
            &["pool for unknown line \"b\""],
        ),
        (
            "    line_records: [{ name: www, type: A, pools: { default: [\"2001:db8::1\"] } }]\n",
            &["2001:db8::1 does not fit an A record"],
        ),
        (
            "    line_records: [{ name: www, type: A, pools: { default: [{ address: 192.0.2.1, weight: 0 }] } }]\n",
            &["weight 0 of 192.0.2.1"],
        ),
        (
            "    line_records: [{ name: www, type: PTR, pools: { default: [a.example.net.] } }]\n",
            &["tests/inline.yaml:9:", "unsupported record type \"PTR\" (supported: A, AAAA, CNAME"],
        ),
        (
            "    line_records: [{ name: www, type: MX, pools: { default: [192.0.2.1] } }]\n",
            &["line record www MX: pool \"default\": bad MX value \"192.0.2.1\""],
        ),
        (
            "    line_records: [{ name: www, type: A, pools: { default: [192.0.2.1] }, fallback: { a: [a] } }]\n",
            &["falls back to itself"],
        ),
    ];
    for (zone_tail, needles) in cases {
        let err = error_of(&format!("{ZONE_HEAD}{zone_tail}"), Path::new("."));
        assert_mentions(&err, needles);
    }
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = format!(
        "{ZONE_HEAD}    records:\n      - {{ name: a, type: A, values: 1.2.3 }}\n      - {{ name: b, type: A, values: 4.5.6 }}\n"
    );
    let err = compile_text(&text, Path::new(".")).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
}

#[test]
fn every_good_test_database_loads() {
    // The tree check must not reject real databases: IPv6 ones point their IPv4 aliases
    // back at the IPv4 subtree, and chnroutes.mmdb has no description map.
    let geo = real_geo_data();
    let dbs = [
        "chnroutes2/chnroutes.mmdb",
        "mmdb-test/GeoIP2-City-Test.mmdb",
        "mmdb-test/GeoIP2-Country-Test.mmdb",
        "mmdb-test/GeoIP2-ISP-Test.mmdb",
        "mmdb-test/GeoLite2-ASN-Test.mmdb",
        "mmdb-test/GeoLite2-City-Test.mmdb",
        "mmdb-test/GeoLite2-Country-Test.mmdb",
        "mmdb-test/MaxMind-DB-no-ipv4-search-tree.mmdb",
        "mmdb-test/MaxMind-DB-test-decoder.mmdb",
        "mmdb-test/MaxMind-DB-test-ipv4-24.mmdb",
        "mmdb-test/MaxMind-DB-test-mixed-24.mmdb",
    ];
    for db in dbs {
        let text = with_sources(&format!("[{{ mmdb: {db}, country: CN, family: v4 }}]"));
        if let Err(e) = compile_text(&text, &geo) {
            panic!("{db} must load: {e}");
        }
    }
    let snap =
        compile_text(&with_sources("[{ mmdb: chnroutes2/chnroutes.mmdb, country: CN, family: v4 }]"), &geo).unwrap();
    assert_eq!(snap.summary().lines[1].prefixes_v4, 3912, "every network of chnroutes.mmdb");
}

#[test]
fn transfer_rule_errors_name_the_rule_and_value() {
    let text = "version: 1\nlines:\n  - name: telecom\n    sources: [{ cidr: [198.51.100.0/24] }]\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\ntransfers:\n  - { name: a, allow: [10.0.0.1/8], line: mars }\n  - { name: a, allow: [], zones: [example.org] }\n";
    let err = error_of(text, Path::new("."));
    assert_mentions(
        &err,
        &[
            "tests/inline.yaml:10:",
            "transfer \"a\"",
            "allow: bad CIDR \"10.0.0.1/8\": host bits set",
            "unknown line \"mars\" (lines: default, telecom)",
            "tests/inline.yaml:11:",
            "transfer rule \"a\" is defined twice",
            "a transfer rule needs `allow` (addresses), a `key`, or both",
            "zones: no zone \"example.org\" in the rules",
        ],
    );
    // A good rule compiles, a bare address admitting just itself.
    let good = text.replace(
        "  - { name: a, allow: [10.0.0.1/8], line: mars }\n  - { name: a, allow: [], zones: [example.org] }\n",
        "  - { name: b, allow: [192.0.2.53, \"2001:db8::/32\"], line: telecom, zones: [example.com.] }\n",
    );
    let snap = compile_text(&good, Path::new(".")).unwrap();
    assert_eq!(snap.transfers.len(), 1);
    assert_eq!(snap.transfers[0].allow[0].to_string(), "192.0.2.53/32");
    assert_eq!(snap.transfers[0].zones, Some(vec![0]));
}

#[test]
fn key_errors_never_show_the_secret() {
    let text = "version: 1\nzones: []\nkeys:\n  k1: { algorithm: hmac-md5, secret: \"c2VjcmV0\" }\n  k2: { algorithm: hmac-sha256, secret: \"not base64 at all!\" }\ntransfers:\n  - { name: t, key: k3 }\n";
    let err = error_of(text, Path::new("."));
    assert_mentions(
        &err,
        &[
            "tests/inline.yaml:4:",
            "key \"k1\": unknown algorithm \"hmac-md5\" (hmac-sha256, hmac-sha512)",
            "tests/inline.yaml:5:",
            "key \"k2\": the secret is not base64",
            "transfer \"t\": unknown key \"k3\" (keys: )",
        ],
    );
    assert!(!err.contains("not base64 at all!") && !err.contains("c2VjcmV0"), "no secret in errors:\n{err}");
}

#[test]
fn bad_dnstap_and_run_as_settings_name_the_value() {
    let with = |server: &str| format!("version: 1\nserver:\n{server}lines: []\nzones: []\n");
    let err = error_of(&with("  dnstap: { file: q.dnstap, sample: 0 }\n"), Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:", "server dnstap", "sample 0 is not above 0 and at most 1"]);
    let err = error_of(&with("  dnstap: { file: q.dnstap, socket: q.sock }\n"), Path::new("."));
    assert_mentions(&err, &["server dnstap", "one of socket: PATH or file: PATH"]);
    let err = error_of(&with("  dnstap: { file: q.dnstap, queries: false, responses: false }\n"), Path::new("."));
    assert_mentions(&err, &["queries and responses are both false"]);
    let err = error_of(&with("  dnstap: { file: q.dnstap, sampel: 0.1 }\n"), Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:3:", "sampel"]);
    let err = error_of(&with("  dnstap: { file: q.dnstap, sample: 0.6 }\n"), Path::new("."));
    assert_mentions(&err, &["sample 0.6 is not one query in N", "the nearest is 0.5"]);
    let err = error_of(&with("  group: nogroup\n"), Path::new("."));
    assert_mentions(&err, &["group is set without user"]);
}

/// What no YAML error may show an operator: the reader's option names, Rust types, serde's
/// phrasing, or Debug braces.
fn assert_in_words(err: &str) {
    for banned in
        ["DuplicateKeyPolicy", "Options", "invalid type: ", "invalid value: ", "invalid u", "invalid i", "{", "}"]
    {
        assert!(!err.contains(banned), "{banned:?} in {err}");
    }
    let rust = ["u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize", "f32", "f64", "String", "Vec"];
    let words: Vec<&str> = err.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    assert!(!words.iter().any(|w| rust.contains(w) || w.ends_with("Def")), "a Rust type in {err}");
}

/// Each kind of YAML mistake gives one error in words at its file:line:column, naming the
/// key and the value written.
#[test]
fn yaml_errors_are_in_words_with_the_key_the_value_and_the_place() {
    let zone =
        "zones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\n";
    let node = |n: &str| {
        format!(
            "version: 1\n{zone}    line_records:\n      - name: www\n        type: A\n        pools:\n          default: [{n}]\n"
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            format!("version: 1\n{zone}    ttl: 99999999999\n"),
            "6:10: `ttl` must be a whole number from 0 to 4294967295, not 99999999999",
        ),
        (format!("version: 1\n{zone}    ttl: -5\n"), "6:10: `ttl` must be a whole number from 0 to 4294967295, not -5"),
        (format!("version: 1\n{zone}    ttl: 5m\n"), "6:10: `ttl` must be a whole number from 0 to 4294967295, not 5m"),
        (
            "version: 1\nserver:\n  rrl: { rate: 5, ipv4_prefix: 300 }\n".into(),
            "3:32: `ipv4_prefix` must be a whole number from 0 to 255, not 300",
        ),
        ("version: 1\nserver:\n  watch: maybe\n".into(), "3:10: `watch` must be true or false, not maybe"),
        (
            "version: 1\nserver:\n  dnstap: { file: x, sample: lots }\n".into(),
            "3:30: `sample` must be a number, not lots",
        ),
        ("version: 1\nlines: 5\n".into(), "2:8: `lines` must be a list (`- item` lines, or [a, b]), not 5"),
        ("version: 1\nlines:\n  - name:\n".into(), "3:9: `name` must be text, not empty"),
        (
            "version: 1\nlines:\n  - name: a\n    sources: [{ mmdb: x.mmdb, family: v5 }]\n".into(),
            "4:39: `family` must be one of both, v4, v6, not v5",
        ),
        (
            node("{ address: 192.0.2.1, weight: -1 }"),
            "an item of `default` must be an address or record data, or a mapping with `address` or `data` (and optional `weight` and `probe`); a mapping is written here",
        ),
        (
            format!("version: 1\n{zone}lines: []\nzones: []\n"),
            "7:1: the key `zones` appears twice in the same mapping (first at line 2)",
        ),
        (
            format!("version: 1\n{zone}    ns: [ns2]\n"),
            "6:5: the key `ns` appears twice in the same mapping (first at line 5)",
        ),
        (
            "version: 1\nlines:\n  - name: a\n    sourcse: []\n".into(),
            "4:5: `sourcse` is not a key here; the keys here are: name, ",
        ),
        ("version: 1\nlines:\n  - sources: []\n".into(), "this mapping needs the key `name`, and it is missing"),
        (
            "version: 1\nlines: [a\nzones: []\n".into(),
            "3:6: not valid YAML: illegal placement of ':' indicator (an unclosed",
        ),
        (
            "version: 1\nlines:\n  - name: a\n   bad: 1\n".into(),
            "4:4: not valid YAML: while parsing a block collection, did not find expected '-' indicator (a line indented",
        ),
        ("version: 1\n\tlines: []\n".into(), "a tab where YAML wants spaces (indent with spaces only)"),
        (
            "# a list\n- version: 1\n".into(),
            "2:1: the rules file must be a mapping (`key: value` lines), not - version: 1",
        ),
        ("".into(), "the rules file is empty (it needs at least `version: 1`)"),
    ];
    for (text, expected) in cases {
        let err = compile_text(&text, Path::new(".")).err().unwrap_or_else(|| panic!("no error for:\n{text}"));
        let err = err.to_string();
        assert!(err.starts_with("tests/inline.yaml:") || err.contains("/tests/inline.yaml:"), "{err}");
        assert!(err.contains(expected), "expected {expected:?}, got:\n{err}\nfor:\n{text}");
        assert_in_words(&err);
    }
}

#[test]
fn the_compile_reads_the_time_from_the_clock_it_is_given() {
    // A date serial (2026120101) with transfers and no state directory is an error while
    // it is ahead of the clock (a restart would give it again); given a clock past it
    // (2026120101 seconds, May 2034), the same rules compile.
    let text = "version: 1\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 2026120101 }\n    ns: [ns1]\ntransfers:\n  - { name: t, allow: [127.0.0.1] }\n";
    let path = std::path::Path::new("clock.yaml");
    let at = |now: fn() -> u64| {
        linedns::compile_str(text, path, &CompileOptions { clock: now, ..CompileOptions::default() })
    };
    let err = at(|| 1_800_000_000).expect_err("a date serial ahead of the clock").to_string();
    assert!(err.contains("2026120101"), "{err}");
    at(|| 2_026_120_200).expect("the clock is past the serial");
}

#[test]
fn provider_errors_name_the_provider_and_value() {
    let text = "version: 1\nlines:\n  - name: telecom\n    sources: [{ cidr: [198.51.100.0/24] }]\nzones:\n  - origin: example.com\n    soa: { mname: ns1, rname: hostmaster, serial: 1 }\n    ns: [ns1]\nproviders:\n  - { name: b, kind: dns_update, server: \"nowhere\", line: mars }\n  - { name: b, kind: dns_update, server: 192.0.2.1, key: nokey, zones: [example.org], max_change: 2 }\n  - { name: c, kind: dns_update }\n";
    let err = error_of(text, Path::new("."));
    assert_mentions(
        &err,
        &[
            "tests/inline.yaml:10:",
            "provider \"b\"",
            "server: \"nowhere\" is not an address (IP, IP:PORT or [IPv6]:PORT)",
            "unknown line \"mars\" (lines: default, telecom)",
            "tests/inline.yaml:11:",
            "provider \"b\" is defined twice",
            "unknown key \"nokey\"",
            "zones: no zone \"example.org\" in the rules",
            "max_change 2 is not a share from 0 to 1",
            "tests/inline.yaml:12:",
            "a dns_update provider needs `server` (IP or IP:PORT)",
        ],
    );
    let powerdns =
        text.replace("kind: dns_update }", "kind: powerdns, api: \"https://pdns.example\", api_key_file: k }");
    let err = error_of(&powerdns, Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:12:", "api: \"https://pdns.example\" is not http://IP:PORT"]);
    let keyless = text
        .replace("kind: dns_update }", "kind: powerdns, api: \"http://127.0.0.1:8081\", api_key_file: no-such.key }");
    let err = error_of(&keyless, Path::new("."));
    assert_mentions(&err, &["tests/inline.yaml:12:", "cannot read api_key_file", "no-such.key"]);
    let unknown = text.replace("kind: dns_update }", "kind: carrier_pigeon }");
    let err = error_of(&unknown, Path::new("."));
    assert_mentions(
        &err,
        &["tests/inline.yaml:12:", "`kind` must be one of dns_update, powerdns, octodns, not carrier_pigeon"],
    );
}

#[test]
fn fleet_errors_name_the_field_and_the_value() {
    let fleet = |body: &str| format!("version: 1\nfleet:\n{body}zones: []\n");
    let cases: &[(&str, &[&str])] = &[
        (
            "  instance: \"bj 1\"\n  site: bj\n  store: { kind: nats, servers: [\"nats://127.0.0.1:4222\"] }\n",
            &["tests/inline.yaml:3:", "instance \"bj 1\": 1 to 64 letters, digits"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: etcd, servers: [\"http://127.0.0.1:2379\"] }\n",
            &["tests/inline.yaml:5:", "kind \"etcd\": the store linedns takes is `nats`"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: nats, servers: [\"127.0.0.1:4222\"] }\n",
            &["server \"127.0.0.1:4222\": nats://HOST:PORT or tls://HOST:PORT"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: nats, servers: [\"nats://h:1\"], token_file: missing.token }\n",
            &["cannot read token_file", "missing.token"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: nats, servers: [\"nats://h:1\"] }\n  health: { quorum: 0 }\n",
            &["tests/inline.yaml:6:", "quorum 0: at least 1 site"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: nats, servers: [\"nats://h:1\"] }\n  health: most\n",
            &["\"most\": majority, any, { quorum: K } or { share: S }"],
        ),
        (
            "  instance: bj1\n  site: bj\n  store: { kind: nats, servers: [\"nats://h:1\"] }\n  health: { quorum: 3 }\n  probe_sites: 2\n",
            &["health quorum 3 is more than probe_sites 2"],
        ),
    ];
    for (body, needles) in cases {
        let err = error_of(&fleet(body), Path::new("."));
        assert_mentions(&err, needles);
    }
}
