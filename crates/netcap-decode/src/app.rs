//! Application-layer dispatch: UDP and TCP payloads go to a decoder chosen by
//! port.
//!
//! The port tables below are the one place that says which protocol lives on
//! which port; a new protocol adds a line there and an arm in [`decode`].
//! A payload that fails to parse as its port's protocol is a decode error of
//! that layer; the transport and network records already emitted stay.

use crate::{dhcpv4, dhcpv6, dns, ntp, sip};
use crate::{DecodeError, Outcome, PacketInfo, RecordSink};

/// Application protocols decoded from transport payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum App {
    /// DNS, mDNS, LLMNR (same wire format).
    Dns,
    /// DHCP for IPv4 (BOOTP).
    Dhcpv4,
    /// DHCPv6.
    Dhcpv6,
    /// NTP.
    Ntp,
    /// SIP.
    Sip,
}

/// Protocols by UDP port.
const UDP_PORTS: &[(u16, App)] = &[
    (53, App::Dns),
    (5353, App::Dns), // mDNS
    (5355, App::Dns), // LLMNR
    (67, App::Dhcpv4),
    (68, App::Dhcpv4),
    (546, App::Dhcpv6),
    (547, App::Dhcpv6),
    (123, App::Ntp),
    (5060, App::Sip),
    (5061, App::Sip),
];

/// Protocols by TCP port.
const TCP_PORTS: &[(u16, App)] = &[(53, App::Dns), (5060, App::Sip)];

/// The protocol of a conversation between `src` and `dst`: like tshark, the
/// lower port is tried first (the higher one is usually ephemeral).
fn by_port(table: &[(u16, App)], src: u16, dst: u16) -> Option<App> {
    let find = |p: u16| table.iter().find(|(q, _)| *q == p).map(|(_, a)| *a);
    find(src.min(dst)).or_else(|| find(src.max(dst)))
}

/// Decodes the payload of a UDP datagram between ports `src` and `dst`.
pub(crate) fn udp<S: RecordSink>(
    src: u16,
    dst: u16,
    payload: &[u8],
    pkt: &PacketInfo<'_>,
    sink: &mut S,
) -> Outcome {
    match by_port(UDP_PORTS, src, dst) {
        Some(app) if !payload.is_empty() => decode(app, payload, pkt, sink),
        _ => Outcome::Decoded,
    }
}

/// Decodes the payload of a TCP segment between ports `src` and `dst`.
///
/// Without stream reassembly a segment is only decoded when it starts a
/// message: a DNS segment must hold whole length-prefixed messages, a SIP
/// segment must begin with a start line. Other segments (continuations) are
/// not errors, just not decodable alone.
/// Whether a TCP segment between these ports would be decoded as DNS.
pub(crate) fn tcp_is_dns(src: u16, dst: u16) -> bool {
    matches!(by_port(TCP_PORTS, src, dst), Some(App::Dns))
}

pub(crate) fn tcp<S: RecordSink>(
    src: u16,
    dst: u16,
    payload: &[u8],
    pkt: &PacketInfo<'_>,
    sink: &mut S,
) -> Outcome {
    match by_port(TCP_PORTS, src, dst) {
        Some(App::Dns) => {
            // One or more whole messages, each after a 2-byte length.
            let mut rest = payload;
            let mut first = true;
            while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                let Some((msg, tail)) =
                    tail.split_at_checked(usize::from(u16::from_be_bytes(*len)))
                else {
                    break;
                };
                if first && msg.len() < dns::HEADER_LEN {
                    // Not the start of a message (or not DNS): leave it.
                    return Outcome::Decoded;
                }
                first = false;
                if let Outcome::Error(e) = decode(App::Dns, msg, pkt, sink) {
                    return Outcome::Error(e);
                }
                rest = tail;
            }
            Outcome::Decoded
        }
        Some(App::Sip) if sip::starts_message(payload) => decode(App::Sip, payload, pkt, sink),
        _ => Outcome::Decoded,
    }
}

/// Decodes `payload` as `app` and emits its record.
fn decode<S: RecordSink>(app: App, payload: &[u8], pkt: &PacketInfo<'_>, sink: &mut S) -> Outcome {
    let result = match app {
        App::Dns => dns::DnsView::new(payload)
            .and_then(|v| dns::record(&v, pkt))
            .map(|r| sink.emit(&r)),
        App::Dhcpv4 => dhcpv4::Dhcpv4View::new(payload)
            .and_then(|v| dhcpv4::record(&v, pkt))
            .map(|r| sink.emit(&r)),
        App::Dhcpv6 => dhcpv6::Dhcpv6View::new(payload)
            .and_then(|v| dhcpv6::record(&v, pkt))
            .map(|r| sink.emit(&r)),
        App::Ntp => ntp::NtpView::new(payload).map(|v| {
            // Control (6) and private (7) messages have other layouts.
            if v.is_time_message() {
                sink.emit(&ntp::record(&v, pkt));
            }
        }),
        App::Sip => sip::record(payload, pkt).map(|r| {
            if let Some(r) = r {
                sink.emit(&r);
            }
        }),
    };
    match result {
        Ok(()) => Outcome::Decoded,
        Err(e) => Outcome::Error(e),
    }
}

/// A reading position in a message, for the decoders that walk fields of
/// varying length; every read checks the bounds and reports the layer.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    layer: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(layer: &'static str, buf: &'a [u8]) -> Self {
        Self { layer, buf, pos: 0 }
    }

    /// Current offset.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn truncated(&self, need: usize) -> DecodeError {
        DecodeError::Truncated {
            layer: self.layer,
            need,
            have: self.buf.len(),
        }
    }

    /// Moves to offset `pos` (at most the end).
    pub(crate) fn seek(&mut self, pos: usize) -> Result<(), DecodeError> {
        if pos > self.buf.len() {
            return Err(self.truncated(pos));
        }
        self.pos = pos;
        Ok(())
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.saturating_add(n);
        let b = self.buf.get(self.pos..end).ok_or(self.truncated(end))?;
        self.pos = end;
        Ok(b)
    }

    /// The next big-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.take(2).map(|b| crate::util::be16(b, 0))
    }

    /// The next big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.take(4).map(|b| crate::util::be32(b, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::Record;

    /// Counts records by type name.
    #[derive(Default)]
    struct Count(Vec<&'static str>);

    impl RecordSink for Count {
        fn emit<R: Record>(&mut self, _: &R) {
            self.0.push(R::NAME);
        }
    }

    fn pkt() -> PacketInfo<'static> {
        PacketInfo {
            number: 1,
            ts_ns: 0,
            link_type: 1,
            orig_len: 0,
            data: &[],
        }
    }

    fn run(tcp_seg: bool, port: u16, payload: &[u8]) -> (Outcome, Vec<&'static str>) {
        let mut c = Count::default();
        let out = if tcp_seg {
            tcp(40000, port, payload, &pkt(), &mut c)
        } else {
            udp(port, 40000, payload, &pkt(), &mut c)
        };
        (out, c.0)
    }

    /// A DNS query for "a.example" A.
    const QUERY: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x01\x00\x01";

    #[test]
    fn dispatch_and_errors() {
        assert_eq!(run(false, 53, QUERY), (Outcome::Decoded, vec!["DNS"]));
        assert_eq!(run(false, 5353, QUERY).1, ["DNS"]);
        assert_eq!(run(false, 9999, QUERY), (Outcome::Decoded, vec![]));
        // Garbage on a DNS port: an error of the DNS layer, no record.
        let (out, recs) = run(false, 53, b"hello world, not dns");
        assert!(
            matches!(out, Outcome::Error(e) if e.layer() == "DNS"),
            "{out:?}"
        );
        assert!(recs.is_empty());
        // Empty payload: nothing to decode.
        assert_eq!(run(false, 53, b""), (Outcome::Decoded, vec![]));
        // Garbage on the other ports.
        for port in [67, 546, 123, 5060] {
            let (out, recs) = run(false, port, &[0xff; 60]);
            assert!(matches!(out, Outcome::Error(_)), "{port}: {out:?}");
            assert!(recs.is_empty());
        }
        // NTP control message: valid, but no NTP record.
        assert_eq!(
            run(false, 123, &[0x16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (Outcome::Decoded, vec![])
        );
        // SIP keep-alive.
        assert_eq!(run(false, 5060, b"\r\n\r\n"), (Outcome::Decoded, vec![]));
    }

    #[test]
    fn dns_over_tcp_needs_whole_messages() {
        let mut seg = u16::try_from(QUERY.len()).unwrap().to_be_bytes().to_vec();
        seg.extend_from_slice(QUERY);
        assert_eq!(run(true, 53, &seg), (Outcome::Decoded, vec!["DNS"]));
        // Two messages in one segment.
        let two = [seg.clone(), seg.clone()].concat();
        assert_eq!(run(true, 53, &two).1, ["DNS", "DNS"]);
        // Whole message then a partial one: the whole one is decoded.
        assert_eq!(run(true, 53, &two[..two.len() - 3]).1, ["DNS"]);
        // A cut message (no reassembly) or a continuation: no record, no error.
        assert_eq!(run(true, 53, &seg[..10]), (Outcome::Decoded, vec![]));
        assert_eq!(run(true, 53, &[0, 2, 0, 0]), (Outcome::Decoded, vec![]));
        // A whole "message" that is not DNS is an error.
        let mut bad = vec![0, 14];
        bad.extend_from_slice(&[0xff; 14]);
        assert!(matches!(run(true, 53, &bad).0, Outcome::Error(_)));
        // SIP over TCP only at a start line.
        assert_eq!(run(true, 5060, b"OPTIONS sip:x SIP/2.0\r\n\r\n").1, ["SIP"]);
        assert_eq!(
            run(true, 5060, b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\n"),
            (Outcome::Decoded, vec![])
        );
    }

    #[test]
    fn mutated_payloads_never_panic() {
        // Byte flips and cuts of valid messages of every protocol; the debug
        // build also checks that no arithmetic overflows.
        let mut dhcp = vec![1, 1, 6, 0];
        dhcp.resize(236, 0);
        dhcp.extend_from_slice(&[
            0x63, 0x82, 0x53, 0x63, 53, 1, 1, 61, 3, 1, 2, 3, 55, 2, 1, 3, 255,
        ]);
        let mut ntp = vec![0x23; 48];
        ntp.extend_from_slice(&[0, 0, 0, 1]);
        let mut dns = QUERY.to_vec();
        dns[7] = 2; // two answers, pointing at the question name
        for _ in 0..2 {
            dns.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 1, 0, 12, 0xc0, 12, 0xc0, 14]);
            dns.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        }
        let seeds: [(bool, u16, Vec<u8>); 6] = [
            (false, 53, dns.clone()),
            (
                true,
                53,
                [vec![0, u8::try_from(dns.len()).unwrap()], dns].concat(),
            ),
            (false, 67, dhcp),
            (
                false,
                547,
                vec![
                    12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 4, 1, 2, 3, 4, 0, 39, 0, 3, 0, 1, b'a',
                ],
            ),
            (false, 123, ntp),
            (
                false,
                5060,
                b"SIP/2.0 200 OK\r\nv: a\r\n b\r\nl: 0\r\n\r\n".to_vec(),
            ),
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut records = 0;
        for (tcp_seg, port, seed) in &seeds {
            assert!(!run(*tcp_seg, *port, seed).1.is_empty(), "{port}");
            for _ in 0..3000 {
                let mut d = seed.clone();
                for _ in 0..(next() % 4 + 1) {
                    let i = (next() % d.len() as u64) as usize;
                    d[i] = (next() & 0xff) as u8;
                }
                d.truncate((next() % (d.len() as u64 + 1)) as usize);
                records += run(*tcp_seg, *port, &d).1.len();
            }
        }
        assert!(records > 1000, "{records}");
    }

    #[test]
    fn lower_port_first() {
        assert_eq!(by_port(UDP_PORTS, 53, 5353), Some(App::Dns));
        assert_eq!(by_port(UDP_PORTS, 123, 5060), Some(App::Ntp));
        assert_eq!(by_port(UDP_PORTS, 40000, 5060), Some(App::Sip));
        assert_eq!(by_port(UDP_PORTS, 68, 67), Some(App::Dhcpv4));
        assert_eq!(by_port(UDP_PORTS, 1000, 2000), None);
        assert_eq!(by_port(TCP_PORTS, 5353, 1), None);
    }

    #[test]
    fn cursor_bounds() {
        let mut c = Cursor::new("X", &[1, 2, 3, 4, 5]);
        assert_eq!(c.take(1).unwrap(), &[1]);
        assert_eq!(c.u16().unwrap(), 0x0203);
        assert!(c.u32().is_err());
        assert_eq!(c.pos(), 3);
        assert!(c.take(usize::MAX).is_err());
        assert!(c.seek(6).is_err());
        c.seek(5).unwrap();
        assert!(c.is_empty());
    }
}
