//! Small byte-reading helpers shared by the protocol views.
//!
//! Views check their lengths once in their constructors; the accessors then read
//! through these helpers, which return 0 instead of panicking, so a logic slip
//! can never turn into a panic on hostile input.

use crate::DecodeOptions;

/// Byte at `off`, or 0 when out of range.
pub(crate) fn u8_at(buf: &[u8], off: usize) -> u8 {
    buf.get(off).copied().unwrap_or(0)
}

/// Big-endian u16 at `off`, or 0 when out of range.
pub(crate) fn be16(buf: &[u8], off: usize) -> u16 {
    buf.get(off..off.saturating_add(2))
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map_or(0, u16::from_be_bytes)
}

/// Big-endian u32 at `off`, or 0 when out of range.
pub(crate) fn be32(buf: &[u8], off: usize) -> u32 {
    buf.get(off..off.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
}

/// `N` bytes at `off`, or zeros when out of range.
pub(crate) fn array_at<const N: usize>(buf: &[u8], off: usize) -> [u8; N] {
    buf.get(off..off.saturating_add(N))
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .unwrap_or([0; N])
}

/// `buf[from..to]` clamped to the buffer (empty when `from` is past the end).
pub(crate) fn clamp(buf: &[u8], from: usize, to: usize) -> &[u8] {
    let to = to.min(buf.len());
    buf.get(from.min(to)..to).unwrap_or_default()
}

/// A size for an `int32` record field; sizes never exceed `i32::MAX` in practice
/// (capture lengths are 32-bit), so saturate rather than wrap.
pub(crate) fn size_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `PayloadEntropy` of a record: computed only when asked for, 0 otherwise.
pub(crate) fn entropy_if(opts: &DecodeOptions, payload: &[u8]) -> f64 {
    if opts.entropy {
        crate::entropy::shannon(payload)
    } else {
        0.0
    }
}

/// Lowercase colon-separated hex, the notation tshark uses for MAC addresses.
pub fn colon_hex(bytes: &[u8]) -> String {
    // Hot path (two MAC addresses per frame): no fmt machinery.
    let mut s = String::with_capacity(bytes.len().saturating_mul(3));
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        // Nibbles are below 16, so from_digit always succeeds.
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    s
}

/// Dotted-quad text of an IPv4 address, as `Ipv4Addr`'s Display writes it,
/// without the fmt machinery (two addresses per packet).
pub fn ipv4_text(a: [u8; 4]) -> String {
    let mut s = String::with_capacity(15);
    for (i, &octet) in a.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + (octet / 10) % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
}

/// Text of an IP address as its Display writes it; IPv4 without the fmt
/// machinery (flow records write two addresses each).
pub fn ip_text(a: std::net::IpAddr) -> String {
    match a {
        std::net::IpAddr::V4(v4) => ipv4_text(v4.octets()),
        std::net::IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Lowercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for &b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    s
}

/// One type-length-value option of an IPv4 or TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawOption<'a> {
    /// Option type (IPv4) or kind (TCP).
    pub kind: u8,
    /// The length byte (1 for the single-byte options EOL and NOP).
    pub len: u8,
    /// Bytes after the type and length bytes.
    pub data: &'a [u8],
}

/// Parses the option area of an IPv4 or TCP header (both use the same layout:
/// 0 end of list, 1 no-operation, otherwise type, length, data).
///
/// Returns the options and the padding: the bytes after an end-of-list option,
/// or, when an option's length is unusable (< 2 or past the header end), the
/// bytes from that option on. A bad option is not an error: tshark also shows
/// the header and stops interpreting the options.
pub(crate) fn parse_tlv_options(mut rest: &[u8]) -> (Vec<RawOption<'_>>, &[u8]) {
    let mut opts = Vec::new();
    while let Some((&kind, after)) = rest.split_first() {
        match kind {
            0 => {
                opts.push(RawOption {
                    kind,
                    len: 1,
                    data: &[],
                });
                return (opts, after);
            }
            1 => {
                opts.push(RawOption {
                    kind,
                    len: 1,
                    data: &[],
                });
                rest = after;
            }
            _ => {
                let Some(&len) = after.first() else {
                    return (opts, rest);
                };
                let Some((whole, tail)) = rest.split_at_checked(usize::from(len)) else {
                    return (opts, rest);
                };
                if len < 2 {
                    return (opts, rest);
                }
                opts.push(RawOption {
                    kind,
                    len,
                    data: whole.get(2..).unwrap_or_default(),
                });
                rest = tail;
            }
        }
    }
    (opts, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_panic() {
        let b = [1u8, 2, 3];
        assert_eq!(u8_at(&b, 2), 3);
        assert_eq!(u8_at(&b, 3), 0);
        assert_eq!(be16(&b, 1), 0x0203);
        assert_eq!(be16(&b, 2), 0);
        assert_eq!(be16(&b, usize::MAX), 0);
        assert_eq!(be32(&b, 0), 0);
        assert_eq!(be32(&[1, 2, 3, 4], 0), 0x0102_0304);
        assert_eq!(array_at::<2>(&b, 1), [2, 3]);
        assert_eq!(array_at::<2>(&b, 2), [0, 0]);
        assert_eq!(clamp(&b, 1, 10), &[2, 3]);
        assert_eq!(clamp(&b, 5, 10), &[] as &[u8]);
        assert_eq!(clamp(&b, 2, 1), &[] as &[u8]);
    }

    #[test]
    fn ipv4_text_matches_display() {
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 9, 100, 199],
            [1, 20, 99, 100],
        ] {
            assert_eq!(ipv4_text(a), std::net::Ipv4Addr::from(a).to_string());
        }
    }

    #[test]
    fn colon_hex_is_lowercase() {
        assert_eq!(
            colon_hex(&[0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8]),
            "00:1b:21:3c:9d:f8"
        );
        assert_eq!(colon_hex(&[]), "");
        assert_eq!(colon_hex(&[0xab]), "ab");
    }

    #[test]
    fn options_nop_tlv_eol_padding() {
        let raw = [1, 2, 4, 0x05, 0xb4, 0, 9, 9];
        let (opts, pad) = parse_tlv_options(&raw);
        assert_eq!(
            opts,
            vec![
                RawOption {
                    kind: 1,
                    len: 1,
                    data: &[]
                },
                RawOption {
                    kind: 2,
                    len: 4,
                    data: &[0x05, 0xb4]
                },
                RawOption {
                    kind: 0,
                    len: 1,
                    data: &[]
                },
            ]
        );
        assert_eq!(pad, &[9, 9]);
    }

    #[test]
    fn options_bad_length_goes_to_padding() {
        // Length 1 is impossible for a TLV option.
        let (opts, pad) = parse_tlv_options(&[1, 7, 1, 0xaa]);
        assert_eq!(opts.len(), 1);
        assert_eq!(pad, &[7, 1, 0xaa]);
        // Length past the end.
        let (opts, pad) = parse_tlv_options(&[8, 10, 1, 2]);
        assert!(opts.is_empty());
        assert_eq!(pad, &[8, 10, 1, 2]);
        // Type without a length byte.
        let (opts, pad) = parse_tlv_options(&[1, 1, 8]);
        assert_eq!(opts.len(), 2);
        assert_eq!(pad, &[8]);
        // Exactly filling the area.
        let (opts, pad) = parse_tlv_options(&[8, 2]);
        assert_eq!(
            opts,
            vec![RawOption {
                kind: 8,
                len: 2,
                data: &[]
            }]
        );
        assert!(pad.is_empty());
    }
}
