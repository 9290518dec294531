//! One bidirectional connection: its state while open and its record once ended.

use std::net::IpAddr;

mod record;

pub(crate) use record::mac_text;
use record::to_i64;
pub use record::{app_proto, transport_name};

use crate::packet::{flag, DecodedApp, FlowPacket, IpInfo};
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
