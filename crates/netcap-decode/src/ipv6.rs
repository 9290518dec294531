//! Internet Protocol version 6 (RFC 8200) with its extension headers.

use std::net::Ipv6Addr;

use netcap_schema::{IPv6, IPv6ExtensionHeader, IPv6HopByHop, IPv6Option};

use crate::util::{array_at, be16, be32, clamp, entropy_if, size_i32, u8_at};
use crate::{need, DecodeError, DecodeOptions, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "IPv6";

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Most extension headers walked before giving up (RFC 8200 allows repeats, so
/// only a limit keeps a hostile chain bounded).
pub const MAX_EXTENSION_HEADERS: usize = 16;

/// Hop-by-hop options header.
pub const EXT_HOP_BY_HOP: u8 = 0;
/// Routing header.
pub const EXT_ROUTING: u8 = 43;
/// Fragment header.
pub const EXT_FRAGMENT: u8 = 44;
/// Authentication header.
pub const EXT_AH: u8 = 51;
/// Destination options header.
pub const EXT_DEST_OPTS: u8 = 60;
/// Mobility header.
pub const EXT_MOBILITY: u8 = 135;
/// Host identity protocol.
pub const EXT_HIP: u8 = 139;
/// Shim6.
pub const EXT_SHIM6: u8 = 140;

/// Whether `proto` is an extension header this module walks.
pub fn is_extension_header(proto: u8) -> bool {
    matches!(
        proto,
        EXT_HOP_BY_HOP
            | EXT_ROUTING
            | EXT_FRAGMENT
            | EXT_AH
            | EXT_DEST_OPTS
            | EXT_MOBILITY
            | EXT_HIP
            | EXT_SHIM6
    )
}

/// A zero-copy view of an IPv6 packet whose fixed header is captured.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6View<'a> {
    buf: &'a [u8],
}

impl<'a> Ipv6View<'a> {
    /// Wraps `buf`: version 6 else `Invalid`, 40 bytes else `Truncated`.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, 1)?;
        let view = Self { buf };
        if view.version() != 6 {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Version",
            });
        }
        need(LAYER, buf, HEADER_LEN)?;
        Ok(view)
    }

    /// IP version (6).
    pub fn version(&self) -> u8 {
        u8_at(self.buf, 0) >> 4
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        // 4 bits from each of the first two bytes; the shift keeps 8 bits.
        u8::try_from((be16(self.buf, 0) >> 4) & 0xff).unwrap_or(0)
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        be32(self.buf, 0) & 0x000f_ffff
    }

    /// Payload Length field (extension headers included).
    pub fn payload_len(&self) -> u16 {
        be16(self.buf, 4)
    }

    /// Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        u8_at(self.buf, 6)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        u8_at(self.buf, 7)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array_at::<16>(self.buf, 8))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array_at::<16>(self.buf, 24))
    }

    /// Length of the fixed header (40).
    pub fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Captured bytes after the fixed header up to Payload Length (which drops
    /// Ethernet padding); with Payload Length 0 (jumbograms, offloaded
    /// segments) the rest of the capture.
    pub fn payload(&self) -> &'a [u8] {
        match self.payload_len() {
            0 => clamp(self.buf, HEADER_LEN, self.buf.len()),
            n => clamp(self.buf, HEADER_LEN, HEADER_LEN + usize::from(n)),
        }
    }

    /// Walks the extension headers after the fixed header.
    pub fn extensions(&self) -> Result<Extensions<'a>, DecodeError> {
        walk_extensions(self)
    }
}

/// A zero-copy view of one extension header known to be captured.
#[derive(Debug, Clone, Copy)]
pub struct ExtHeaderView<'a> {
    kind: u8,
    buf: &'a [u8],
}

impl<'a> ExtHeaderView<'a> {
    /// Wraps the extension header of protocol number `kind` at the start of
    /// `buf`, checking that all of it is captured.
    pub fn new(kind: u8, buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, 2)?;
        let view = Self { kind, buf };
        need(LAYER, buf, view.header_len())?;
        Ok(view)
    }

    /// Protocol number of this header.
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// Protocol number of what follows.
    pub fn next_header(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Length of the whole header in bytes.
    pub fn header_len(&self) -> usize {
        let len = usize::from(u8_at(self.buf, 1));
        match self.kind {
            EXT_FRAGMENT => 8,
            // AH counts 32-bit words minus 2 (RFC 4302).
            EXT_AH => (len + 2) * 4,
            _ => (len + 1) * 8,
        }
    }

    /// The whole header.
    pub fn raw(&self) -> &'a [u8] {
        clamp(self.buf, 0, self.header_len())
    }

    /// Header bytes after the next-header and length fields.
    pub fn data(&self) -> &'a [u8] {
        clamp(self.buf, 2, self.header_len())
    }

    /// Fragment offset in units of 8 bytes (fragment headers only, else 0).
    pub fn frag_offset(&self) -> u16 {
        if self.kind == EXT_FRAGMENT {
            be16(self.buf, 2) >> 3
        } else {
            0
        }
    }

    /// Captured bytes after this header.
    pub fn payload(&self) -> &'a [u8] {
        clamp(self.buf, self.header_len(), self.buf.len())
    }
}

/// The extension header chain of a packet.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    /// Each header in order.
    pub headers: Vec<ExtHeaderView<'a>>,
    /// Protocol number after the last header walked.
    pub upper_protocol: u8,
    /// Captured upper-layer bytes (bounded like [`Ipv6View::payload`]).
    pub payload: &'a [u8],
    /// Upper-layer length on the wire.
    pub payload_size: usize,
    /// A fragment header with a non-zero offset was met: what follows is the
    /// middle of an upper-layer packet, so the walk stopped there.
    pub later_fragment: bool,
}

/// Walks the extension headers of `view` (at most [`MAX_EXTENSION_HEADERS`]).
///
/// A header that is not captured is `Truncated`; one that is captured but
/// extends past Payload Length is `Invalid` "Length".
pub fn walk_extensions<'a>(view: &Ipv6View<'a>) -> Result<Extensions<'a>, DecodeError> {
    let bounded = view.payload();
    let mut rest = clamp(view.buf, HEADER_LEN, view.buf.len());
    let mut next = view.next_header();
    let mut headers = Vec::new();
    let mut consumed = 0usize;
    let mut later_fragment = false;
    while is_extension_header(next) && headers.len() < MAX_EXTENSION_HEADERS {
        let ext = ExtHeaderView::new(next, rest)?;
        consumed = consumed.saturating_add(ext.header_len());
        if consumed > bounded.len() {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Length",
            });
        }
        headers.push(ext);
        next = ext.next_header();
        rest = ext.payload();
        if ext.frag_offset() != 0 {
            later_fragment = true;
            break;
        }
    }
    let payload = clamp(bounded, consumed, bounded.len());
    let payload_size = match view.payload_len() {
        0 => payload.len(),
        n => usize::from(n).saturating_sub(consumed),
    };
    Ok(Extensions {
        headers,
        upper_protocol: next,
        payload,
        payload_size,
        later_fragment,
    })
}

/// Parses the options of a hop-by-hop (or destination options) header: Pad1
/// is a lone zero byte; others are type, length, data. An option that runs past
/// the header ends the list.
pub fn parse_tlv_options(mut rest: &[u8]) -> Vec<IPv6Option> {
    let mut out = Vec::new();
    while let Some((&kind, after)) = rest.split_first() {
        if kind == 0 {
            out.push(IPv6Option {
                option_type: 0,
                option_length: 0,
                option_data: Vec::new(),
            });
            rest = after;
            continue;
        }
        let Some((&len, after)) = after.split_first() else {
            break;
        };
        let Some((data, tail)) = after.split_at_checked(usize::from(len)) else {
            break;
        };
        out.push(IPv6Option {
            option_type: i32::from(kind),
            option_length: i32::from(len),
            option_data: data.to_vec(),
        });
        rest = tail;
    }
    out
}

/// Builds the `IPv6` record of `view` and its extension header chain `ext`.
pub fn record(
    view: &Ipv6View<'_>,
    ext: &Extensions<'_>,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) -> IPv6 {
    let mut rec = IPv6::default();
    fill_record(&mut rec, view, ext, pkt, opts);
    rec
}

/// [`record`] into `rec`, reusing the memory of its address strings.
pub fn fill_record(
    rec: &mut IPv6,
    view: &Ipv6View<'_>,
    ext: &Extensions<'_>,
    pkt: &PacketInfo<'_>,
    opts: &DecodeOptions,
) {
    use std::fmt::Write;
    let mut src_ip = std::mem::take(&mut rec.src_ip);
    let mut dst_ip = std::mem::take(&mut rec.dst_ip);
    src_ip.clear();
    dst_ip.clear();
    // Writing into a String cannot fail.
    let _ = write!(src_ip, "{}", view.src_addr());
    let _ = write!(dst_ip, "{}", view.dst_addr());
    let hop_by_hop = ext
        .headers
        .first()
        .filter(|h| h.kind() == EXT_HOP_BY_HOP)
        .map(|h| IPv6HopByHop {
            timestamp: pkt.ts_ns,
            options: parse_tlv_options(h.data()),
            packet_number: pkt.number,
            ..Default::default()
        });
    *rec = IPv6 {
        timestamp: pkt.ts_ns,
        version: i32::from(view.version()),
        traffic_class: i32::from(view.traffic_class()),
        flow_label: view.flow_label(),
        length: i32::from(view.payload_len()),
        next_header: i32::from(view.next_header()),
        hop_limit: i32::from(view.hop_limit()),
        src_ip,
        dst_ip,
        payload_entropy: entropy_if(opts, ext.payload),
        payload_size: size_i32(ext.payload_size),
        hop_by_hop,
        packet_number: pkt.number,
        extension_headers: ext
            .headers
            .iter()
            .map(|h| IPv6ExtensionHeader {
                r#type: i32::from(h.kind()),
                next_header: i32::from(h.next_header()),
                length: size_i32(h.header_len()),
                data: h.data().to_vec(),
            })
            .collect(),
        upper_layer_protocol: i32::from(ext.upper_protocol),
        ..Default::default()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(next: u8, payload_len: u16) -> Vec<u8> {
        let mut b = vec![0x6a, 0xb1, 0x23, 0x45];
        b.extend_from_slice(&payload_len.to_be_bytes());
        b.extend_from_slice(&[next, 64]);
        b.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&"ff02::1:2".parse::<Ipv6Addr>().unwrap().octets());
        b
    }

    /// Fixed header, hop-by-hop (Pad1, router alert, Pad1), routing (8 bytes),
    /// fragment (offset 0, M set), UDP header and 4 payload bytes, then 2 bytes
    /// of Ethernet padding.
    fn chain() -> Vec<u8> {
        let mut b = fixed(0, 8 + 8 + 8 + 12);
        b.extend_from_slice(&[43, 0, 0, 5, 2, 0, 0, 0]); // HBH: Pad1, RA, Pad1
        b.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // routing type 0, 0 left
        b.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]); // fragment
        b.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 12, 0xaa, 0xbb, 1, 2, 3, 4]);
        b.extend_from_slice(&[0, 0]);
        b
    }

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 4,
            ts_ns: 11,
            link_type: 229,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn fixed_header_fields() {
        let b = chain();
        let v = Ipv6View::new(&b).unwrap();
        assert_eq!(
            (v.version(), v.traffic_class(), v.flow_label()),
            (6, 0xab, 0x12345)
        );
        assert_eq!(
            (v.payload_len(), v.next_header(), v.hop_limit()),
            (36, 0, 64)
        );
        assert_eq!(v.src_addr().to_string(), "2001:db8::1");
        assert_eq!(v.dst_addr().to_string(), "ff02::1:2");
        assert_eq!(v.payload().len(), 36);
    }

    #[test]
    fn extension_chain() {
        let b = chain();
        let v = Ipv6View::new(&b).unwrap();
        let ext = v.extensions().unwrap();
        assert_eq!(ext.upper_protocol, 17);
        assert!(!ext.later_fragment);
        assert_eq!(ext.payload.len(), 12);
        assert_eq!(ext.payload_size, 12);
        let r = record(&v, &ext, &pkt(&b), &DecodeOptions::default());
        assert_eq!(r.upper_layer_protocol, 17);
        assert_eq!(r.next_header, 0);
        assert_eq!(r.payload_size, 12);
        let types: Vec<_> = r
            .extension_headers
            .iter()
            .map(|h| (h.r#type, h.next_header, h.length))
            .collect();
        assert_eq!(types, vec![(0, 43, 8), (43, 44, 8), (44, 17, 8)]);
        assert_eq!(
            r.extension_headers[2].data,
            vec![0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]
        );
        let hbh = r.hop_by_hop.unwrap();
        assert_eq!(hbh.timestamp, 11);
        let opts: Vec<_> = hbh
            .options
            .iter()
            .map(|o| (o.option_type, o.option_length, o.option_data.clone()))
            .collect();
        assert_eq!(
            opts,
            vec![(0, 0, vec![]), (5, 2, vec![0, 0]), (0, 0, vec![])]
        );
    }

    #[test]
    fn later_fragment_stops_walk() {
        let mut b = fixed(44, 16);
        b.extend_from_slice(&[6, 0, 0x05, 0x28, 0, 0, 0, 9]); // offset 0xa5, next TCP
        b.extend_from_slice(&[0xff; 8]);
        let v = Ipv6View::new(&b).unwrap();
        let ext = v.extensions().unwrap();
        assert!(ext.later_fragment);
        assert_eq!(ext.upper_protocol, 6);
        assert_eq!(ext.headers[0].frag_offset(), 0xa5);
        assert_eq!(ext.payload_size, 8);
        let r = record(&v, &ext, &pkt(&b), &DecodeOptions::default());
        assert!(r.hop_by_hop.is_none());
    }

    #[test]
    fn ah_length_and_repeats() {
        // Destination options twice (allowed), then AH with len 1 => 12 bytes.
        let mut b = fixed(60, 8 + 8 + 12);
        b.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        b.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]);
        b.extend_from_slice(&[59, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
        let v = Ipv6View::new(&b).unwrap();
        let ext = v.extensions().unwrap();
        let lens: Vec<_> = ext
            .headers
            .iter()
            .map(|h| (h.kind(), h.header_len()))
            .collect();
        assert_eq!(lens, vec![(60, 8), (60, 8), (51, 12)]);
        assert_eq!(ext.upper_protocol, 59);
        assert_eq!(ext.payload_size, 0);
        assert!(record(&v, &ext, &pkt(&b), &DecodeOptions::default())
            .hop_by_hop
            .is_none());
    }

    #[test]
    fn header_limit() {
        let mut b = fixed(60, 8 * 20);
        for _ in 0..20 {
            b.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let v = Ipv6View::new(&b).unwrap();
        let ext = v.extensions().unwrap();
        assert_eq!(ext.headers.len(), MAX_EXTENSION_HEADERS);
        assert_eq!(ext.upper_protocol, 60);
        assert_eq!(ext.payload.len(), 8 * 4);
    }

    #[test]
    fn errors() {
        let b = chain();
        assert_eq!(
            Ipv6View::new(&[0x45]).unwrap_err(),
            DecodeError::Invalid {
                layer: "IPv6",
                field: "Version"
            }
        );
        for n in 0..40 {
            let need = if n == 0 { 1 } else { 40 };
            assert_eq!(
                Ipv6View::new(&b[..n]).unwrap_err(),
                DecodeError::Truncated {
                    layer: "IPv6",
                    need,
                    have: n
                }
            );
        }
        // Truncated inside each extension header.
        for n in 40..64 {
            let v = Ipv6View::new(&b[..n]).unwrap();
            assert!(
                matches!(
                    v.extensions().unwrap_err(),
                    DecodeError::Truncated { layer: "IPv6", .. }
                ),
                "{n}"
            );
        }
        for n in 64..=b.len() {
            let ext = Ipv6View::new(&b[..n]).unwrap().extensions().unwrap();
            assert_eq!(ext.payload.len(), (n - 64).min(12));
            assert_eq!(ext.payload_size, 12);
        }
        // Payload Length shorter than the chain.
        let mut short = b.clone();
        short[5] = 10;
        assert_eq!(
            Ipv6View::new(&short).unwrap().extensions().unwrap_err(),
            DecodeError::Invalid {
                layer: "IPv6",
                field: "Length"
            }
        );
        // Payload Length 0: the rest of the capture counts.
        let mut zero = b.clone();
        zero[5] = 0;
        let ext = Ipv6View::new(&zero).unwrap().extensions().unwrap();
        assert_eq!((ext.payload.len(), ext.payload_size), (14, 14));
        // Maximal AH length does not overflow.
        let mut ah = fixed(51, 0);
        ah.extend_from_slice(&[6, 255]);
        assert_eq!(
            Ipv6View::new(&ah).unwrap().extensions().unwrap_err(),
            DecodeError::Truncated {
                layer: "IPv6",
                need: 257 * 4,
                have: 2
            }
        );
    }

    #[test]
    fn hbh_options_truncated() {
        assert_eq!(parse_tlv_options(&[5, 4, 1]).len(), 0);
        let o = parse_tlv_options(&[0, 1, 0, 1, 2, 0xaa, 0xbb, 0]);
        let o: Vec<_> = o
            .iter()
            .map(|o| (o.option_type, o.option_length, o.option_data.clone()))
            .collect();
        assert_eq!(
            o,
            vec![
                (0, 0, vec![]),
                (1, 0, vec![]),
                (1, 2, vec![0xaa, 0xbb]),
                (0, 0, vec![])
            ]
        );
        // A type without its length byte ends the list.
        assert_eq!(parse_tlv_options(&[0, 0, 1]).len(), 2);
        assert_eq!(parse_tlv_options(&[]).len(), 0);
    }
}
