//! One bidirectional connection: its state while open and its record once ended.

use std::net::IpAddr;

use netcap_schema::{Connection, Flow};

use netcap_decode::text::{colon_hex_into, ip_text, ipv4_text_into};

use crate::community::{community_id, short_uid};
use crate::packet::{
    flag, DecodedApp, FlowPacket, IpInfo, PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP,
    PROTO_UDP,
};
use crate::stats::Running;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndReason {
    /// Both sides sent FIN, then the linger time passed.
    Fin,
    /// A side sent RST, then the linger time passed.
    Rst,
    /// No packet for the idle timeout.
    IdleTimeout,
    /// Open for longer than the active timeout.
    ActiveTimeout,
    /// Still open when the input ended.
    EndOfCapture,
    /// Written early because the flow table was over its cap.
    Evicted,
}

impl EndReason {
    /// The text written into records.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::IdleTimeout => "idle-timeout",
            EndReason::ActiveTimeout => "active-timeout",
            EndReason::EndOfCapture => "end-of-capture",
            EndReason::Evicted => "evicted",
        }
    }
}

/// Canonical (direction-free) identity of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    proto: u8,
    /// 0 for a connection of the frame's outermost IP header; for one inside
    /// a tunnel or behind PPPoE/MPLS, a fixed hash of what the frame is
    /// sharded by (outer address pair, else MAC pair). The same inner 5-tuple
    /// carried by other outer hosts is another connection, on whichever
    /// worker owns those hosts: output stays independent of `--workers`.
    ctx: u64,
}

impl ConnKey {
    /// The key of a packet's IP part.
    pub fn of(ip: &IpInfo) -> ConnKey {
        ConnKey::of_tuple((ip.src, ip.sport), (ip.dst, ip.dport), ip.proto)
    }

    /// The key of a connection between `a` and `b` over IP protocol `proto`.
    pub fn of_tuple(a: (IpAddr, u16), b: (IpAddr, u16), proto: u8) -> ConnKey {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        ConnKey {
            lo,
            hi,
            proto,
            ctx: 0,
        }
    }

    /// The key of the same 5-tuple inside the outer context `ctx`.
    pub fn within(self, ctx: u64) -> ConnKey {
        ConnKey { ctx, ..self }
    }

    /// The outer context (0: the frame's outermost connection).
    pub fn ctx(self) -> u64 {
        self.ctx
    }
}

/// Counters of one direction, allocated with the direction's first packet:
/// one-way connections (scans, floods) never pay for the other.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dir {
    pub packets: u64,
    pub bytes: u64,
    pub payload: u64,
    pub size: Running,
    pub iat: Running,
    pub first_ts: i64,
    /// Latest packet time seen this way.
    pub last_ts: i64,
    pub first_num: u64,
    pub last_num: u64,
    /// (source, destination) MAC of the direction's first packet.
    pub mac: Option<([u8; 6], [u8; 6])>,
    /// History letters seen (bit per letter of [`HISTORY`]).
    pub history: u8,
    pub bulk: Bulk,
    /// TCP bookkeeping, allocated with the direction's first TCP segment.
    pub tcp: Option<Box<TcpDir>>,
}

impl Dir {
    /// Count of the TCP flag at `index` of [`flag::ALL`].
    fn flag(&self, index: usize) -> i64 {
        self.tcp
            .as_ref()
            .and_then(|t| t.flags.get(index))
            .map_or(0, |&v| to_i64(v))
    }
}

/// History letters in Zeek's meaning (client upper case, server lower case).
const HISTORY: [char; 6] = ['S', 'H', 'A', 'D', 'F', 'R'];
/// Most sequence holes remembered per direction (bounded memory).
const MAX_HOLES: usize = 8;
/// CICFlowMeter's activity timeout: a longer gap separates active periods.
const ACTIVITY_TIMEOUT_NS: i64 = 5_000_000_000;
/// A bulk transfer is at least this many data packets in one direction...
const BULK_MIN_PACKETS: u64 = 4;
/// ...with at most this gap between them.
const BULK_MAX_GAP_NS: i64 = 1_000_000_000;

/// Sequence-space bookkeeping and flag counts of one TCP direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpDir {
    /// Per flag of [`flag::ALL`].
    pub flags: [u64; 9],
    pub init_window: Option<u16>,
    pub window: Running,
    /// End of the highest segment seen (sequence + length).
    pub max_end: Option<u32>,
    /// Gaps [start, end) below `max_end` not yet filled.
    pub holes: Vec<(u32, u32)>,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub zero_windows: u64,
    pub dup_acks: u64,
    pub last_ack: Option<(u32, u16)>,
}

/// TCP state of the connection as a whole, allocated with its first TCP segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpConn {
    pub window_all: Running,
    pub syn_ts: Option<i64>,
    pub rtt: Option<i64>,
    /// Packet time at which the connection closed (both FINs or an RST).
    pub closed_at: Option<i64>,
    pub syn_ack: bool,
    pub fin: [bool; 2],
    pub rst: bool,
}

/// `a` comes before `b` in sequence space (RFC 1982 arithmetic).
fn seq_before(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) > 0
}

impl TcpDir {
    /// Classifies a segment occupying [seq, seq + len) of sequence space.
    fn segment(&mut self, seq: u32, len: u32) {
        if len == 0 {
            return;
        }
        let end = seq.wrapping_add(len);
        let Some(max) = self.max_end else {
            self.max_end = Some(end);
            return;
        };
        if !seq_before(seq, max) {
            if seq != max && self.holes.len() < MAX_HOLES {
                self.holes.push((max, seq));
            }
            self.max_end = Some(end);
            return;
        }
        // Below the highest byte seen: a hole being filled, else a retransmission.
        let mut filled = false;
        let mut split = None;
        self.holes.retain_mut(|h| {
            let overlaps = seq_before(seq, h.1) && seq_before(h.0, end);
            if !overlaps {
                return true;
            }
            filled = true;
            let covers_start = !seq_before(h.0, seq);
            let covers_end = !seq_before(end, h.1);
            match (covers_start, covers_end) {
                (true, true) => false,
                (true, false) => {
                    h.0 = end;
                    true
                }
                (false, true) => {
                    h.1 = seq;
                    true
                }
                (false, false) => {
                    split = Some((end, h.1));
                    h.1 = seq;
                    true
                }
            }
        });
        if let Some(rest) = split {
            if self.holes.len() < MAX_HOLES {
                self.holes.push(rest);
            }
        }
        if filled {
            self.out_of_order += 1;
        } else {
            self.retransmissions += 1;
        }
        if seq_before(max, end) {
            self.max_end = Some(end);
        }
    }
}

/// Bulk-transfer detection of one direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bulk {
    run_packets: u64,
    run_bytes: u64,
    last_ts: i64,
    pub transfers: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl Bulk {
    fn close(&mut self) {
        if self.run_packets >= BULK_MIN_PACKETS {
            self.transfers += 1;
            self.packets += self.run_packets;
            self.bytes += self.run_bytes;
        }
        self.run_packets = 0;
        self.run_bytes = 0;
    }

    fn data(&mut self, ts: i64, bytes: u64) {
        if self.run_packets > 0 && elapsed(self.last_ts, ts) > BULK_MAX_GAP_NS {
            self.close();
        }
        self.run_packets += 1;
        self.run_bytes += bytes;
        self.last_ts = ts;
    }
}

/// One entry of the first-packets sequence, packed into 12 bytes (a tuple of
/// the three would take 16): frame length, and the gap in nanoseconds with
/// the direction in its sign bit (the gap is never negative).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstPacket([u32; 3]);

impl FirstPacket {
    fn new(wire_len: u32, to_server: bool, gap: i64) -> FirstPacket {
        let v = if to_server { gap } else { !gap } as u64;
        FirstPacket([wire_len, v as u32, (v >> 32) as u32])
    }

    fn wire_len(self) -> u32 {
        self.0[0]
    }

    fn packed_gap(self) -> i64 {
        (u64::from(self.0[1]) | u64::from(self.0[2]) << 32) as i64
    }

    fn to_server(self) -> bool {
        self.packed_gap() >= 0
    }

    fn gap(self) -> i64 {
        let v = self.packed_gap();
        if v >= 0 {
            v
        } else {
            !v
        }
    }
}

/// Zeek history letters in the order they first appeared, four bits each
/// (letter index + 6 for the server side + 1; 0 ends the string). Each letter
/// appears at most once per side, so 12 of the 16 slots suffice.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct History(u64);

impl History {
    fn push(&mut self, letter: usize, server: bool) {
        let used = (64 - self.0.leading_zeros()).div_ceil(4);
        let code = letter as u64 + if server { 7 } else { 1 };
        if used < 16 && code < 16 {
            self.0 |= code << (4 * used);
        }
    }

    fn text(self) -> String {
        let mut s = String::new();
        let mut v = self.0;
        while v != 0 {
            let code = (v & 0xf) as usize;
            v >>= 4;
            let (i, server) = if code > 6 {
                (code - 7, true)
            } else {
                (code.saturating_sub(1), false)
            };
            if let Some(l) = HISTORY.get(i) {
                s.push(if server { l.to_ascii_lowercase() } else { *l });
            }
        }
        s
    }
}

/// An open connection. Parts most connections do not need (the second
/// direction, TCP state, active/idle periods) are allocated when first used:
/// a flood of one-packet connections costs a few hundred bytes each.
#[derive(Debug)]
pub(crate) struct Conn {
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub link: &'static str,
    pub first_ts: i64,
    pub last_ts: i64,
    pub first_num: u64,
    pub last_num: u64,
    pub size: Running,
    pub iat: Running,
    pub active_start: i64,
    /// Active and idle periods, allocated with the first idle gap.
    pub periods: Option<Box<[Running; 2]>>,
    /// Index 0: client to server.
    pub dir: [Option<Box<Dir>>; 2],
    pub tcp: Option<Box<TcpConn>>,
    /// First packets (at most the configured number, allocated as they come).
    pub first: Vec<FirstPacket>,
    /// Zeek history string, built as letters first appear.
    pub history: History,
    pub vlan: u16,
    pub proto: u8,
    pub v6: bool,
    pub one_way: bool,
    pub has_ports: bool,
    /// First application protocol a decoder found in the connection.
    pub app: Option<DecodedApp>,
    /// What few connections need (streams, a tunnel parent), allocated
    /// when first used: the table's entries stay small under floods.
    pub ext: Option<Box<ConnExt>>,
}

/// The rarely needed part of a connection.
#[derive(Debug, Default)]
pub(crate) struct ConnExt {
    /// TCP streams, allocated with the first segment that carries data or FIN.
    pub streams: Option<Box<netcap_stream::ConnStreams>>,
    /// Sequence numbers of the SYNs seen before the streams were allocated
    /// (client's, server's): a SYN flood allocates no streams.
    pub syn: [Option<u32>; 2],
    /// UID of the connection whose packets carry this one (a tunnel).
    pub tunnel_parent: Option<String>,
    /// Heap bytes of `streams` when last measured (counted in the table's
    /// stream memory).
    pub stream_memory: usize,
}

fn elapsed(from: i64, to: i64) -> i64 {
    to.saturating_sub(from)
}

impl Conn {
    /// Opens a connection with its first packet. `client` carries the
    /// orientation over when a connection is split by the active timeout.
    pub fn new(p: &FlowPacket, ip: &IpInfo, client: Option<(IpAddr, u16)>) -> Conn {
        let sender = (ip.src, ip.sport);
        let receiver = (ip.dst, ip.dport);
        let syn_ack = ip
            .tcp
            .is_some_and(|t| t.flags & (flag::SYN | flag::ACK) == flag::SYN | flag::ACK);
        // The first packet's sender is the client, unless it answers a SYN.
        let (client, server) = match client {
            Some(c) if c == receiver => (receiver, sender),
            Some(_) => (sender, receiver),
            None if syn_ack => (receiver, sender),
            None => (sender, receiver),
        };
        Conn {
            client,
            server,
            link: p.link,
            first_ts: p.ts_ns,
            last_ts: p.ts_ns,
            first_num: p.number,
            last_num: p.number,
            size: Running::default(),
            iat: Running::default(),
            active_start: p.ts_ns,
            periods: None,
            dir: [None, None],
            tcp: None,
            first: Vec::new(),
            history: History::default(),
            vlan: p.vlan,
            proto: ip.proto,
            v6: ip.src.is_ipv6(),
            one_way: ip.one_way,
            has_ports: ip.has_ports,
            app: None,
            ext: None,
        }
    }

    /// The streams, if allocated.
    pub fn streams(&self) -> Option<&netcap_stream::ConnStreams> {
        self.ext.as_ref().and_then(|e| e.streams.as_deref())
    }

    /// Heap bytes of the connection's streams when last measured.
    pub fn stream_memory(&self) -> usize {
        self.ext.as_ref().map_or(0, |e| e.stream_memory)
    }

    /// UID of the carrying connection of a tunnelled one.
    pub fn tunnel_parent(&self) -> Option<&str> {
        self.ext.as_ref().and_then(|e| e.tunnel_parent.as_deref())
    }

    /// The rarely needed part, allocated now if it was not.
    pub fn ext_mut(&mut self) -> &mut ConnExt {
        self.ext.get_or_insert_with(Box::default)
    }

    /// Orders ended connections: by first packet, then (a packet that opens
    /// a connection inside a tunnel opens two) outer before inner, then by
    /// addresses; never by the table's (seeded) hash order.
    pub fn order_key(&self) -> (u64, bool, (IpAddr, u16), (IpAddr, u16)) {
        (
            self.first_num,
            self.tunnel_parent().is_some(),
            self.client,
            self.server,
        )
    }

    fn closed_at(&self) -> Option<i64> {
        self.tcp.as_ref().and_then(|t| t.closed_at)
    }

    /// Why the connection must end before `p` is added to it, if it must.
    pub fn ends_before(
        &self,
        p: &FlowPacket,
        ip: &IpInfo,
        cfg: &crate::FlowConfig,
    ) -> Option<EndReason> {
        if let Some(at) = self.closed_at() {
            let new_syn = ip
                .tcp
                .is_some_and(|t| t.flags & (flag::SYN | flag::ACK) == flag::SYN);
            if new_syn || elapsed(at, p.ts_ns) > cfg.linger_ns {
                return Some(self.close_reason());
            }
        }
        if elapsed(self.last_ts, p.ts_ns) > cfg.idle_timeout_ns {
            return Some(EndReason::IdleTimeout);
        }
        if elapsed(self.first_ts, p.ts_ns) > cfg.active_timeout_ns {
            return Some(EndReason::ActiveTimeout);
        }
        None
    }

    /// Why the connection ends at flow clock `clock`, if it does.
    pub fn ends_at(&self, clock: i64, cfg: &crate::FlowConfig) -> Option<EndReason> {
        if let Some(at) = self.closed_at() {
            if elapsed(at, clock) > cfg.linger_ns {
                return Some(self.close_reason());
            }
        }
        if elapsed(self.last_ts, clock) > cfg.idle_timeout_ns {
            return Some(EndReason::IdleTimeout);
        }
        if elapsed(self.first_ts, clock) > cfg.active_timeout_ns {
            return Some(EndReason::ActiveTimeout);
        }
        None
    }

    fn close_reason(&self) -> EndReason {
        if self.tcp.as_ref().is_some_and(|t| t.rst) {
            EndReason::Rst
        } else {
            EndReason::Fin
        }
    }

    /// Adds a packet of this connection; `first_max` packets are kept in the
    /// first-packets sequence.
    pub fn add(&mut self, p: &FlowPacket, ip: &IpInfo, first_max: usize) {
        let d = usize::from((ip.src, ip.sport) != self.client || (ip.dst, ip.dport) != self.server);
        let ts = p.ts_ns;
        // Only a packet with ports names the connection's protocol: a later
        // IP fragment completing a datagram carries its payload's records.
        if self.app.is_none() && self.has_ports {
            self.app = p.app;
        }
        // Time going backwards in the capture counts as no time passing.
        let gap = if self.size.count() > 0 {
            let g = elapsed(self.last_ts, ts).max(0);
            self.iat.add(g as f64);
            g
        } else {
            0
        };
        if gap > ACTIVITY_TIMEOUT_NS {
            let [active, idle] = &mut **self.periods.get_or_insert_with(Default::default);
            active.add(elapsed(self.active_start, self.last_ts) as f64);
            idle.add(gap as f64);
            self.active_start = ts;
        }
        let len = self.first.len();
        if len < first_max {
            if len == self.first.capacity() {
                // Grow 4, 8, ... up to exactly `first_max`, not to a power of two.
                self.first.reserve_exact(len.max(4).min(first_max - len));
            }
            self.first.push(FirstPacket::new(p.wire_len, d == 0, gap));
        }
        self.size.add(f64::from(p.wire_len));
        self.last_ts = self.last_ts.max(ts);
        self.last_num = p.number;
        let Conn {
            dir: dirs,
            tcp,
            history,
            ..
        } = self;
        let Some(slot) = dirs.get_mut(d) else {
            return;
        };
        let dir = match slot {
            Some(dir) => {
                dir.iat.add(elapsed(dir.last_ts, ts).max(0) as f64);
                dir.last_ts = dir.last_ts.max(ts);
                dir
            }
            None => slot.insert(Box::new(Dir {
                first_ts: ts,
                last_ts: ts,
                first_num: p.number,
                mac: p.macs,
                ..Dir::default()
            })),
        };
        dir.last_num = p.number;
        dir.packets += 1;
        dir.bytes += u64::from(p.wire_len);
        dir.payload += u64::from(ip.payload_len);
        dir.size.add(f64::from(p.wire_len));
        let mut letters = 0u8;
        if ip.payload_len > 0 {
            letters |= 1 << 3;
            dir.bulk.data(ts, u64::from(ip.payload_len));
        }
        if let Some(t) = ip.tcp {
            let syn = t.flags & flag::SYN != 0;
            let ack = t.flags & flag::ACK != 0;
            let fin = t.flags & flag::FIN != 0;
            let rst = t.flags & flag::RST != 0;
            let tc = tcp.get_or_insert_with(Default::default);
            let td = dir.tcp.get_or_insert_with(Default::default);
            td.init_window.get_or_insert(t.window);
            td.window.add(f64::from(t.window));
            tc.window_all.add(f64::from(t.window));
            if t.window == 0 && !rst {
                td.zero_windows += 1;
            }
            let seg_len = ip
                .payload_len
                .saturating_add(u32::from(syn))
                .saturating_add(u32::from(fin));
            if !rst {
                td.segment(t.seq, seg_len);
            }
            if ack && seg_len == 0 && !rst && td.last_ack == Some((t.ack, t.window)) {
                td.dup_acks += 1;
            }
            if ack {
                td.last_ack = Some((t.ack, t.window));
            }
            match (syn, ack) {
                (true, false) => {
                    letters |= 1;
                    // A retransmitted SYN restarts the measurement: the RTT
                    // is that of the exchange that succeeded (as Wireshark's).
                    if d == 0 && !tc.syn_ack {
                        tc.syn_ts = Some(ts);
                    }
                }
                (true, true) => {
                    letters |= 1 << 1;
                    if d == 1 {
                        tc.syn_ack = true;
                    }
                }
                (false, true) => {
                    if seg_len == 0 && !rst {
                        letters |= 1 << 2;
                    }
                    if d == 0 && tc.syn_ack && tc.rtt.is_none() {
                        tc.rtt = tc.syn_ts.map(|s| elapsed(s, ts).max(0));
                    }
                }
                (false, false) => {}
            }
            if fin {
                letters |= 1 << 4;
            }
            if rst {
                letters |= 1 << 5;
            }
            for (count, bit) in td.flags.iter_mut().zip(flag::ALL) {
                if t.flags & bit != 0 {
                    *count += 1;
                }
            }
            if rst {
                tc.rst = true;
            }
            if fin {
                if let Some(f) = tc.fin.get_mut(d) {
                    *f = true;
                }
            }
            if tc.closed_at.is_none() && (tc.rst || tc.fin == [true, true]) {
                tc.closed_at = Some(ts);
            }
        }
        let new = letters & !dir.history;
        dir.history |= letters;
        for i in 0..HISTORY.len() {
            if new & (1 << i) != 0 {
                history.push(i, d == 1);
            }
        }
        // Data this way ends a bulk run the other way.
        if ip.payload_len > 0 {
            if let Some(Some(other)) = dirs.get_mut(1 - d) {
                other.bulk.close();
            }
        }
    }

    /// Builds the record. `written_ts`/`written_num`: flow clock and last packet read.
    pub fn record(&self, reason: EndReason, written_ts: i64, written_num: u64) -> Connection {
        let mut r = Connection::default();
        self.record_into(reason, written_ts, written_num, &mut r);
        r
    }

    /// [`Conn::record`] into `r`, reusing the buffers of its texts: the
    /// table builds one record per ended connection, and their allocations
    /// showed in profiles.
    pub fn record_into(
        &self,
        reason: EndReason,
        written_ts: i64,
        written_num: u64,
        r: &mut Connection,
    ) {
        let Connection {
            link_proto,
            network_proto,
            transport_proto,
            application_proto,
            src_mac,
            dst_mac,
            src_ip,
            dst_ip,
            end_reason,
            conn_state,
            tunnel_parent,
            ..
        } = std::mem::take(r);
        let empty = Dir::default();
        let [c2s, s2c] = &self.dir;
        let (c2s, s2c) = (
            c2s.as_deref().unwrap_or(&empty),
            s2c.as_deref().unwrap_or(&empty),
        );
        let total = |f: fn(&Dir) -> u64| to_i64(f(c2s).saturating_add(f(s2c)));
        let ports = self.has_ports.then_some((self.client.1, self.server.1));
        let app = self
            .streams()
            .and_then(|s| s.protocol())
            .or(self.app.map(DecodedApp::name))
            .unwrap_or_else(|| app_proto(self.proto, self.client.1, self.server.1));
        *r = Connection {
            timestamp: written_ts,
            timestamp_first: self.first_ts,
            link_proto: refill(link_proto, self.link),
            network_proto: refill(network_proto, if self.v6 { "IPv6" } else { "IPv4" }),
            transport_proto: transport_name_into(transport_proto, self.proto),
            application_proto: refill(application_proto, app),
            src_mac: mac_text_into(src_mac, c2s.mac.map(|m| m.0).or(s2c.mac.map(|m| m.1))),
            dst_mac: mac_text_into(dst_mac, c2s.mac.map(|m| m.1).or(s2c.mac.map(|m| m.0))),
            src_ip: ip_text_into(src_ip, self.client.0),
            src_port: i32::from(self.client.1),
            dst_ip: ip_text_into(dst_ip, self.server.0),
            dst_port: i32::from(self.server.1),
            size: total(|d| d.bytes),
            app_payload_size: total(|d| d.payload),
            num_packets: total(|d| d.packets),
            uid: self.uid(),
            duration: elapsed(self.first_ts, self.last_ts),
            timestamp_last: self.last_ts,
            packet_number: written_num,
            first_packet_number: self.first_num,
            last_packet_number: self.last_num,
            community_id: community_id(
                0,
                self.client.0,
                self.server.0,
                self.proto,
                ports,
                self.one_way,
            ),
            end_reason: refill(end_reason, reason.as_str()),
            vlan: i32::from(self.vlan),
            num_packets_client_to_server: to_i64(c2s.packets),
            num_packets_server_to_client: to_i64(s2c.packets),
            bytes_client_to_server: to_i64(c2s.bytes),
            bytes_server_to_client: to_i64(s2c.bytes),
            payload_bytes_client_to_server: to_i64(c2s.payload),
            payload_bytes_server_to_client: to_i64(s2c.payload),
            ..Default::default()
        };
        let f = |d: &Dir, i: usize| d.flag(i);
        let both = |i: usize| f(c2s, i).saturating_add(f(s2c, i));
        r.num_fin_flags = both(0);
        r.num_syn_flags = both(1);
        r.num_rst_flags = both(2);
        r.num_psh_flags = both(3);
        r.num_ack_flags = both(4);
        r.num_urg_flags = both(5);
        r.num_ece_flags = both(6);
        r.num_cwr_flags = both(7);
        r.num_ns_flags = both(8);
        r.num_fin_flags_client_to_server = f(c2s, 0);
        r.num_syn_flags_client_to_server = f(c2s, 1);
        r.num_rst_flags_client_to_server = f(c2s, 2);
        r.num_psh_flags_client_to_server = f(c2s, 3);
        r.num_ack_flags_client_to_server = f(c2s, 4);
        r.num_urg_flags_client_to_server = f(c2s, 5);
        r.num_ece_flags_client_to_server = f(c2s, 6);
        r.num_cwr_flags_client_to_server = f(c2s, 7);
        r.num_ns_flags_client_to_server = f(c2s, 8);
        r.num_fin_flags_server_to_client = f(s2c, 0);
        r.num_syn_flags_server_to_client = f(s2c, 1);
        r.num_rst_flags_server_to_client = f(s2c, 2);
        r.num_psh_flags_server_to_client = f(s2c, 3);
        r.num_ack_flags_server_to_client = f(s2c, 4);
        r.num_urg_flags_server_to_client = f(s2c, 5);
        r.num_ece_flags_server_to_client = f(s2c, 6);
        r.num_cwr_flags_server_to_client = f(s2c, 7);
        r.num_ns_flags_server_to_client = f(s2c, 8);
        self.fill_stats(r, conn_state);
        r.tunnel_parent = refill(tunnel_parent, self.tunnel_parent().unwrap_or_default());
        if let Some(st) = self.streams() {
            let c = st.counters();
            let [a, b] = &c.dirs;
            r.missed_bytes_client_to_server = to_i64(a.missed);
            r.missed_bytes_server_to_client = to_i64(b.missed);
            r.overlap_bytes_client_to_server = to_i64(a.overlap_same);
            r.overlap_bytes_server_to_client = to_i64(b.overlap_same);
            r.overlap_diff_bytes_client_to_server = to_i64(a.overlap_diff);
            r.overlap_diff_bytes_server_to_client = to_i64(b.overlap_diff);
            r.stream_bytes_client_to_server = to_i64(a.delivered);
            r.stream_bytes_server_to_client = to_i64(b.delivered);
            r.services = st.services();
        }
    }

    /// The records of the connection's directions that carried packets
    /// (client to server first), each with the key it is merged by: the first
    /// packet number of that direction, unique to it.
    pub fn flow_records(&self, conn: &Connection) -> Vec<(u64, Flow)> {
        let mut pool = Vec::new();
        let mut keys = Vec::with_capacity(2);
        self.flows_into(conn, &mut pool, &mut keys);
        keys.into_iter().map(|(k, _)| k).zip(pool).collect()
    }

    /// [`Conn::flow_records`] into `pool`: each direction's record refills
    /// the entry at the index pushed to `keys` with its key (entries beyond
    /// the ones in use are reused, their text buffers kept).
    pub fn flows_into(
        &self,
        conn: &Connection,
        pool: &mut Vec<Flow>,
        keys: &mut Vec<(u64, usize)>,
    ) {
        for (i, d) in self.dir.iter().enumerate() {
            let Some(d) = d.as_deref() else {
                continue;
            };
            let from_client = i == 0;
            let (src, dst) = if from_client {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            // The connection's record has the address texts already.
            let (src_ip, dst_ip) = if from_client {
                (&conn.src_ip, &conn.dst_ip)
            } else {
                (&conn.dst_ip, &conn.src_ip)
            };
            let at = keys.len();
            if pool.len() <= at {
                pool.resize_with(at + 1, Flow::default);
            }
            let Some(slot) = pool.get_mut(at) else {
                continue;
            };
            keys.push((d.first_num, at));
            let Flow {
                link_proto,
                network_proto,
                transport_proto,
                application_proto,
                src_mac,
                dst_mac,
                src_ip: src_ip_buf,
                dst_ip: dst_ip_buf,
                mut uid,
                connection_uid,
                end_reason,
                ..
            } = std::mem::take(slot);
            // "F" + the connection UID without its "C" + the direction digit.
            uid.clear();
            uid.push('F');
            uid.push_str(conn.uid.get(1..).unwrap_or_default());
            uid.push(if from_client { '0' } else { '1' });
            let flag = |k: usize| d.flag(k);
            let last_ts = d.last_ts;
            *slot = Flow {
                timestamp: conn.timestamp,
                timestamp_first: d.first_ts,
                link_proto: refill(link_proto, &conn.link_proto),
                network_proto: refill(network_proto, &conn.network_proto),
                transport_proto: refill(transport_proto, &conn.transport_proto),
                application_proto: refill(application_proto, &conn.application_proto),
                src_mac: mac_text_into(src_mac, d.mac.map(|m| m.0)),
                dst_mac: mac_text_into(dst_mac, d.mac.map(|m| m.1)),
                src_ip: refill(src_ip_buf, src_ip),
                src_port: i32::from(src.1),
                dst_ip: refill(dst_ip_buf, dst_ip),
                dst_port: i32::from(dst.1),
                size: to_i64(d.bytes),
                app_payload_size: to_i64(d.payload),
                num_packets: to_i64(d.packets),
                uid,
                duration: elapsed(d.first_ts, last_ts),
                timestamp_last: last_ts,
                packet_number: conn.packet_number,
                first_packet_number: d.first_num,
                last_packet_number: d.last_num,
                connection_uid: refill(connection_uid, &conn.uid),
                from_client,
                end_reason: refill(end_reason, &conn.end_reason),
                num_fin_flags: flag(0),
                num_syn_flags: flag(1),
                num_rst_flags: flag(2),
                num_psh_flags: flag(3),
                num_ack_flags: flag(4),
                num_urg_flags: flag(5),
                num_ece_flags: flag(6),
                num_cwr_flags: flag(7),
                num_ns_flags: flag(8),
                packet_size_min: d.size.min(),
                packet_size_max: d.size.max(),
                packet_size_mean: d.size.mean(),
                packet_size_std: d.size.stddev(),
                iat_min: d.iat.min(),
                iat_max: d.iat.max(),
                iat_mean: d.iat.mean(),
                iat_std: d.iat.stddev(),
                ..Default::default()
            };
        }
    }

    /// The statistics of `r`; `conn_state`: a buffer for its text.
    fn fill_stats(&self, r: &mut Connection, conn_state: String) {
        let empty = Dir::default();
        let [c2s, s2c] = &self.dir;
        let (c2s, s2c) = (
            c2s.as_deref().unwrap_or(&empty),
            s2c.as_deref().unwrap_or(&empty),
        );
        let no_tcp = TcpDir::default();
        let (c2s_tcp, s2c_tcp) = (
            c2s.tcp.as_deref().unwrap_or(&no_tcp),
            s2c.tcp.as_deref().unwrap_or(&no_tcp),
        );
        let no_conn = TcpConn::default();
        let tcp = self.tcp.as_deref().unwrap_or(&no_conn);
        let st = |x: &Running| [x.min(), x.max(), x.mean(), x.stddev()];
        [
            r.packet_size_min,
            r.packet_size_max,
            r.packet_size_mean,
            r.packet_size_std,
        ] = st(&self.size);
        [
            r.packet_size_min_client_to_server,
            r.packet_size_max_client_to_server,
            r.packet_size_mean_client_to_server,
            r.packet_size_std_client_to_server,
        ] = st(&c2s.size);
        [
            r.packet_size_min_server_to_client,
            r.packet_size_max_server_to_client,
            r.packet_size_mean_server_to_client,
            r.packet_size_std_server_to_client,
        ] = st(&s2c.size);
        [r.iat_min, r.iat_max, r.iat_mean, r.iat_std] = st(&self.iat);
        [
            r.iat_min_client_to_server,
            r.iat_max_client_to_server,
            r.iat_mean_client_to_server,
            r.iat_std_client_to_server,
        ] = st(&c2s.iat);
        [
            r.iat_min_server_to_client,
            r.iat_max_server_to_client,
            r.iat_mean_server_to_client,
            r.iat_std_server_to_client,
        ] = st(&s2c.iat);
        r.first_packet_sizes = self
            .first
            .iter()
            .map(|f| i32::try_from(f.wire_len()).unwrap_or(i32::MAX))
            .collect();
        r.first_packet_directions = self.first.iter().map(|f| f.to_server()).collect();
        r.first_packet_ia_ts = self.first.iter().map(|f| f.gap()).collect();
        r.init_window_client_to_server = c2s_tcp.init_window.map_or(0, i32::from);
        r.init_window_server_to_client = s2c_tcp.init_window.map_or(0, i32::from);
        let w = |x: &Running| [x.min(), x.max(), x.mean()];
        [
            r.window_min_client_to_server,
            r.window_max_client_to_server,
            r.window_mean_client_to_server,
        ] = w(&c2s_tcp.window);
        [
            r.window_min_server_to_client,
            r.window_max_server_to_client,
            r.window_mean_server_to_client,
        ] = w(&s2c_tcp.window);
        r.mean_window_size = tcp.window_all.mean();
        r.retransmissions_client_to_server = to_i64(c2s_tcp.retransmissions);
        r.retransmissions_server_to_client = to_i64(s2c_tcp.retransmissions);
        r.out_of_order_client_to_server = to_i64(c2s_tcp.out_of_order);
        r.out_of_order_server_to_client = to_i64(s2c_tcp.out_of_order);
        r.zero_windows_client_to_server = to_i64(c2s_tcp.zero_windows);
        r.zero_windows_server_to_client = to_i64(s2c_tcp.zero_windows);
        r.duplicate_ac_ks_client_to_server = to_i64(c2s_tcp.dup_acks);
        r.duplicate_ac_ks_server_to_client = to_i64(s2c_tcp.dup_acks);
        r.handshake_rtt = tcp.rtt.unwrap_or(0);
        r.conn_state = refill(conn_state, self.conn_state());
        r.history = self.history.text();
        // The last active period ends with the last packet.
        let [mut active, idle] = self.periods.as_deref().copied().unwrap_or_default();
        active.add(elapsed(self.active_start, self.last_ts).max(0) as f64);
        [r.active_min, r.active_max, r.active_mean, r.active_std] = st(&active);
        [r.idle_min, r.idle_max, r.idle_mean, r.idle_std] = st(&idle);
        let mut bulk = [c2s.bulk.clone(), s2c.bulk.clone()];
        for b in &mut bulk {
            b.close();
        }
        let [bc, bs] = &bulk;
        r.bulk_transfers_client_to_server = to_i64(bc.transfers);
        r.bulk_packets_client_to_server = to_i64(bc.packets);
        r.bulk_bytes_client_to_server = to_i64(bc.bytes);
        r.bulk_transfers_server_to_client = to_i64(bs.transfers);
        r.bulk_packets_server_to_client = to_i64(bs.packets);
        r.bulk_bytes_server_to_client = to_i64(bs.bytes);
    }

    /// Zeek's conn_state from the flags each side sent.
    fn conn_state(&self) -> &'static str {
        let empty = Dir::default();
        let [c, s] = &self.dir;
        let (c, s) = (
            c.as_deref().unwrap_or(&empty),
            s.as_deref().unwrap_or(&empty),
        );
        let has = |d: &Dir, letter: usize| d.history & (1 << letter) != 0;
        if self.proto != PROTO_TCP {
            return match (c.packets > 0, s.packets > 0) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            };
        }
        let (syn, synack) = (has(c, 0), has(s, 1));
        let (c_fin, s_fin, c_rst, s_rst) = (has(c, 4), has(s, 4), has(c, 5), has(s, 5));
        match (syn, synack) {
            (true, false) if s_rst => "REJ",
            (true, false) if c_rst => "RSTOS0",
            (true, false) if c_fin => "SH",
            (true, false) if s.packets == 0 => "S0",
            (false, true) if s_rst => "RSTRH",
            (false, true) if s_fin => "SHR",
            (true, true) if c_rst => "RSTO",
            (true, true) if s_rst => "RSTR",
            (true, true) if c_fin && s_fin => "SF",
            (true, true) if c_fin => "S2",
            (true, true) if s_fin => "S3",
            (true, true) => "S1",
            _ => "OTH",
        }
    }

    /// "C" + 16 hex digits of SHA-1 over the client/server 5-tuple and the
    /// first timestamp: the same on every run over the same input.
    pub(crate) fn uid(&self) -> String {
        let mut buf = Vec::with_capacity(48);
        for (ip, port) in [self.client, self.server] {
            match ip {
                IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
            }
            buf.extend_from_slice(&port.to_be_bytes());
        }
        buf.push(self.proto);
        buf.extend_from_slice(&self.first_ts.to_be_bytes());
        short_uid('C', &buf)
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn mac_text(m: Option<[u8; 6]>) -> String {
    mac_text_into(String::new(), m)
}

/// `text` in `buf`'s allocation.
fn refill(mut buf: String, text: &str) -> String {
    buf.clear();
    buf.push_str(text);
    buf
}

/// [`mac_text`] in `buf`'s allocation.
fn mac_text_into(mut buf: String, m: Option<[u8; 6]>) -> String {
    match m {
        Some(m) => colon_hex_into(&mut buf, &m),
        None => buf.clear(),
    }
    buf
}

/// An address's text in `buf`'s allocation.
fn ip_text_into(mut buf: String, a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => ipv4_text_into(&mut buf, v4.octets()),
        IpAddr::V6(_) => buf = ip_text(a),
    }
    buf
}

/// [`transport_name`] in `buf`'s allocation.
fn transport_name_into(buf: String, proto: u8) -> String {
    match proto {
        PROTO_TCP => refill(buf, "TCP"),
        PROTO_UDP => refill(buf, "UDP"),
        PROTO_ICMP => refill(buf, "ICMPv4"),
        PROTO_ICMPV6 => refill(buf, "ICMPv6"),
        PROTO_SCTP => refill(buf, "SCTP"),
        p => format!("IP protocol {p}"),
    }
}

/// Name of an IP protocol.
pub fn transport_name(proto: u8) -> String {
    transport_name_into(String::new(), proto)
}

/// Application protocol guessed from well-known ports (server port first).
pub fn app_proto(proto: u8, client_port: u16, server_port: u16) -> &'static str {
    let by_port = |p: u16| -> &'static str {
        match (proto, p) {
            (PROTO_TCP, 20 | 21) => "FTP",
            (PROTO_TCP, 22) => "SSH",
            (PROTO_TCP, 23) => "Telnet",
            (PROTO_TCP, 25 | 587) => "SMTP",
            (_, 53) => "DNS",
            (PROTO_UDP, 67 | 68) => "DHCP",
            (PROTO_UDP, 69) => "TFTP",
            (PROTO_TCP, 80 | 8080) => "HTTP",
            (PROTO_TCP, 110) => "POP3",
            (PROTO_UDP, 123) => "NTP",
            (_, 137..=139) => "NetBIOS",
            (PROTO_TCP, 143) => "IMAP",
            (PROTO_UDP, 161 | 162) => "SNMP",
            (PROTO_TCP, 179) => "BGP",
            (PROTO_TCP, 389) => "LDAP",
            (PROTO_TCP, 443 | 8443) => "TLS",
            (PROTO_UDP, 443) => "QUIC",
            (PROTO_TCP, 445) => "SMB",
            (PROTO_TCP, 502) => "Modbus",
            (PROTO_UDP, 514) => "Syslog",
            (PROTO_UDP, 546 | 547) => "DHCPv6",
            (PROTO_TCP, 993) => "IMAPS",
            (PROTO_TCP, 995) => "POP3S",
            (PROTO_UDP, 1900) => "SSDP",
            (PROTO_TCP, 2049) | (PROTO_UDP, 2049) => "NFS",
            (PROTO_TCP, 3306) => "MySQL",
            (PROTO_TCP, 3389) => "RDP",
            (PROTO_UDP, 4789) => "VXLAN",
            (_, 5060) => "SIP",
            (PROTO_UDP, 5353) => "MDNS",
            (PROTO_UDP, 5355) => "LLMNR",
            (PROTO_TCP, 5432) => "PostgreSQL",
            (PROTO_UDP, 6081) => "Geneve",
            _ => "",
        }
    };
    match by_port(server_port) {
        "" => by_port(client_port),
        s => s,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn first_packets_pack_losslessly() {
        for (len, to_server, gap) in [
            (0, true, 0),
            (60, false, 0),
            (u32::MAX, true, i64::MAX),
            (1514, false, i64::MAX),
            (9000, false, 123_456_789_012),
        ] {
            let f = FirstPacket::new(len, to_server, gap);
            assert_eq!(
                (f.wire_len(), f.to_server(), f.gap()),
                (len, to_server, gap)
            );
        }
    }

    #[test]
    fn history_keeps_order_of_all_twelve_letters() {
        let mut h = History::default();
        let mut want = String::new();
        for i in [3, 0, 5, 1, 4, 2] {
            for server in [true, false] {
                h.push(i, server);
                let l = HISTORY[i];
                want.push(if server { l.to_ascii_lowercase() } else { l });
            }
        }
        assert_eq!(h.text(), want);
        assert_eq!(History::default().text(), "");
    }
}
