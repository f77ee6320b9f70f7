//! A fleet's decision on a node's health: every instance publishes what its own probes
//! say (with its site), and each decides from all the results it holds by one policy, so
//! instances holding the same results decide the same. Pure: `serve::fleet` gathers the
//! results and writes the decisions.

/// How the sites' results make a decision. A site counts as seeing the node up when any
/// of its instances does; only sites with a result count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Up when any site sees it up.
    Any,
    /// Up when more than half of the sites with a result see it up.
    Majority,
    /// Up when at least this many sites see it up (fewer when fewer sites have a result:
    /// an instance alone, the store unreachable, follows its own probes).
    Quorum(u32),
    /// Up when at least this share (per mille) of the sites with a result see it up, as
    /// Route 53 counts its checkers.
    Share(u16),
}

impl std::fmt::Display for Policy {
    /// As the status page and the logs say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::Any => f.write_str("any site"),
            Policy::Majority => f.write_str("a majority of sites"),
            Policy::Quorum(k) => write!(f, "{k} site(s)"),
            Policy::Share(p) => write!(f, "{}% of sites", f64::from(*p) / 10.0),
        }
    }
}

/// The sites' view of one node: how many sites have a result, and how many see it up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Sites with a result.
    pub sites: u32,
    /// Of them, sites that see the node up.
    pub up: u32,
}

impl Tally {
    /// Counts `results`, each a (site, up) pair of one instance; a site is up when any
    /// of its instances says so.
    pub fn of<'a>(results: impl IntoIterator<Item = (&'a str, bool)>) -> Tally {
        let mut sites: Vec<(&str, bool)> = Vec::new();
        for (site, up) in results {
            match sites.iter_mut().find(|(s, _)| *s == site) {
                Some((_, seen)) => *seen |= up,
                None => sites.push((site, up)),
            }
        }
        Tally { sites: sites.len() as u32, up: sites.iter().filter(|(_, up)| *up).count() as u32 }
    }
}

impl Policy {
    /// Whether the node is up by this policy (`None`: no site has a result).
    pub fn decide(self, tally: Tally) -> Option<bool> {
        if tally.sites == 0 {
            return None;
        }
        Some(match self {
            Policy::Any => tally.up >= 1,
            Policy::Majority => tally.up * 2 > tally.sites,
            Policy::Quorum(k) => tally.up >= k.min(tally.sites).max(1),
            Policy::Share(p) => u64::from(tally.up) * 1000 >= u64::from(p) * u64::from(tally.sites) && tally.up >= 1,
        })
    }
}

/// The sites that probe a target when each target is probed from only `m` sites: the
/// `m` of `sites` (the sites heard from, this one's included) that rank first for it
/// (rendezvous hashing: every instance that knows the same sites picks the same ones,
/// and a site that goes away moves only its own targets to the next site).
pub fn probing_sites<'a>(target: &str, sites: &[&'a str], m: usize) -> Vec<&'a str> {
    use std::hash::Hasher;
    let mut ranked: Vec<(u64, &str)> = sites
        .iter()
        .map(|site| {
            let mut h = siphasher::sip::SipHasher13::new_with_keys(0x6c69_6e65_646e_7331, 0x666c_6565_7470_7262);
            h.write(site.as_bytes());
            h.write_u8(0);
            h.write(target.as_bytes());
            (h.finish(), *site)
        })
        .collect();
    ranked.sort_unstable();
    ranked.dedup_by(|a, b| a.1 == b.1);
    ranked.into_iter().take(m).map(|(_, site)| site).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_target_is_probed_by_m_sites_spread_over_all() {
        let sites = ["beijing", "shanghai", "guangzhou"];
        let mut load = [0usize; 3];
        for t in 0..300 {
            let chosen = probing_sites(&format!("192.0.2.{t}:80"), &sites, 2);
            assert_eq!(chosen.len(), 2);
            for c in chosen {
                load[sites.iter().position(|s| *s == c).unwrap()] += 1;
            }
        }
        assert!(load.iter().all(|&l| (150..=250).contains(&l)), "spread: {load:?}");
        // The same sites in another order choose the same; a site gone moves only its own.
        let t = "192.0.2.7:80";
        assert_eq!(probing_sites(t, &sites, 2), probing_sites(t, &["guangzhou", "beijing", "shanghai"], 2));
        let all = probing_sites(t, &sites, 2);
        let without = probing_sites(t, &[all[0], "nowhere"], 2);
        assert!(without.contains(&all[0]));
    }

    #[test]
    fn a_site_is_up_when_any_of_its_instances_is() {
        let t = Tally::of([("bj", false), ("bj", true), ("sh", false)]);
        assert_eq!(t, Tally { sites: 2, up: 1 });
    }

    #[test]
    fn each_policy_decides_from_the_sites_with_a_result() {
        let two_of_three = Tally { sites: 3, up: 2 };
        let one_of_three = Tally { sites: 3, up: 1 };
        assert_eq!(Policy::Quorum(2).decide(two_of_three), Some(true));
        assert_eq!(Policy::Quorum(2).decide(one_of_three), Some(false));
        // Alone (the others unheard of), an instance follows its own probes.
        assert_eq!(Policy::Quorum(2).decide(Tally { sites: 1, up: 1 }), Some(true));
        assert_eq!(Policy::Quorum(2).decide(Tally { sites: 1, up: 0 }), Some(false));
        assert_eq!(Policy::Majority.decide(two_of_three), Some(true));
        assert_eq!(Policy::Majority.decide(Tally { sites: 2, up: 1 }), Some(false));
        assert_eq!(Policy::Any.decide(one_of_three), Some(true));
        assert_eq!(Policy::Share(180).decide(Tally { sites: 10, up: 2 }), Some(true));
        assert_eq!(Policy::Share(180).decide(Tally { sites: 10, up: 1 }), Some(false));
        assert_eq!(Policy::Share(0).decide(Tally { sites: 3, up: 0 }), Some(false), "never up with no site up");
        assert_eq!(Policy::Any.decide(Tally::default()), None);
    }
}
