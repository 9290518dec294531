//! DHCP for IPv4 (RFC 2131, options RFC 2132) on the BOOTP message format.

use netcap_schema::{DhcPv4, DhcpOption};

use crate::util::{array_at, be16, be32, clamp, colon_hex, ipv4_text, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "DHCPv4";

/// Length of the fixed BOOTP part, magic cookie included.
pub const HEADER_LEN: usize = 240;

/// The magic cookie that starts the options (RFC 2131 §3).
pub const MAGIC_COOKIE: u32 = 0x6382_5363;

/// Option codes with a decoded field.
mod opt {
    pub const PAD: u8 = 0;
    pub const HOSTNAME: u8 = 12;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_LIST: u8 = 55;
    pub const VENDOR_CLASS: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const END: u8 = 255;
}

/// A zero-copy view of a DHCPv4 message whose fixed part and magic cookie are
/// captured.
#[derive(Debug, Clone, Copy)]
pub struct Dhcpv4View<'a> {
    buf: &'a [u8],
}

impl<'a> Dhcpv4View<'a> {
    /// Wraps `buf`, checking the length, the operation (1 or 2) and the magic
    /// cookie, which together tell DHCP from other bytes on ports 67/68.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        let v = Self { buf };
        if !matches!(v.op(), 1 | 2) {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "Operation",
            });
        }
        if be32(buf, 236) != MAGIC_COOKIE {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "magic cookie",
            });
        }
        Ok(v)
    }

    /// Operation: 1 request, 2 reply.
    pub fn op(&self) -> u8 {
        u8_at(self.buf, 0)
    }

    /// IPv4 address at `off` as text.
    fn ip(&self, off: usize) -> String {
        ipv4_text(array_at::<4>(self.buf, off))
    }

    /// A NUL-terminated text field of `len` bytes at `off`.
    fn text(&self, off: usize, len: usize) -> String {
        let f = clamp(self.buf, off, off.saturating_add(len));
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        String::from_utf8_lossy(f.get(..end).unwrap_or_default()).into_owned()
    }

    /// The bytes after the magic cookie.
    pub fn options_area(&self) -> &'a [u8] {
        self.buf.get(HEADER_LEN..).unwrap_or_default()
    }
}

/// One option: code and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// Option code.
    pub code: u8,
    /// Option data (empty for End).
    pub data: &'a [u8],
}

/// Parses the options up to and including End; Pad bytes are skipped. An
/// option cut short is an error.
pub fn options(mut area: &[u8]) -> Result<Vec<RawOption<'_>>, DecodeError> {
    let mut out = Vec::new();
    while let Some((&code, rest)) = area.split_first() {
        match code {
            opt::PAD => area = rest,
            opt::END => {
                out.push(RawOption { code, data: &[] });
                break;
            }
            _ => {
                let Some((&len, rest)) = rest.split_first() else {
                    return Err(DecodeError::Truncated {
                        layer: LAYER,
                        need: 2,
                        have: 1,
                    });
                };
                let Some((data, rest)) = rest.split_at_checked(usize::from(len)) else {
                    return Err(DecodeError::Truncated {
                        layer: LAYER,
                        need: usize::from(len) + 2,
                        have: area.len(),
                    });
                };
                out.push(RawOption { code, data });
                area = rest;
            }
        }
    }
    Ok(out)
}

/// Builds the `DHCPv4` record of `view`.
pub fn record(view: &Dhcpv4View<'_>, pkt: &PacketInfo<'_>) -> Result<DhcPv4, DecodeError> {
    let b = view.buf;
    let opts = options(view.options_area())?;
    let hlen = u8_at(b, 2);
    let mut r = DhcPv4 {
        timestamp: pkt.ts_ns,
        operation: i32::from(view.op()),
        hardware_type: i32::from(u8_at(b, 1)),
        hardware_len: i32::from(hlen),
        hardware_opts: i32::from(u8_at(b, 3)),
        xid: be32(b, 4),
        secs: i32::from(be16(b, 8)),
        flags: i32::from(be16(b, 10)),
        client_ip: view.ip(12),
        your_client_ip: view.ip(16),
        next_server_ip: view.ip(20),
        relay_agent_ip: view.ip(24),
        client_hw_addr: colon_hex(clamp(b, 28, 28 + usize::from(hlen.min(16)))),
        server_name: view.text(44, 64),
        file: view.text(108, 128),
        packet_number: pkt.number,
        ..Default::default()
    };
    for o in &opts {
        let d = o.data;
        match o.code {
            opt::MESSAGE_TYPE if d.len() == 1 => r.message_type = i32::from(u8_at(d, 0)),
            opt::REQUESTED_IP if d.len() == 4 => r.requested_ip = ipv4_text(array_at::<4>(d, 0)),
            opt::SERVER_ID if d.len() == 4 => r.server_id = ipv4_text(array_at::<4>(d, 0)),
            opt::LEASE_TIME if d.len() == 4 => r.lease_time = be32(d, 0),
            opt::HOSTNAME => r.hostname = String::from_utf8_lossy(d).into_owned(),
            opt::VENDOR_CLASS => r.vendor_class_id = String::from_utf8_lossy(d).into_owned(),
            opt::CLIENT_ID => r.client_id = hex(d),
            opt::PARAMETER_LIST => {
                r.parameter_request_list = d.iter().map(|&c| i32::from(c)).collect()
            }
            _ => {}
        }
    }
    r.options = opts
        .iter()
        .map(|o| DhcpOption {
            r#type: i32::from(o.code),
            length: crate::util::size_i32(o.data.len()),
            data: o.data.to_vec(),
        })
        .collect();
    Ok(r)
}

/// Lowercase hex without separators.
pub(crate) fn hex(b: &[u8]) -> String {
    colon_hex(b).replace(':', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 2,
            ts_ns: 3,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    /// A DHCPREQUEST with the usual options, padding and End.
    fn request() -> Vec<u8> {
        let mut b = vec![1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 5, 0x80, 0];
        b.extend_from_slice(&[10, 0, 0, 9]);
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&[0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8]);
        b.extend_from_slice(&[0; 10]);
        let mut sname = [0u8; 64];
        sname[..3].copy_from_slice(b"srv");
        b.extend_from_slice(&sname);
        let mut file = [0u8; 128];
        file[..4].copy_from_slice(b"boot");
        b.extend_from_slice(&file);
        b.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        b.extend_from_slice(&[53, 1, 3, 50, 4, 192, 168, 1, 5, 54, 4, 192, 168, 1, 1]);
        b.extend_from_slice(&[51, 4, 0, 0, 0x0e, 0x10, 0, 12, 3, b'p', b'c', b'1']);
        b.extend_from_slice(&[60, 4, b'M', b'S', b'F', b'T', 55, 3, 1, 3, 6]);
        b.extend_from_slice(&[61, 7, 1, 0x00, 0x1b, 0x21, 0x3c, 0x9d, 0xf8, 255, 0, 0]);
        b
    }

    #[test]
    fn request_fields_and_options() {
        let b = request();
        let r = record(&Dhcpv4View::new(&b).unwrap(), &pkt(&b)).unwrap();
        assert_eq!(
            (
                r.operation,
                r.hardware_type,
                r.hardware_len,
                r.hardware_opts
            ),
            (1, 1, 6, 0)
        );
        assert_eq!((r.xid, r.secs, r.flags), (0xdead_beef, 5, 0x8000));
        assert_eq!(
            (r.client_ip.as_str(), r.your_client_ip.as_str()),
            ("10.0.0.9", "0.0.0.0")
        );
        assert_eq!(r.client_hw_addr, "00:1b:21:3c:9d:f8");
        assert_eq!((r.server_name.as_str(), r.file.as_str()), ("srv", "boot"));
        let codes: Vec<_> = r.options.iter().map(|o| o.r#type).collect();
        assert_eq!(codes, [53, 50, 54, 51, 12, 60, 55, 61, 255]);
        assert_eq!(
            (
                r.message_type,
                r.requested_ip.as_str(),
                r.server_id.as_str()
            ),
            (3, "192.168.1.5", "192.168.1.1")
        );
        assert_eq!(
            (
                r.lease_time,
                r.hostname.as_str(),
                r.vendor_class_id.as_str()
            ),
            (3600, "pc1", "MSFT")
        );
        assert_eq!(r.parameter_request_list, [1, 3, 6]);
        assert_eq!(r.client_id, "01001b213c9df8");
        assert_eq!((r.timestamp, r.packet_number), (3, 2));
    }

    #[test]
    fn bad_cookie_op_and_cut_options() {
        let b = request();
        let mut c = b.clone();
        c[236] = 0;
        assert!(Dhcpv4View::new(&c).is_err());
        let mut c = b.clone();
        c[0] = 3;
        assert!(Dhcpv4View::new(&c).is_err());
        assert!(Dhcpv4View::new(&b[..239]).is_err());
        // Cut inside the client-ID option.
        let c = &b[..b.len() - 6];
        assert!(record(&Dhcpv4View::new(c).unwrap(), &pkt(c)).is_err());
        // No End option: fine (options end with the data).
        let c = &b[..b.len() - 3];
        assert_eq!(
            record(&Dhcpv4View::new(c).unwrap(), &pkt(c))
                .unwrap()
                .options
                .len(),
            8
        );
    }
}
