//! Counters published while a capture runs, for monitoring (`--metrics`).
//!
//! Each counter has one writer: the reader thread, a worker, or the writer
//! thread, which stores it once per batch (Relaxed atomics; no lock is taken
//! per packet). A monitor calls [`LiveStats::snapshot`] at any time. Every
//! value is published from the same numbers the end-of-run [`Summary`] is made
//! of, and published once more when its thread ends, so a snapshot taken
//! after [`run_capture`] returned equals the summary.
//!
//! [`Summary`]: crate::Summary
//! [`run_capture`]: crate::run_capture

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use netcap_decode::defrag::DefragStats;
use netcap_schema::ALL_TYPES;

use crate::batch::Tally;

/// What one worker publishes. Aligned to two cache lines so that workers
/// never write to the same line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct WorkerLive {
    /// Decoding outcomes so far (locked once per batch by its worker only;
    /// a monitor's snapshot is the only other user).
    tally: Mutex<Tally>,
    /// Open connections.
    connections: AtomicU64,
    /// Connections holding TCP stream state.
    streams: AtomicU64,
    /// Memory estimate of the open connections, bytes.
    conn_memory: AtomicU64,
    /// Heap bytes held by their TCP streams.
    stream_memory: AtomicU64,
    /// Connections written early because the table was full.
    evicted: AtomicU64,
}

/// A worker's table, as published after each batch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WorkerGauges {
    pub connections: u64,
    pub streams: u64,
    pub conn_memory: u64,
    pub stream_memory: u64,
    pub evicted: u64,
}

impl WorkerLive {
    /// Adds a batch's decoding outcomes.
    pub fn add_tally(&self, t: &Tally) {
        lock(&self.tally).merge(t);
    }

    /// Stores the state of the worker's flow table.
    pub fn set_gauges(&self, g: WorkerGauges) {
        self.connections.store(g.connections, Relaxed);
        self.streams.store(g.streams, Relaxed);
        self.conn_memory.store(g.conn_memory, Relaxed);
        self.stream_memory.store(g.stream_memory, Relaxed);
        self.evicted.store(g.evicted, Relaxed);
    }
}

/// A poisoned lock still holds valid counts (they are only ever added to).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counters of a running capture; see the module documentation.
#[derive(Debug)]
pub struct LiveStats {
    running: AtomicBool,
    // Reader thread.
    packets: AtomicU64,
    bytes: AtomicU64,
    filtered: AtomicU64,
    /// `u64::MAX`: not known (files, or libpcap could not tell).
    dropped: AtomicU64,
    frag: [AtomicU64; 8],
    frag_buffered: AtomicU64,
    frag_pending: AtomicU64,
    // Workers.
    workers: Mutex<Vec<Arc<WorkerLive>>>,
    // Writer thread.
    records: Box<[AtomicU64]>,
    layer_flows: [AtomicU64; 3],
    layer_evicted: AtomicU64,
    files: Mutex<Vec<PathBuf>>,
}

impl Default for LiveStats {
    fn default() -> Self {
        let slots = ALL_TYPES.iter().map(|&t| t as usize + 1).max().unwrap_or(0);
        LiveStats {
            running: AtomicBool::new(false),
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            dropped: AtomicU64::new(u64::MAX),
            frag: Default::default(),
            frag_buffered: AtomicU64::new(0),
            frag_pending: AtomicU64::new(0),
            workers: Mutex::new(Vec::new()),
            records: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            layer_flows: Default::default(),
            layer_evicted: AtomicU64::new(0),
            files: Mutex::new(Vec::new()),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Whether the capture is still reading or writing.
    pub running: bool,
    /// Packets read (after the BPF filter), as [`Summary::packets`](crate::Summary::packets).
    pub packets: u64,
    /// Captured bytes of those packets (link layer included).
    pub bytes: u64,
    /// Packets the BPF filter dropped (files).
    pub filtered: u64,
    /// Packets the kernel or libpcap dropped (live capture), if known.
    pub dropped: Option<u64>,
    /// Packets whose every layer was decoded.
    pub decoded: u64,
    /// Packets decoded up to a layer Netcap does not decode, by that layer.
    pub partial: BTreeMap<String, u64>,
    /// Packets of which nothing could be decoded, by layer.
    pub unknown: BTreeMap<String, u64>,
    /// Packets whose decoding failed, by error.
    pub errors: BTreeMap<String, u64>,
    /// Records written per record type (types with records only).
    pub records: BTreeMap<&'static str, u64>,
    /// Open connections.
    pub connections: u64,
    /// Connections holding TCP stream state.
    pub streams: u64,
    /// Memory estimate of the open connections, bytes (as `--flow-memory`
    /// counts it, without their streams).
    pub conn_memory: u64,
    /// Heap bytes held by TCP streams (queues, recent bytes, parser buffers).
    pub stream_memory: u64,
    /// Bytes held by incomplete IP datagrams (as `--frag-memory` counts them).
    pub frag_memory: u64,
    /// Incomplete IP datagrams.
    pub frag_pending: u64,
    /// Open link, network and transport flows.
    pub layer_flows: [u64; 3],
    /// Connections written early because the table was full.
    pub flows_evicted: u64,
    /// Link/network/transport flows written early because their table was full.
    pub layer_flows_evicted: u64,
    /// IP reassembly counters.
    pub fragments: DefragStats,
    /// Files written so far.
    pub files: Vec<PathBuf>,
}

impl LiveStats {
    /// Reads every counter. Each is consistent on its own; counters of
    /// different threads may be a batch apart while the capture runs.
    pub fn snapshot(&self) -> LiveSnapshot {
        let mut s = LiveSnapshot {
            running: self.running.load(Relaxed),
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            filtered: self.filtered.load(Relaxed),
            dropped: Some(self.dropped.load(Relaxed)).filter(|&d| d != u64::MAX),
            frag_memory: self.frag_buffered.load(Relaxed),
            frag_pending: self.frag_pending.load(Relaxed),
            layer_flows: self.layer_flows.each_ref().map(|a| a.load(Relaxed)),
            layer_flows_evicted: self.layer_evicted.load(Relaxed),
            files: lock(&self.files).clone(),
            ..LiveSnapshot::default()
        };
        let [fragments, reassembled, timeout, overlap, cap, too_big, malformed, incomplete] =
            self.frag.each_ref().map(|a| a.load(Relaxed));
        s.fragments = DefragStats {
            fragments,
            reassembled,
            timeout,
            overlap,
            cap,
            too_big,
            malformed,
            incomplete,
        };
        for &t in ALL_TYPES {
            let n = self.records.get(t as usize).map_or(0, |a| a.load(Relaxed));
            if n > 0 {
                s.records.insert(t.record_name(), n);
            }
        }
        let workers = lock(&self.workers).clone();
        let mut tally = Tally::default();
        for w in &workers {
            tally.merge(&lock(&w.tally));
            s.connections += w.connections.load(Relaxed);
            s.streams += w.streams.load(Relaxed);
            s.conn_memory += w.conn_memory.load(Relaxed);
            s.stream_memory += w.stream_memory.load(Relaxed);
            s.flows_evicted += w.evicted.load(Relaxed);
        }
        s.decoded = tally.decoded;
        s.partial = tally.partial;
        s.unknown = tally.unknown;
        s.errors = tally.errors;
        s
    }

    /// Starts a capture with `workers` workers: returns their slots. The
    /// counters of an earlier capture with the same [`Progress`] are reset.
    ///
    /// [`Progress`]: crate::Progress
    pub(crate) fn begin(&self, workers: usize) -> Vec<Arc<WorkerLive>> {
        let slots: Vec<Arc<WorkerLive>> = (0..workers).map(|_| Arc::default()).collect();
        *lock(&self.workers) = slots.clone();
        lock(&self.files).clear();
        for a in self.records.iter().chain(&self.layer_flows) {
            a.store(0, Relaxed);
        }
        self.layer_evicted.store(0, Relaxed);
        self.set_read(0, 0, 0);
        self.set_fragments(&DefragStats::default(), 0, 0);
        self.dropped.store(u64::MAX, Relaxed);
        self.running.store(true, Relaxed);
        slots
    }

    /// The capture ended (also on an error).
    pub(crate) fn end(&self) {
        self.running.store(false, Relaxed);
    }

    /// Reader: packets and bytes read, packets filtered out.
    pub(crate) fn set_read(&self, packets: u64, bytes: u64, filtered: u64) {
        self.packets.store(packets, Relaxed);
        self.bytes.store(bytes, Relaxed);
        self.filtered.store(filtered, Relaxed);
    }

    /// Reader: packets the kernel or libpcap dropped.
    pub(crate) fn set_dropped(&self, dropped: Option<u64>) {
        if let Some(d) = dropped {
            self.dropped.store(d.min(u64::MAX - 1), Relaxed);
        }
    }

    /// Reader: IP reassembly counters and what incomplete datagrams hold.
    pub(crate) fn set_fragments(&self, f: &DefragStats, buffered: usize, pending: usize) {
        let values = [
            f.fragments,
            f.reassembled,
            f.timeout,
            f.overlap,
            f.cap,
            f.too_big,
            f.malformed,
            f.incomplete,
        ];
        for (a, v) in self.frag.iter().zip(values) {
            a.store(v, Relaxed);
        }
        self.frag_buffered.store(buffered as u64, Relaxed);
        self.frag_pending.store(pending as u64, Relaxed);
    }

    /// Writer: `count` more records of type number `ty` written.
    pub(crate) fn add_records(&self, ty: usize, count: u64) {
        if let Some(a) = self.records.get(ty) {
            a.fetch_add(count, Relaxed);
        }
    }

    /// Writer: a file was created.
    pub(crate) fn add_file(&self, path: PathBuf) {
        lock(&self.files).push(path);
    }

    /// Writer: open layer flows and evictions so far.
    pub(crate) fn set_layer_flows(&self, open: [usize; 3], evicted: u64) {
        for (a, n) in self.layer_flows.iter().zip(open) {
            a.store(n as u64, Relaxed);
        }
        self.layer_evicted.store(evicted, Relaxed);
    }
}
