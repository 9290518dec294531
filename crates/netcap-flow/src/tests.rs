//! Flow table tests on hand-made packet sequences. Several show that the
//! CICFlowMeter bugs listed in docs/flows.md do not happen here.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use crate::packet::tests::{tcp_frame, udp_frame};
use netcap_schema::{Connection, Flow};
use prost::Message;

const S: i64 = 1_000_000_000;
const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

/// Keeps the Connection records (and the Flow records apart).
#[derive(Default)]
struct Sink(Vec<(u64, Connection)>, Vec<(u64, Flow)>);

impl FlowSink for Sink {
    fn emit_keyed<R: Record>(&mut self, key: u64, rec: &R) {
        let bytes = rec.encode_to_vec();
        if R::TYPE == <Flow as Record>::TYPE {
            self.1.push((key, Flow::decode(bytes.as_slice()).unwrap()));
        } else {
            self.0
                .push((key, Connection::decode(bytes.as_slice()).unwrap()));
        }
    }
}

struct Run {
    table: FlowTable,
    sink: Sink,
    n: u64,
    /// Next sequence number per direction, so that segments are in order.
    seq: [u32; 2],
}

impl Run {
    fn new() -> Run {
        Run::with(FlowConfig::default())
    }
    fn with(cfg: FlowConfig) -> Run {
        Run {
            table: FlowTable::new(cfg),
            sink: Sink::default(),
            n: 0,
            seq: [100, 5000],
        }
    }
    fn frame(&mut self, ts: i64, f: &[u8]) {
        self.n += 1;
        let p = FlowPacket::extract(self.n, ts, 1, f.len() as u32, f).unwrap();
        self.table.packet(&p);
    }
    /// TCP from A:1000 to B:80 (or back) with flags and payload.
    fn tcp(&mut self, ts: i64, forward: bool, flags: u8, payload: usize) {
        let d = usize::from(!forward);
        let seq = self.seq[d];
        self.seq[d] = seq + payload as u32 + u32::from(flags & 0x03 != 0);
        let f = if forward {
            tcp_frame(A, B, 1000, 80, flags, seq, payload)
        } else {
            tcp_frame(B, A, 80, 1000, flags, seq, payload)
        };
        self.frame(ts, &f);
    }
    fn batch_end(&mut self, clock: i64) {
        self.table.end_batch(clock, self.n, &mut self.sink);
    }
    fn finish(mut self) -> Vec<Connection> {
        self.table.finish(self.n, &mut self.sink);
        self.sink.0.into_iter().map(|(_, c)| c).collect()
    }
}

const SYN: u8 = 0x02;
const SYNACK: u8 = 0x12;
const ACK: u8 = 0x10;
const FINACK: u8 = 0x11;
const PSHACK: u8 = 0x18;
const RST: u8 = 0x04;

fn handshake_and_close(r: &mut Run, t0: i64) {
    r.tcp(t0, true, SYN, 0);
    r.tcp(t0 + 10, false, SYNACK, 0);
    r.tcp(t0 + 20, true, ACK, 0);
    r.tcp(t0 + 30, true, PSHACK, 100);
    r.tcp(t0 + 40, false, PSHACK, 1000);
    r.tcp(t0 + 50, true, FINACK, 0);
    r.tcp(t0 + 60, false, FINACK, 0);
    r.tcp(t0 + 70, true, ACK, 0);
}

#[test]
fn fin_exchange_ends_after_linger_with_exact_totals() {
    let mut r = Run::new();
    handshake_and_close(&mut r, 0);
    r.batch_end(70);
    assert!(r.sink.0.is_empty(), "written before the linger time");
    r.batch_end(6 * S);
    let c = &r.sink.0[0].1;
    assert_eq!(c.end_reason, "fin");
    // CICFlowMeter #45 (off-by-one totals): every packet is counted once.
    assert_eq!(c.num_packets, 8);
    assert_eq!(
        (
            c.num_packets_client_to_server,
            c.num_packets_server_to_client
        ),
        (5, 3)
    );
    assert_eq!(c.app_payload_size, 1100);
    assert_eq!(
        (
            c.payload_bytes_client_to_server,
            c.payload_bytes_server_to_client
        ),
        (100, 1000)
    );
    assert_eq!(c.size, 8 * 54 + 1100);
    // CICFlowMeter #40/#167 (FIN count typo): both FINs counted, per direction.
    assert_eq!(c.num_fin_flags, 2);
    assert_eq!(
        (
            c.num_fin_flags_client_to_server,
            c.num_fin_flags_server_to_client
        ),
        (1, 1)
    );
    // CICFlowMeter #41/#111 (flags not updated): ACK on the 7 packets with it.
    assert_eq!(c.num_ack_flags, 7);
    assert_eq!(c.num_psh_flags, 2);
    assert_eq!(c.num_syn_flags, 2);
    assert_eq!(
        (c.src_ip.as_str(), c.src_port, c.dst_port),
        ("10.0.0.1", 1000, 80)
    );
    assert_eq!(c.duration, 70);
    assert_eq!((c.first_packet_number, c.last_packet_number), (1, 8));
    assert_eq!(c.application_proto, "HTTP");
    assert_eq!(c.transport_proto, "TCP");
    assert_eq!(c.link_proto, "Ethernet");
    assert_eq!(c.src_mac, "00:00:00:00:00:01");
    assert_eq!(c.dst_mac, "00:00:00:00:00:02");
    assert_eq!(
        c.community_id,
        crate::community::community_id(
            0,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            6,
            Some((1000, 80)),
            false
        )
    );
    assert!(c.uid.starts_with('C') && c.uid.len() == 17);
    assert_eq!(c.timestamp, 6 * S);
}

#[test]
fn late_packets_after_fin_stay_and_new_syn_starts_a_new_connection() {
    // CICFlowMeter ends a flow at the first FIN and turns the rest of the
    // conversation into "TCP appendix" flows (Engelen et al.); here the
    // connection ends after both FINs and the linger time.
    let mut r = Run::new();
    r.tcp(0, true, SYN, 0);
    r.tcp(10, false, SYNACK, 0);
    r.tcp(20, true, FINACK, 0);
    r.tcp(30, false, PSHACK, 500); // data after the client's FIN
    r.tcp(40, false, FINACK, 0);
    r.tcp(50, true, ACK, 0); // last ACK, after both FINs
    r.tcp(60, true, SYN, 0); // port reuse
    r.batch_end(60);
    let v = r.finish();
    assert_eq!(v.len(), 2);
    assert_eq!((v[0].num_packets, v[0].end_reason.as_str()), (6, "fin"));
    assert_eq!(
        (v[1].num_packets, v[1].end_reason.as_str()),
        (1, "end-of-capture")
    );
}

#[test]
fn rst_ends_the_connection() {
    let mut r = Run::new();
    r.tcp(0, true, SYN, 0);
    r.tcp(10, false, RST | ACK, 0);
    r.batch_end(10);
    r.batch_end(10 * S);
    let v = r.finish();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].end_reason, "rst");
    assert_eq!(v[0].num_rst_flags_server_to_client, 1);
}

#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let mut r = Run::new();
    r.tcp(0, false, SYNACK, 0);
    r.tcp(10, true, ACK, 0);
    let v = r.finish();
    assert_eq!((v[0].src_ip.as_str(), v[0].src_port), ("10.0.0.1", 1000));
    assert_eq!(v[0].num_packets_server_to_client, 1);
}

#[test]
fn mid_stream_first_packet_sender_is_the_client() {
    let mut r = Run::new();
    r.tcp(0, false, PSHACK, 10);
    r.tcp(10, true, ACK, 0);
    let v = r.finish();
    assert_eq!((v[0].src_ip.as_str(), v[0].src_port), ("10.0.0.2", 80));
}

#[test]
fn single_packet_and_udp_flows_are_written() {
    // CICFlowMeter #73 (single-packet flows dropped) and #13 (UDP missing).
    let mut r = Run::new();
    r.frame(5, &udp_frame(A, B, 5000, 53, 30));
    let v = r.finish();
    assert_eq!(v.len(), 1);
    let c = &v[0];
    assert_eq!((c.num_packets, c.transport_proto.as_str()), (1, "UDP"));
    assert_eq!(
        (c.app_payload_size, c.application_proto.as_str()),
        (30, "DNS")
    );
    assert_eq!((c.duration, c.end_reason.as_str()), (0, "end-of-capture"));
}

#[test]
fn idle_timeout_splits_inside_a_batch_and_at_batch_end() {
    let cfg = FlowConfig {
        idle_timeout_ns: 10 * S,
        ..FlowConfig::default()
    };
    let mut r = Run::with(cfg);
    r.frame(0, &udp_frame(A, B, 5000, 53, 1));
    r.frame(S, &udp_frame(B, A, 53, 5000, 1));
    // 20 s later in the same batch: a new connection.
    r.frame(21 * S, &udp_frame(A, B, 5000, 53, 1));
    r.batch_end(21 * S);
    assert_eq!(r.sink.0.len(), 1);
    assert_eq!(r.sink.0[0].1.end_reason, "idle-timeout");
    assert_eq!(r.sink.0[0].1.num_packets, 2);
    // Another flow's packets move the clock: the second one expires.
    r.batch_end(40 * S);
    assert_eq!(r.sink.0.len(), 2);
    assert_eq!(r.sink.0[1].1.end_reason, "idle-timeout");
    assert_eq!(r.sink.0[1].1.first_packet_number, 3);
}

#[test]
fn active_timeout_splits_and_keeps_the_client() {
    let cfg = FlowConfig {
        active_timeout_ns: 10 * S,
        ..FlowConfig::default()
    };
    let mut r = Run::with(cfg);
    r.tcp(0, true, SYN, 0);
    for i in 1..=30 {
        r.tcp(i * S, i % 2 == 0, ACK, 0);
    }
    let v = r.finish();
    assert!(v.len() >= 2);
    assert_eq!(v[0].end_reason, "active-timeout");
    assert!(v.iter().all(|c| c.src_port == 1000));
    assert_eq!(v.iter().map(|c| c.num_packets).sum::<i64>(), 31);
}

#[test]
fn time_going_backwards_counts_as_no_time() {
    let mut r = Run::new();
    r.frame(10 * S, &udp_frame(A, B, 1, 2, 0));
    r.frame(5 * S, &udp_frame(A, B, 1, 2, 0));
    r.frame(12 * S, &udp_frame(A, B, 1, 2, 0));
    let v = r.finish();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].timestamp_first, 10 * S);
    assert_eq!(v[0].timestamp_last, 12 * S);
    assert_eq!(v[0].duration, 2 * S);
}

#[test]
fn records_are_ordered_by_first_packet_and_stable() {
    let run = || {
        let mut r = Run::new();
        for i in 0..50u16 {
            r.frame(i64::from(i), &udp_frame(A, B, 1000 + (i * 37) % 50, 53, 1));
        }
        r.finish()
    };
    let v = run();
    assert_eq!(v.len(), 50);
    assert!(v
        .windows(2)
        .all(|w| w[0].first_packet_number < w[1].first_packet_number));
    assert_eq!(v, run());
}

#[test]
fn eviction_by_idle_threshold() {
    let mut r = Run::new();
    r.frame(0, &udp_frame(A, B, 1, 2, 0));
    r.frame(5 * S, &udp_frame(A, B, 3, 4, 0));
    r.batch_end(6 * S);
    let unit = FlowConfig::conn_memory(FlowConfig::default().first_packets);
    assert_eq!(
        r.table.idle_histogram(&[6 * S, S, 0]),
        vec![unit, 2 * unit, 2 * unit]
    );
    r.table.evict_idle(2 * S);
    assert_eq!(r.table.len(), 1);
    r.batch_end(6 * S);
    assert_eq!(r.sink.0.len(), 1);
    assert_eq!(r.sink.0[0].1.end_reason, "evicted");
    assert_eq!(r.table.counts().evicted, 1);
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn statistics_of_a_handshake_known_answers() {
    let mut r = Run::new();
    handshake_and_close(&mut r, 0);
    let c = &r.finish()[0];
    // Client frames: 54, 54, 154, 54, 54 → mean 74, sample variance 8000/4.
    assert_eq!(
        (
            c.packet_size_min_client_to_server,
            c.packet_size_max_client_to_server
        ),
        (54.0, 154.0)
    );
    assert!(close(c.packet_size_mean_client_to_server, 74.0));
    assert!(close(c.packet_size_std_client_to_server, 2000f64.sqrt()));
    // Server frames: 54, 1054, 54.
    assert!(close(c.packet_size_mean_server_to_client, 1162.0 / 3.0));
    assert_eq!(c.packet_size_max, 1054.0);
    // Packets every 10 ns.
    assert_eq!(
        (c.iat_min, c.iat_max, c.iat_mean, c.iat_std),
        (10.0, 10.0, 10.0, 0.0)
    );
    // Client at 0, 20, 30, 50, 70: gaps 20, 10, 20, 20.
    assert_eq!(
        (c.iat_min_client_to_server, c.iat_max_client_to_server),
        (10.0, 20.0)
    );
    assert!(close(c.iat_mean_client_to_server, 17.5));
    assert!(close(c.iat_std_client_to_server, 5.0));
    // Server at 10, 40, 60: gaps 30, 20.
    assert!(close(c.iat_mean_server_to_client, 25.0));
    assert_eq!(
        c.first_packet_sizes,
        vec![54, 54, 54, 154, 1054, 54, 54, 54]
    );
    assert_eq!(
        c.first_packet_directions,
        vec![true, false, true, true, false, true, false, true]
    );
    assert_eq!(c.first_packet_ia_ts, vec![0, 10, 10, 10, 10, 10, 10, 10]);
    assert_eq!(c.handshake_rtt, 20);
    assert_eq!(c.history, "ShADdFf");
    assert_eq!(c.conn_state, "SF");
    assert_eq!(
        (
            c.init_window_client_to_server,
            c.init_window_server_to_client
        ),
        (65535, 65535)
    );
    assert_eq!(c.mean_window_size, 65535.0);
    assert_eq!(
        c.retransmissions_client_to_server + c.out_of_order_client_to_server,
        0
    );
    // One active period of 70 ns, no idle period.
    assert_eq!((c.active_min, c.active_max), (70.0, 70.0));
    assert_eq!(c.idle_max, 0.0);
}

#[test]
fn first_packets_are_capped_at_n() {
    let mut r = Run::with(FlowConfig {
        first_packets: 3,
        ..FlowConfig::default()
    });
    handshake_and_close(&mut r, 0);
    let c = &r.finish()[0];
    assert_eq!(c.first_packet_sizes, vec![54, 54, 54]);
    assert_eq!(c.first_packet_ia_ts.len(), 3);
}

#[test]
fn retransmission_out_of_order_duplicate_ack_zero_window() {
    let mut r = Run::new();
    let data = |seq: u32| tcp_frame(A, B, 1000, 80, PSHACK, seq, 100);
    r.frame(0, &data(1000));
    r.frame(1, &data(1200)); // leaves the hole 1100..1200
    r.frame(2, &data(1100)); // fills it: out of order
    r.frame(3, &data(1000)); // seen before: retransmission
    r.frame(4, &data(1250)); // overlaps the top: retransmission
    let ack = tcp_frame(B, A, 80, 1000, ACK, 1, 0);
    r.frame(5, &ack);
    r.frame(6, &ack); // same ACK number and window: duplicate
    let mut zero = tcp_frame(B, A, 80, 1000, ACK, 1, 0);
    zero[14 + 20 + 14] = 0;
    zero[14 + 20 + 15] = 0;
    r.frame(7, &zero);
    let c = &r.finish()[0];
    assert_eq!(c.out_of_order_client_to_server, 1);
    assert_eq!(c.retransmissions_client_to_server, 2);
    assert_eq!(c.duplicate_ac_ks_server_to_client, 1);
    assert_eq!(c.zero_windows_server_to_client, 1);
    assert_eq!(c.window_min_server_to_client, 0.0);
    assert_eq!(c.conn_state, "OTH");
    assert_eq!(c.history, "Da");
}

#[test]
fn active_idle_and_bulk_known_answers() {
    let mut r = Run::new();
    for t in [0, 1, 10, 11, 30] {
        r.frame(t * S, &udp_frame(A, B, 7, 9, 10));
    }
    let c = &r.finish()[0];
    // Gaps 1, 9, 1, 19 s: idle periods 9 and 19 s; active 1, 1 and 0 s.
    assert_eq!(
        (c.idle_min, c.idle_max, c.idle_mean),
        (9.0 * 1e9, 19.0 * 1e9, 14.0 * 1e9)
    );
    assert_eq!((c.active_min, c.active_max), (0.0, 1e9));
    assert!(close(c.active_mean, 2e9 / 3.0));
    assert_eq!(c.conn_state, "S0");

    let mut r = Run::new();
    for i in 0..5 {
        r.tcp(i * 1000, true, PSHACK, 100);
    }
    r.tcp(6000, false, PSHACK, 10);
    for i in 0..3 {
        r.tcp(7000 + i, true, PSHACK, 100);
    }
    let c = &r.finish()[0];
    assert_eq!(
        (
            c.bulk_transfers_client_to_server,
            c.bulk_packets_client_to_server,
            c.bulk_bytes_client_to_server
        ),
        (1, 5, 500)
    );
    assert_eq!(c.bulk_transfers_server_to_client, 0);
}

#[test]
fn zeek_states() {
    let state = |pkts: &[(bool, u8)]| {
        let mut r = Run::new();
        for (i, &(fwd, fl)) in pkts.iter().enumerate() {
            r.tcp(i as i64, fwd, fl, 0);
        }
        r.finish()[0].conn_state.clone()
    };
    assert_eq!(state(&[(true, SYN)]), "S0");
    assert_eq!(state(&[(true, SYN), (false, RST | ACK)]), "REJ");
    assert_eq!(state(&[(true, SYN), (false, SYNACK), (true, ACK)]), "S1");
    assert_eq!(state(&[(true, SYN), (false, SYNACK), (true, RST)]), "RSTO");
    assert_eq!(state(&[(true, SYN), (false, SYNACK), (false, RST)]), "RSTR");
    assert_eq!(state(&[(true, SYN), (false, SYNACK), (true, FINACK)]), "S2");
    assert_eq!(
        state(&[(true, SYN), (false, SYNACK), (false, FINACK)]),
        "S3"
    );
    assert_eq!(state(&[(true, ACK), (false, ACK)]), "OTH");
}

#[test]
fn connection_state_stays_small() {
    // Memory per open connection is what bounds the table (README figure).
    let size = std::mem::size_of::<conn::Conn>();
    println!("Conn: {size} bytes");
    assert!(size < 1536, "{size}");
}

#[test]
fn flow_records_are_the_directions_in_first_packet_order() {
    let mut r = Run::new();
    handshake_and_close(&mut r, 0);
    r.frame(100, &udp_frame(A, B, 5000, 53, 30));
    r.table.finish(r.n, &mut r.sink);
    let flows = &r.sink.1;
    // Two directions of the TCP connection, one of the single-packet UDP flow.
    assert_eq!(flows.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2, 9]);
    let (c2s, s2c) = (&flows[0].1, &flows[1].1);
    assert!(c2s.from_client && !s2c.from_client);
    assert_eq!(
        (c2s.src_ip.as_str(), c2s.src_port, c2s.dst_port),
        ("10.0.0.1", 1000, 80)
    );
    assert_eq!(
        (s2c.src_ip.as_str(), s2c.src_port, s2c.dst_port),
        ("10.0.0.2", 80, 1000)
    );
    assert_eq!((c2s.num_packets, s2c.num_packets), (5, 3));
    assert_eq!((c2s.app_payload_size, s2c.app_payload_size), (100, 1000));
    assert_eq!(
        (c2s.num_syn_flags, s2c.num_syn_flags, c2s.num_fin_flags),
        (1, 1, 1)
    );
    assert_eq!((c2s.timestamp_first, c2s.timestamp_last), (0, 70));
    assert_eq!((s2c.first_packet_number, s2c.last_packet_number), (2, 7));
    let conn = &r.sink.0[0].1;
    assert_eq!(c2s.connection_uid, conn.uid);
    assert_eq!(c2s.uid, format!("F{}0", &conn.uid[1..]));
    assert_eq!(s2c.uid, format!("F{}1", &conn.uid[1..]));
    assert_eq!(flows[2].1.num_packets, 1);
}

/// The table refills one Connection record and a pool of Flow records for
/// every connection it writes: what a previous connection left in them
/// (another protocol, a second direction) must not show in the next.
#[test]
fn refilled_records_equal_fresh_ones() {
    let mut r = Run::new();
    handshake_and_close(&mut r, 0);
    r.frame(100, &udp_frame(B, [192, 168, 7, 9], 5353, 53, 30));
    let mut conns: Vec<&Conn> = r.table.open.values().map(|c| &**c).collect();
    conns.sort_by_key(|c| c.first_num);
    assert_eq!(conns.len(), 2);
    let mut rec = Connection::default();
    let mut pool = Vec::new();
    for order in [[0, 1], [1, 0], [0, 0]] {
        for i in order {
            let c = conns[i];
            c.record_into(EndReason::IdleTimeout, 7, 9, &mut rec);
            assert_eq!(rec, c.record(EndReason::IdleTimeout, 7, 9));
            let mut keys = Vec::new();
            c.flows_into(&rec, &mut pool, &mut keys);
            let fresh = c.flow_records(&rec);
            assert_eq!(keys.len(), fresh.len());
            for ((key, at), (fresh_key, flow)) in keys.iter().zip(&fresh) {
                assert_eq!((key, &pool[*at]), (fresh_key, flow));
            }
        }
    }
    assert_eq!(pool.len(), 2, "the UDP flow refilled the TCP flow's entry");
}

/// A batch that ends more connections than the kept pool writes them all,
/// and gives the memory of the extra Flow records back afterwards.
#[test]
fn a_burst_of_ended_connections_does_not_pin_the_flow_pool() {
    let cfg = FlowConfig {
        idle_timeout_ns: 10 * S,
        ..FlowConfig::default()
    };
    let mut r = Run::with(cfg);
    let n = SCRATCH_FLOWS + 1000;
    for i in 0..n {
        r.frame(0, &udp_frame(A, B, 1024 + i as u16, 53, 1));
    }
    r.batch_end(100 * S);
    assert_eq!(r.sink.0.len(), n);
    assert_eq!(r.sink.1.len(), n);
    let keys: Vec<u64> = r.sink.1.iter().map(|f| f.0).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "flows in first-packet order"
    );
    assert!(r.table.scratch.flows.capacity() <= SCRATCH_FLOWS);
    assert!(r.table.scratch.keys.capacity() <= SCRATCH_FLOWS);
}

/// The per-connection state is what a flow-flooding attack multiplies: keep
/// it from growing unnoticed (`cargo test -p netcap-flow -- --nocapture sizes`).
#[test]
fn state_sizes_stay_small() {
    use std::mem::size_of;
    let sizes = [
        ("Conn", size_of::<conn::Conn>()),
        ("TcpConn", size_of::<conn::TcpConn>()),
        ("Dir", size_of::<conn::Dir>()),
        ("TcpDir", size_of::<conn::TcpDir>()),
        ("Bulk", size_of::<conn::Bulk>()),
        ("Running", size_of::<stats::Running>()),
        ("ConnKey", size_of::<ConnKey>()),
    ];
    for (name, size) in sizes {
        println!("size_of {name}: {size}");
    }
    // Before the split into lazily allocated parts a Conn was 1216 bytes.
    assert!(size_of::<conn::Conn>() <= 256);
    assert!(size_of::<conn::Dir>() <= 208);
    assert!(size_of::<conn::TcpDir>() <= 192);
    assert!(size_of::<conn::TcpConn>() <= 96);
}

/// Writing the end-of-capture records in chunks by key range gives the
/// records of one write, in the same order, whatever the ranges.
#[test]
fn finish_in_chunks_equals_one_finish() {
    let play = |r: &mut Run| {
        // 40 UDP exchanges whose answers come up to 30 packets later, so that
        // a connection's second direction often falls into a later chunk.
        for i in 0..40u16 {
            r.frame(i64::from(i), &udp_frame(A, B, 5000 + i, 53, 20));
            if i >= 3 && i % 2 == 1 {
                let j = i - 3;
                r.frame(i64::from(i), &udp_frame(B, A, 53, 5000 + j, 60));
            }
        }
        for i in 0..10u16 {
            r.frame(50, &udp_frame(B, A, 53, 5000 + i * 4, 70));
        }
    };
    let mut whole = Run::new();
    play(&mut whole);
    whole.table.finish(whole.n, &mut whole.sink);
    type Keyed = Vec<(u64, Vec<u8>)>;
    let encode = |s: &Sink| -> (Keyed, Keyed) {
        (
            s.0.iter().map(|(k, c)| (*k, c.encode_to_vec())).collect(),
            s.1.iter().map(|(k, f)| (*k, f.encode_to_vec())).collect(),
        )
    };
    let want = encode(&whole.sink);
    assert_eq!(want.0.len(), 40);
    assert!(want.1.len() > 40);
    for width in [1u64, 2, 3, 7, 16, 1000] {
        let mut r = Run::new();
        play(&mut r);
        r.table.finish_begin();
        let mut upto = width;
        while upto <= r.n {
            r.table.finish_upto(upto, r.n, &mut r.sink);
            upto += width;
        }
        r.table.finish_upto(u64::MAX, r.n, &mut r.sink);
        assert_eq!(encode(&r.sink), want, "chunks of {width} packets");
        assert_eq!(r.table.counts().connections, 40);
    }
}

/// ApplicationProto comes from what the decoders found, the port table only
/// when nothing was decoded; the first decoded protocol stays.
#[test]
fn application_proto_prefers_decoded_protocol() {
    let mut r = Run::new();
    let app_frame = |r: &mut Run, ts: i64, f: &[u8], app: Option<DecodedApp>| {
        r.n += 1;
        let mut p = FlowPacket::extract(r.n, ts, 1, f.len() as u32, f).unwrap();
        p.app = app;
        r.table.packet(&p);
    };
    // DNS on a port the table does not know; nothing decoded in its first packet.
    app_frame(&mut r, 0, &udp_frame(A, B, 40000, 9953, 30), None);
    app_frame(
        &mut r,
        10,
        &udp_frame(B, A, 9953, 40000, 30),
        Some(DecodedApp::Dns),
    );
    app_frame(
        &mut r,
        20,
        &udp_frame(A, B, 40000, 9953, 30),
        Some(DecodedApp::Sip),
    );
    // Port 123 with nothing decoded: the port table's name.
    app_frame(&mut r, 30, &udp_frame(A, B, 40001, 123, 30), None);
    // mDNS decoded as DNS, where the port table would say MDNS.
    app_frame(
        &mut r,
        40,
        &udp_frame(A, B, 5353, 5353, 30),
        Some(DecodedApp::Dns),
    );
    r.table.finish(r.n, &mut r.sink);
    let apps: Vec<&str> = r
        .sink
        .0
        .iter()
        .map(|c| c.1.application_proto.as_str())
        .collect();
    assert_eq!(apps, ["DNS", "NTP", "DNS"]);
    let flows: Vec<&str> = r
        .sink
        .1
        .iter()
        .map(|f| f.1.application_proto.as_str())
        .collect();
    assert_eq!(flows, ["DNS", "DNS", "NTP", "DNS"]);
}

/// A segment given straight to the table (no outer packet: the table opens
/// the connection itself, as for one inside a tunnel).
fn segment(t: &mut FlowTable, n: u64, seq: u32, flags: u16, payload: &[u8]) {
    let seg = netcap_decode::TransportSegment {
        proto: 6,
        src: std::net::IpAddr::from(A),
        dst: std::net::IpAddr::from(B),
        src_port: 1000,
        dst_port: 80,
        seq,
        ack: 0,
        flags,
        window: 100,
        payload,
        wire_len: payload.len() as u32,
        depth: 1,
    };
    t.segment(&seg, n, n as i64 * S, 60 + payload.len() as u32, None);
}

#[test]
fn stream_memory_weighs_in_the_table() {
    let settings = StreamSettings {
        cfg: netcap_stream::StreamConfig::default(),
        memory: 1 << 20,
    };
    let mut t = FlowTable::with_streams(FlowConfig::default(), settings);
    let unit = FlowConfig::conn_memory(FlowConfig::default().first_packets);
    segment(&mut t, 1, 1000, SYN.into(), b"");
    // A SYN allocates no streams.
    assert_eq!(t.memory(), unit);
    // 300 bytes waiting behind a hole: the queue, its tree node and the
    // streams' own state all count.
    segment(&mut t, 2, 1101, PSHACK.into(), &[b'x'; 300]);
    let held = t.memory() - unit;
    assert!(held > 300 + 600, "{held}");
    assert_eq!(t.idle_histogram(&[i64::MIN]), vec![t.memory()]);
    // Filling the hole delivers the queue: less is held.
    segment(&mut t, 3, 1001, PSHACK.into(), &[b'y'; 100]);
    assert!(t.memory() - unit < held, "{} {held}", t.memory() - unit);
    let mut sink = Sink::default();
    t.finish(3, &mut sink);
    assert_eq!(t.memory(), 0);
    assert_eq!(t.streams.as_ref().map(|l| l.memory), Some(0));
}

/// A segment between two endpoints given straight to the table.
fn seg_between(
    t: &mut FlowTable,
    n: u64,
    from: ([u8; 4], u16),
    to: ([u8; 4], u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) {
    let seg = netcap_decode::TransportSegment {
        proto: 6,
        src: std::net::IpAddr::from(from.0),
        dst: std::net::IpAddr::from(to.0),
        src_port: from.1,
        dst_port: to.1,
        seq,
        ack: 0,
        flags: flags.into(),
        window: 100,
        payload,
        wire_len: payload.len() as u32,
        depth: 1,
    };
    t.segment(&seg, n, n as i64 * S, 60 + payload.len() as u32, None);
}

#[test]
fn an_announced_ftp_data_connection_gets_the_ftp_data_parser() {
    let settings = StreamSettings {
        cfg: netcap_stream::StreamConfig::default(),
        memory: 1 << 20,
    };
    let mut t = FlowTable::with_streams(FlowConfig::default(), settings);
    const C: [u8; 4] = [10, 0, 0, 3];
    let (cli, srv) = ((A, 40000), (B, 21));
    seg_between(&mut t, 1, cli, srv, 100, SYN, b"");
    seg_between(&mut t, 2, srv, cli, 500, SYNACK, b"");
    seg_between(
        &mut t,
        3,
        srv,
        cli,
        501,
        PSHACK,
        b"220 FTP server ready\r\n",
    );
    seg_between(&mut t, 4, cli, srv, 101, PSHACK, b"PASV\r\n");
    // 19 * 256 + 137 = 5001, on the FTP server's address; the reply split
    // over two segments, the second one first (the stream puts it back
    // together: the announcement comes from the reassembled line).
    let reply = b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n";
    let (head, tail) = reply.split_at(30);
    seg_between(&mut t, 5, srv, cli, 523 + 30, PSHACK, tail);
    seg_between(&mut t, 6, srv, cli, 523, PSHACK, head);
    // Another host to the same endpoint: not the announced connection.
    seg_between(&mut t, 7, (C, 2001), (B, 5001), 1, SYN, b"");
    seg_between(&mut t, 8, (C, 2001), (B, 5001), 2, PSHACK, b"not ftp");
    // The client to the endpoint: a file sent by the server.
    seg_between(&mut t, 9, (A, 2000), (B, 5001), 10, SYN, b"");
    seg_between(&mut t, 10, (B, 5001), (A, 2000), 70, SYNACK, b"");
    seg_between(&mut t, 11, (B, 5001), (A, 2000), 71, PSHACK, b"abc");
    seg_between(&mut t, 12, (B, 5001), (A, 2000), 74, FINACK, b"");
    // Used up: a second connection to it is not FTP data.
    seg_between(&mut t, 13, (A, 2002), (B, 5001), 10, SYN, b"");
    seg_between(&mut t, 14, (A, 2002), (B, 5001), 11, PSHACK, b"xyz");
    let files: Vec<netcap_schema::File> = t
        .drain_stream_records()
        .filter_map(|(_, r)| match r {
            netcap_stream::StreamRecord::File(f) => Some(f.rec),
            _ => None,
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // MD5 of "abc" (RFC 1321).
    assert_eq!(files[0].hash, "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        (files[0].source.as_str(), files[0].to_server),
        ("FTP", false)
    );
    assert_eq!((files[0].src_port, files[0].dst_port), (2000, 5001));
    let mut sink = Sink::default();
    t.finish(14, &mut sink);
    let apps: Vec<(i32, String)> = sink
        .0
        .iter()
        .map(|(_, c)| (c.src_port, c.application_proto.clone()))
        .collect();
    assert!(apps.contains(&(40000, "FTP".into())), "{apps:?}");
    assert!(apps.contains(&(2000, "FTP-DATA".into())), "{apps:?}");
    assert!(
        !apps.iter().any(|(p, a)| *p != 2000 && a == "FTP-DATA"),
        "{apps:?}"
    );
}
