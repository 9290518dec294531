//! Test helpers for the network, transport and discovery decoders.
#![allow(dead_code)]

use netcap_schema::Record;

use crate::{PacketInfo, RecordSink};

/// Collects emitted records as (type name, protobuf bytes).
#[derive(Default)]
pub(crate) struct Sink(pub Vec<(&'static str, Vec<u8>)>);

impl RecordSink for Sink {
    fn emit<R: Record>(&mut self, rec: &R) {
        self.0.push((R::NAME, rec.encode_to_vec()));
    }
}

impl Sink {
    /// Record type names in emission order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|(n, _)| *n).collect()
    }

    /// Every record of type `R`.
    pub fn all<R: Record>(&self) -> Vec<R> {
        self.0
            .iter()
            .filter(|(n, _)| *n == R::NAME)
            .map(|(_, b)| R::decode(b.as_slice()).unwrap())
            .collect()
    }

    /// The first record of type `R`.
    pub fn first<R: Record>(&self) -> R {
        self.all::<R>().into_iter().next().unwrap()
    }
}

/// A packet with fixed number 5 and timestamp 9 around `b`.
pub(crate) fn pkt(b: &[u8]) -> PacketInfo<'_> {
    PacketInfo {
        number: 5,
        ts_ns: 9,
        link_type: 1,
        orig_len: 0,
        data: b,
    }
}

/// Decodes every packet of a legacy pcap file in `testdata/pcaps` (index 0
/// is frame 1), giving each packet's outcome and records.
pub(crate) fn decode_file(name: &str) -> Vec<(crate::Outcome, Sink)> {
    let path = format!("{}/../../testdata/pcaps/{name}", env!("CARGO_MANIFEST_DIR"));
    let b = std::fs::read(&path).unwrap();
    let le = match b[0..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{name}: not a legacy pcap"),
    };
    let u32_at = |off: usize| {
        let a: [u8; 4] = b[off..off + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link_type = u32_at(20) & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let incl = u32_at(off + 8) as usize;
        let data = &b[off + 16..off + 16 + incl];
        let pkt = PacketInfo {
            number: out.len() as u64 + 1,
            ts_ns: 0,
            link_type,
            orig_len: u32_at(off + 12),
            data,
        };
        let mut sink = Sink::default();
        let o = crate::decode_packet(&pkt, &crate::DecodeOptions::default(), &mut sink);
        out.push((o, sink));
        off += 16 + incl;
    }
    out
}

/// Every decoder of this family on pseudo-random bytes and on every prefix
/// of them: errors are fine, panics are not.
#[test]
fn random_input_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u8
    };
    for round in 0..400 {
        let len = usize::from(next()) + usize::from(next() % 4) * 256;
        let mut b: Vec<u8> = (0..len).map(|_| next()).collect();
        // Plausible first bytes now and then, so decoders get past their checks.
        if round % 3 == 0 && b.len() > 8 {
            b[0] = [2, 3, 1, 0x11, 0x22, 134, 136][round % 7];
            b[2] = 0;
        }
        for cut in [b.len(), b.len() / 2, 9, 4, 1, 0] {
            let d = &b[..cut.min(b.len())];
            let p = pkt(d);
            let mut s = Sink::default();
            let _ = crate::lldp::decode(d, &p, &mut s);
            let _ = crate::cdp::decode(d, &p, &mut s);
            let _ = crate::eapol::decode(d, &p, &mut s);
            let _ = crate::ctp::decode(d, &p, &mut s);
            let _ = crate::ospf::decode(d, &p, &mut s);
            let _ = crate::modbus::on_tcp(1, 502, d, &p, &mut s);
            if let Ok(v) = crate::sctp::SctpView::new(d) {
                let _ = crate::sctp::record(&v, &p);
            }
            if let Ok(v) = crate::vrrp::VrrpView::new(d) {
                let _ = crate::vrrp::record(&v, &p);
            }
            if let Ok(v) = crate::igmp::IgmpView::new(d, d.len()) {
                let _ = crate::igmp::record(&v, &p);
            }
            if let Ok(v) = crate::icmpv6::Icmpv6View::new(d) {
                let _ = crate::icmpv6nd::emit(&v, &p, &mut s);
            }
            let _ = crate::eapol::key_record(d, &p);
            let _ = crate::eapol::eap_record(d, &p);
        }
    }
}
