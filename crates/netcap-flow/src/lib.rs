//! Netcap's flow table: bidirectional connections with per-direction counters
//! and statistics, built from packets in capture order. No I/O: records go to a
//! [`FlowSink`].
//!
//! Everything is driven by packet time, never by the wall clock, and expiry is
//! only decided at batch ends against a clock every pipeline worker shares, so
//! the records do not depend on how flows are spread over workers. See
//! `docs/flows.md` for the semantics.
#![forbid(unsafe_code)]

pub mod community;
mod conn;
mod expect;
pub mod layer;
pub mod packet;
pub mod stats;
mod streams;

use std::collections::{BTreeMap, HashMap, VecDeque};

pub use conn::{app_proto, transport_name, ConnKey, EndReason};
pub use layer::{LayerCounts, LayerFlowTable, LayerObs, LayerSelect};
pub use packet::{DecodedApp, FlowPacket};
pub use streams::StreamSettings;

use conn::Conn;
use netcap_schema::{Connection, Flow, Record};

const SECOND: i64 = 1_000_000_000;

/// Timeouts and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowConfig {
    /// A connection without packets for this long ends ("idle-timeout").
    pub idle_timeout_ns: i64,
    /// A connection open for this long ends and a new one starts ("active-timeout").
    pub active_timeout_ns: i64,
    /// After both FINs or an RST, packets within this time still count in the
    /// connection (retransmitted FINs, final ACKs).
    pub linger_ns: i64,
    /// Most open connections across all workers; past it the least recently
    /// active are written early ("evicted"). 0: no limit. The default is
    /// what fits in [`FlowConfig::DEFAULT_MEMORY_MIB`].
    pub max_flows: u64,
    /// Most open flows of each layer-flow table (LinkFlow, NetworkFlow,
    /// TransportFlow); past it the least recently active are written early.
    /// 0: no limit. By default a quarter of the connection cap: a layer flow
    /// is smaller, and under a flood two layers grow with the connections.
    pub max_layer_flows: u64,
    /// Packets recorded in the first-packets sequences.
    pub first_packets: usize,
}

impl FlowConfig {
    /// Default memory budget of the open connections, MiB (`--flow-memory`):
    /// keeps a default capture well under 1 GB even when every packet of a
    /// flood opens a connection.
    pub const DEFAULT_MEMORY_MIB: u64 = 512;

    /// Upper estimate of the memory of one open connection, in bytes: every
    /// part allocated (both directions, TCP state, idle periods, a full
    /// first-packets list, sequence holes), allocator overhead and its table
    /// slot. Measured on floods of one-packet connections: about 620 bytes per
    /// UDP connection, 950 per SYN (`bench.py --attacks`).
    pub fn conn_memory(first_packets: usize) -> u64 {
        1_600 + 12 * first_packets as u64
    }

    /// The cap on open connections whose memory fits in `mib` MiB (0: no limit).
    pub fn max_flows_for_memory(mib: u64, first_packets: usize) -> u64 {
        if mib == 0 {
            return 0;
        }
        (mib.saturating_mul(1 << 20) / Self::conn_memory(first_packets)).max(1)
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        let first_packets = 10;
        FlowConfig {
            idle_timeout_ns: 120 * SECOND,
            active_timeout_ns: 1800 * SECOND,
            linger_ns: 5 * SECOND,
            max_flows: Self::max_flows_for_memory(Self::DEFAULT_MEMORY_MIB, first_packets),
            max_layer_flows: Self::max_flows_for_memory(Self::DEFAULT_MEMORY_MIB, first_packets)
                / 4,
            first_packets,
        }
    }
}

/// Where ended connections go. `key` orders records within a batch: the
/// number of the record's first packet, unique per record of a type.
pub trait FlowSink {
    /// Accepts one record.
    fn emit_keyed<R: Record>(&mut self, key: u64, rec: &R);

    /// Accepts a stream record written when its connection ended, ordered
    /// among the records of its type by (`key`, `sub`): `key` is the batch's
    /// last packet number (after every record of the batch's packets), `sub`
    /// tells connections apart (1 + the connection's first packet number).
    fn emit_stream(&mut self, key: u64, sub: u64, rec: &netcap_stream::StreamRecord) {
        let _ = (key, sub, rec);
    }

    /// Accepts a Connection record (the table writes them all through
    /// here, so a sink can look at them typed).
    fn connection(&mut self, key: u64, rec: &netcap_schema::Connection) {
        self.emit_keyed(key, rec);
    }
}

/// Counters for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounts {
    /// Connections written.
    pub connections: u64,
    /// Of them, written early because the table was full.
    pub evicted: u64,
}

/// The connections of one worker's shard.
#[derive(Debug)]
pub struct FlowTable {
    cfg: FlowConfig,
    /// Boxed: the table's slots are moved when it grows, and stay small.
    /// foldhash with a random seed per table: about twice as fast as SipHash
    /// and still seeded, since the keys come from (hostile) packets.
    open: HashMap<ConnKey, Box<Conn>, foldhash::fast::RandomState>,
    ended: Vec<(Box<Conn>, EndReason)>,
    /// After [`FlowTable::finish_begin`]: the connections still to write,
    /// ordered by first packet...
    finishing: VecDeque<(Box<Conn>, EndReason)>,
    /// ...and Flow records built with their connection but keyed past the
    /// chunks written so far.
    /// Keyed by (first packet, insertion order): a tunnel's packet can start
    /// a direction of the outer and of the inner connection.
    finishing_flows: BTreeMap<(u64, u64), Flow>,
    finishing_count: u64,
    /// Highest packet time seen in any batch by any worker (shared by construction).
    clock: i64,
    /// Clock of the last expiry scan.
    scanned: Option<i64>,
    counts: FlowCounts,
    /// TCP streams (None: not reassembled).
    streams: Option<streams::StreamLayer>,
    /// Records refilled for each ended connection (their buffers reused).
    scratch: Scratch,
}

/// Records the table refills rather than allocates per ended connection.
#[derive(Debug, Default)]
struct Scratch {
    connection: Connection,
    flows: Vec<Flow>,
    /// (merge key, index into `flows`) of the batch's Flow records.
    keys: Vec<(u64, usize)>,
}

/// Flow records kept for reuse between batches; a batch that ends more
/// connections allocates the rest, and gives them back after it.
const SCRATCH_FLOWS: usize = 4096;

/// What a frame is sharded by, as a fixed (unseeded) hash: its outermost
/// address pair, else its MAC pair, else nothing (0). Equal contexts go to
/// the same worker, whatever the number of workers.
fn outer_context(outer: Option<&FlowPacket>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let Some(o) = outer else {
        return 0;
    };
    let mut h = foldhash::fast::FixedState::with_seed(0x6e65_7463_6170).build_hasher();
    if let Some(ip) = &o.ip {
        let (a, b) = if ip.src <= ip.dst {
            (ip.src, ip.dst)
        } else {
            (ip.dst, ip.src)
        };
        (1u8, a, b).hash(&mut h);
    } else if let Some((x, y)) = o.macs {
        (2u8, x.min(y), x.max(y)).hash(&mut h);
    } else {
        return 0;
    }
    h.finish() | 1
}

/// Expiry scans run when the flow clock moved this far since the last one:
/// scanning the whole table every batch would cost more than the packets.
/// The clock is shared by all workers, so scans happen at the same batch ends
/// whatever the number of workers; a connection ends at the first scan after
/// its deadline, at most this late.
const SCAN_INTERVAL_NS: i64 = SECOND;

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> FlowTable {
        FlowTable {
            cfg,
            open: HashMap::default(),
            ended: Vec::new(),
            finishing: VecDeque::new(),
            finishing_flows: BTreeMap::new(),
            finishing_count: 0,
            clock: i64::MIN,
            scanned: None,
            counts: FlowCounts::default(),
            streams: None,
            scratch: Scratch::default(),
        }
    }

    /// An empty table that also reassembles the TCP streams of its connections.
    pub fn with_streams(cfg: FlowConfig, streams: StreamSettings) -> FlowTable {
        let mut t = FlowTable::new(cfg);
        t.streams = Some(streams::StreamLayer::new(streams));
        t
    }

    /// Adds a TCP segment or UDP datagram the decoder found in packet
    /// `number` (after the packet itself was added), and gives a TCP
    /// segment to the streams of its connection.
    ///
    /// The packet was counted in the connection of its outermost IP header
    /// (`outer`). A transport header that is not that connection's (inside
    /// a tunnel, or behind a link Netcap's flow extraction does not walk,
    /// such as PPPoE or MPLS) is counted in a connection of its own, keyed by
    /// its addresses and ports, with the frame's length as its size (as
    /// tshark's conversations count it); inside a tunnel, its TunnelParent is
    /// the outer connection. The transport header of a reassembled IP
    /// datagram (at the outermost level) only feeds the streams: its
    /// fragments count in their own flows.
    pub fn segment(
        &mut self,
        seg: &netcap_decode::TransportSegment<'_>,
        number: u64,
        ts_ns: i64,
        wire_len: u32,
        outer: Option<&FlowPacket>,
    ) {
        let tuple = ConnKey::of_tuple((seg.src, seg.src_port), (seg.dst, seg.dst_port), seg.proto);
        let outer_ip = outer.and_then(|o| o.ip.as_ref());
        let counted = outer_ip.is_some_and(|ip| ConnKey::of(ip) == tuple);
        let reassembled = seg.depth == 0 && outer_ip.is_some();
        let inner = !counted && !reassembled;
        let key = if inner {
            tuple.within(outer_context(outer))
        } else {
            tuple
        };
        if inner {
            let tcp = (seg.proto == packet::PROTO_TCP).then_some(packet::TcpInfo {
                flags: seg.flags,
                seq: seg.seq,
                ack: seg.ack,
                window: seg.window,
            });
            let fp = FlowPacket {
                number,
                ts_ns,
                wire_len,
                // Behind a link the extraction does not walk, the frame's
                // link layer is the connection's own.
                link: match (outer_ip, outer) {
                    (None, Some(o)) => o.link,
                    _ => "Tunnel",
                },
                macs: outer.filter(|_| outer_ip.is_none()).and_then(|o| o.macs),
                vlan: outer.filter(|_| outer_ip.is_none()).map_or(0, |o| o.vlan),
                ip: Some(packet::IpInfo {
                    src: seg.src,
                    dst: seg.dst,
                    proto: seg.proto,
                    sport: seg.src_port,
                    dport: seg.dst_port,
                    one_way: false,
                    has_ports: true,
                    payload_len: seg.wire_len,
                    tcp,
                }),
                app: None,
            };
            self.packet_keyed(&fp, key);
            let fresh = self.open.get(&key).is_some_and(|c| c.first_num == number);
            if fresh {
                let parent = outer_ip
                    .and_then(|ip| self.open.get(&ConnKey::of(ip)))
                    .map(|c| c.uid());
                if let (Some(c), Some(p)) = (self.open.get_mut(&key), parent) {
                    c.ext_mut().tunnel_parent = Some(p);
                }
            }
        }
        if seg.proto != packet::PROTO_TCP {
            return;
        }
        let Some(layer) = self.streams.as_mut() else {
            return;
        };
        if let Some(c) = self.open.get_mut(&key) {
            layer.segment(c, seg, number, ts_ns, key.ctx());
        }
    }

    /// Drains the stream records emitted by the segments added since the last
    /// call, keyed by packet number, in the order emitted (the buffer keeps its
    /// capacity for the next packet).
    pub fn drain_stream_records(
        &mut self,
    ) -> impl Iterator<Item = (u64, netcap_stream::StreamRecord)> + '_ {
        self.streams.iter_mut().flat_map(|l| l.out.drain(..))
    }

    /// Stream totals of the connections ended so far.
    pub fn stream_totals(&self) -> Option<&netcap_stream::StreamTotals> {
        self.streams.as_ref().map(|l| &l.totals)
    }

    /// Memory of the open connections as the cap counts it, bytes: each
    /// connection's upper estimate ([`FlowConfig::conn_memory`]) plus what its
    /// streams hold, so that connections carrying data weigh more.
    pub fn memory(&self) -> u64 {
        let streams = self.streams.as_ref().map_or(0, |l| l.memory as u64);
        self.open.len() as u64 * self.conn_unit() + streams
    }

    /// Heap bytes held by the TCP streams of the open connections (part of
    /// [`FlowTable::memory`]).
    pub fn stream_memory(&self) -> u64 {
        self.streams.as_ref().map_or(0, |l| l.memory as u64)
    }

    /// Connections holding TCP stream state (allocated with their first
    /// segment carrying data or a FIN, freed when the connection ends).
    pub fn open_streams(&self) -> u64 {
        self.streams.as_ref().map_or(0, |l| l.open)
    }

    fn conn_unit(&self) -> u64 {
        FlowConfig::conn_memory(self.cfg.first_packets)
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Counters so far.
    pub fn counts(&self) -> FlowCounts {
        self.counts
    }

    /// The flow clock.
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// Adds one packet of this worker's shard.
    pub fn packet(&mut self, p: &FlowPacket) {
        if let Some(ip) = p.ip.as_ref() {
            self.packet_keyed(p, ConnKey::of(ip));
        }
    }

    /// Adds a packet to the connection `key`.
    fn packet_keyed(&mut self, p: &FlowPacket, key: ConnKey) {
        let Some(ip) = p.ip.as_ref() else {
            return;
        };
        if let Some(c) = self.open.get_mut(&key) {
            if let Some(reason) = c.ends_before(p, ip, &self.cfg) {
                let carry = (reason == EndReason::ActiveTimeout).then_some(c.client);
                if let Some(old) = self.open.remove(&key) {
                    self.ended.push((old, reason));
                }
                let mut fresh = Conn::new(p, ip, carry);
                fresh.add(p, ip, self.cfg.first_packets);
                self.open.insert(key, Box::new(fresh));
            } else {
                c.add(p, ip, self.cfg.first_packets);
            }
            return;
        }
        let mut c = Conn::new(p, ip, None);
        c.add(p, ip, self.cfg.first_packets);
        self.open.insert(key, Box::new(c));
    }

    /// Ends a batch: advances the clock to `batch_max_ts` (the latest packet
    /// time of the whole batch, not only this shard's), ends what expired and
    /// writes the connections ended during the batch, ordered by first packet.
    /// `last_number` is the number of the batch's last packet.
    pub fn end_batch<S: FlowSink>(&mut self, batch_max_ts: i64, last_number: u64, sink: &mut S) {
        self.clock = self.clock.max(batch_max_ts);
        let clock = self.clock;
        if self
            .scanned
            .is_some_and(|s| clock.saturating_sub(s) < SCAN_INTERVAL_NS)
        {
            self.write(last_number, sink);
            return;
        }
        self.scanned = Some(clock);
        let cfg = self.cfg;
        let mut expired: Vec<(ConnKey, EndReason)> = self
            .open
            .iter()
            .filter_map(|(k, c)| c.ends_at(clock, &cfg).map(|r| (*k, r)))
            .collect();
        expired.sort_unstable();
        for (k, r) in expired {
            if let Some(c) = self.open.remove(&k) {
                self.ended.push((c, r));
            }
        }
        self.write(last_number, sink);
    }

    /// Memory (as [`FlowTable::memory`] counts it) of the open connections
    /// idle for at least each of `thresholds` (ns, in descending order) at
    /// the current clock: what the pipeline shares to decide evictions.
    pub fn idle_histogram(&self, thresholds: &[i64]) -> Vec<u64> {
        // Per connection, the thresholds it passes are a suffix of the list:
        // count where each suffix starts, then sum up (N log T, not N T).
        let unit = self.conn_unit();
        let mut starts = vec![0u64; thresholds.len()];
        for c in self.open.values() {
            let idle = self.clock.saturating_sub(c.last_ts);
            let first = thresholds.partition_point(|&t| t > idle);
            if let Some(n) = starts.get_mut(first) {
                *n += unit + c.stream_memory() as u64;
            }
        }
        let mut sum = 0;
        for n in &mut starts {
            sum += *n;
            *n = sum;
        }
        starts
    }

    /// Ends, as "evicted", every open connection idle for at least `min_idle_ns`.
    /// Written at the next batch end.
    pub fn evict_idle(&mut self, min_idle_ns: i64) {
        let clock = self.clock;
        let mut keys: Vec<ConnKey> = self
            .open
            .iter()
            .filter(|(_, c)| clock.saturating_sub(c.last_ts) >= min_idle_ns)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        for k in keys {
            if let Some(c) = self.open.remove(&k) {
                self.counts.evicted += 1;
                self.ended.push((c, EndReason::Evicted));
            }
        }
    }

    /// Ends every open connection ("end-of-capture") and writes them with
    /// the rest, ordered by first packet. `last_number`: the input's last packet.
    pub fn finish<S: FlowSink>(&mut self, last_number: u64, sink: &mut S) {
        self.finish_begin();
        self.finish_upto(u64::MAX, last_number, sink);
    }

    /// Ends every open connection ("end-of-capture"); [`FlowTable::finish_upto`]
    /// then writes them, with those ended but not written yet, in chunks, so
    /// that the records of a full table are never all encoded at once.
    pub fn finish_begin(&mut self) {
        let open = std::mem::take(&mut self.open);
        let mut ended = std::mem::take(&mut self.ended);
        ended.extend(open.into_values().map(|c| (c, EndReason::EndOfCapture)));
        ended.sort_unstable_by_key(|(c, _)| c.order_key());
        self.finishing = ended.into();
    }

    /// Writes the records, among those left by [`FlowTable::finish_begin`],
    /// whose key (first packet number) is below `upto`, ordered by key; call
    /// with increasing `upto`, the last time with `u64::MAX`. Chunks by key
    /// range keep the order of a single write, and the same ranges on every
    /// worker keep the merged output independent of the number of workers.
    pub fn finish_upto<S: FlowSink>(&mut self, upto: u64, last_number: u64, sink: &mut S) {
        let clock = self.clock;
        let later = self.finishing_flows.split_off(&(upto, 0));
        let mut flows: Vec<(u64, Flow)> = std::mem::replace(&mut self.finishing_flows, later)
            .into_iter()
            .map(|((key, _), flow)| (key, flow))
            .collect();
        while self
            .finishing
            .front()
            .is_some_and(|(c, _)| c.first_num < upto)
        {
            let Some((mut c, reason)) = self.finishing.pop_front() else {
                break;
            };
            if let Some(l) = self.streams.as_mut() {
                let mut recs = Vec::new();
                l.finish(&mut c, last_number, &mut recs);
                for (_, r) in &recs {
                    sink.emit_stream(last_number, 1 + c.first_num, r);
                }
            }
            let rec = c.record(reason, clock, last_number);
            sink.connection(c.first_num, &rec);
            // A direction that started later may belong to a later chunk.
            for (key, flow) in c.flow_records(&rec) {
                if key < upto {
                    flows.push((key, flow));
                } else {
                    self.finishing_count += 1;
                    self.finishing_flows
                        .insert((key, self.finishing_count), flow);
                }
            }
            self.counts.connections += 1;
        }
        // Stable: equal keys (outer and inner connection) keep their order.
        flows.sort_by_key(|f| f.0);
        for (key, flow) in &flows {
            sink.emit_keyed(*key, flow);
        }
        if self.finishing.is_empty() {
            // Give the queue's memory back once done.
            self.finishing = VecDeque::new();
        }
    }

    fn write<S: FlowSink>(&mut self, last_number: u64, sink: &mut S) {
        let mut ended = std::mem::take(&mut self.ended);
        ended.sort_unstable_by_key(|(c, _)| c.order_key());
        let clock = self.clock;
        let Scratch {
            connection: rec,
            flows,
            keys,
        } = &mut self.scratch;
        keys.clear();
        let mut recs = Vec::new();
        for (c, reason) in &mut ended {
            if let Some(l) = self.streams.as_mut() {
                recs.clear();
                l.finish(c, last_number, &mut recs);
                for (_, r) in &recs {
                    sink.emit_stream(last_number, 1 + c.first_num, r);
                }
            }
            c.record_into(*reason, clock, last_number, rec);
            sink.connection(c.first_num, rec);
            c.flows_into(rec, flows, keys);
            self.counts.connections += 1;
        }
        // Flow records are merged by their own first packet: emit them in
        // that order, after the connections. Stable: equal keys (outer and
        // inner connection) keep their order.
        keys.sort_by_key(|k| k.0);
        for &(key, at) in keys.iter() {
            if let Some(flow) = flows.get(at) {
                sink.emit_keyed(key, flow);
            }
        }
        // A burst of ended connections (a timeout sweep) must not pin its
        // memory: capacities above the kept pool are given back too.
        flows.truncate(SCRATCH_FLOWS);
        flows.shrink_to(SCRATCH_FLOWS);
        keys.clear();
        keys.shrink_to(SCRATCH_FLOWS);
        ended.clear();
        // Keep the allocation for the next batch.
        self.ended = ended;
    }
}

#[cfg(test)]
mod tests;
