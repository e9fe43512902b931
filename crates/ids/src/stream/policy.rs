//! Target-based overlap policies: which copy of an overlapping byte the receiving host keeps.
//!
//! Two TCP segments that cover the same sequence numbers with different bytes are an evasion
//! classic (Ptacek and Newsham, 1998; Novak and Sturges, "Target-Based TCP Stream Reassembly",
//! 2007): the receiver's operating system decides which copy its application sees, so an IDS
//! must reassemble the way the destination host would. The decision table here is Suricata 7's
//! (`DoHandleDataOverlap` in `stream-tcp-list.c`), and its names are the ones Suricata's
//! `host-os-policy` configuration uses. [`HostOsPolicy`] maps destination addresses to policies
//! by longest prefix; it is consulted once per connection, never per packet.
//!
//! Nothing here allocates after configuration, and configuration errors name the entry at fault.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use thiserror::Error;

/// A half-open range of stream offsets `[start, end)` covered by one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extent {
    /// First offset covered.
    pub start: u64,
    /// One past the last offset covered.
    pub end: u64,
}

impl Extent {
    /// The extent `[start, end)`.
    pub const fn new(start: u64, end: u64) -> Self {
        Extent { start, end }
    }

    /// Number of offsets covered.
    pub const fn len(self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the extent covers nothing.
    pub const fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// Whether the two extents share at least one offset.
    pub const fn overlaps(self, other: Extent) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// How a host resolves overlapping TCP data: which copy wins, the one already received ("old")
/// or the one arriving ("new"). Names and decisions are Suricata's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OverlapPolicy {
    /// The first copy received always wins (Suricata's `first`).
    First,
    /// The last copy received always wins (`last`).
    Last,
    /// BSD: new data wins where it starts before the old segment (`bsd`, Suricata's default).
    #[default]
    Bsd,
    /// Linux 2.4 and later (`linux`).
    Linux,
    /// Linux before 2.4 (`old-linux`).
    OldLinux,
    /// Windows XP and earlier (`windows`).
    Windows,
    /// Windows Server 2003 (`windows2k3`).
    Windows2k3,
    /// Windows Vista and later: old data always wins (`vista`).
    Vista,
    /// Solaris (`solaris`).
    Solaris,
    /// HP-UX 10 (`hpux10`).
    Hpux10,
    /// HP-UX 11 (`hpux11`).
    Hpux11,
    /// IRIX (`irix`).
    Irix,
    /// macOS (`macos`).
    Macos,
}

impl OverlapPolicy {
    /// Every policy, in the order of Suricata's documentation.
    pub const ALL: [OverlapPolicy; 13] = [
        OverlapPolicy::Bsd,
        OverlapPolicy::Vista,
        OverlapPolicy::Linux,
        OverlapPolicy::OldLinux,
        OverlapPolicy::Solaris,
        OverlapPolicy::Last,
        OverlapPolicy::First,
        OverlapPolicy::Windows,
        OverlapPolicy::Windows2k3,
        OverlapPolicy::Hpux10,
        OverlapPolicy::Hpux11,
        OverlapPolicy::Irix,
        OverlapPolicy::Macos,
    ];

    /// The name Suricata's `host-os-policy` uses.
    pub const fn name(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
            OverlapPolicy::Bsd => "bsd",
            OverlapPolicy::Linux => "linux",
            OverlapPolicy::OldLinux => "old-linux",
            OverlapPolicy::Windows => "windows",
            OverlapPolicy::Windows2k3 => "windows2k3",
            OverlapPolicy::Vista => "vista",
            OverlapPolicy::Solaris => "solaris",
            OverlapPolicy::Hpux10 => "hpux10",
            OverlapPolicy::Hpux11 => "hpux11",
            OverlapPolicy::Irix => "irix",
            OverlapPolicy::Macos => "macos",
        }
    }

    /// Whether a newly arriving segment's bytes replace those of an already stored segment in
    /// the offsets both cover. `new` and `old` are the two segments' whole extents: the
    /// decision depends on where each starts and ends, not only on the shared part.
    pub fn new_data_wins(self, new: Extent, old: Extent) -> bool {
        use OverlapPolicy::*;
        // Policies for which a new segment starting before the old one wins.
        let starts_before_wins = matches!(
            self,
            Bsd | Hpux10 | Irix | Windows | Windows2k3 | OldLinux | Linux | Macos
        );
        match self {
            Last => true,
            First | Vista => false,
            _ if new.start == old.start => {
                if new.end < old.end {
                    false
                } else if new.end > old.end {
                    matches!(self, Linux | OldLinux | Solaris | Hpux11)
                } else {
                    matches!(self, OldLinux | Solaris | Hpux11)
                }
            }
            _ if new.start < old.start => {
                if new.end < old.end {
                    starts_before_wins
                } else {
                    starts_before_wins || matches!(self, Solaris | Hpux11)
                }
            }
            // The new segment starts after the old one.
            _ => new.end > old.end && matches!(self, Solaris | Hpux11),
        }
    }
}

impl fmt::Display for OverlapPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OverlapPolicy {
    type Err = PolicyError;

    /// Reads a Suricata policy name; `windows-2k3`, `hpux-10`, `hpux-11`, `mac-os` and
    /// `linux-old` are accepted as spellings Suricata's yaml has used.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let policy = match lower.as_str() {
            "first" => OverlapPolicy::First,
            "last" => OverlapPolicy::Last,
            "bsd" => OverlapPolicy::Bsd,
            "linux" => OverlapPolicy::Linux,
            "old-linux" | "linux-old" | "old_linux" => OverlapPolicy::OldLinux,
            "windows" => OverlapPolicy::Windows,
            "windows2k3" | "windows-2k3" => OverlapPolicy::Windows2k3,
            "vista" => OverlapPolicy::Vista,
            "solaris" => OverlapPolicy::Solaris,
            "hpux10" | "hpux-10" => OverlapPolicy::Hpux10,
            "hpux11" | "hpux-11" => OverlapPolicy::Hpux11,
            "irix" => OverlapPolicy::Irix,
            "macos" | "mac-os" => OverlapPolicy::Macos,
            _ => {
                return Err(PolicyError::UnknownPolicy {
                    name: text.to_owned(),
                });
            }
        };
        Ok(policy)
    }
}

/// A configuration error in the host OS policy table.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The policy name is not one of Suricata's.
    #[error(
        "unknown overlap policy {name:?}: expected one of first, last, bsd, linux, old-linux, windows, windows2k3, vista, solaris, hpux10, hpux11, irix, macos"
    )]
    UnknownPolicy {
        /// The name as given.
        name: String,
    },
    /// An address or network could not be read.
    #[error("policy {policy}: {entry:?} is not an IP address or CIDR network")]
    BadNetwork {
        /// The policy the entry was listed under.
        policy: OverlapPolicy,
        /// The entry as given.
        entry: String,
    },
}

/// An IPv4 or IPv6 network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(text: &str) -> Option<Network> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { addr, prefix })
    }

    fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The overlap policy of each destination host, by longest matching prefix, as Suricata's
/// `host-os-policy` section configures it; hosts in no listed network get the default (BSD
/// unless set otherwise).
#[derive(Clone, Debug, Default)]
pub struct HostOsPolicy {
    /// Sorted by prefix length, longest first, so the first match is the most specific.
    networks: Vec<(Network, OverlapPolicy)>,
    default: OverlapPolicy,
}

impl HostOsPolicy {
    /// A table that gives `default` to every host.
    pub fn new(default: OverlapPolicy) -> Self {
        HostOsPolicy {
            networks: Vec::new(),
            default,
        }
    }

    /// Builds a table from `(policy name, [address or CIDR, ...])` pairs, the shape of
    /// Suricata's `host-os-policy` section. Stops at the first bad name or network.
    ///
    /// ```
    /// use ids::stream::{HostOsPolicy, OverlapPolicy};
    /// let table = HostOsPolicy::from_entries([
    ///     ("windows", vec!["10.0.0.0/8"]),
    ///     ("linux", vec!["10.1.0.0/16", "2001:db8::/32"]),
    /// ])?;
    /// assert_eq!(table.policy_for("10.1.2.3".parse()?), OverlapPolicy::Linux);
    /// assert_eq!(table.policy_for("10.2.2.3".parse()?), OverlapPolicy::Windows);
    /// assert_eq!(table.policy_for("192.0.2.1".parse()?), OverlapPolicy::Bsd);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_entries<'a, N, L>(
        entries: impl IntoIterator<Item = (N, L)>,
    ) -> Result<Self, PolicyError>
    where
        N: AsRef<str>,
        L: IntoIterator<Item = &'a str>,
    {
        let mut table = HostOsPolicy::default();
        for (name, networks) in entries {
            let policy: OverlapPolicy = name.as_ref().parse()?;
            for entry in networks {
                table.add(entry, policy)?;
            }
        }
        Ok(table)
    }

    /// Adds one network (or single address) with its policy.
    pub fn add(&mut self, network: &str, policy: OverlapPolicy) -> Result<(), PolicyError> {
        let net = Network::parse(network).ok_or_else(|| PolicyError::BadNetwork {
            policy,
            entry: network.to_owned(),
        })?;
        let at = self
            .networks
            .partition_point(|(existing, _)| existing.prefix >= net.prefix);
        self.networks.insert(at, (net, policy));
        Ok(())
    }

    /// The policy of `host`: that of the longest listed prefix containing it, else the default.
    pub fn policy_for(&self, host: IpAddr) -> OverlapPolicy {
        let host = match host {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(host, IpAddr::V4),
            v4 => v4,
        };
        self.networks
            .iter()
            .find(|(net, _)| net.contains(host))
            .map_or(self.default, |&(_, policy)| policy)
    }

    /// The policy of hosts in no listed network.
    pub fn default_policy(&self) -> OverlapPolicy {
        self.default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for policy in OverlapPolicy::ALL {
            assert_eq!(policy.name().parse::<OverlapPolicy>(), Ok(policy));
        }
        assert_eq!("Windows-2K3".parse(), Ok(OverlapPolicy::Windows2k3));
        assert!(matches!(
            "beos".parse::<OverlapPolicy>(),
            Err(PolicyError::UnknownPolicy { name }) if name == "beos"
        ));
    }

    #[test]
    fn first_and_vista_keep_old_data_last_takes_new() {
        let cases = [
            (Extent::new(0, 4), Extent::new(2, 6)),
            (Extent::new(2, 6), Extent::new(2, 6)),
            (Extent::new(3, 9), Extent::new(2, 6)),
        ];
        for (new, old) in cases {
            assert!(!OverlapPolicy::First.new_data_wins(new, old));
            assert!(!OverlapPolicy::Vista.new_data_wins(new, old));
            assert!(OverlapPolicy::Last.new_data_wins(new, old));
        }
    }

    #[test]
    fn host_table_longest_prefix_wins() {
        let mut table = HostOsPolicy::new(OverlapPolicy::Vista);
        table.add("0.0.0.0/0", OverlapPolicy::Windows).unwrap();
        table.add("192.168.0.0/16", OverlapPolicy::Linux).unwrap();
        table.add("192.168.1.7", OverlapPolicy::Solaris).unwrap();
        table.add("::/0", OverlapPolicy::Macos).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(table.policy_for(ip("192.168.1.7")), OverlapPolicy::Solaris);
        assert_eq!(table.policy_for(ip("192.168.1.8")), OverlapPolicy::Linux);
        assert_eq!(table.policy_for(ip("8.8.8.8")), OverlapPolicy::Windows);
        assert_eq!(
            table.policy_for(ip("::ffff:192.168.1.7")),
            OverlapPolicy::Solaris
        );
        assert_eq!(table.policy_for(ip("2001:db8::1")), OverlapPolicy::Macos);
        assert_eq!(
            HostOsPolicy::default().policy_for(ip("10.0.0.1")),
            OverlapPolicy::Bsd
        );
    }

    #[test]
    fn bad_networks_are_named() {
        let err = HostOsPolicy::from_entries([("linux", vec!["10.0.0.0/33"])]).unwrap_err();
        assert_eq!(
            err,
            PolicyError::BadNetwork {
                policy: OverlapPolicy::Linux,
                entry: "10.0.0.0/33".into()
            }
        );
        assert!(err.to_string().contains("10.0.0.0/33"));
        assert!(HostOsPolicy::from_entries([("nope", vec!["10.0.0.0/8"])]).is_err());
    }
}
