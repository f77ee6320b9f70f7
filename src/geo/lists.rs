//! Text sources: CIDR list files and APNIC delegated-format files.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::table::maximal_blocks;
use crate::error::{ConfigError, Place};

/// A prefix read from a text source with its 1-based line number there.
pub type NumberedNet = (IpNet, u32);

/// Parses one CIDR strictly: host bits must be zero. A bare address is a /32 or /128.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net: IpNet = if text.contains('/') {
        text.parse().map_err(|_| format!("bad CIDR {text:?}: not an address/prefix-length"))?
    } else {
        let addr: IpAddr = text.parse().map_err(|_| format!("bad CIDR {text:?}: not an address/prefix-length"))?;
        IpNet::from(addr)
    };
    if net.addr() != net.network() {
        return Err(format!("bad CIDR {text:?}: host bits set (the network is {})", net.trunc()));
    }
    Ok(net)
}

/// Reads a CIDR list: one prefix per line, IPv4 and IPv6 mixed, `#` starts a comment,
/// blank lines ignored. The first bad line is an error naming it.
pub fn parse_cidr_list(text: &str, file: &Path) -> Result<Vec<NumberedNet>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let net = parse_cidr(content).map_err(|m| ConfigError::new(Place::line(file, line_no.into()), m))?;
        out.push((net, line_no));
    }
    Ok(out)
}

/// Reads an RIR delegated-statistics file (`registry|cc|type|start|value|date|status`) and
/// keeps the `ipv4`/`ipv6` records of the given countries whose status is `allocated` or
/// `assigned`.
///
/// For `ipv4` the value is an address count, which need not be a power of two: the range
/// is split into CIDR blocks. For `ipv6` it is the prefix length. The version line, the
/// `summary` lines and `#` comments are skipped.
pub fn parse_delegated(text: &str, file: &Path, countries: &[String]) -> Result<Vec<NumberedNet>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let bad = |m: String| ConfigError::new(Place::line(file, line_no.into()), m);
        // Version line: `2|apnic|20260822|...` (first field is the format version).
        if fields.first().is_some_and(|f| f.chars().all(|c| c.is_ascii_digit())) {
            continue;
        }
        if fields.len() < 7 {
            if fields.last() == Some(&"summary") {
                continue;
            }
            return Err(bad(format!(
                "not a delegated-statistics record: {line:?} (expected registry|cc|type|start|value|date|status)"
            )));
        }
        let (cc, kind, start, value, status) = (fields[1], fields[2], fields[3], fields[4], fields[6]);
        if !matches!(kind, "ipv4" | "ipv6") || !matches!(status, "allocated" | "assigned") {
            continue;
        }
        if !countries.iter().any(|c| c.eq_ignore_ascii_case(cc)) {
            continue;
        }
        let addr: IpAddr = start.parse().map_err(|_| bad(format!("bad start address {start:?}")))?;
        match addr {
            IpAddr::V4(v4) => {
                let count: u64 = value
                    .parse()
                    .ok()
                    .filter(|&c| c > 0)
                    .ok_or_else(|| bad(format!("bad IPv4 address count {value:?}")))?;
                let first = u32::from(v4);
                let last = u64::from(first) + count - 1;
                let last = u32::try_from(last)
                    .map_err(|_| bad(format!("range {start} + {value} runs past 255.255.255.255")))?;
                for block in maximal_blocks(first, last) {
                    let net = ipnet::Ipv4Net::new(block.start.into(), block.len).expect("valid prefix length");
                    out.push((IpNet::V4(net), line_no));
                }
            }
            IpAddr::V6(_) => {
                let len: u8 = value
                    .parse()
                    .ok()
                    .filter(|&l| l <= 128)
                    .ok_or_else(|| bad(format!("bad IPv6 prefix length {value:?}")))?;
                let net = parse_cidr(&format!("{start}/{len}")).map_err(bad)?;
                out.push((net, line_no));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_cidr() {
        assert_eq!(parse_cidr("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("192.0.2.1").unwrap().to_string(), "192.0.2.1/32");
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("host bits set (the network is 10.0.0.0/8)"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("2001:db8::/32").is_ok());
    }

    #[test]
    fn list_with_comments_and_error_line() {
        let f = Path::new("x.txt");
        let got = parse_cidr_list("# head\n10.0.0.0/8 # tail\n\n2001:db8::/32\n", f).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].1, 4);
        let err = parse_cidr_list("10.0.0.0/8\n10.0.0.1/8\n", f).unwrap_err();
        assert_eq!(err.to_string(), "x.txt:2: bad CIDR \"10.0.0.1/8\": host bits set (the network is 10.0.0.0/8)");
    }

    #[test]
    fn delegated_records() {
        let text = "2|apnic|20260822|3|19830613|20260821|+1000\n\
                    apnic|*|ipv4|*|2|summary\n\
                    apnic|CN|ipv4|192.0.2.0|384|20110414|allocated\n\
                    apnic|JP|ipv4|198.51.100.0|256|20110414|allocated\n\
                    apnic|CN|ipv6|2001:db8::|32|20110414|allocated\n\
                    apnic|CN|asn|4134|1|20110414|allocated\n";
        let got = parse_delegated(text, Path::new("d"), &["CN".into()]).unwrap();
        let nets: Vec<String> = got.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(nets, ["192.0.2.0/24", "192.0.3.0/25", "2001:db8::/32"]);
    }
}
