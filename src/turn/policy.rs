//! Which peers an allocation may reach (coturn's lesson, CVE-2020-26262): by default none
//! on loopback, link-local, private (RFC 1918, CGNAT, ULA), multicast, unspecified or
//! broadcast addresses, nor eagw's own addresses; an entry of the config's allow-list
//! (`"CIDR"` or `"CIDR LO-HI"` with a port range) lifts the denial for what it names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ports: (u16, u16),
}

impl Net {
    /// `"10.0.0.0/8"`, `"::1"`, `"127.0.0.1/32 30000-39999"`.
    pub fn parse(s: &str) -> Result<Net, String> {
        let mut parts = s.split_whitespace();
        let net = parts.next().ok_or_else(|| format!("{s:?}: empty network"))?;
        let ports = match parts.next() {
            None => (0, u16::MAX),
            Some(p) => {
                let (lo, hi) = p.split_once('-').unwrap_or((p, p));
                let lo: u16 = lo.parse().map_err(|_| format!("{s:?}: bad port range {p:?}"))?;
                let hi: u16 = hi.parse().map_err(|_| format!("{s:?}: bad port range {p:?}"))?;
                if lo > hi {
                    return Err(format!("{s:?}: bad port range {p:?}"));
                }
                (lo, hi)
            }
        };
        if parts.next().is_some() {
            return Err(format!("{s:?}: expected \"CIDR\" or \"CIDR LO-HI\""));
        }
        let (a, p) = net.split_once('/').map_or((net, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a.parse().map_err(|_| format!("{s:?}: {a:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(|| format!("{s:?}: bad prefix length"))?,
        };
        Ok(Net { addr, prefix, ports })
    }

    pub fn contains(&self, ip: IpAddr, port: u16) -> bool {
        if port < self.ports.0 || port > self.ports.1 {
            return false;
        }
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(u32::from(n) as u128, u32::from(a) as u128, self.prefix, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

fn prefix_eq(n: u128, a: u128, prefix: u8, bits: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = (bits - prefix.min(bits)) as u32;
    (n >> shift) == (a >> shift)
}

#[derive(Clone, Debug, Default)]
pub struct PeerPolicy {
    pub allow: Vec<Net>,
    /// eagw's own addresses (interfaces, TURN listeners and relay addresses).
    pub own: Vec<IpAddr>,
}

impl PeerPolicy {
    /// Whether relaying to `ip:port` is allowed; `Err` names the reason for the counter
    /// and the log.
    pub fn check(&self, ip: IpAddr, port: u16) -> Result<(), &'static str> {
        // an IPv4-mapped IPv6 address is judged as the IPv4 address it is
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if self.allow.iter().any(|n| n.contains(ip, port)) {
            return Ok(());
        }
        if port == 0 {
            return Err("peer port 0");
        }
        if self.own.contains(&ip) {
            return Err("peer is one of eagw's own addresses");
        }
        match ip {
            IpAddr::V4(a) => denied_v4(a),
            IpAddr::V6(a) => denied_v6(a),
        }
    }
}

fn denied_v4(a: Ipv4Addr) -> Result<(), &'static str> {
    let o = a.octets();
    if a.is_loopback() {
        Err("loopback peer")
    } else if a.is_unspecified() || o[0] == 0 {
        Err("unspecified peer")
    } else if a.is_link_local() {
        Err("link-local peer")
    } else if a.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        Err("private peer")
    } else if a.is_multicast() || a.is_broadcast() || o[0] >= 240 {
        Err("multicast, broadcast or reserved peer")
    } else {
        Ok(())
    }
}

fn denied_v6(a: Ipv6Addr) -> Result<(), &'static str> {
    let s = a.segments();
    if a.is_loopback() {
        Err("loopback peer")
    } else if a.is_unspecified() {
        Err("unspecified peer")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Err("link-local peer")
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        Err("private peer")
    } else if a.is_multicast() {
        Err("multicast, broadcast or reserved peer")
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        // NAT64 could reach any IPv4 address behind it, the denied ones included
        Err("NAT64 peer")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn denies_by_default_and_allows_what_the_list_names() {
        let p = PeerPolicy { allow: vec![], own: vec![ip("192.0.2.1")] };
        for a in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "100.64.0.1", "224.0.0.1", "255.255.255.255", "0.0.0.0", "192.0.2.1", "::1", "fe80::1", "fd00::1", "ff02::1", "::", "::ffff:127.0.0.1", "64:ff9b::a00:1"] {
            assert!(p.check(ip(a), 5000).is_err(), "{a} must be denied");
        }
        for a in ["8.8.8.8", "192.0.2.2", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(p.check(ip(a), 5000).is_ok(), "{a} must be allowed");
        }
        assert!(p.check(ip("8.8.8.8"), 0).is_err());
        let p = PeerPolicy {
            allow: vec![Net::parse("127.0.0.0/8").unwrap(), Net::parse("192.0.2.1/32 30000-30010").unwrap()],
            own: vec![ip("192.0.2.1")],
        };
        assert!(p.check(ip("127.0.0.5"), 1).is_ok());
        assert!(p.check(ip("::ffff:127.0.0.5"), 1).is_ok());
        assert!(p.check(ip("192.0.2.1"), 30005).is_ok());
        assert!(p.check(ip("192.0.2.1"), 2223).is_err(), "own address outside the allowed ports");
        assert!(p.check(ip("10.0.0.1"), 30005).is_err());
    }

    #[test]
    fn nets_parse_and_match() {
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("10.0.0.0/8 5-4").is_err());
        assert!(Net::parse("nonsense").is_err());
        assert!(Net::parse("10.0.0.0/8 1-2 3").is_err());
        let n = Net::parse("2001:db8::/32").unwrap();
        assert!(n.contains(ip("2001:db8:1::5"), 9));
        assert!(!n.contains(ip("2001:db9::5"), 9));
        assert!(!n.contains(ip("10.0.0.1"), 9));
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4"), 1));
    }
}
