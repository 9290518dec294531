//! DHCP for IPv6 (RFC 8415).

use std::net::Ipv6Addr;

use netcap_schema::{DhcPv6, DhcPv6Option};

use crate::app::Cursor;
use crate::dhcpv4::hex;
use crate::util::{array_at, be16, be32, size_i32, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "DHCPv6";

/// Relay-forward and relay-reply message types.
const RELAY_FORW: u8 = 12;
const RELAY_REPL: u8 = 13;

/// Header length of a relay message (type, hop count, two addresses).
const RELAY_HEADER_LEN: usize = 34;

/// Option codes with a decoded field.
mod opt {
    pub const CLIENT_ID: u16 = 1;
    pub const SERVER_ID: u16 = 2;
    pub const IA_NA: u16 = 3;
    pub const ORO: u16 = 6;
    pub const ELAPSED_TIME: u16 = 8;
    pub const CLIENT_FQDN: u16 = 39;
}

/// A zero-copy view of a DHCPv6 message.
#[derive(Debug, Clone, Copy)]
pub struct Dhcpv6View<'a> {
    buf: &'a [u8],
}

impl<'a> Dhcpv6View<'a> {
    /// Wraps `buf`, checking that the message type is assigned (1–13 and the
    /// later 14–36 of RFC 8415 successors) and that its header is present.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, 4)?;
        let v = Self { buf };
        if !(1..=36).contains(&v.msg_type()) {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "MsgType",
            });
        }
        need(LAYER, buf, v.header_len())?;
        Ok(v)
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// Whether this is a relay message (with hop count and addresses).
    pub fn is_relay(&self) -> bool {
        matches!(self.msg_type(), RELAY_FORW | RELAY_REPL)
    }

    /// Length of the header before the options.
    pub fn header_len(&self) -> usize {
        if self.is_relay() {
            RELAY_HEADER_LEN
        } else {
            4
        }
    }

    /// The options area.
    pub fn options_area(&self) -> &'a [u8] {
        self.buf.get(self.header_len()..).unwrap_or_default()
    }
}

/// Parses options (code, length, data); one cut short is an error.
fn options(area: &[u8]) -> Result<Vec<(u16, &[u8])>, DecodeError> {
    let mut c = Cursor::new(LAYER, area);
    let mut out = Vec::new();
    while !c.is_empty() {
        let code = c.u16()?;
        let len = c.u16()?;
        out.push((code, c.take(usize::from(len))?));
    }
    Ok(out)
}

/// An uncompressed DNS name in wire format (RFC 8415 §10) as dotted text;
/// a partial name (no root label) is allowed, as in the FQDN option.
fn wire_name(mut b: &[u8]) -> String {
    let mut labels = Vec::new();
    while let Some((&len, rest)) = b.split_first() {
        let Some((label, tail)) = rest.split_at_checked(usize::from(len)) else {
            break;
        };
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(label).into_owned());
        b = tail;
    }
    labels.join(".")
}

/// Builds the `DHCPv6` record of `view`.
pub fn record(view: &Dhcpv6View<'_>, pkt: &PacketInfo<'_>) -> Result<DhcPv6, DecodeError> {
    let b = view.buf;
    let opts = options(view.options_area())?;
    let mut r = DhcPv6 {
        timestamp: pkt.ts_ns,
        msg_type: i32::from(view.msg_type()),
        packet_number: pkt.number,
        ..Default::default()
    };
    if view.is_relay() {
        r.hop_count = i32::from(u8_at(b, 1));
        r.link_addr = Ipv6Addr::from(array_at::<16>(b, 2)).to_string();
        r.peer_addr = Ipv6Addr::from(array_at::<16>(b, 18)).to_string();
    } else {
        r.transaction_id = be32(b, 0) & 0x00ff_ffff;
    }
    for &(code, d) in &opts {
        match code {
            opt::CLIENT_ID => r.client_duid = hex(d),
            opt::SERVER_ID => r.server_duid = hex(d),
            opt::IA_NA if d.len() >= 4 => r.ianaiai_ds.push(be32(d, 0)),
            opt::ORO => {
                r.requested_options = d.chunks_exact(2).map(|c| i32::from(be16(c, 0))).collect();
            }
            opt::ELAPSED_TIME if d.len() == 2 => r.elapsed_time = i32::from(be16(d, 0)),
            // A flags byte, then the name.
            opt::CLIENT_FQDN => r.fqdn = wire_name(d.get(1..).unwrap_or_default()),
            _ => {}
        }
    }
    r.options = opts
        .iter()
        .map(|&(code, d)| DhcPv6Option {
            code: i32::from(code),
            length: size_i32(d.len()),
            data: d.to_vec(),
        })
        .collect();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 4,
            ts_ns: 8,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    #[test]
    fn solicit() {
        let mut b = vec![1, 0x12, 0x34, 0x56];
        b.extend_from_slice(&[0, 1, 0, 4, 0, 3, 0, 1]); // client ID
        b.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]); // IA_NA
        b.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 24]); // ORO
        b.extend_from_slice(&[0, 8, 0, 2, 0x01, 0x00]); // elapsed
        b.extend_from_slice(&[0, 39, 0, 7, 1, 2, b'p', b'c', 2, b'l', b'n']); // FQDN
        let r = record(&Dhcpv6View::new(&b).unwrap(), &pkt(&b)).unwrap();
        assert_eq!(
            (r.msg_type, r.transaction_id, r.hop_count),
            (1, 0x12_3456, 0)
        );
        assert_eq!(
            (r.client_duid.as_str(), r.server_duid.as_str()),
            ("00030001", "")
        );
        assert_eq!(r.ianaiai_ds, [7]);
        assert_eq!(r.requested_options, [23, 24]);
        assert_eq!((r.elapsed_time, r.fqdn.as_str()), (256, "pc.ln"));
        let codes: Vec<_> = r.options.iter().map(|o| (o.code, o.length)).collect();
        assert_eq!(codes, [(1, 4), (3, 12), (6, 4), (8, 2), (39, 7)]);
        assert_eq!((r.timestamp, r.packet_number), (8, 4));
        // An option cut short.
        assert!(record(&Dhcpv6View::new(&b[..b.len() - 1]).unwrap(), &pkt(&b)).is_err());
    }

    #[test]
    fn relay_forward() {
        let mut b = vec![12, 3];
        b.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&"fe80::2".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&[0, 9, 0, 4, 1, 0, 0, 1]); // relay message: a solicit
        let r = record(&Dhcpv6View::new(&b).unwrap(), &pkt(&b)).unwrap();
        assert_eq!((r.msg_type, r.hop_count, r.transaction_id), (12, 3, 0));
        assert_eq!(
            (r.link_addr.as_str(), r.peer_addr.as_str()),
            ("2001:db8::1", "fe80::2")
        );
        assert_eq!(r.options[0].data, [1, 0, 0, 1]);
        assert!(Dhcpv6View::new(&b[..33]).is_err());
        assert!(Dhcpv6View::new(&[0, 1, 2, 3]).is_err());
    }
}
