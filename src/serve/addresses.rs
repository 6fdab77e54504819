//! Which network addresses a `url` request may make the server fetch from.
//!
//! A server that downloads any URL it is given can be turned against its own network (its
//! loopback services, the private network behind it, a cloud provider's metadata service). This
//! module owns the rule: an address is refused when it is loopback, private, link-local, a known
//! metadata service, or otherwise not a public unicast address — unless `--allow-private-urls`
//! (everything) or `--allow-url-network CIDR` (that network) allows it. It is pure: it looks at
//! addresses and never touches the network; `fetch` applies it to every address a name resolves
//! to, on every hop.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Cloud metadata services, refused by name whatever range they are in.
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure wire server (a public address)
];
/// AWS's IPv6 metadata endpoint `fd00:ec2::254`.
const METADATA_V6: &[Ipv6Addr] = &[Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

/// A network in CIDR notation (`10.1.2.0/24`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS[/PREFIX]` (clap value parser for `--allow-url-network`).
    pub fn parse(value: &str) -> Result<Network, String> {
        let (address, prefix) = match value.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (value.trim(), None),
        };
        let base: IpAddr = address.parse().map_err(|_| format!("'{value}' is not an IP network; give an address or ADDRESS/PREFIX, e.g. 10.1.2.0/24 or fd00::/8"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(prefix) if prefix <= max => prefix,
                _ => return Err(format!("'{value}': the prefix length must be a number from 0 to {max}")),
            },
        };
        Ok(Network { base, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.base, canonical(address)) {
            (IpAddr::V4(base), IpAddr::V4(address)) => same_prefix(&base.octets(), &address.octets(), self.prefix),
            (IpAddr::V6(base), IpAddr::V6(address)) => same_prefix(&base.octets(), &address.octets(), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let (whole, rest) = ((prefix / 8) as usize, prefix % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// What the server may fetch from.
#[derive(Debug, Clone, Default)]
pub struct UrlPolicy {
    /// `--allow-private-urls`: every address.
    pub allow_all: bool,
    /// `--allow-url-network`: these networks, whatever kind of address they hold.
    pub allowed_networks: Vec<Network>,
}

impl UrlPolicy {
    /// `None` when `address` may be fetched from, else why not ("a loopback address").
    pub fn refusal(&self, address: IpAddr) -> Option<&'static str> {
        if self.allow_all || self.allowed_networks.iter().any(|network| network.contains(address)) {
            return None;
        }
        non_public_kind(address)
    }
}

/// IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are judged as the IPv4 address they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// What kind of non-public address this is, or `None` for a public unicast address.
pub fn non_public_kind(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    if METADATA_V4.contains(&address) {
        Some("a cloud metadata service address")
    } else if address.is_unspecified() || a == 0 {
        Some("an unspecified (\"this host\") address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_private() {
        Some("a private network address")
    } else if address.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (shared) address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("an IETF protocol assignment address")
    } else if (a == 192 && b == 0 && c == 2) || (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113) {
        Some("a documentation address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking network address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if address.is_broadcast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn v6_kind(address: Ipv6Addr) -> Option<&'static str> {
    let segments = address.segments();
    if METADATA_V6.contains(&address) {
        Some("a cloud metadata service address")
    } else if address.is_unspecified() {
        Some("an unspecified (\"this host\") address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("a private network (unique local) address")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if segments[0] & 0xffc0 == 0xfec0 {
        Some("a site-local address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        Some("a documentation address")
    } else if segments[0] == 0x0064 && segments[1] == 0xff9b {
        // NAT64 (64:ff9b::/96 and 64:ff9b:1::/48): the IPv4 address inside decides.
        let v4 = Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8);
        v4_kind(v4).map(|_| "a NAT64 address of a non-public IPv4 address")
    } else if segments[0] == 0x2002 {
        // 6to4 embeds an IPv4 address in bits 16-48.
        let v4 = Ipv4Addr::new((segments[1] >> 8) as u8, segments[1] as u8, (segments[2] >> 8) as u8, segments[2] as u8);
        v4_kind(v4).map(|_| "a 6to4 address of a non-public IPv4 address")
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] {
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        Some("an IPv4-compatible IPv6 address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(address: &str) -> Option<&'static str> {
        non_public_kind(address.parse().expect("address"))
    }

    #[test]
    fn loopback_private_link_local_and_metadata_are_named() {
        assert_eq!(kind("127.0.0.1"), Some("a loopback address"));
        assert_eq!(kind("127.4.5.6"), Some("a loopback address"));
        assert_eq!(kind("::1"), Some("a loopback address"));
        assert_eq!(kind("::ffff:127.0.0.1"), Some("a loopback address"));
        assert_eq!(kind("10.0.0.1"), Some("a private network address"));
        assert_eq!(kind("172.16.5.4"), Some("a private network address"));
        assert_eq!(kind("172.31.255.255"), Some("a private network address"));
        assert_eq!(kind("192.168.1.1"), Some("a private network address"));
        assert_eq!(kind("fd12:3456::1"), Some("a private network (unique local) address"));
        assert_eq!(kind("169.254.1.1"), Some("a link-local address"));
        assert_eq!(kind("fe80::1"), Some("a link-local address"));
        assert_eq!(kind("169.254.169.254"), Some("a cloud metadata service address"));
        assert_eq!(kind("::ffff:169.254.169.254"), Some("a cloud metadata service address"));
        assert_eq!(kind("fd00:ec2::254"), Some("a cloud metadata service address"));
        assert_eq!(kind("100.100.100.200"), Some("a cloud metadata service address"));
        assert_eq!(kind("168.63.129.16"), Some("a cloud metadata service address"));
        assert_eq!(kind("0.0.0.0"), Some("an unspecified (\"this host\") address"));
        assert_eq!(kind("::"), Some("an unspecified (\"this host\") address"));
        assert_eq!(kind("100.64.0.1"), Some("a carrier-grade NAT (shared) address"));
        assert_eq!(kind("224.0.0.1"), Some("a multicast address"));
        assert_eq!(kind("255.255.255.255"), Some("a reserved address"));
        assert_eq!(kind("64:ff9b::7f00:1"), Some("a NAT64 address of a non-public IPv4 address"));
        assert_eq!(kind("2002:a00:1::1"), Some("a 6to4 address of a non-public IPv4 address"));
        assert_eq!(kind("::7f00:1"), Some("an IPv4-compatible IPv6 address"));
    }

    #[test]
    fn public_addresses_pass() {
        for address in ["93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1"] {
            assert_eq!(kind(address), None, "{address}");
        }
    }

    #[test]
    fn networks_parse_and_contain() {
        let network = Network::parse("127.0.0.2/32").expect("one address");
        assert!(network.contains("127.0.0.2".parse().expect("ip")));
        assert!(!network.contains("127.0.0.1".parse().expect("ip")));
        let ten = Network::parse("10.1.2.0/23").expect("v4");
        assert!(ten.contains("10.1.3.200".parse().expect("ip")));
        assert!(!ten.contains("10.1.4.1".parse().expect("ip")));
        assert!(ten.contains("::ffff:10.1.2.9".parse().expect("ip")), "mapped addresses are judged as IPv4");
        let v6 = Network::parse("fd00::/8").expect("v6");
        assert!(v6.contains("fd12::1".parse().expect("ip")));
        assert!(!v6.contains("fe80::1".parse().expect("ip")));
        assert_eq!(Network::parse("192.168.1.7").expect("bare").to_string(), "192.168.1.7/32");
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("example.org/8").is_err());
        assert!(Network::parse("0.0.0.0/0").expect("all").contains("8.8.8.8".parse().expect("ip")));
    }

    #[test]
    fn the_policy_allows_what_it_is_told_to() {
        let strict = UrlPolicy::default();
        assert_eq!(strict.refusal("127.0.0.1".parse().expect("ip")), Some("a loopback address"));
        assert_eq!(strict.refusal("8.8.8.8".parse().expect("ip")), None);
        let one = UrlPolicy { allow_all: false, allowed_networks: vec![Network::parse("127.0.0.2").expect("net")] };
        assert_eq!(one.refusal("127.0.0.2".parse().expect("ip")), None);
        assert_eq!(one.refusal("127.0.0.1".parse().expect("ip")), Some("a loopback address"));
        let all = UrlPolicy { allow_all: true, allowed_networks: Vec::new() };
        assert_eq!(all.refusal("169.254.169.254".parse().expect("ip")), None);
    }
}
