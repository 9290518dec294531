//! Layer flows: `LinkFlow` (MAC pair), `NetworkFlow` (IP pair) and
//! `TransportFlow` (transport protocol and port pair), the original Netcap's
//! per-layer flow models.
//!
//! A MAC pair or a port pair spans the shards of several pipeline workers, so
//! these flows are not tracked per worker: the workers hand over one compact
//! [`LayerObs`] per packet and a single [`LayerFlowTable`] consumes them in
//! packet order. Single-threaded and in packet order, its output cannot depend
//! on the number of workers, and its cap is exact. Pure logic, no I/O.
//!
//! Semantics (docs/flows.md): bidirectional, Src = sender of the flow's first
//! packet; a flow ends after the idle timeout, after the active timeout (the
//! next packet starts a new flow with the same Src), at the end of the capture,
//! or when the table is full (the least recently active flows are evicted).
//! All timing is packet time.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use netcap_schema::{LinkFlow, NetworkFlow, Record, TransportFlow};

use crate::community::short_uid as uid;
use crate::conn::{mac_text, transport_name, EndReason};
use crate::packet::{FlowPacket, PROTO_SCTP, PROTO_TCP, PROTO_UDP};
use crate::{FlowConfig, FlowSink};
use netcap_decode::text::ip_text;

/// Expiry scans run when the clock moved this far since the last one (as in
/// the connection table): a flow is written at most this late.
const SCAN_INTERVAL_NS: i64 = 1_000_000_000;

/// What the layer flow tables need from one packet (about 80 bytes, no heap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerObs {
    /// 1-based packet number.
    pub number: u64,
    /// Capture time, nanoseconds.
    pub ts_ns: i64,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// (source, destination) MAC of an Ethernet frame.
    pub macs: Option<([u8; 6], [u8; 6])>,
    /// (source, destination) of the outermost IP header.
    pub ips: Option<(IpAddr, IpAddr)>,
    /// (IP protocol, source port, destination port) of a TCP, UDP or SCTP
    /// header whose ports were captured.
    pub ports: Option<(u8, u16, u16)>,
}

impl LayerObs {
    /// The layers of an extracted packet.
    pub fn of(p: &FlowPacket) -> LayerObs {
        let ports = p.ip.and_then(|ip| {
            let with_ports = matches!(ip.proto, PROTO_TCP | PROTO_UDP | PROTO_SCTP);
            (with_ports && ip.has_ports).then_some((ip.proto, ip.sport, ip.dport))
        });
        LayerObs {
            number: p.number,
            ts_ns: p.ts_ns,
            wire_len: p.wire_len,
            macs: p.macs,
            ips: p.ip.map(|ip| (ip.src, ip.dst)),
            ports,
        }
    }
}

/// Which layer flow record types to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerSelect {
    /// `LinkFlow` records.
    pub link: bool,
    /// `NetworkFlow` records.
    pub network: bool,
    /// `TransportFlow` records.
    pub transport: bool,
}

impl LayerSelect {
    /// All three.
    pub const ALL: LayerSelect = LayerSelect {
        link: true,
        network: true,
        transport: true,
    };

    /// Whether any is selected.
    pub fn any(self) -> bool {
        self.link || self.network || self.transport
    }
}

/// FxHash-style hasher seeded per table. The keys come from packets, so the
/// seed keeps precomputed collisions from working; order never depends on the
/// hash (records are sorted before they are written).
#[derive(Debug, Clone, Copy)]
struct Seeded(u64);

impl BuildHasher for Seeded {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(self.0)
    }
}

#[derive(Debug, Clone, Copy)]
struct Fx(u64);

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(FX_K);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(rest) {
                *d = *s;
            }
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak; the table indexes by them.
        self.0.rotate_left(26)
    }
}

fn seed() -> Seeded {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    Seeded(h.finish())
}

/// One open flow of a layer; `E` is an endpoint (MAC, IP address, port).
#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    src: E,
    dst: E,
    /// IP protocol for transport flows, 0 otherwise.
    proto: u8,
    first_ts: i64,
    last_ts: i64,
    first_num: u64,
    last_num: u64,
    /// Index 0: Src to Dst.
    packets: [u64; 2],
    bytes: [u64; 2],
}

fn elapsed(from: i64, to: i64) -> i64 {
    to.saturating_sub(from)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl<E: Copy + Eq> Entry<E> {
    fn new(src: E, dst: E, proto: u8, o: &LayerObs) -> Self {
        Entry {
            src,
            dst,
            proto,
            first_ts: o.ts_ns,
            last_ts: o.ts_ns,
            first_num: o.number,
            last_num: o.number,
            packets: [0; 2],
            bytes: [0; 2],
        }
    }

    fn add(&mut self, src: E, o: &LayerObs) {
        // When both endpoints are equal (port 53 to port 53), all is Src to Dst.
        let d = usize::from(src != self.src);
        if let Some(p) = self.packets.get_mut(d) {
            *p += 1;
        }
        if let Some(b) = self.bytes.get_mut(d) {
            *b += u64::from(o.wire_len);
        }
        // Time going backwards counts as no time passing.
        self.last_ts = self.last_ts.max(o.ts_ns);
        self.last_num = o.number;
    }

    /// Why the flow ends at `clock` (the flow clock, or the time of its next
    /// packet), if it does.
    fn ends_at(&self, clock: i64, cfg: &FlowConfig) -> Option<EndReason> {
        if elapsed(self.last_ts, clock) > cfg.idle_timeout_ns {
            Some(EndReason::IdleTimeout)
        } else if elapsed(self.first_ts, clock) > cfg.active_timeout_ns {
            Some(EndReason::ActiveTimeout)
        } else {
            None
        }
    }

    /// Fields every layer flow record has, in the order of the records.
    fn common(&self, reason: EndReason) -> Common {
        let [a, b] = self.packets;
        let [x, y] = self.bytes;
        Common {
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            size: to_i64(x.saturating_add(y)),
            packets: to_i64(a.saturating_add(b)),
            duration: elapsed(self.first_ts, self.last_ts),
            first_num: self.first_num,
            last_num: self.last_num,
            reason: reason.as_str().to_string(),
            packets_dir: [to_i64(a), to_i64(b)],
            bytes_dir: [to_i64(x), to_i64(y)],
        }
    }
}

struct Common {
    first_ts: i64,
    last_ts: i64,
    size: i64,
    packets: i64,
    duration: i64,
    first_num: u64,
    last_num: u64,
    reason: String,
    packets_dir: [i64; 2],
    bytes_dir: [i64; 2],
}

/// "prefix" + 16 hex digits of SHA-1 over `bytes`.
fn ip_bytes(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
    }
}

/// The open flows of one layer, keyed by (protocol, lower endpoint, higher endpoint).
#[derive(Debug)]
struct Table<E> {
    open: HashMap<(u8, E, E), Entry<E>, Seeded>,
    ended: Vec<(Entry<E>, EndReason)>,
    evicted: u64,
    /// Scratch for eviction: (last packet number, key).
    order: Vec<(u64, (u8, E, E))>,
}

impl<E: Copy + Eq + Ord + Hash> Table<E> {
    fn new() -> Self {
        Table {
            open: HashMap::with_hasher(seed()),
            ended: Vec::new(),
            evicted: 0,
            order: Vec::new(),
        }
    }

    fn packet(&mut self, proto: u8, src: E, dst: E, o: &LayerObs, cfg: &FlowConfig) {
        let key = if src <= dst {
            (proto, src, dst)
        } else {
            (proto, dst, src)
        };
        if let Some(e) = self.open.get_mut(&key) {
            if let Some(reason) = e.ends_at(o.ts_ns, cfg) {
                // An active-timeout split keeps the orientation of the flow.
                let (s, d) = if reason == EndReason::ActiveTimeout {
                    (e.src, e.dst)
                } else {
                    (src, dst)
                };
                let old = std::mem::replace(e, Entry::new(s, d, proto, o));
                self.ended.push((old, reason));
            }
            e.add(src, o);
            return;
        }
        if cfg.max_layer_flows > 0 && self.open.len() as u64 >= cfg.max_layer_flows {
            self.evict(cfg.max_layer_flows);
        }
        let mut e = Entry::new(src, dst, proto, o);
        e.add(src, o);
        self.open.insert(key, e);
    }

    /// Ends the least recently active flows (smallest last packet number,
    /// unique per flow) down to 90% of `cap`, at least one.
    fn evict(&mut self, cap: u64) {
        let keep = usize::try_from(cap.saturating_sub(cap.div_ceil(10))).unwrap_or(usize::MAX);
        let n = self.open.len().saturating_sub(keep);
        if n == 0 {
            return;
        }
        self.order.clear();
        self.order
            .extend(self.open.iter().map(|(k, e)| (e.last_num, *k)));
        if n < self.order.len() {
            self.order.select_nth_unstable_by_key(n, |x| x.0);
        }
        for (_, k) in self.order.drain(..).take(n) {
            if let Some(e) = self.open.remove(&k) {
                self.evicted += 1;
                self.ended.push((e, EndReason::Evicted));
            }
        }
    }

    fn expire(&mut self, clock: i64, cfg: &FlowConfig) {
        let ended = &mut self.ended;
        self.open.retain(|_, e| match e.ends_at(clock, cfg) {
            Some(r) => {
                ended.push((*e, r));
                false
            }
            None => true,
        });
    }

    fn finish(&mut self) {
        self.ended
            .extend(self.open.drain().map(|(_, e)| (e, EndReason::EndOfCapture)));
    }

    /// Writes the ended flows ordered by first packet number (unique per flow).
    fn write<S: FlowSink, R: Record>(
        &mut self,
        sink: &mut S,
        record: impl Fn(&Entry<E>, EndReason) -> R,
    ) -> u64 {
        self.ended.sort_unstable_by_key(|(e, _)| e.first_num);
        let n = self.ended.len() as u64;
        for (e, r) in self.ended.drain(..) {
            sink.emit_keyed(e.first_num, &record(&e, r));
        }
        n
    }
}

/// Counters for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerCounts {
    /// Records written (all three types).
    pub flows: u64,
    /// Of them, written early because a table was full.
    pub evicted: u64,
}

/// The link, network and transport flows of the whole input (see the module
/// documentation). Feed it every packet in packet order.
#[derive(Debug)]
pub struct LayerFlowTable {
    cfg: FlowConfig,
    link: Option<Table<[u8; 6]>>,
    network: Option<Table<IpAddr>>,
    transport: Option<Table<u16>>,
    clock: i64,
    scanned: Option<i64>,
    written: u64,
}

impl LayerFlowTable {
    /// An empty table building the `select`ed record types.
    /// `cfg.max_layer_flows` caps each layer's open flows (0: no cap).
    pub fn new(cfg: FlowConfig, select: LayerSelect) -> Self {
        LayerFlowTable {
            cfg,
            link: select.link.then(Table::new),
            network: select.network.then(Table::new),
            transport: select.transport.then(Table::new),
            clock: i64::MIN,
            scanned: None,
            written: 0,
        }
    }

    /// Adds one packet; packets must come in packet order.
    pub fn packet(&mut self, o: &LayerObs) {
        let cfg = &self.cfg;
        if let (Some(t), Some((s, d))) = (self.link.as_mut(), o.macs) {
            t.packet(0, s, d, o, cfg);
        }
        if let (Some(t), Some((s, d))) = (self.network.as_mut(), o.ips) {
            t.packet(0, s, d, o, cfg);
        }
        if let (Some(t), Some((p, s, d))) = (self.transport.as_mut(), o.ports) {
            t.packet(p, s, d, o, cfg);
        }
    }

    /// Ends a batch: advances the clock to `batch_max_ts` (the latest packet
    /// time of the batch), ends what expired and writes every flow ended
    /// during the batch, per type ordered by first packet number.
    /// `last_number`: the batch's last packet.
    pub fn end_batch<S: FlowSink>(&mut self, batch_max_ts: i64, last_number: u64, sink: &mut S) {
        self.clock = self.clock.max(batch_max_ts);
        let clock = self.clock;
        let due = self
            .scanned
            .is_none_or(|s| clock.saturating_sub(s) >= SCAN_INTERVAL_NS);
        if due {
            self.scanned = Some(clock);
            let cfg = self.cfg;
            if let Some(t) = self.link.as_mut() {
                t.expire(clock, &cfg);
            }
            if let Some(t) = self.network.as_mut() {
                t.expire(clock, &cfg);
            }
            if let Some(t) = self.transport.as_mut() {
                t.expire(clock, &cfg);
            }
        }
        self.write(last_number, sink);
    }

    /// Ends every open flow ("end-of-capture") and writes it with the rest.
    /// `last_number`: the input's last packet.
    pub fn finish<S: FlowSink>(&mut self, last_number: u64, sink: &mut S) {
        if let Some(t) = self.link.as_mut() {
            t.finish();
        }
        if let Some(t) = self.network.as_mut() {
            t.finish();
        }
        if let Some(t) = self.transport.as_mut() {
            t.finish();
        }
        self.write(last_number, sink);
    }

    /// Counters so far.
    pub fn counts(&self) -> LayerCounts {
        let evicted = self.link.as_ref().map_or(0, |t| t.evicted)
            + self.network.as_ref().map_or(0, |t| t.evicted)
            + self.transport.as_ref().map_or(0, |t| t.evicted);
        LayerCounts {
            flows: self.written,
            evicted,
        }
    }

    /// Open flows per layer (link, network, transport).
    pub fn len(&self) -> [usize; 3] {
        [
            self.link.as_ref().map_or(0, |t| t.open.len()),
            self.network.as_ref().map_or(0, |t| t.open.len()),
            self.transport.as_ref().map_or(0, |t| t.open.len()),
        ]
    }

    /// Whether no flow is open.
    pub fn is_empty(&self) -> bool {
        self.len() == [0; 3]
    }

    fn write<S: FlowSink>(&mut self, written_num: u64, sink: &mut S) {
        let ts = self.clock;
        if let Some(t) = self.link.as_mut() {
            self.written += t.write(sink, |e, r| {
                let c = e.common(r);
                let mut buf = Vec::with_capacity(20);
                buf.extend_from_slice(&e.src);
                buf.extend_from_slice(&e.dst);
                buf.extend_from_slice(&e.first_ts.to_be_bytes());
                LinkFlow {
                    timestamp: ts,
                    timestamp_first: c.first_ts,
                    timestamp_last: c.last_ts,
                    // MACs are only read from Ethernet frames (FlowPacket::macs).
                    proto: "Ethernet".to_string(),
                    src_mac: mac_text(Some(e.src)),
                    dst_mac: mac_text(Some(e.dst)),
                    size: c.size,
                    num_packets: c.packets,
                    uid: uid('L', &buf),
                    duration: c.duration,
                    packet_number: written_num,
                    first_packet_number: c.first_num,
                    last_packet_number: c.last_num,
                    end_reason: c.reason,
                    num_packets_src_to_dst: c.packets_dir[0],
                    num_packets_dst_to_src: c.packets_dir[1],
                    bytes_src_to_dst: c.bytes_dir[0],
                    bytes_dst_to_src: c.bytes_dir[1],
                    ..Default::default()
                }
            });
        }
        if let Some(t) = self.network.as_mut() {
            self.written += t.write(sink, |e, r| {
                let c = e.common(r);
                let mut buf = Vec::with_capacity(40);
                ip_bytes(&mut buf, e.src);
                ip_bytes(&mut buf, e.dst);
                buf.extend_from_slice(&e.first_ts.to_be_bytes());
                NetworkFlow {
                    timestamp: ts,
                    timestamp_first: c.first_ts,
                    timestamp_last: c.last_ts,
                    proto: if e.src.is_ipv6() { "IPv6" } else { "IPv4" }.to_string(),
                    src_ip: ip_text(e.src),
                    dst_ip: ip_text(e.dst),
                    size: c.size,
                    num_packets: c.packets,
                    uid: uid('N', &buf),
                    duration: c.duration,
                    packet_number: written_num,
                    first_packet_number: c.first_num,
                    last_packet_number: c.last_num,
                    end_reason: c.reason,
                    num_packets_src_to_dst: c.packets_dir[0],
                    num_packets_dst_to_src: c.packets_dir[1],
                    bytes_src_to_dst: c.bytes_dir[0],
                    bytes_dst_to_src: c.bytes_dir[1],
                    ..Default::default()
                }
            });
        }
        if let Some(t) = self.transport.as_mut() {
            self.written += t.write(sink, |e, r| {
                let c = e.common(r);
                let mut buf = Vec::with_capacity(13);
                buf.push(e.proto);
                buf.extend_from_slice(&e.src.to_be_bytes());
                buf.extend_from_slice(&e.dst.to_be_bytes());
                buf.extend_from_slice(&e.first_ts.to_be_bytes());
                TransportFlow {
                    timestamp: ts,
                    timestamp_first: c.first_ts,
                    timestamp_last: c.last_ts,
                    proto: transport_name(e.proto),
                    src_port: i32::from(e.src),
                    dst_port: i32::from(e.dst),
                    size: c.size,
                    num_packets: c.packets,
                    uid: uid('T', &buf),
                    duration: c.duration,
                    packet_number: written_num,
                    first_packet_number: c.first_num,
                    last_packet_number: c.last_num,
                    end_reason: c.reason,
                    num_packets_src_to_dst: c.packets_dir[0],
                    num_packets_dst_to_src: c.packets_dir[1],
                    bytes_src_to_dst: c.bytes_dir[0],
                    bytes_dst_to_src: c.bytes_dir[1],
                    ..Default::default()
                }
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests;
