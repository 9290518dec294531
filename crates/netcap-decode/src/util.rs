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
    let mut s = String::new();
    colon_hex_into(&mut s, bytes);
    s
}

/// [`colon_hex`] into `s`, replacing its text and keeping its memory.
pub fn colon_hex_into(s: &mut String, bytes: &[u8]) {
    s.clear();
    // Hot path (two MAC addresses per frame): a MAC's text is built on the
    // stack and appended at once; no fmt machinery.
    if let Ok(mac) = <[u8; 6]>::try_from(bytes) {
        let mut text = [b':'; 17];
        for (chunk, b) in text.chunks_mut(3).zip(mac) {
            if let [hi, lo, ..] = chunk {
                *hi = hex_byte(b >> 4);
                *lo = hex_byte(b & 0x0f);
            }
        }
        s.push_str(std::str::from_utf8(&text).unwrap_or_default());
        return;
    }
    s.reserve(bytes.len().saturating_mul(3));
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(b & 0x0f));
    }
}

const HEX_DIGITS: [u8; 16] = *b"0123456789abcdef";

/// The lowercase hex digit of a nibble (0–15).
fn hex_digit(nibble: u8) -> char {
    char::from(hex_byte(nibble))
}

/// [`hex_digit`] as an ASCII byte.
fn hex_byte(nibble: u8) -> u8 {
    HEX_DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')
}

/// Dotted-quad text of an IPv4 address, as `Ipv4Addr`'s Display writes it,
/// without the fmt machinery (two addresses per packet).
pub fn ipv4_text(a: [u8; 4]) -> String {
    let mut s = String::new();
    ipv4_text_into(&mut s, a);
    s
}

/// [`ipv4_text`] into `s`, replacing its text and keeping its memory.
pub fn ipv4_text_into(s: &mut String, a: [u8; 4]) {
    // Char pushes measured fewer instructions than building the text on the
    // stack and validating it as UTF-8 to append it.
    s.clear();
    s.reserve(15);
    for (i, octet) in a.into_iter().enumerate() {
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
    hex_into(&mut s, bytes);
    s
}

/// Appends [`hex`] of `bytes` to `s`.
pub fn hex_into(s: &mut String, bytes: &[u8]) {
    for &b in bytes {
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(b & 0x0f));
    }
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
#[cfg(test)]
pub(crate) fn parse_tlv_options(rest: &[u8]) -> (Vec<RawOption<'_>>, &[u8]) {
    let mut opts = Vec::new();
    let padding = for_each_tlv_option(rest, |o| opts.push(o));
    (opts, padding)
}

/// Calls `f` on each option of `rest` as [`parse_tlv_options`] splits them,
/// without collecting them; returns the padding.
pub(crate) fn for_each_tlv_option<'a>(
    mut rest: &'a [u8],
    mut f: impl FnMut(RawOption<'a>),
) -> &'a [u8] {
    while let Some((&kind, after)) = rest.split_first() {
        match kind {
            0 => {
                f(RawOption {
                    kind,
                    len: 1,
                    data: &[],
                });
                return after;
            }
            1 => {
                f(RawOption {
                    kind,
                    len: 1,
                    data: &[],
                });
                rest = after;
            }
            _ => {
                let Some(&len) = after.first() else {
                    return rest;
                };
                let Some((whole, tail)) = rest.split_at_checked(usize::from(len)) else {
                    return rest;
                };
                if len < 2 {
                    return rest;
                }
                f(RawOption {
                    kind,
                    len,
                    data: whole.get(2..).unwrap_or_default(),
                });
                rest = tail;
            }
        }
    }
    rest
}

/// A record of one type-length-value option (`IPv4Option`, `TcpOption`).
pub(crate) trait TlvOptionRecord: Default {
    /// The option's data buffer, to be refilled.
    fn data_mut(&mut self) -> &mut Vec<u8>;
    /// Sets the type and length fields.
    fn set_header(&mut self, kind: u8, len: u8);
}

macro_rules! tlv_option_record {
    ($t:ty) => {
        impl TlvOptionRecord for $t {
            fn data_mut(&mut self) -> &mut Vec<u8> {
                &mut self.option_data
            }
            fn set_header(&mut self, kind: u8, len: u8) {
                self.option_type = i32::from(kind);
                self.option_length = i32::from(len);
            }
        }
    };
}
tlv_option_record!(netcap_schema::IPv4Option);
tlv_option_record!(netcap_schema::TcpOption);

/// Replaces `options` with the options of `raw` and `padding` with what
/// follows them, reusing the memory of the records already there (a packet
/// stream repeats the same few options).
pub(crate) fn fill_tlv_options<T: TlvOptionRecord>(
    options: &mut Vec<T>,
    padding: &mut Vec<u8>,
    raw: &[u8],
) {
    let mut n = 0;
    let pad = for_each_tlv_option(raw, |o| {
        if options.len() <= n {
            options.push(T::default());
        }
        if let Some(rec) = options.get_mut(n) {
            rec.set_header(o.kind, o.len);
            let data = rec.data_mut();
            data.clear();
            data.extend_from_slice(o.data);
        }
        n += 1;
    });
    options.truncate(n);
    padding.clear();
    padding.extend_from_slice(pad);
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
