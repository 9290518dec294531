//! ICMPv6 message bodies that get records of their own: echo (RFC 4443 §4)
//! and neighbor discovery (RFC 4861 §4.1–4.4) with its options (§4.6).
//!
//! The generic `ICMPv6` record is written for every message; these records
//! follow it for the message types they cover. Other types (MLD, errors,
//! redirects) only have the generic record.

use std::net::Ipv6Addr;

use netcap_schema::{
    IcmPv6Echo, IcmPv6NeighborAdvertisement, IcmPv6NeighborSolicitation, IcmPv6Option,
    IcmPv6RouterAdvertisement, IcmPv6RouterSolicitation,
};

use crate::icmpv6::Icmpv6View;
use crate::util::{array_at, be16, be32, clamp, colon_hex, size_i32, u8_at};
use crate::{need, DecodeError, PacketInfo, RecordSink};

/// Echo request.
pub const ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const ECHO_REPLY: u8 = 129;
/// Router solicitation.
pub const ROUTER_SOLICITATION: u8 = 133;
/// Router advertisement.
pub const ROUTER_ADVERTISEMENT: u8 = 134;
/// Neighbor solicitation.
pub const NEIGHBOR_SOLICITATION: u8 = 135;
/// Neighbor advertisement.
pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;

/// Most options decoded from one message: a minimum-size option is 8 bytes,
/// so a 64 KiB message cannot hold more than this anyway.
pub const MAX_OPTIONS: usize = 8192;

/// A zero-copy view of a neighbor discovery option list.
#[derive(Debug, Clone, Copy)]
pub struct NdOptions<'a> {
    buf: &'a [u8],
}

/// One neighbor discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOption<'a> {
    /// Option type.
    pub kind: u8,
    /// Whole option, type and length bytes included.
    pub raw: &'a [u8],
}

impl<'a> NdOptions<'a> {
    /// Wraps the bytes after a message's fixed part.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The options in order; stops at a zero length (RFC 4861 says such a
    /// message must be discarded; the options before it are still shown) or
    /// at an option running past the captured bytes.
    pub fn iter(&self) -> impl Iterator<Item = NdOption<'a>> {
        let mut rest = self.buf;
        std::iter::from_fn(move || {
            let kind = *rest.first()?;
            let len = usize::from(*rest.get(1)?).checked_mul(8)?;
            if len == 0 {
                return None;
            }
            let (raw, tail) = rest.split_at_checked(len)?;
            rest = tail;
            Some(NdOption { kind, raw })
        })
        .take(MAX_OPTIONS)
    }
}

/// Builds the record form of one option, decoding the common types.
pub fn option_record(o: &NdOption<'_>) -> IcmPv6Option {
    let data = clamp(o.raw, 2, o.raw.len());
    let mut r = IcmPv6Option {
        r#type: i32::from(o.kind),
        length: size_i32(o.raw.len()),
        data: data.to_vec(),
        ..Default::default()
    };
    match o.kind {
        // Source / target link-layer address: the rest of the option, which
        // on Ethernet is a 6-byte MAC followed by nothing.
        1 | 2 => {
            let addr = if o.raw.len() == 8 {
                clamp(o.raw, 2, 8)
            } else {
                data
            };
            r.link_layer_address = colon_hex(addr);
        }
        3 if o.raw.len() >= 32 => {
            r.prefix_length = i32::from(u8_at(o.raw, 2));
            r.prefix_flags = i32::from(u8_at(o.raw, 3));
            r.valid_lifetime = be32(o.raw, 4);
            r.preferred_lifetime = be32(o.raw, 8);
            r.prefix = Ipv6Addr::from(array_at::<16>(o.raw, 16)).to_string();
        }
        5 if o.raw.len() >= 8 => r.mtu = be32(o.raw, 4),
        _ => {}
    }
    r
}

fn options(buf: &[u8]) -> Vec<IcmPv6Option> {
    NdOptions::new(buf)
        .iter()
        .map(|o| option_record(&o))
        .collect()
}

/// Emits the type-specific record of an ICMPv6 message, if its type has one.
/// Fails when the message is shorter than its type's fixed part.
pub fn emit<S: RecordSink>(
    view: &Icmpv6View<'_>,
    pkt: &PacketInfo<'_>,
    sink: &mut S,
) -> Result<(), DecodeError> {
    // Message body after type, code and checksum.
    let b = view.payload();
    let ts = pkt.ts_ns;
    let n = pkt.number;
    match view.msg_type() {
        t @ (ECHO_REQUEST | ECHO_REPLY) => {
            need("ICMPv6Echo", b, 4)?;
            sink.emit(&IcmPv6Echo {
                timestamp: ts,
                identifier: i32::from(be16(b, 0)),
                seq_number: i32::from(be16(b, 2)),
                packet_number: n,
                r#type: i32::from(t),
                ..Default::default()
            });
        }
        ROUTER_SOLICITATION => {
            need("ICMPv6RouterSolicitation", b, 4)?;
            sink.emit(&IcmPv6RouterSolicitation {
                timestamp: ts,
                options: options(clamp(b, 4, b.len())),
                packet_number: n,
                ..Default::default()
            });
        }
        ROUTER_ADVERTISEMENT => {
            need("ICMPv6RouterAdvertisement", b, 12)?;
            sink.emit(&IcmPv6RouterAdvertisement {
                timestamp: ts,
                hop_limit: i32::from(u8_at(b, 0)),
                flags: i32::from(u8_at(b, 1)),
                router_lifetime: i32::from(be16(b, 2)),
                reachable_time: be32(b, 4),
                retrans_timer: be32(b, 8),
                options: options(clamp(b, 12, b.len())),
                packet_number: n,
                ..Default::default()
            });
        }
        NEIGHBOR_SOLICITATION => {
            need("ICMPv6NeighborSolicitation", b, 20)?;
            sink.emit(&IcmPv6NeighborSolicitation {
                timestamp: ts,
                target_address: Ipv6Addr::from(array_at::<16>(b, 4)).to_string(),
                options: options(clamp(b, 20, b.len())),
                packet_number: n,
                ..Default::default()
            });
        }
        NEIGHBOR_ADVERTISEMENT => {
            need("ICMPv6NeighborAdvertisement", b, 20)?;
            sink.emit(&IcmPv6NeighborAdvertisement {
                timestamp: ts,
                flags: i32::from(u8_at(b, 0)),
                target_address: Ipv6Addr::from(array_at::<16>(b, 4)).to_string(),
                options: options(clamp(b, 20, b.len())),
                packet_number: n,
                ..Default::default()
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l3test::Sink;

    fn run(b: &[u8]) -> (Result<(), DecodeError>, Sink) {
        let pkt = PacketInfo {
            number: 5,
            ts_ns: 9,
            link_type: 1,
            orig_len: 0,
            data: b,
        };
        let mut s = Sink::default();
        let r = emit(&Icmpv6View::new(b).unwrap(), &pkt, &mut s);
        (r, s)
    }

    #[test]
    fn echo() {
        let (r, s) = run(&[128, 0, 0xab, 0xcd, 0x12, 0x34, 0, 7, b'x']);
        r.unwrap();
        let e = s.first::<IcmPv6Echo>();
        assert_eq!(
            (e.identifier, e.seq_number, e.r#type, e.packet_number),
            (0x1234, 7, 128, 5)
        );
        assert!(run(&[129, 0, 0, 0, 1]).0.is_err());
    }

    #[test]
    fn router_advertisement_with_options() {
        let mut b = vec![134, 0, 0, 0, 64, 0xc0, 0x07, 0x08, 0, 0, 0, 1, 0, 0, 0, 2];
        b.extend_from_slice(&[1, 1, 0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8]); // source LLA
        b.extend_from_slice(&[5, 1, 0, 0, 0, 0, 0x05, 0xdc]); // MTU 1500
        b.extend_from_slice(&[
            3, 4, 64, 0xc0, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0,
        ]);
        b.extend_from_slice(&"2001:db8:1::".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&[9, 0, 1, 2]); // zero length: stops the list
        let (r, s) = run(&b);
        r.unwrap();
        let ra = s.first::<IcmPv6RouterAdvertisement>();
        assert_eq!(
            (
                ra.hop_limit,
                ra.flags,
                ra.router_lifetime,
                ra.reachable_time,
                ra.retrans_timer
            ),
            (64, 0xc0, 1800, 1, 2)
        );
        assert_eq!(ra.options.len(), 3);
        assert_eq!(ra.options[0].link_layer_address, "00:1b:21:3c:9d:f8");
        assert_eq!((ra.options[1].r#type, ra.options[1].mtu), (5, 1500));
        let p = &ra.options[2];
        assert_eq!(
            (p.length, p.prefix_length, p.prefix_flags, p.valid_lifetime),
            (32, 64, 0xc0, 3600)
        );
        assert_eq!(
            (p.preferred_lifetime, p.prefix.as_str()),
            (1800, "2001:db8:1::")
        );
    }

    #[test]
    fn neighbor_messages() {
        let mut b = vec![136, 0, 0, 0, 0xe0, 0, 0, 0];
        b.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&[2, 1, 1, 2, 3, 4, 5, 6]);
        let (r, s) = run(&b);
        r.unwrap();
        let na = s.first::<IcmPv6NeighborAdvertisement>();
        assert_eq!((na.flags, na.target_address.as_str()), (0xe0, "fe80::1"));
        assert_eq!(na.options[0].link_layer_address, "01:02:03:04:05:06");
        b[0] = 135;
        let (_, s) = run(&b);
        assert_eq!(s.0[0].0, "ICMPv6NeighborSolicitation");
        // Truncated target address.
        assert!(run(&b[..20]).0.is_err());
        // Option running past the end is dropped.
        b.truncate(30);
        let (_, s) = run(&b);
        let ns = s.first::<IcmPv6NeighborSolicitation>();
        assert!(ns.options.is_empty());
        // Router solicitation, and types without a record.
        let (_, s) = run(&[133, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.0[0].0, "ICMPv6RouterSolicitation");
        let (r, s) = run(&[143, 0, 0, 0]);
        assert!(r.is_ok() && s.0.is_empty());
    }
}

#[cfg(test)]
mod capture_tests {
    use crate::l3test::decode_file;
    use crate::Outcome;
    use netcap_schema::{IcmPv6Echo, IcmPv6NeighborAdvertisement, IcmPv6RouterAdvertisement};

    #[test]
    fn nd_capture() {
        // Values from tshark -e icmpv6.echo.* -e icmpv6.nd.ra.* -e icmpv6.opt.*.
        let f = decode_file("ipv6-frag-hbh-icmpv6-nd-ra-mld.pcap");
        let (o, s) = &f[0];
        assert_eq!(*o, Outcome::Decoded);
        let e = s.first::<IcmPv6Echo>();
        assert_eq!((e.identifier, e.seq_number), (0xface, 47806));
        let ra = f[2].1.first::<IcmPv6RouterAdvertisement>();
        assert_eq!((ra.hop_limit, ra.flags, ra.router_lifetime), (64, 0x18, 30));
        let kinds: Vec<_> = ra.options.iter().map(|o| (o.r#type, o.length)).collect();
        assert_eq!(kinds, [(3, 32), (1, 8)]);
        assert_eq!(ra.options[0].prefix, "2001:db8:1::");
        assert_eq!(ra.options[0].valid_lifetime, 86400);
        assert_eq!(ra.options[1].link_layer_address, "64:00:6a:5b:8e:b3");
        let na = f[63].1.first::<IcmPv6NeighborAdvertisement>();
        assert_eq!(
            (na.flags, na.target_address.as_str()),
            (0xc0, "fe80::223:55ff:fe9c:7326")
        );
    }
}
