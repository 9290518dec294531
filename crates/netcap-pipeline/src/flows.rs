//! The flow table of one worker, and what the workers share to keep its output
//! independent of their number.
//!
//! Determinism: every worker sees every batch, so every worker advances its
//! flow clock with the timestamps of the whole batch and has the same clock at
//! every batch end. Expiry is decided per connection against that clock, so it
//! does not depend on which worker holds the connection.
//!
//! The table cap is global and counted in bytes: the connection cap times
//! the upper estimate of a connection ([`FlowConfig::conn_memory`]), each
//! open connection weighing that estimate plus what its TCP streams hold.
//! At the end of batch `k` every worker posts its table's memory on an
//! [`EvictionBoard`]; at batch `k + LAG` each reads the total of batch `k`
//! (usually long since complete, so no waiting). If it was over the cap, all
//! workers post the memory of their connections idle for at least each of a
//! ladder of thresholds, wait for each other (a barrier only on such
//! batches), and evict the connections idle for at least the largest
//! threshold that brings the total back to 95% of the cap. Every input of
//! that decision is the same whatever the number of workers (a stream's
//! memory depends on its connection alone, unless the per-worker stream
//! budget runs out).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

use netcap_decode::RecordSink;
use netcap_flow::{
    DecodedApp, FlowConfig, FlowPacket, FlowSink, FlowTable, LayerObs, StreamSettings,
};
use netcap_schema::{Record, Type};

use crate::batch::{Batch, PacketSlot, SegData, WorkerOutput};
use crate::live::WorkerGauges;

/// Batches between posting a table size and acting on it: as deep as the
/// worker queues, so that a worker rarely waits for a slower one.
const LAG: u64 = 32;

/// The connections still open at the end are written in chunks by the packet
/// number of their first packet, this many packet numbers per chunk, so at
/// most this many Connection (and Flow) records across all workers per chunk.
/// Every worker knows the last packet number, so all make the same chunks.
const FINAL_CHUNK_PACKETS: u64 = 4096;
/// How many outputs past the last one written a worker may send while writing
/// its final chunks: a worker that is done early must not pile up its chunks
/// in the writer while it waits for a slower worker's.
const FINAL_AHEAD: u64 = 32;

impl FlowSink for WorkerOutput {
    fn emit_keyed<R: Record>(&mut self, key: u64, rec: &R) {
        // The key orders the records of one type within the batch (merge.rs).
        self.set_packet(key);
        self.emit(rec);
    }

    fn emit_stream(&mut self, key: u64, sub: u64, rec: &netcap_stream::StreamRecord) {
        self.set_key(key, sub);
        self.emit_stream_record(rec);
    }

    fn connection(&mut self, key: u64, rec: &netcap_schema::Connection) {
        if self.wants(Type::NcService) || self.wants(Type::NcFtpData) || self.wants(Type::NcFile) {
            netcap_derive::observe_connection(rec, &mut self.sightings);
        }
        self.emit_keyed(key, rec);
    }
}

#[derive(Debug, Default)]
struct Slot {
    posted: usize,
    read: usize,
    values: Vec<u64>,
}

#[derive(Debug, Default)]
struct BoardState {
    sizes: BTreeMap<u64, Slot>,
    idle: BTreeMap<u64, Slot>,
    closed: bool,
}

/// Numbers the workers post for each other (see the module documentation).
#[derive(Debug)]
pub(crate) struct EvictionBoard {
    workers: usize,
    state: Mutex<BoardState>,
    changed: Condvar,
}

impl EvictionBoard {
    pub fn new(workers: usize) -> Arc<Self> {
        Arc::new(EvictionBoard {
            workers,
            state: Mutex::new(BoardState::default()),
            changed: Condvar::new(),
        })
    }

    fn post(&self, idle: bool, seq: u64, values: &[u64]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let map = if idle { &mut st.idle } else { &mut st.sizes };
        let slot = map.entry(seq).or_default();
        slot.posted += 1;
        if slot.values.len() < values.len() {
            slot.values.resize(values.len(), 0);
        }
        for (s, v) in slot.values.iter_mut().zip(values) {
            *s += v;
        }
        self.changed.notify_all();
    }

    /// The sums of `seq` once every worker posted (`None` when shutting down).
    fn sum(&self, idle: bool, seq: u64) -> Option<Vec<u64>> {
        let mut st = self.state.lock().ok()?;
        loop {
            if st.closed {
                return None;
            }
            let workers = self.workers;
            let map = if idle { &mut st.idle } else { &mut st.sizes };
            if let Some(slot) = map.get_mut(&seq) {
                if slot.posted == workers {
                    slot.read += 1;
                    let values = slot.values.clone();
                    if slot.read == workers {
                        map.remove(&seq);
                    }
                    return Some(values);
                }
            }
            st = self.changed.wait(st).ok()?;
        }
    }

    /// Wakes waiting workers for good: a worker stopped early.
    pub fn close(&self) {
        if let Ok(mut st) = self.state.lock() {
            st.closed = true;
        }
        self.changed.notify_all();
    }
}

/// One worker's flows.
pub(crate) struct WorkerFlows {
    table: FlowTable,
    /// Memory cap of all workers' tables together, bytes (0: none).
    cap: u64,
    board: Arc<EvictionBoard>,
    thresholds: Vec<i64>,
    last_seq: Option<u64>,
    last_number: u64,
    /// Batch at whose end the workers last evicted (the same on every worker).
    evicted_at: Option<u64>,
    /// Set once the worker processed every batch.
    done: bool,
    /// Track connections (Connection, Flow records).
    conns: bool,
    /// Layer flow observations of the current batch (None: not wanted).
    layer: Option<Vec<LayerObs>>,
    /// The current packet as the flow table saw it.
    outer: Option<FlowPacket>,
}

impl WorkerFlows {
    /// `conns`: track connections; `layer`: collect layer flow observations;
    /// `streams`: reassemble TCP streams (needs `conns`).
    pub fn new(
        cfg: FlowConfig,
        board: Arc<EvictionBoard>,
        conns: bool,
        layer: bool,
        streams: Option<StreamSettings>,
    ) -> Self {
        // Idle thresholds from the idle timeout down by steps of 1/12 to 1 µs,
        // then 0 (about 215 steps for 120 s). The steps bound how many more
        // than needed one eviction takes (halving steps took up to half the
        // table at once under a flood, all encoded into one batch output).
        let mut thresholds = Vec::new();
        let mut t = cfg.idle_timeout_ns.max(1);
        while t >= 1_000 && thresholds.len() < 400 {
            thresholds.push(t);
            t -= (t / 12).max(1);
        }
        thresholds.push(0);
        let table = match streams.filter(|_| conns) {
            Some(s) => FlowTable::with_streams(cfg, s),
            None => FlowTable::new(cfg),
        };
        WorkerFlows {
            table,
            cap: cfg
                .max_flows
                .saturating_mul(FlowConfig::conn_memory(cfg.first_packets)),
            board,
            thresholds,
            last_seq: None,
            last_number: 0,
            evicted_at: None,
            done: false,
            conns,
            layer: layer.then(Vec::new),
            outer: None,
        }
    }

    /// Adds a packet of this worker's shard.
    /// `app`: the application protocol the decoders found in the packet.
    pub fn packet(&mut self, p: &PacketSlot, data: &[u8], app: Option<DecodedApp>) {
        self.outer = None;
        if let Some(mut fp) = FlowPacket::extract(p.number, p.ts_ns, p.link_type, p.orig_len, data)
        {
            fp.app = app;
            if let (Some((sport, dport)), Some(ip)) = (p.frag_ports, fp.ip.as_mut()) {
                // A later fragment counts in its datagram's connection.
                if !ip.has_ports {
                    (ip.sport, ip.dport, ip.has_ports) = (sport, dport, true);
                }
            }
            if self.conns {
                self.table.packet(&fp);
            }
            if let Some(l) = self.layer.as_mut() {
                l.push(LayerObs::of(&fp));
            }
            self.outer = Some(fp);
        }
    }

    /// Gives the TCP segments the decoder saw in packet `p` to the streams
    /// of their connections and emits the stream records they completed.
    pub fn segments(&mut self, p: &PacketSlot, batch: &Batch, out: &mut WorkerOutput) {
        let data = batch.data.get(p.start..p.end).unwrap_or_default();
        if out.segments.is_empty() || !self.conns {
            return;
        }
        let segments = std::mem::take(&mut out.segments);
        for s in &segments {
            let payload = match s.data {
                SegData::Packet(a, b) => data.get(a..b),
                SegData::Reassembled(a, b) => batch.reassembled.get(a..b),
                SegData::Copied(a, b) => out.seg_data.get(a..b),
            }
            .unwrap_or_default();
            let seg = netcap_decode::TransportSegment { payload, ..s.seg };
            self.table
                .segment(&seg, p.number, p.ts_ns, p.orig_len, self.outer.as_ref());
        }
        out.segments = segments;
        // Emitted after the packet's own records, with its number as key.
        for (_, rec) in self.table.drain_stream_records() {
            out.emit_stream_record(&rec);
        }
    }

    /// Stream totals of this worker's ended connections.
    pub fn stream_totals(&self) -> Option<netcap_stream::StreamTotals> {
        self.table.stream_totals().cloned()
    }

    /// Ends a batch: expiry against the clock of the whole batch, eviction,
    /// records of the connections that ended.
    pub fn end_batch(&mut self, batch: &Batch, out: &mut WorkerOutput) {
        let max_ts = batch
            .packets
            .iter()
            .map(|p| p.ts_ns)
            .max()
            .unwrap_or(i64::MIN);
        self.last_number = batch.packets.last().map_or(self.last_number, |p| p.number);
        self.last_seq = Some(batch.seq);
        // The writer runs the layer flows over all workers' observations.
        if let Some(l) = self.layer.as_mut() {
            out.layer = std::mem::replace(l, Vec::with_capacity(batch.packets.len()));
            out.batch_end = Some((max_ts, self.last_number));
        }
        self.table.end_batch(max_ts, self.last_number, out);
        if self.cap == 0 {
            return;
        }
        let seq = batch.seq;
        self.board.post(false, seq, &[self.table.memory()]);
        let Some(before) = seq.checked_sub(LAG) else {
            return;
        };
        let total = self
            .board
            .sum(false, before)
            .and_then(|v| v.first().copied())
            .unwrap_or(0);
        // Totals posted up to the last eviction predate it: acting on them
        // again would scan the table every batch for nothing.
        if total <= self.cap || self.evicted_at.is_some_and(|e| before <= e) {
            return;
        }
        self.evicted_at = Some(seq);
        let mine = self.table.idle_histogram(&self.thresholds);
        self.board.post(true, seq, &mine);
        let Some(idle) = self.board.sum(true, seq) else {
            return;
        };
        let open = idle.last().copied().unwrap_or(0);
        // 95%: each eviction's records are encoded into one batch output, so
        // evicting much at once costs memory; evicting little means evicting
        // often, each time a barrier between workers.
        let target = self.cap / 20 * 19;
        // Largest threshold whose eviction brings the total to the target.
        let pick = self
            .thresholds
            .iter()
            .zip(&idle)
            .find(|(_, &n)| open.saturating_sub(n) <= target)
            .map(|(t, _)| *t);
        if let Some(t) = pick {
            self.table.evict_idle(t);
        }
    }

    /// After the last batch: ends every open connection. Their records are
    /// then written by [`WorkerFlows::finish_chunk`] for each of
    /// [`WorkerFlows::final_chunks`], as the batches after the last.
    pub fn finish_begin(&mut self) {
        self.done = true;
        self.table.finish_begin();
    }

    /// Number of final outputs: the same on every worker.
    pub fn final_chunks(&self) -> u64 {
        self.last_number / FINAL_CHUNK_PACKETS + 1
    }

    /// Writes final chunk `k` (`0..final_chunks()`), whose sequence number is
    /// `final_seq() + k`: the records keyed below the chunk's end.
    pub fn finish_chunk(&mut self, k: u64, out: &mut WorkerOutput) {
        let upto = if k + 1 >= self.final_chunks() {
            u64::MAX
        } else {
            (k + 1) * FINAL_CHUNK_PACKETS
        };
        self.table.finish_upto(upto, self.last_number, out);
    }

    /// Sequence number of the first output of [`WorkerFlows::finish_chunk`].
    pub fn final_seq(&self) -> u64 {
        self.last_seq.map_or(0, |s| s + 1)
    }

    /// Connections written early because the table was full.
    pub fn evicted(&self) -> u64 {
        self.table.counts().evicted
    }

    /// The table's state for the live statistics.
    pub fn gauges(&self) -> WorkerGauges {
        let stream_memory = self.table.stream_memory();
        WorkerGauges {
            connections: self.table.len() as u64,
            streams: self.table.open_streams(),
            conn_memory: self.table.memory().saturating_sub(stream_memory),
            stream_memory,
            evicted: self.table.counts().evicted,
        }
    }
}

/// How far the writer got: workers writing their final chunks wait on it
/// (see [`FINAL_AHEAD`]).
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    /// Next sequence number the writer merges; `u64::MAX` once it stopped.
    next: Mutex<u64>,
    changed: Condvar,
}

impl WriteGate {
    /// The writer merged every output before `next`.
    pub fn advance(&self, next: u64) {
        if let Ok(mut n) = self.next.lock() {
            *n = (*n).max(next);
        }
        self.changed.notify_all();
    }

    /// The writer stopped: nobody waits any longer.
    pub fn close(&self) {
        self.advance(u64::MAX);
    }

    /// Waits until an output of sequence number `seq` may be sent. The worker
    /// furthest behind never waits (its next output is at most the writer's
    /// next), so this cannot deadlock.
    pub fn wait(&self, seq: u64) {
        let Ok(mut n) = self.next.lock() else {
            return;
        };
        while n.saturating_add(FINAL_AHEAD) < seq {
            match self.changed.wait(n) {
                Ok(g) => n = g,
                Err(_) => return,
            }
        }
    }
}

/// Opens a [`WriteGate`] for good when a worker panics: the writer then waits
/// for outputs that never come, and workers waiting on the gate must not keep
/// it (and so the capture) from ending.
pub(crate) struct OpenGateOnPanic<'a>(pub &'a WriteGate);

impl Drop for OpenGateOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

impl Drop for WorkerFlows {
    fn drop(&mut self) {
        // A worker that stops early must not leave the others waiting; one
        // that saw every batch posted everything the others need.
        if !self.done {
            self.board.close();
        }
    }
}
