//! Addresses, networks and protocol names as alerts and ground-truth files
//! write them.

use std::net::IpAddr;

/// An address or a CIDR network (`10.0.0.0/8`, `2001:db8::/32`, or one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length: 0–32 for IPv4, 0–128 for IPv6.
    pub prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(IpNet {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether the network holds `ip` (an IPv4 network never holds an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }

    /// The single address, when the network is one host.
    pub fn host(&self) -> Option<IpAddr> {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        (self.prefix == max).then_some(self.addr)
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// IP protocol number of a protocol name (`TCP`, `udp`, `ICMP`,
/// `IPv6-ICMP`, ...) or number (`6`, `017`); `None` when unknown.
pub fn protocol_number(s: &str) -> Option<u8> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    if let Some(n) = s.strip_prefix("IP protocol ") {
        return n.trim().parse().ok();
    }
    Some(match s.to_ascii_lowercase().as_str() {
        "icmp" | "icmpv4" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" | "icmp6" => 58,
        "sctp" => 132,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = IpNet::parse("192.168.10.0/24").unwrap();
        assert!(n.contains("192.168.10.50".parse().unwrap()));
        assert!(!n.contains("192.168.11.50".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert_eq!(n.host(), None);
        // Host bits are cleared, as `ip route` does.
        assert_eq!(IpNet::parse("192.168.10.7/24"), Some(n));
        let h = IpNet::parse(" 10.0.0.1 ").unwrap();
        assert_eq!(h.host(), Some("10.0.0.1".parse().unwrap()));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0", "host", "10.0.0.0/x", ""] {
            assert_eq!(IpNet::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn protocols() {
        assert_eq!(protocol_number("TCP"), Some(6));
        assert_eq!(protocol_number("udp"), Some(17));
        assert_eq!(protocol_number("IPv6-ICMP"), Some(58));
        assert_eq!(protocol_number("ICMPv4"), Some(1));
        assert_eq!(protocol_number("IP protocol 47"), Some(47));
        assert_eq!(protocol_number("006"), Some(6));
        assert_eq!(protocol_number("bogus"), None);
    }
}
