//! Flow affinity for the multi-core pipeline.
//!
//! Every packet of a conversation must reach the same worker so that per-flow
//! state (connections, reassembly, defragmentation) lives in one place. The key
//! is the unordered pair of the outermost network addresses (MAC addresses for
//! non-IP frames): it is the same in both directions, and IP fragments, which
//! lack ports, stay with the rest of their flow.

use std::hash::BuildHasher;

/// The symmetric key a packet is sharded by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKey {
    /// Unordered pair of IP addresses (IPv4 mapped into 16 bytes), lower first.
    Ip([u8; 16], [u8; 16]),
    /// Unordered pair of MAC addresses, lower first.
    Mac([u8; 6], [u8; 6]),
    /// Nothing usable (truncated or unknown link type).
    None,
}

fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn arr<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn v4_mapped(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[10] = 0xff;
    out[11] = 0xff;
    out[12..].copy_from_slice(&a);
    out
}

/// Key from an IP header at the start of `data`.
fn ip_key(data: &[u8]) -> Option<FlowKey> {
    match data.first()? >> 4 {
        4 => {
            let (a, b) = ordered(v4_mapped(arr(data, 12)?), v4_mapped(arr(data, 16)?));
            Some(FlowKey::Ip(a, b))
        }
        6 => {
            let (a, b) = ordered(arr(data, 8)?, arr(data, 24)?);
            Some(FlowKey::Ip(a, b))
        }
        _ => None,
    }
}

impl FlowKey {
    /// Extracts the key of a packet captured on link type `link_type`
    /// (1 Ethernet, 113 Linux SLL, 276 SLL2, 0/108 BSD loopback, others raw IP).
    pub fn of(link_type: u32, data: &[u8]) -> FlowKey {
        FlowKey::with_outer_ip(link_type, data, outer_ip(link_type, data))
    }

    /// The key when the caller already has the frame's [`outer_ip`] (the
    /// reader needs it for reassembly too): the IP address pair, else the MAC
    /// pair of an Ethernet frame.
    pub fn with_outer_ip(link_type: u32, data: &[u8], ip: Option<&[u8]>) -> FlowKey {
        if let Some(k) = ip.and_then(ip_key) {
            return k;
        }
        match link_type {
            1 => match (arr::<6>(data, 0), arr::<6>(data, 6), arr::<2>(data, 12)) {
                (Some(dst), Some(src), Some(_)) => {
                    let (a, b) = ordered(dst, src);
                    FlowKey::Mac(a, b)
                }
                _ => FlowKey::None,
            },
            // Link types without a walk of their own: tried as raw IP.
            0 | 108 | 113 | 276 | 12 | 14 | 101 | 228 | 229 => FlowKey::None,
            _ => ip_key(data).unwrap_or(FlowKey::None),
        }
    }
}

/// The outermost IP packet of a frame, for IP reassembly: on Ethernet (after
/// VLAN tags), Linux cooked, BSD loopback and raw IP link types only, where it
/// is also the first IP header the decoder's walk meets.
pub fn outer_ip(link_type: u32, data: &[u8]) -> Option<&[u8]> {
    let (mut ethertype, mut rest) = match link_type {
        1 => (u16::from_be_bytes(arr(data, 12)?), data.get(14..)?),
        113 => (u16::from_be_bytes(arr(data, 14)?), data.get(16..)?),
        276 => (u16::from_be_bytes(arr(data, 0)?), data.get(20..)?),
        0 | 108 => return ip_only(data.get(4..)?),
        12 | 14 | 101 | 228 | 229 => return ip_only(data),
        _ => return None,
    };
    for _ in 0..8 {
        match ethertype {
            0x8100 | 0x88a8 | 0x9100 => {
                ethertype = u16::from_be_bytes(arr(rest, 2)?);
                rest = rest.get(4..)?;
            }
            0x0800 | 0x86dd => return ip_only(rest),
            _ => return None,
        }
    }
    None
}

fn ip_only(data: &[u8]) -> Option<&[u8]> {
    matches!(data.first()? >> 4, 4 | 6).then_some(data)
}

/// Symmetric flow hash of a packet: equal for both directions of a conversation.
pub fn flow_hash<S: BuildHasher>(hasher: &S, link_type: u32, data: &[u8]) -> u64 {
    hasher.hash_one(FlowKey::of(link_type, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;

    fn eth_ipv4(src: [u8; 4], dst: [u8; 4], vlan: bool) -> Vec<u8> {
        let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        }
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f
    }

    #[test]
    fn symmetric_and_vlan_aware() {
        let s = RandomState::new();
        let a = eth_ipv4([10, 0, 0, 1], [10, 0, 0, 2], false);
        let b = eth_ipv4([10, 0, 0, 2], [10, 0, 0, 1], true);
        assert_eq!(flow_hash(&s, 1, &a), flow_hash(&s, 1, &b));
        assert!(matches!(FlowKey::of(1, &a), FlowKey::Ip(..)));
        let c = eth_ipv4([10, 0, 0, 3], [10, 0, 0, 1], false);
        assert_ne!(FlowKey::of(1, &a), FlowKey::of(1, &c));
    }

    #[test]
    fn non_ip_uses_macs_and_garbage_is_none() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0x08, 0x06]);
        assert!(matches!(FlowKey::of(1, &arp), FlowKey::Mac(..)));
        for n in 0..arp.len() {
            let _ = FlowKey::of(1, &arp[..n]);
            let _ = FlowKey::of(113, &arp[..n]);
            let _ = FlowKey::of(276, &arp[..n]);
            let _ = FlowKey::of(0, &arp[..n]);
        }
        assert_eq!(FlowKey::of(101, &[]), FlowKey::None);
    }
}
