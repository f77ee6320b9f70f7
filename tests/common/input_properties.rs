//! What the input loaders must do with any input, shared by the fuzz targets
//! (`fuzz/fuzz_targets/{rules,lists,mmdb,ecs,zone_file}.rs`) and their corpus replay in `cargo test`
//! (`tests/inprocess/fuzz_corpus.rs`): return a result or an error naming the input, never panic,
//! and never return anything the input did not say.

use std::net::IpAddr;
use std::path::Path;

use linedns::geo::{lists, mmdb};

/// Any text as a rules file: a snapshot, or errors that each name a file (the rules, or
/// the data file they are about). Rules naming device or process files (`/dev/zero`,
/// `/proc/...`: endless reads) are skipped: they test the machine, not the loader.
pub fn rules(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if ["dev", "proc", "sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let path = Path::new("fuzz-rules.yaml");
    match linedns::compile_str(&text, path, &linedns::CompileOptions::default()) {
        Ok(linedns::compile::Compiled { snapshot, .. }) => {
            // A compiled table covers every address: both families classify.
            let _ = snapshot.classifier.classify(IpAddr::from([192, 0, 2, 1]), 32);
            let _ = snapshot.classifier.classify(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), 128);
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error result holds an error");
            for e in &errors.0 {
                assert!(!e.place.file.as_os_str().is_empty(), "the error names a file: {e}");
                assert!(!e.message.is_empty(), "the error says what is wrong: {e:?}");
            }
        }
    }
}

/// Any text as a CIDR list and as a delegated file: prefixes with zero host bits, each
/// with a line number inside the text; or an error naming a line of it.
pub fn lists(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count() as u32;
    let path = Path::new("fuzz-list.txt");
    let check = |result: Result<Vec<lists::NumberedNet>, linedns::ConfigError>| match result {
        Ok(nets) => {
            for (net, line) in nets {
                assert_eq!(net, net.trunc(), "line {line}: host bits set in {net}");
                assert!(line >= 1 && line <= lines, "line {line} of {lines}");
            }
        }
        Err(e) => {
            let line = e.place.line.expect("a list error names its line");
            assert!(line >= 1 && line <= u64::from(lines), "error line {line} of {lines}: {e}");
        }
    };
    check(lists::parse_cidr_list(&text, path));
    check(lists::parse_delegated(&text, path, &["CN".to_string(), "US".to_string()]));
}

/// Any text as the master file of `example.org` (through the `$INCLUDE` rewriting of
/// types the scanner lacks, too): records in the zone, each at a line of the text; or
/// errors naming a file and saying what is wrong. Inputs naming device or process files
/// (an `$INCLUDE` of `/dev/zero`) are skipped, as for `rules`.
pub fn zone_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if ["dev", "proc", "sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let path = std::env::temp_dir().join(format!("linedns-fuzz-{}.zone", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    match linedns::compile::zone_file::read(&path, "example.org") {
        Ok(zone) => {
            for r in &zone.records {
                assert!(r.owner == "example.org" || r.owner.ends_with(".example.org"), "{} is outside", r.owner);
                if r.place.file == path {
                    let line = r.place.line.expect("a record names its line");
                    assert!(line >= 1 && line <= lines, "line {line} of {lines}");
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "an error result holds an error");
            for e in &errors {
                assert!(!e.place.file.as_os_str().is_empty(), "the error names a file: {e}");
                assert!(!e.message.is_empty(), "the error says what is wrong: {e:?}");
            }
        }
    }
}

/// Any bytes as a MaxMind database: selected networks, or an error; never a panic.
pub fn mmdb(data: &[u8]) {
    for selector in [
        mmdb::Selector { country: vec!["CN".into(), "US".into(), "GB".into()], ..Default::default() },
        mmdb::Selector { asn: vec![4134, 1221, 237], family: mmdb::Family::Both, ..Default::default() },
        mmdb::Selector {
            subdivision: vec!["CN-44".into(), "ENG".into()],
            family: mmdb::Family::V4,
            ..Default::default()
        },
    ] {
        if let Ok(nets) = mmdb::select_from(data, &selector) {
            for (net, why) in nets {
                assert_eq!(net, net.trunc(), "{net} ({why}): host bits set");
                assert!(!why.is_empty());
            }
        }
    }
}

/// RFC 7871 §6, straight from the text: FAMILY (1 or 2), SOURCE PREFIX-LENGTH (at most
/// the family's bits), SCOPE PREFIX-LENGTH (any: a query's is ignored), ADDRESS of exactly
/// ceil(SOURCE / 8) octets with no bit set past SOURCE (§7.2.1: else FORMERR).
pub fn ecs_reference(option: &[u8]) -> Option<(u16, u8, IpAddr)> {
    if option.len() < 4 {
        return None;
    }
    let family = u16::from_be_bytes([option[0], option[1]]);
    let source = option[2];
    let address = &option[4..];
    let bits: u32 = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    if u32::from(source) > bits || address.len() != usize::from(source).div_ceil(8) {
        return None;
    }
    let mut full = [0u8; 16];
    full[..address.len()].copy_from_slice(address);
    // Every bit from SOURCE on must be zero.
    for bit in usize::from(source)..address.len() * 8 {
        if full[bit / 8] & (0x80 >> (bit % 8)) != 0 {
            return None;
        }
    }
    let addr = if family == 1 { IpAddr::from([full[0], full[1], full[2], full[3]]) } else { IpAddr::from(full) };
    Some((family, source, addr))
}

/// A query for `a.` A with an OPT record holding one ECS option with `option` as data.
pub fn query_with_ecs(option: &[u8]) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, b'a', 0, 0, 1, 0, 1];
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    q.extend_from_slice(&((option.len() + 4) as u16).to_be_bytes());
    q.extend_from_slice(&8u16.to_be_bytes());
    q.extend_from_slice(&(option.len() as u16).to_be_bytes());
    q.extend_from_slice(option);
    q
}

/// Any bytes as an ECS option: linedns's decoder accepts exactly what the reference
/// accepts, with the same family, source prefix and address, and FORMERRs the rest.
pub fn ecs(option: &[u8]) {
    if option.len() > 1000 {
        return;
    }
    let packet = query_with_ecs(option);
    let mut name = linedns::name::KeyBuf::new();
    let ours = match linedns::wire::decode::decode(&packet, &mut name) {
        Ok((query, _)) => {
            let ecs = query.edns.and_then(|e| e.ecs).expect("an accepted query keeps its ECS option");
            Some((ecs.family, ecs.source_prefix, ecs.addr))
        }
        Err(linedns::wire::decode::Reject::FormErr(..)) => None,
        Err(other) => panic!("an ECS option gets FORMERR or is accepted, not {other:?}"),
    };
    assert_eq!(ours, ecs_reference(option), "option {option:02x?}");
}
