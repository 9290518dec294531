//! Domain Name System messages (RFC 1035, EDNS RFC 6891), also mDNS and LLMNR,
//! which share the wire format.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use netcap_schema::{Dns, DnsQuestion, DnsResourceRecord, Dnsmx, Dnsopt, Dnssoa, Dnssrv};

use crate::app::Cursor;
use crate::util::{array_at, be16, ipv4_text, u8_at};
use crate::{need, DecodeError, PacketInfo};

/// Record type name used in errors.
const LAYER: &str = "DNS";

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;

/// Most compression pointers followed in one name. Real names need a handful;
/// the limit (with the 255-byte name limit) ends pointer loops.
pub const MAX_POINTERS: usize = 32;

/// Longest name on the wire (RFC 1035 §2.3.4), length bytes included.
pub const MAX_NAME_LEN: usize = 255;

/// Resource record types with decoded data.
mod rr {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
}

/// A zero-copy view of a DNS message whose header is captured.
#[derive(Debug, Clone, Copy)]
pub struct DnsView<'a> {
    buf: &'a [u8],
}

impl<'a> DnsView<'a> {
    /// Wraps `buf`, checking that the 12-byte header is present and that the
    /// opcode is one that is assigned (a light check against non-DNS bytes).
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        need(LAYER, buf, HEADER_LEN)?;
        let v = Self { buf };
        // Assigned opcodes: 0 query, 1 inverse query, 2 status, 4 notify,
        // 5 update, 6 DSO.
        if !matches!(v.opcode(), 0 | 1 | 2 | 4 | 5 | 6) {
            return Err(DecodeError::Invalid {
                layer: LAYER,
                field: "OpCode",
            });
        }
        Ok(v)
    }

    /// Transaction ID.
    pub fn id(&self) -> u16 {
        be16(self.buf, 0)
    }

    /// The 16-bit flags word.
    pub fn flags(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// Operation code (flag bits 11–14).
    pub fn opcode(&self) -> u8 {
        (u8_at(self.buf, 2) >> 3) & 0x0f
    }

    /// Number of entries in the question, answer, authority and additional sections.
    pub fn counts(&self) -> [u16; 4] {
        [
            be16(self.buf, 4),
            be16(self.buf, 6),
            be16(self.buf, 8),
            be16(self.buf, 10),
        ]
    }

    /// The whole message (names point into it).
    pub fn message(&self) -> &'a [u8] {
        self.buf
    }
}

/// Reads the (possibly compressed) name at `start` of `msg`.
///
/// Returns the name as dotted text (no trailing dot, `<Root>` for the root)
/// and the offset just after the name where it starts (after the first
/// pointer if there is one).
pub fn read_name(msg: &[u8], start: usize) -> Result<(String, usize), DecodeError> {
    let bad = |field| DecodeError::Invalid {
        layer: LAYER,
        field,
    };
    // One allocation for most names (grown by doubling from empty, a name
    // took three or four).
    let mut text = String::with_capacity(64);
    let mut pos = start;
    let mut after: Option<usize> = None;
    let mut pointers = 0usize;
    let mut wire_len = 0usize;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(DecodeError::Truncated {
                layer: LAYER,
                need: pos.saturating_add(1),
                have: msg.len(),
            });
        };
        match len & 0xc0 {
            0 if len == 0 => {
                if text.is_empty() {
                    text.push_str("<Root>");
                }
                return Ok((text, after.unwrap_or(pos.saturating_add(1))));
            }
            0 => {
                let from = pos.saturating_add(1);
                let to = from.saturating_add(usize::from(len));
                let label = msg.get(from..to).ok_or(DecodeError::Truncated {
                    layer: LAYER,
                    need: to,
                    have: msg.len(),
                })?;
                wire_len = wire_len.saturating_add(usize::from(len) + 1);
                if wire_len >= MAX_NAME_LEN {
                    return Err(bad("name length"));
                }
                if !text.is_empty() {
                    text.push('.');
                }
                push_label(&mut text, label);
                pos = to;
            }
            0xc0 => {
                let target = usize::from(be16(msg, pos) & 0x3fff);
                if pos.saturating_add(2) > msg.len() {
                    return Err(DecodeError::Truncated {
                        layer: LAYER,
                        need: pos.saturating_add(2),
                        have: msg.len(),
                    });
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(bad("compression pointer"));
                }
                after.get_or_insert(pos.saturating_add(2));
                pos = target;
            }
            // 0x40 (extended label types, obsolete) and 0x80 (reserved).
            _ => return Err(bad("label type")),
        }
    }
}

/// Appends a label as text: printable ASCII as is, other bytes as `\DDD`
/// (decimal, the master-file notation of RFC 1035 §5.1).
fn push_label(text: &mut String, label: &[u8]) {
    // Names are printable ASCII nearly always: append the label at once.
    if label.iter().all(|b| (0x20..0x7f).contains(b)) {
        if let Ok(ascii) = std::str::from_utf8(label) {
            text.push_str(ascii);
            return;
        }
    }
    for &b in label {
        if (0x20..0x7f).contains(&b) {
            text.push(char::from(b));
        } else {
            let _ = write!(text, "\\{b:03}");
        }
    }
}

/// Reads a question at the cursor.
fn question(msg: &[u8], c: &mut Cursor<'_>) -> Result<DnsQuestion, DecodeError> {
    let (name, next) = read_name(msg, c.pos())?;
    c.seek(next)?;
    let t = c.u16()?;
    let class = c.u16()?;
    Ok(DnsQuestion {
        name,
        r#type: i32::from(t),
        class: i32::from(class),
    })
}

/// Reads a resource record at the cursor.
fn resource_record(msg: &[u8], c: &mut Cursor<'_>) -> Result<DnsResourceRecord, DecodeError> {
    let (name, next) = read_name(msg, c.pos())?;
    c.seek(next)?;
    let t = c.u16()?;
    let class = c.u16()?;
    let ttl = c.u32()?;
    let len = c.u16()?;
    let data_at = c.pos();
    let data = c.take(usize::from(len))?;
    let mut r = DnsResourceRecord {
        name,
        r#type: i32::from(t),
        class: i32::from(class),
        ttl,
        data_length: i32::from(len),
        data: data.to_vec(),
        ..Default::default()
    };
    // Malformed data of a known type keeps the raw bytes and leaves the
    // decoded field empty: the rest of the message is still usable.
    let name_in_data = |off: usize| read_name(msg, data_at.saturating_add(off)).map(|n| n.0);
    match t {
        rr::A if data.len() == 4 => r.ip = ipv4_text(array_at::<4>(data, 0)),
        rr::AAAA if data.len() == 16 => r.ip = Ipv6Addr::from(array_at::<16>(data, 0)).to_string(),
        rr::NS => r.ns = name_in_data(0).unwrap_or_default(),
        rr::CNAME => r.cname = name_in_data(0).unwrap_or_default(),
        rr::PTR => r.ptr = name_in_data(0).unwrap_or_default(),
        rr::TXT => r.tx_ts = character_strings(data),
        rr::MX if data.len() >= 3 => {
            r.mx = name_in_data(2).ok().map(|name| Dnsmx {
                preference: i32::from(be16(data, 0)),
                name,
            });
        }
        rr::SRV if data.len() >= 7 => {
            r.srv = name_in_data(6).ok().map(|name| Dnssrv {
                priority: i32::from(be16(data, 0)),
                weight: i32::from(be16(data, 2)),
                port: i32::from(be16(data, 4)),
                name,
            });
        }
        rr::SOA => r.soa = soa(msg, data_at, data),
        rr::OPT => r.opt = edns_options(data),
        _ => {}
    }
    Ok(r)
}

/// Decodes SOA data at `at` of `msg` (`data` is the same bytes).
fn soa(msg: &[u8], at: usize, data: &[u8]) -> Option<Dnssoa> {
    let (m_name, next) = read_name(msg, at).ok()?;
    let (r_name, next) = read_name(msg, next).ok()?;
    let rest = msg.get(next..at.saturating_add(data.len()))?;
    let mut c = Cursor::new(LAYER, rest);
    Some(Dnssoa {
        m_name,
        r_name,
        serial: c.u32().ok()?,
        refresh: c.u32().ok()?,
        retry: c.u32().ok()?,
        expire: c.u32().ok()?,
        minimum: c.u32().ok()?,
    })
}

/// The character strings of TXT data (lossy UTF-8), up to the first one cut short.
fn character_strings(mut data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let Some((s, tail)) = rest.split_at_checked(usize::from(len)) else {
            break;
        };
        out.push(String::from_utf8_lossy(s).into_owned());
        data = tail;
    }
    out
}

/// The options of OPT data, up to the first one cut short.
fn edns_options(data: &[u8]) -> Vec<Dnsopt> {
    let mut out = Vec::new();
    let mut c = Cursor::new(LAYER, data);
    while !c.is_empty() {
        let (Ok(code), Ok(len)) = (c.u16(), c.u16()) else {
            break;
        };
        let Ok(d) = c.take(usize::from(len)) else {
            break;
        };
        out.push(Dnsopt {
            code: i32::from(code),
            data: d.to_vec(),
        });
    }
    out
}

/// Builds the `DNS` record of `view`; every section must parse.
pub fn record(view: &DnsView<'_>, pkt: &PacketInfo<'_>) -> Result<Dns, DecodeError> {
    let msg = view.message();
    let [qd, an, ns, ar] = view.counts();
    let mut c = Cursor::new(LAYER, msg);
    c.seek(HEADER_LEN)?;
    // Each entry takes at least 5 (question) or 11 (record) bytes, so the
    // loops end with an error long before a forged count could allocate much.
    let mut questions = Vec::new();
    for _ in 0..qd {
        questions.push(question(msg, &mut c)?);
    }
    let mut sections: [Vec<DnsResourceRecord>; 3] = Default::default();
    for (sec, n) in sections.iter_mut().zip([an, ns, ar]) {
        for _ in 0..n {
            sec.push(resource_record(msg, &mut c)?);
        }
    }
    let [answers, authorities, additionals] = sections;
    let flags = view.flags();
    let bit = |b: u16| flags & (1 << b) != 0;
    Ok(Dns {
        timestamp: pkt.ts_ns,
        id: i32::from(view.id()),
        qr: bit(15),
        op_code: i32::from(view.opcode()),
        aa: bit(10),
        tc: bit(9),
        rd: bit(8),
        ra: bit(7),
        z: i32::from((flags >> 4) & 0x7),
        response_code: i32::from(flags & 0x0f),
        qd_count: i32::from(qd),
        an_count: i32::from(an),
        ns_count: i32::from(ns),
        ar_count: i32::from(ar),
        questions,
        answers,
        authorities,
        additionals,
        packet_number: pkt.number,
        connection_uid: String::new(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b: &[u8]) -> PacketInfo<'_> {
        PacketInfo {
            number: 9,
            ts_ns: 5,
            link_type: 1,
            orig_len: 0,
            data: b,
        }
    }

    /// A response to "www.example.com A?" with a CNAME, an A, an AAAA, an MX,
    /// an SRV, a TXT, an SOA in authority, and an OPT with one option.
    fn response() -> Vec<u8> {
        let mut b = vec![0xab, 0xcd, 0x85, 0xa3, 0, 1, 0, 6, 0, 1, 0, 1];
        b.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"); // at 12
        let rr = |b: &mut Vec<u8>, t: u16, data: &[u8]| {
            b.extend_from_slice(&[0xc0, 12]);
            b.extend_from_slice(&t.to_be_bytes());
            b.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            b.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
            b.extend_from_slice(data);
        };
        rr(&mut b, 5, b"\x03web\xc0\x10"); // web.example.com
        rr(&mut b, 1, &[192, 0, 2, 1]);
        rr(
            &mut b,
            28,
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets(),
        );
        rr(&mut b, 15, b"\x00\x0a\x04mail\xc0\x10");
        rr(&mut b, 33, b"\x00\x01\x00\x02\x13\xc4\x03sip\xc0\x10");
        rr(&mut b, 16, b"\x05hello\x00\x03a b");
        let mut soa = b"\x02ns\xc0\x10\x0ahostmaster\xc0\x10".to_vec();
        for v in [2024u32, 3600, 600, 86400, 60] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        rr(&mut b, 6, &soa);
        b.extend_from_slice(&[
            0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 8, 0, 10, 0, 4, 1, 2, 3, 4,
        ]);
        b
    }

    #[test]
    fn full_response() {
        let b = response();
        let v = DnsView::new(&b).unwrap();
        let r = record(&v, &pkt(&b)).unwrap();
        assert_eq!(
            (r.id, r.qr, r.op_code, r.aa, r.tc, r.rd),
            (0xabcd, true, 0, true, false, true)
        );
        assert_eq!((r.ra, r.z, r.response_code), (true, 2, 3));
        assert_eq!(
            (r.qd_count, r.an_count, r.ns_count, r.ar_count),
            (1, 6, 1, 1)
        );
        assert_eq!((r.timestamp, r.packet_number), (5, 9));
        let q = &r.questions[0];
        assert_eq!(
            (q.name.as_str(), q.r#type, q.class),
            ("www.example.com", 1, 1)
        );
        let a = &r.answers;
        assert_eq!(a.len(), 6);
        assert_eq!(
            (a[0].name.as_str(), a[0].cname.as_str()),
            ("www.example.com", "web.example.com")
        );
        assert_eq!((a[0].ttl, a[0].data_length, a[0].data.len()), (3600, 6, 6));
        assert_eq!(a[1].ip, "192.0.2.1");
        assert_eq!(a[2].ip, "2001:db8::1");
        let mx = a[3].mx.clone().unwrap();
        assert_eq!((mx.preference, mx.name.as_str()), (10, "mail.example.com"));
        let srv = a[4].srv.clone().unwrap();
        assert_eq!(
            (srv.priority, srv.weight, srv.port, srv.name.as_str()),
            (1, 2, 5060, "sip.example.com")
        );
        assert_eq!(a[5].tx_ts, ["hello", "", "a b"]);
        let soa = r.authorities[0].soa.clone().unwrap();
        assert_eq!(
            (soa.m_name.as_str(), soa.r_name.as_str()),
            ("ns.example.com", "hostmaster.example.com")
        );
        assert_eq!(
            (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
            (2024, 3600, 600, 86400, 60)
        );
        let opt = &r.additionals[0];
        assert_eq!(
            (opt.name.as_str(), opt.r#type, opt.class, opt.ttl),
            ("<Root>", 41, 4096, 0x8000)
        );
        assert_eq!(opt.opt.len(), 1);
        assert_eq!(
            (opt.opt[0].code, opt.opt[0].data.clone()),
            (10, vec![1, 2, 3, 4])
        );
    }

    #[test]
    fn every_truncation_fails_cleanly() {
        let b = response();
        for n in 0..b.len() {
            let r = DnsView::new(&b[..n]).and_then(|v| record(&v, &pkt(&b)));
            assert!(r.is_err(), "cut at {n}");
        }
    }

    #[test]
    fn pointer_loops_and_bad_labels() {
        // A name that points at itself.
        let b = [0xc0, 0x00];
        assert_eq!(
            read_name(&b, 0).unwrap_err(),
            DecodeError::Invalid {
                layer: "DNS",
                field: "compression pointer"
            }
        );
        // Two pointers to each other, after a label.
        let b = [1, b'a', 0xc0, 4, 0xc0, 0];
        assert!(read_name(&b, 0).is_err());
        // A forward pointer is allowed when it ends.
        let b = [0xc0, 2, 1, b'x', 0];
        assert_eq!(read_name(&b, 0).unwrap(), ("x".to_string(), 2));
        // Reserved label type, truncated pointer, over-long name.
        assert!(read_name(&[0x80, 0], 0).is_err());
        assert!(read_name(&[0xc0], 0).is_err());
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert!(read_name(&long, 0).is_err());
        // Non-printable bytes are escaped.
        assert_eq!(read_name(&[2, 0, b'.', 0], 0).unwrap().0, "\\000.");
    }

    #[test]
    fn forged_counts_and_opcode() {
        let mut b = vec![0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        b.extend_from_slice(&[0; 20]);
        let v = DnsView::new(&b).unwrap();
        assert!(record(&v, &pkt(&b)).is_err());
        b[2] = 0x18; // opcode 3 is unassigned
        assert!(DnsView::new(&b).is_err());
    }

    #[test]
    fn malformed_data_keeps_raw_bytes() {
        let mut b = vec![0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]); // A with 3 bytes
        let r = record(&DnsView::new(&b).unwrap(), &pkt(&b)).unwrap();
        assert_eq!(
            (r.answers[0].ip.as_str(), r.answers[0].data.clone()),
            ("", vec![1, 2, 3])
        );
    }
}
