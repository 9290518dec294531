//! Community ID v1 (corelight/community-id-spec) and the SHA-1 and base64 it needs.
//!
//! SHA-1 comes from RustCrypto's `sha1` (SHA-NI when the CPU has it): two
//! digests per connection and one per flow made a hand-written loop 4% of a
//! capture's instructions.

use std::net::IpAddr;

use sha1::Digest;

/// SHA-1 digest of `data` (FIPS 180-4).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1::Sha1::digest(data).into()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    base64_into(&mut out, data);
    out
}

/// [`base64`] appended to `out`.
fn base64_into(out: &mut String, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(ALPHABET.get((i & 63) as usize).copied().unwrap_or(b'='));
    for chunk in data.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
}

/// The counterpart of an ICMP message type (echo ↔ echo reply, ...), as the
/// Community ID specification pairs them.
pub fn icmp_counterpart(v6: bool, ty: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if v6 {
        &[
            (128, 129),
            (133, 134),
            (135, 136),
            (130, 131),
            (144, 145),
            (146, 147),
            (139, 140),
        ]
    } else {
        &[(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)]
    };
    pairs.iter().find_map(|&(a, b)| {
        if a == ty {
            Some(b)
        } else if b == ty {
            Some(a)
        } else {
            None
        }
    })
}

/// The "ports" Community ID uses for an ICMP message: the type and its
/// counterpart, or the type and the code for one-way messages (then `true`).
pub fn icmp_ports(v6: bool, ty: u8, code: u8) -> (u16, u16, bool) {
    match icmp_counterpart(v6, ty) {
        Some(c) => (u16::from(ty), u16::from(c), false),
        None => (u16::from(ty), u16::from(code), true),
    }
}

/// The address bytes in network order: 4 for IPv4, 16 for IPv6.
fn ip_bytes(a: &IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v) => {
            if let Some(head) = b.get_mut(..4) {
                head.copy_from_slice(&v.octets());
            }
            (b, 4)
        }
        IpAddr::V6(v) => (v.octets(), 16),
    }
}

/// Community ID v1 of a flow. `ports` is `None` for protocols without ports;
/// for ICMP pass the values of [`icmp_ports`] and its one-way flag.
pub fn community_id(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    ports: Option<(u16, u16)>,
    one_way: bool,
) -> String {
    let (sp, dp) = ports.unwrap_or((0, 0));
    let ((sa, sn), (da, dn)) = (ip_bytes(&src), ip_bytes(&dst));
    let sb = sa.get(..sn).unwrap_or_default();
    let db = da.get(..dn).unwrap_or_default();
    let ordered = one_way || sb < db || (sb == db && sp < dp);
    let (sb, db, sp, dp) = if ordered {
        (sb, db, sp, dp)
    } else {
        (db, sb, dp, sp)
    };
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(sb);
    h.update(db);
    h.update([proto, 0]);
    if ports.is_some() {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    let mut id = String::with_capacity(30);
    id.push_str("1:");
    base64_into(&mut id, &h.finalize());
    id
}

/// A record UID: `prefix` + 16 hex digits of SHA-1 over `key`, the same on
/// every run over the same input.
pub(crate) fn short_uid(prefix: char, key: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    s.push(prefix);
    s.push_str(&netcap_decode::text::hex(
        sha1(key).get(..8).unwrap_or_default(),
    ));
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_vectors() {
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            hex(&sha1(&[b'a'; 1000])),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Vectors of the specification's baseline, as Zeek's btest checks them.
    #[test]
    fn community_id_vectors() {
        let (a, b) = (ip("1.2.3.4"), ip("5.6.7.8"));
        let tcp = "1:wCb3OG7yAFWelaUydu0D+125CLM=";
        assert_eq!(community_id(0, a, b, 6, Some((1122, 3344)), false), tcp);
        assert_eq!(community_id(0, b, a, 6, Some((3344, 1122)), false), tcp);
        assert_eq!(
            community_id(0, a, b, 17, Some((1122, 3344)), false),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        assert_eq!(
            community_id(1, a, b, 6, Some((1122, 3344)), false),
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="
        );
        let (sp, dp, ow) = icmp_ports(false, 8, 0);
        assert_eq!(
            community_id(0, a, b, 1, Some((sp, dp)), ow),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        let (sp, dp, ow) = icmp_ports(false, 0, 0);
        assert_eq!(
            community_id(0, b, a, 1, Some((sp, dp)), ow),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        let (x, y) = (
            ip("fe80:1:203:405:607:809:a0b:c0d"),
            ip("fe80:1011:1213:1415:1617:1819:1a1b:1c1d"),
        );
        let (sp, dp, ow) = icmp_ports(true, 128, 0);
        assert_eq!(
            community_id(0, x, y, 58, Some((sp, dp)), ow),
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="
        );
        assert_eq!(
            community_id(0, a, b, 46, None, false),
            "1:ikv3kmf89luf73WPz1jOs49S768="
        );
    }
}
