//! Layer flow tests on hand-made packet sequences.

use super::*;
use crate::packet::tests::{tcp_frame, udp_frame};
use netcap_schema::Type;
use prost::Message;

const S: i64 = 1_000_000_000;
const MA: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const MB: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const MC: [u8; 6] = [2, 0, 0, 0, 0, 0xc];

fn ip(last: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, last])
}

/// Records by type, each with the key it was emitted with.
#[derive(Default)]
struct Sink {
    link: Vec<(u64, LinkFlow)>,
    net: Vec<(u64, NetworkFlow)>,
    tr: Vec<(u64, TransportFlow)>,
}

impl FlowSink for Sink {
    fn emit_keyed<R: Record>(&mut self, key: u64, rec: &R) {
        let b = rec.encode_to_vec();
        match R::TYPE {
            Type::NcLinkFlow => self.link.push((key, LinkFlow::decode(&*b).unwrap())),
            Type::NcNetworkFlow => self.net.push((key, NetworkFlow::decode(&*b).unwrap())),
            Type::NcTransportFlow => self.tr.push((key, TransportFlow::decode(&*b).unwrap())),
            t => panic!("unexpected {t:?}"),
        }
    }
}

struct Run {
    t: LayerFlowTable,
    sink: Sink,
    n: u64,
    max_ts: i64,
}

impl Run {
    fn with(cfg: FlowConfig) -> Run {
        Run {
            t: LayerFlowTable::new(cfg, LayerSelect::ALL),
            sink: Sink::default(),
            n: 0,
            max_ts: i64::MIN,
        }
    }
    fn new() -> Run {
        Run::with(FlowConfig::default())
    }
    /// One packet from (mac, ip, port) `a` to `b` of `len` bytes (UDP).
    fn pkt(&mut self, ts: i64, a: ([u8; 6], u8, u16), b: ([u8; 6], u8, u16), len: u32) {
        self.n += 1;
        self.max_ts = self.max_ts.max(ts);
        self.t.packet(&LayerObs {
            number: self.n,
            ts_ns: ts,
            wire_len: len,
            macs: Some((a.0, b.0)),
            ips: Some((ip(a.1), ip(b.1))),
            ports: Some((PROTO_UDP, a.2, b.2)),
        });
    }
    fn end_batch(&mut self) {
        self.t.end_batch(self.max_ts, self.n, &mut self.sink);
    }
    fn finish(&mut self) {
        self.t.finish(self.n, &mut self.sink);
    }
}

const A: ([u8; 6], u8, u16) = (MA, 1, 1000);
const B: ([u8; 6], u8, u16) = (MB, 2, 53);
const C: ([u8; 6], u8, u16) = (MC, 3, 2000);

#[test]
fn first_sender_is_src_with_per_direction_counts() {
    let mut r = Run::new();
    r.pkt(S, B, A, 100);
    r.pkt(S + 1, A, B, 60);
    r.pkt(S + 2, A, B, 70);
    r.pkt(3 * S, B, A, 200);
    r.end_batch();
    assert!(r.sink.net.is_empty(), "nothing ends before the timeout");
    r.finish();
    let (k, l) = &r.sink.link[0];
    assert_eq!(*k, 1);
    assert_eq!(
        (l.src_mac.as_str(), l.dst_mac.as_str()),
        ("02:00:00:00:00:0b", "02:00:00:00:00:0a")
    );
    assert_eq!((l.num_packets, l.size), (4, 430));
    assert_eq!((l.num_packets_src_to_dst, l.num_packets_dst_to_src), (2, 2));
    assert_eq!((l.bytes_src_to_dst, l.bytes_dst_to_src), (300, 130));
    assert_eq!(
        (l.timestamp_first, l.timestamp_last, l.duration),
        (S, 3 * S, 2 * S)
    );
    assert_eq!(
        (l.first_packet_number, l.last_packet_number, l.packet_number),
        (1, 4, 4)
    );
    assert_eq!(l.end_reason, "end-of-capture");
    assert_eq!(l.proto, "Ethernet");
    assert!(l.uid.starts_with('L') && l.uid.len() == 17, "{}", l.uid);
    let n = &r.sink.net[0].1;
    assert_eq!(
        (n.src_ip.as_str(), n.dst_ip.as_str(), n.proto.as_str()),
        ("10.0.0.2", "10.0.0.1", "IPv4")
    );
    assert_eq!((n.num_packets_src_to_dst, n.bytes_dst_to_src), (2, 130));
    let t = &r.sink.tr[0].1;
    assert_eq!(
        (t.src_port, t.dst_port, t.proto.as_str()),
        (53, 1000, "UDP")
    );
    assert_eq!((t.num_packets_src_to_dst, t.num_packets_dst_to_src), (2, 2));
    assert_eq!(
        r.t.counts(),
        LayerCounts {
            flows: 3,
            evicted: 0
        }
    );
    assert!(r.t.is_empty());
}

#[test]
fn idle_timeout_splits_on_the_next_packet_and_at_batch_ends() {
    let mut r = Run::new();
    r.pkt(0, A, B, 10);
    r.pkt(100 * S, B, A, 10);
    // 121 s after the last packet: a new flow, whose first sender is B.
    r.pkt(221 * S, B, A, 10);
    r.end_batch();
    assert_eq!(r.sink.link.len(), 1);
    let first = r.sink.link[0].1.clone();
    assert_eq!(
        (first.end_reason.as_str(), first.num_packets),
        ("idle-timeout", 2)
    );
    assert_eq!(first.src_mac, "02:00:00:00:00:0a");
    assert_eq!(first.packet_number, 3, "written at the end of the batch");
    // No more packets of that pair: it ends when the clock passes its deadline.
    r.pkt(300 * S, C, A, 10);
    r.end_batch();
    assert_eq!(r.sink.link.len(), 1);
    r.pkt(342 * S, C, A, 10);
    r.end_batch();
    assert_eq!(r.sink.link.len(), 2);
    let second = &r.sink.link[1].1;
    assert_eq!(second.end_reason, "idle-timeout");
    assert_eq!(
        (second.src_mac.as_str(), second.num_packets),
        ("02:00:00:00:00:0b", 1)
    );
    assert_eq!(second.timestamp, 342 * S);
    // A UID depends on the first packet time: the two parts differ.
    assert_ne!(first.uid, second.uid);
}

#[test]
fn active_timeout_splits_and_keeps_src() {
    let cfg = FlowConfig {
        active_timeout_ns: 30 * S,
        ..FlowConfig::default()
    };
    let mut r = Run::with(cfg);
    for i in 0..8 {
        // Every 10 s, alternating direction.
        if i % 2 == 0 {
            r.pkt(i * 10 * S, A, B, 100);
        } else {
            r.pkt(i * 10 * S, B, A, 1);
        }
    }
    r.finish();
    let got: Vec<_> = r
        .sink
        .net
        .iter()
        .map(|(_, n)| {
            (
                n.end_reason.as_str(),
                n.src_ip.as_str(),
                n.num_packets_src_to_dst,
                n.num_packets_dst_to_src,
            )
        })
        .collect();
    // 0..30 s, then packets at 40..70 s: the second part starts with a packet
    // from B but A stays Src.
    assert_eq!(
        got,
        [
            ("active-timeout", "10.0.0.1", 2, 2),
            ("end-of-capture", "10.0.0.1", 2, 2)
        ]
    );
}

#[test]
fn cap_evicts_the_least_recently_active() {
    let cfg = FlowConfig {
        max_layer_flows: 2,
        ..FlowConfig::default()
    };
    let mut r = Run::with(cfg);
    let d = (MC, 9, 9); // a fresh endpoint per layer
    r.pkt(S, A, B, 1); // flow AB
    r.pkt(2 * S, A, C, 1); // flow AC
    r.pkt(3 * S, B, A, 1); // AB active again
    r.pkt(4 * S, B, d, 1); // third flow: AC (least recently active) goes
    r.end_batch();
    let nets: Vec<_> = r
        .sink
        .net
        .iter()
        .map(|(_, n)| (n.src_ip.clone(), n.dst_ip.clone(), n.end_reason.clone()))
        .collect();
    assert_eq!(
        nets,
        [("10.0.0.1".into(), "10.0.0.3".into(), "evicted".to_string())]
    );
    assert_eq!(r.t.len()[1], 2);
    r.finish();
    let order: Vec<u64> = r.sink.net.iter().map(|(k, _)| *k).collect();
    assert_eq!(order, [2, 1, 4], "evicted in batch 1; then by first packet");
    // Link: AB, AC, BC → AC evicted too. Transport: 1000↔53, 1000↔2000, 53↔9.
    assert_eq!(r.t.counts().evicted, 3);
}

#[test]
fn cap_of_ten_keeps_nine_most_recent() {
    let cfg = FlowConfig {
        max_layer_flows: 10,
        ..FlowConfig::default()
    };
    let mut t = LayerFlowTable::new(
        cfg,
        LayerSelect {
            link: false,
            network: true,
            transport: false,
        },
    );
    let mut sink = Sink::default();
    for i in 0..11u8 {
        t.packet(&LayerObs {
            number: u64::from(i) + 1,
            ts_ns: i64::from(i),
            wire_len: 1,
            macs: Some((MA, MB)),
            ips: Some((ip(i), ip(200))),
            ports: None,
        });
    }
    assert_eq!(t.len(), [0, 10, 0]);
    t.end_batch(11, 11, &mut sink);
    assert_eq!(sink.net.len(), 1);
    assert_eq!(sink.net[0].1.src_ip, "10.0.0.0");
    assert!(sink.link.is_empty() && sink.tr.is_empty());
}

#[test]
fn transport_key_is_protocol_and_ports_only() {
    let mut r = Run::new();
    r.pkt(0, A, B, 1);
    // Other addresses and MACs, same ports: the same transport flow.
    r.pkt(1, (MC, 7, 1000), (MC, 8, 53), 1);
    r.t.packet(&LayerObs {
        number: 3,
        ts_ns: 2,
        wire_len: 1,
        macs: None,
        ips: None,
        ports: Some((PROTO_TCP, 1000, 53)),
    });
    r.n = 3;
    r.finish();
    let tr: Vec<_> = r
        .sink
        .tr
        .iter()
        .map(|(_, t)| (t.proto.clone(), t.num_packets))
        .collect();
    assert_eq!(tr, [("UDP".to_string(), 2), ("TCP".to_string(), 1)]);
    assert_eq!(r.sink.net.len(), 2);
    assert_eq!(r.sink.link.len(), 2);
}

#[test]
fn time_going_backwards_ends_nothing() {
    let mut r = Run::new();
    r.pkt(500 * S, A, B, 1);
    r.pkt(10 * S, B, A, 1);
    r.pkt(501 * S, A, B, 1);
    r.finish();
    let l = &r.sink.link[0].1;
    assert_eq!(l.num_packets, 3);
    assert_eq!(
        (l.timestamp_first, l.timestamp_last, l.duration),
        (500 * S, 501 * S, S)
    );
}

#[test]
fn uid_is_stable_and_observations_come_from_frames() {
    let f = tcp_frame([10, 0, 0, 1], [10, 0, 0, 2], 1234, 80, 0x02, 1, 0);
    let p = FlowPacket::extract(1, 5, 1, 60, &f).unwrap();
    let o = LayerObs::of(&p);
    assert_eq!(o.ports, Some((PROTO_TCP, 1234, 80)));
    assert_eq!(o.ips, Some((ip(1), ip(2))));
    assert_eq!(o.macs, Some(([0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2])));
    assert_eq!(o.wire_len, 60);
    // Raw IP: no MACs, so no link flow.
    let u = udp_frame([10, 0, 0, 1], [10, 0, 0, 2], 53, 53, 0);
    let raw = LayerObs::of(&FlowPacket::extract(2, 6, 101, 28, &u[14..]).unwrap());
    assert_eq!((raw.macs, raw.ports), (None, Some((PROTO_UDP, 53, 53))));
    let uids = || {
        let mut t = LayerFlowTable::new(FlowConfig::default(), LayerSelect::ALL);
        let mut s = Sink::default();
        t.packet(&o);
        t.packet(&raw);
        t.finish(2, &mut s);
        let tr: Vec<_> =
            s.tr.iter()
                .map(|x| (x.1.uid.clone(), x.1.num_packets_src_to_dst))
                .collect();
        (s.link[0].1.uid.clone(), s.net[0].1.uid.clone(), tr)
    };
    let a = uids();
    assert_eq!(a, uids());
    assert!(a.0.starts_with('L') && a.1.starts_with('N') && a.2[0].0.starts_with('T'));
    // 53 to 53: both directions are the same endpoint, counted Src to Dst.
    assert_eq!(a.2[1].1, 1);
}
