//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its
//! 16-bit length. Messages split over segments and several messages in one
//! segment (zone transfers, pipelined queries) are both common; the engine's
//! buffering handles the first, the loop below the second. Each message
//! becomes a record of the existing DNS type, decoded by the same code as
//! DNS over UDP.

use netcap_decode::dns::{record, DnsView, HEADER_LEN};
use netcap_decode::PacketInfo;

use crate::parser::{Cx, Dir, ParseError, Parsed, Probe, Protocol, StreamParser};
use crate::records::StreamRecord;

/// The DNS stream protocol. DNS has no magic bytes, so it is only
/// recognised on its ports (53, and mDNS's and LLMNR's, which some stacks
/// also serve over TCP).
pub const PROTOCOL: Protocol = Protocol {
    name: "DNS",
    ports: &[53, 5353, 5355],
    probe,
    new: || Box::new(DnsParser::default()),
};

/// Whether `data` starts with a plausible length-prefixed DNS message of the
/// role `dir` (a query to the server, a response to the client).
fn probe(dir: Dir, data: &[u8], port_hint: bool) -> Probe {
    if !port_hint {
        return Probe::No;
    }
    if data.len() < 2 + HEADER_LEN {
        return Probe::NeedMore;
    }
    if plausible(dir, data) {
        Probe::Yes
    } else {
        Probe::No
    }
}

/// A length prefix and header that look like DNS of the role `dir`.
fn plausible(dir: Dir, data: &[u8]) -> bool {
    let (Some(&hi), Some(&lo)) = (data.first(), data.get(1)) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let Some(Ok(view)) = data.get(2..).map(DnsView::new) else {
        return false;
    };
    let response = view.flags() & 0x8000 != 0;
    let [qd, an, ns, ar] = view.counts();
    // Every record takes at least 11 bytes, every question 5.
    let min = HEADER_LEN
        + 5 * usize::from(qd)
        + 11 * (usize::from(an) + usize::from(ns) + usize::from(ar));
    len >= HEADER_LEN && len >= min && qd <= 16 && response == (dir == Dir::ToClient)
}

/// DNS over TCP of one connection.
#[derive(Debug, Default)]
pub struct DnsParser {
    /// Per direction: a gap was met and no message boundary found since.
    lost: [bool; 2],
}

impl StreamParser for DnsParser {
    fn name(&self) -> &'static str {
        "DNS"
    }

    fn memory(&self) -> usize {
        // Messages are decoded from the engine's buffer; nothing is kept.
        0
    }

    fn parse(&mut self, dir: Dir, input: &[u8], cx: &mut Cx<'_>) -> Result<Parsed, ParseError> {
        let mut at = 0usize;
        if self.lost.get(dir.index()).copied().unwrap_or(false) {
            // After a gap, the input must start a message of the right role;
            // otherwise it is skipped up to the next input.
            if input.len() < 2 + HEADER_LEN {
                return Ok(Parsed::need(0, 2 + HEADER_LEN));
            }
            if !plausible(dir, input) {
                return Ok(Parsed::all(input));
            }
            if let Some(l) = self.lost.get_mut(dir.index()) {
                *l = false;
            }
        }
        loop {
            let rest = input.get(at..).unwrap_or_default();
            let (Some(&hi), Some(&lo)) = (rest.first(), rest.get(1)) else {
                return Ok(Parsed::need(at, 2));
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let Some(msg) = rest.get(2..2 + len) else {
                return Ok(Parsed::need(at, 2 + len));
            };
            let origin = cx.origin(at);
            let pkt = PacketInfo {
                number: origin.number,
                ts_ns: origin.ts_ns,
                link_type: 0,
                orig_len: 0,
                data: &[],
            };
            match DnsView::new(msg).and_then(|v| record(&v, &pkt)) {
                Ok(mut rec) => {
                    rec.connection_uid = cx.meta.uid.clone();
                    cx.emit(StreamRecord::Dns(Box::new(rec)));
                }
                Err(e) => cx.anomaly(
                    dir,
                    "dns",
                    "dns_malformed",
                    format!("{len}-byte message: {e}"),
                ),
            }
            at += 2 + len;
        }
    }

    fn gap(&mut self, dir: Dir, _len: u64, _cx: &mut Cx<'_>) {
        if let Some(l) = self.lost.get_mut(dir.index()) {
            *l = true;
        }
    }

    fn finish(&mut self, _cx: &mut Cx<'_>) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::parser::{ConnMeta, Origin};

    /// A query for `name` type A with id `id` (response: one A answer).
    fn message(id: u16, response: bool) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&(if response { 0x8180u16 } else { 0x0100 }).to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, u8::from(response), 0, 0, 0, 0]);
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        if response {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        }
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend(m);
        framed
    }

    fn meta() -> ConnMeta {
        ConnMeta {
            uid: "Cabc".into(),
            client: ("10.0.0.1".parse().unwrap(), 40000),
            server: ("10.0.0.2".parse().unwrap(), 53),
            files_max: 0,
        }
    }

    /// Feeds `chunks` as the engine would (unconsumed rest kept); returns the IDs.
    fn run(p: &mut DnsParser, dir: Dir, chunks: &[&[u8]]) -> Vec<(i32, bool, String)> {
        let meta = meta();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            buf.extend_from_slice(c);
            let mut cx = Cx::new(
                &meta,
                Origin {
                    ts_ns: 0,
                    number: i as u64 + 1,
                },
                &mut out,
            );
            let r = p.parse(dir, &buf, &mut cx).unwrap();
            assert!(r.consumed == buf.len() || r.needed > buf.len() - r.consumed);
            buf.drain(..r.consumed);
        }
        out.into_iter()
            .filter_map(|(_, r)| match r {
                StreamRecord::Dns(d) => Some((d.id, d.qr, d.connection_uid.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn split_and_batched_messages() {
        let mut all = message(1, false);
        all.extend(message(2, false));
        all.extend(message(3, false));
        // Every split point, including inside the length prefix.
        for cut in 0..all.len() {
            let mut p = DnsParser::default();
            let got = run(&mut p, Dir::ToServer, &[&all[..cut], &all[cut..]]);
            let ids: Vec<i32> = got.iter().map(|g| g.0).collect();
            assert_eq!(ids, vec![1, 2, 3], "cut at {cut}");
            assert!(got.iter().all(|g| g.2 == "Cabc"));
        }
    }

    #[test]
    fn probe_needs_the_port_and_the_role() {
        let q = message(7, false);
        let r = message(7, true);
        assert_eq!(probe(Dir::ToServer, &q, true), Probe::Yes);
        assert_eq!(probe(Dir::ToClient, &q, true), Probe::No);
        assert_eq!(probe(Dir::ToClient, &r, true), Probe::Yes);
        assert_eq!(probe(Dir::ToServer, &q, false), Probe::No);
        assert_eq!(probe(Dir::ToServer, &q[..5], true), Probe::NeedMore);
        assert_eq!(probe(Dir::ToServer, b"GET / HTTP/1.1\r\n", true), Probe::No);
    }

    #[test]
    fn resynchronises_after_a_gap() {
        let mut p = DnsParser::default();
        let meta = meta();
        let mut out = Vec::new();
        let mut cx = Cx::new(&meta, Origin::default(), &mut out);
        p.gap(Dir::ToServer, 30, &mut cx);
        // The middle of a message is skipped; the next input starts one.
        let m2 = message(2, false);
        let got = run(&mut p, Dir::ToServer, &[&m2[5..], &message(3, false)]);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), vec![3]);
    }
}
