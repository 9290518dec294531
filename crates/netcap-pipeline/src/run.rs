//! Running a capture from a file through the pipeline.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};
use netcap_decode::defrag::{DefragConfig, DefragStats, Defragmenter, Verdict};
use netcap_decode::flowkey::outer_ip;
use netcap_decode::{DecodeOptions, FlowKey, Outcome, PacketDecoder, PacketInfo};
use netcap_flow::{LayerFlowTable, LayerSelect};
use netcap_format::{header_for, OutputFormat, RecordWriter, WriterOptions};
use netcap_schema::Type;
use netcap_source::{BpfFilter, CaptureReader, LiveCapture, LiveOptions, Poll, SourceError};

use crate::batch::{Batch, FragSlot, PacketSlot, SidePacket, Tally, WorkerOutput};
use crate::flows::{EvictionBoard, OpenGateOnPanic, WorkerFlows, WriteGate};
use crate::live::{LiveStats, WorkerLive};
use crate::merge::merge_batch;
use crate::side::SideOutputs;
use crate::stages::{Derived, LayerFlows, WriterStages};

/// Packets per batch: large enough to amortise channel hand-offs, small enough
/// to keep latency and memory low.
const BATCH_PACKETS: usize = 1024;
/// Batches in flight per worker. Deep enough to absorb the imbalance between
/// flow shards (every worker sees every batch, and the writer merges batch k
/// only once all workers are done with it); measured on the benchmark
/// workload, 4 left the workers idle 60% of the time, 32 about 5%.
const QUEUE_DEPTH: usize = 32;

/// Where packets come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A pcap or pcapng file.
    File(PathBuf),
    /// A network interface, until [`Progress::stop`] is set.
    Live(LiveOptions),
}

impl Input {
    /// The input's name as written into file headers.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Live(o) => o.interface.clone(),
        }
    }
}

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// The packet source.
    pub input: Input,
    /// BPF filter (tcpdump syntax) applied to packets read from files; for live
    /// capture, set it in [`LiveOptions`] to filter in the kernel.
    pub bpf: Option<String>,
    /// Folder receiving one file per record type.
    pub out_dir: PathBuf,
    /// Decoding threads (at least 1).
    pub workers: usize,
    /// Decoder options.
    pub decode: DecodeOptions,
    /// Output file options.
    pub writer: WriterOptions,
    /// Output format (protobuf record files, CSV or JSON lines).
    pub format: OutputFormat,
    /// Creation time written into every header, nanoseconds since the epoch.
    pub created_ns: i64,
    /// Record types to write; empty: all.
    pub include: Vec<Type>,
    /// Write unknown.pcap, errors.pcap and errors.log.
    pub side_outputs: bool,
    /// Connection tracking (None: off).
    pub flows: Option<netcap_flow::FlowConfig>,
    /// IP reassembly (None: off, every fragment is decoded on its own).
    pub defrag: Option<DefragConfig>,
    /// TCP stream reassembly and the stream parsers (None: off). Needs
    /// connection tracking (`flows`).
    pub streams: Option<StreamOptions>,
    /// Extraction of the File records' contents (None: off; needs `streams`).
    pub files: Option<crate::files::FilesOptions>,
}

/// TCP stream settings of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Reassembly and parser limits.
    pub cfg: netcap_stream::StreamConfig,
    /// Memory budget of all workers' out-of-order queues together, bytes
    /// (0: no limit); each worker gets an equal share.
    pub memory: u64,
}

/// Counters the caller can watch while the capture runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Packets read so far.
    pub packets: AtomicU64,
    /// Bytes of the input file read so far.
    pub bytes: AtomicU64,
    /// Size of the input file (0 until known).
    pub total_bytes: AtomicU64,
    /// Set to stop reading early (Ctrl-C); everything read so far is written.
    pub stop: Arc<AtomicBool>,
    /// Everything else the summary counts, published while the capture runs.
    pub live: LiveStats,
}

/// The result of a capture.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Packets read (after the BPF filter).
    pub packets: u64,
    /// Captured bytes of the packets read (link layer included).
    pub bytes: u64,
    /// Packets the BPF filter dropped (files).
    pub filtered: u64,
    /// Packets the kernel or libpcap dropped (live capture), if known.
    pub dropped: Option<u64>,
    /// Whether reading stopped early because `stop` was set.
    pub interrupted: bool,
    /// Packets whose every layer was decoded.
    pub decoded: u64,
    /// Packets decoded up to a layer Netcap does not decode, by that layer.
    pub partial: BTreeMap<String, u64>,
    /// Packets of which nothing could be decoded, by layer.
    pub unknown: BTreeMap<String, u64>,
    /// Packets whose decoding failed, by error.
    pub errors: BTreeMap<String, u64>,
    /// Records written per record type.
    pub records: BTreeMap<String, u64>,
    /// Connections written early because the flow table was full.
    pub flows_evicted: u64,
    /// LinkFlow, NetworkFlow and TransportFlow records written early because
    /// their table was full.
    pub layer_flows_evicted: u64,
    /// Software and Service entries the derived tables could not hold.
    pub derived_dropped: netcap_derive::Dropped,
    /// IP reassembly counters (all zero when no fragment was seen or it is off).
    pub fragments: DefragStats,
    /// TCP stream counters (None: streams off).
    pub streams: Option<netcap_stream::StreamTotals>,
    /// File extraction counters (None: off).
    pub extracted: Option<crate::files::FilesStats>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Why the input ended early, if it did (the packets before were processed).
    pub input_warning: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Why a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input could not be opened.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The output folder could not be created.
    #[error("cannot create output folder {path}: {source}")]
    OutDir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing an output file failed; files already written were closed.
    #[error("writing {path} failed: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A pipeline thread died.
    #[error("internal error: a pipeline thread panicked")]
    Thread,
    /// A [`OutputSink`] other than files failed (e.g. the transport to collectors).
    #[error("output failed: {0}")]
    // Not a `#[source]`: the message already holds it (a chain would say it twice).
    Sink(Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `cfg.input`, decodes every packet on `cfg.workers` threads and writes
/// one file per record type into `cfg.out_dir`.
pub fn run_capture(cfg: &CaptureConfig, progress: &Progress) -> Result<Summary, PipelineError> {
    run_capture_to(cfg, progress, &mut FileSink::new(cfg))
}

/// Like [`run_capture`], but hands the records to `sink` instead of writing
/// record files (side outputs, when on, are still written into `cfg.out_dir`).
pub fn run_capture_to(
    cfg: &CaptureConfig,
    progress: &Progress,
    sink: &mut dyn OutputSink,
) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let workers = cfg.workers.max(1);
    let mut source = match &cfg.input {
        Input::File(path) => {
            let reader = CaptureReader::open(path)?;
            progress
                .total_bytes
                .store(reader.file_size(), Ordering::Relaxed);
            let filter = cfg.bpf.as_deref().map(BpfFilter::new).transpose()?;
            Source::File { reader, filter }
        }
        Input::Live(opts) => Source::Live(LiveCapture::open(opts, Arc::clone(&progress.stop))?),
    };
    std::fs::create_dir_all(&cfg.out_dir).map_err(|source| PipelineError::OutDir {
        path: cfg.out_dir.clone(),
        source,
    })?;
    let file_store = match cfg.files.as_ref().filter(|_| cfg.streams.is_some()) {
        Some(f) => Some(Arc::new(crate::files::FileStore::new(f).map_err(
            |source| PipelineError::OutDir {
                path: f.dir.clone(),
                source,
            },
        )?)),
        None => None,
    };
    // Running from here (the interface is open) until any return.
    let live_slots = progress.live.begin(workers);
    struct Ended<'a>(&'a LiveStats);
    impl Drop for Ended<'_> {
        fn drop(&mut self) {
            self.0.end();
        }
    }
    let _ended = Ended(&progress.live);

    let mut to_workers = Vec::with_capacity(workers);
    let mut worker_rx = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = bounded::<Arc<Batch>>(QUEUE_DEPTH);
        to_workers.push(tx);
        worker_rx.push(rx);
    }
    let (out_tx, out_rx) = bounded::<WorkerOutput>(QUEUE_DEPTH * workers);
    // Batches come back from the workers for reuse: fresh buffers for every
    // batch cost page faults and reallocation copies on the reader thread.
    let (recycle_tx, recycle_rx) = bounded::<Batch>(8);
    // Likewise the workers' output buffers come back from the writer.
    let (spare_tx, spare_rx) = bounded::<WorkerOutput>(QUEUE_DEPTH * workers);
    let gate = WriteGate::default();

    std::thread::scope(|scope| {
        // Named threads: profilers and `top -H` show where the time goes.
        let reader_handle = std::thread::Builder::new()
            .name("reader".into())
            .spawn_scoped(scope, || {
                read_batches(
                    &mut source,
                    to_workers,
                    &recycle_rx,
                    workers,
                    progress,
                    cfg.defrag,
                )
            })
            .map_err(|_| PipelineError::Thread)?;
        let mut enabled = Vec::new();
        for t in &cfg.include {
            let idx = *t as usize;
            if enabled.len() <= idx {
                enabled.resize(idx + 1, false);
            }
            if let Some(e) = enabled.get_mut(idx) {
                *e = true;
            }
        }
        // Track flows when any record type made from them is wanted.
        let wanted =
            |t: Type| enabled.is_empty() || enabled.get(t as usize).copied().unwrap_or(false);
        let conns = wanted(Type::NcConnection) || wanted(Type::NcFlow) || wanted(Type::NcService);
        let select = LayerSelect {
            link: wanted(Type::NcLinkFlow),
            network: wanted(Type::NcNetworkFlow),
            transport: wanted(Type::NcTransportFlow),
        };
        let streams_on = cfg.streams.is_some() && cfg.flows.is_some();
        let conns = conns || streams_on;
        let flows = cfg.flows.filter(|_| conns || select.any());
        let stream_settings =
            cfg.streams
                .filter(|_| streams_on)
                .map(|s| netcap_flow::StreamSettings {
                    cfg: netcap_stream::StreamConfig {
                        files_max: cfg.files.as_ref().map_or(0, |f| f.max_file.max(1)),
                        ..s.cfg
                    },
                    memory: usize::try_from(s.memory / workers as u64).unwrap_or(usize::MAX),
                });
        // Service needs the connections, Software the streams, FTPData both,
        // and File too: an FTP data connection's File is named there.
        let derive = wanted(Type::NcService)
            || (streams_on
                && (wanted(Type::NcSoftware) || wanted(Type::NcFtpData) || wanted(Type::NcFile)));
        let enabled = Arc::new(enabled);
        // Layer flows span shards: one table on the writer thread, fed in packet order.
        let stages = WriterStages {
            layer: flows.filter(|_| select.any()).map(|f| LayerFlows {
                table: LayerFlowTable::new(f, select),
                enabled: Arc::clone(&enabled),
                obs: Vec::new(),
                last_number: 0,
            }),
            derived: flows.filter(|_| derive).map(|_| Derived {
                deriver: netcap_derive::Deriver::new(netcap_derive::Limits::default()),
                enabled: Arc::clone(&enabled),
                sightings: Vec::new(),
            }),
        };
        let board = EvictionBoard::new(workers);
        let gate = &gate;
        let mut worker_handles = Vec::new();
        for ((id, rx), slot) in worker_rx.into_iter().enumerate().zip(live_slots) {
            let tx = out_tx.clone();
            let mut opts = cfg.decode;
            opts.tcp_streams = stream_settings.is_some();
            let enabled = Arc::clone(&enabled);
            let files = file_store.clone();
            let side = cfg.side_outputs;
            let flows = flows.map(|f| {
                WorkerFlows::new(f, Arc::clone(&board), conns, select.any(), stream_settings)
            });
            let recycle = Recycle {
                batches: recycle_tx.clone(),
                outputs: spare_rx.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("worker {id}"))
                .spawn_scoped(scope, move || {
                    work(
                        id as u32, &rx, &tx, &recycle, &opts, &enabled, &files, side, flows, gate,
                        &slot,
                    )
                });
            match spawned {
                Ok(handle) => worker_handles.push(handle),
                Err(_) => {
                    // The workers already running must not wait for this one.
                    board.close();
                    gate.close();
                    return Err(PipelineError::Thread);
                }
            }
        }
        drop(out_tx);
        drop(recycle_tx);
        drop(spare_rx);

        let written = write_outputs(
            cfg,
            sink,
            &out_rx,
            &spare_tx,
            workers,
            stages,
            gate,
            &progress.live,
        );
        gate.close();
        // On a write error, dropping the receiver stops the workers, which stops the reader.
        drop(out_rx);
        let mut tally = Tally::default();
        let mut thread_failed = false;
        let mut flows_evicted = 0;
        let mut stream_totals: Option<netcap_stream::StreamTotals> = None;
        for h in worker_handles {
            match h.join() {
                Ok((t, evicted, st)) => {
                    tally.merge(&t);
                    flows_evicted += evicted;
                    if let Some(st) = st {
                        stream_totals
                            .get_or_insert_with(Default::default)
                            .merge(&st);
                    }
                }
                Err(_) => thread_failed = true,
            }
        }
        let read_result = reader_handle.join();
        let Written {
            files,
            records,
            layer_evicted: layer_flows_evicted,
            derived_dropped,
        } = written?;
        let read = match read_result {
            Ok(r) => r,
            Err(_) => return Err(PipelineError::Thread),
        };
        if thread_failed {
            return Err(PipelineError::Thread);
        }
        Ok(Summary {
            packets: read.packets,
            bytes: read.bytes,
            filtered: read.filtered,
            dropped: read.dropped,
            interrupted: read.interrupted,
            decoded: tally.decoded,
            partial: tally.partial,
            unknown: tally.unknown,
            errors: tally.errors,
            records,
            flows_evicted,
            layer_flows_evicted,
            derived_dropped,
            fragments: read.fragments,
            streams: stream_totals,
            extracted: file_store.as_ref().map(|s| s.stats()),
            files,
            input_warning: read.warning,
            elapsed: started.elapsed(),
        })
    })
}

/// An opened packet source.
enum Source {
    File {
        reader: CaptureReader,
        filter: Option<BpfFilter>,
    },
    Live(LiveCapture),
}

/// What the reader thread saw.
#[derive(Debug, Default)]
struct ReadStats {
    packets: u64,
    bytes: u64,
    filtered: u64,
    dropped: Option<u64>,
    interrupted: bool,
    warning: Option<String>,
    fragments: DefragStats,
}

/// A live batch is handed on after this long even when not full, so that
/// records of a quiet interface are written promptly.
const LIVE_FLUSH: Duration = Duration::from_millis(200);
/// How often the reader asks libpcap for its drop counters.
const DROPPED_INTERVAL: Duration = Duration::from_secs(1);

/// Reader thread: fills batches, assigns each packet to the worker of its flow.
fn read_batches(
    source: &mut Source,
    to_workers: Vec<Sender<Arc<Batch>>>,
    recycled: &Receiver<Batch>,
    workers: usize,
    progress: &Progress,
    defrag: Option<DefragConfig>,
) -> ReadStats {
    // Seeded per run (flow keys are attacker-controlled), and 3x faster than SipHash.
    let hasher = foldhash::fast::RandomState::default();
    // Reassembly runs here, where every packet passes in order on one thread,
    // so what is reassembled or dropped does not depend on the worker count.
    let mut defrag = defrag.map(Defragmenter::new);
    let bytes = match source {
        Source::File { reader, .. } => Some(reader.progress_counter()),
        Source::Live(_) => None,
    };
    let mut stats = ReadStats::default();
    let mut seq = 0u64;
    let mut done = false;
    // libpcap's drop counters cost a system call: read them at most this often.
    let mut dropped_read: Option<Instant> = None;
    // Legacy pcap without a filter is read straight into the batches
    // (the packets are ranges of what was read); other inputs append each
    // packet, and a filter drops the packets it rejects from the batch.
    let in_place = matches!(source, Source::File { reader, filter: None } if reader.in_place());
    while !done {
        let mut batch = match recycled.try_recv() {
            Ok(mut b) => {
                b.seq = seq;
                if !in_place {
                    b.data.clear();
                }
                b.packets.clear();
                b.reassembled.clear();
                b
            }
            Err(_) => Batch {
                seq,
                data: Vec::with_capacity(512 * 1024),
                packets: Vec::with_capacity(BATCH_PACKETS),
                reassembled: Vec::new(),
            },
        };
        if let (true, Source::File { reader, .. }) = (in_place, &mut *source) {
            reader.begin_batch(&mut batch.data, BATCH_PACKETS);
        }
        let batch_start = Instant::now();
        while batch.packets.len() < BATCH_PACKETS {
            let mut start = batch.data.len();
            let mut end = start;
            let polled = match source {
                Source::File { reader, .. } if in_place => {
                    match reader.next_in_place(&mut batch.data) {
                        Ok(Some((meta, range))) => {
                            (start, end) = (range.start, range.end);
                            Ok(Poll::Packet(meta))
                        }
                        Ok(None) => Ok(Poll::End),
                        Err(e) => Err(e),
                    }
                }
                Source::File { reader, filter } => match reader.next_packet(&mut batch.data) {
                    Ok(Some(meta)) => match filter {
                        Some(f) => {
                            let data = batch.data.get(start..).unwrap_or_default();
                            match f.matches(meta.link_type, data) {
                                Ok(true) => Ok(Poll::Packet(meta)),
                                Ok(false) => {
                                    batch.data.truncate(start);
                                    stats.filtered += 1;
                                    continue;
                                }
                                Err(e) => Err(e),
                            }
                        }
                        None => Ok(Poll::Packet(meta)),
                    },
                    Ok(None) => Ok(Poll::End),
                    Err(e) => Err(e),
                },
                Source::Live(live) => live.poll(&mut batch.data),
            };
            if !in_place {
                end = batch.data.len();
            }
            match polled {
                Ok(Poll::Packet(meta)) => {
                    stats.packets += 1;
                    stats.bytes += (end - start) as u64;
                    let data = batch.data.get(start..end).unwrap_or_default();
                    // One walk to the outermost IP header serves sharding and reassembly.
                    let ip = outer_ip(meta.link_type, data);
                    let key = FlowKey::with_outer_ip(meta.link_type, data, ip);
                    let shard = (hasher.hash_one(key) % workers as u64) as u32;
                    let (frag, frag_ports) = match (defrag.as_mut(), ip) {
                        (Some(d), Some(ip)) => {
                            defragment(d, meta.ts_ns, ip, &mut batch.reassembled)
                        }
                        _ => (FragSlot::None, None),
                    };
                    batch.packets.push(PacketSlot {
                        number: meta.number,
                        ts_ns: meta.ts_ns,
                        link_type: meta.link_type,
                        orig_len: meta.orig_len,
                        start,
                        end,
                        shard,
                        frag,
                        frag_ports,
                    });
                }
                Ok(Poll::Idle) => {
                    if !batch.packets.is_empty() && batch_start.elapsed() >= LIVE_FLUSH {
                        break;
                    }
                }
                Ok(Poll::End) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    batch.data.truncate(start);
                    stats.warning = Some(e.to_string());
                    done = true;
                    break;
                }
            }
        }
        if let (true, Source::File { reader, .. }) = (in_place, &mut *source) {
            reader.end_batch(&batch.data);
        }
        progress.packets.store(stats.packets, Ordering::Relaxed);
        progress
            .live
            .set_read(stats.packets, stats.bytes, stats.filtered);
        if let Some(d) = defrag.as_ref() {
            progress
                .live
                .set_fragments(&d.stats(), d.buffered_bytes(), d.pending());
        }
        if let Source::Live(live) = source {
            if dropped_read.is_none_or(|t| t.elapsed() >= DROPPED_INTERVAL) {
                dropped_read = Some(Instant::now());
                progress.live.set_dropped(live.dropped());
            }
        }
        if let Some(b) = &bytes {
            progress
                .bytes
                .store(b.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        if progress.stop.load(Ordering::Relaxed) {
            stats.interrupted = true;
            done = true;
        }
        if batch.packets.is_empty() {
            continue;
        }
        let batch = Arc::new(batch);
        for tx in &to_workers {
            if tx.send(Arc::clone(&batch)).is_err() {
                // The writer failed and everything is shutting down.
                return stats;
            }
        }
        seq += 1;
    }
    if let Source::Live(live) = source {
        stats.dropped = live.dropped();
        progress.live.set_dropped(stats.dropped);
    }
    if let Some(d) = defrag.as_mut() {
        stats.fragments = d.finish();
        progress
            .live
            .set_fragments(&stats.fragments, d.buffered_bytes(), d.pending());
    }
    stats
}

/// Buffers a worker hands back for reuse, and takes.
struct Recycle {
    /// Batches the worker was the last to read, back to the reader.
    batches: Sender<Batch>,
    /// Output buffers the writer is done with.
    outputs: Receiver<WorkerOutput>,
}

/// Hands the packet's outermost IP header to the defragmenter if it is a
/// fragment; a completed datagram's payload is appended to `reassembled`.
/// Also returns, for a fragment after the first, its datagram's ports when
/// the first fragment was seen (read before the fragment may complete it).
fn defragment(
    d: &mut Defragmenter,
    ts_ns: i64,
    ip: &[u8],
    reassembled: &mut Vec<u8>,
) -> (FragSlot, Option<(u16, u16)>) {
    let Some(frag) = netcap_decode::defrag::ip_fragment(ip) else {
        return (FragSlot::None, None);
    };
    let ports = if frag.offset > 0 {
        d.ports(&frag.key)
    } else {
        None
    };
    let start = reassembled.len();
    let slot = match d.push(ts_ns, &frag, reassembled) {
        Verdict::Whole => FragSlot::None,
        Verdict::Complete { protocol, len } => FragSlot::Reassembled {
            protocol,
            start,
            end: start + len,
        },
        Verdict::Buffered | Verdict::Dropped(_) => FragSlot::Taken,
    };
    (slot, ports)
}

/// Worker thread: decodes the packets of its shard and tracks their flows;
/// returns its tallies and the number of evicted connections.
#[allow(clippy::too_many_arguments)]
fn work(
    id: u32,
    rx: &Receiver<Arc<Batch>>,
    tx: &Sender<WorkerOutput>,
    recycle: &Recycle,
    opts: &DecodeOptions,
    enabled: &Arc<Vec<bool>>,
    files: &Option<Arc<crate::files::FileStore>>,
    side_outputs: bool,
    mut flows: Option<WorkerFlows>,
    gate: &WriteGate,
    live: &WorkerLive,
) -> (Tally, u64, Option<netcap_stream::StreamTotals>) {
    let _gate_guard = OpenGateOnPanic(gate);
    let mut tally = Tally::default();
    let mut stopped = false;
    let mut decoder = PacketDecoder::new();
    for batch in rx {
        let mut out = match recycle.outputs.try_recv() {
            Ok(mut o) => {
                o.reset(batch.seq);
                o
            }
            Err(_) => {
                let mut o = WorkerOutput::new(batch.seq, Arc::clone(enabled));
                o.files.clone_from(files);
                o
            }
        };
        out.collect_segments = flows.is_some();
        out.collect_payloads = opts.tcp_streams;
        for p in batch.packets.iter().filter(|p| p.shard == id) {
            let data = batch.data.get(p.start..p.end).unwrap_or_default();
            let info = PacketInfo {
                number: p.number,
                ts_ns: p.ts_ns,
                link_type: p.link_type,
                orig_len: p.orig_len,
                data,
            };
            let before = out.set_packet(p.number);
            out.set_spans(data, &batch.reassembled);
            let outcome = decoder.decode(&info, opts, p.frag.defragged(&batch), &mut out);
            if let Some(f) = flows.as_mut() {
                f.packet(p, data, out.app);
                f.segments(p, &batch, &mut out);
            }
            let emitted = out.emitted() > before;
            if let Some((class, _)) = out.tally.count(outcome, emitted) {
                if side_outputs {
                    let detail = match outcome {
                        Outcome::Error(e) => e.to_string(),
                        Outcome::Unknown(u) => u.to_string(),
                        Outcome::Decoded => String::new(),
                    };
                    out.side.push(SidePacket {
                        number: p.number,
                        ts_ns: p.ts_ns,
                        link_type: p.link_type,
                        orig_len: p.orig_len,
                        data: data.to_vec(),
                        class,
                        detail,
                    });
                }
            }
        }
        if let Some(f) = flows.as_mut() {
            f.end_batch(&batch, &mut out);
            live.set_gauges(f.gauges());
        }
        live.add_tally(&out.tally);
        tally.merge(&std::mem::take(&mut out.tally));
        // The last worker done with the batch hands it back to the reader.
        if let Some(b) = Arc::into_inner(batch) {
            let _ = recycle.batches.try_send(b);
        }
        if tx.send(out).is_err() {
            stopped = true;
            break;
        }
    }
    // Every worker sends the same number of final outputs, as the batches
    // after the last: the connections still open at the end of the input, in
    // chunks so that they are never all encoded at once.
    let evicted = flows.as_ref().map_or(0, WorkerFlows::evicted);
    if let (false, Some(f)) = (stopped, flows.as_mut()) {
        let first = f.final_seq();
        f.finish_begin();
        for k in 0..f.final_chunks() {
            let seq = first + k;
            let mut out = WorkerOutput::new(seq, Arc::clone(enabled));
            out.files.clone_from(files);
            f.finish_chunk(k, &mut out);
            gate.wait(seq);
            if tx.send(out).is_err() {
                break;
            }
        }
    }
    if let Some(f) = flows.as_ref() {
        live.set_gauges(f.gauges());
    }
    let streams = flows.as_ref().and_then(WorkerFlows::stream_totals);
    (tally, evicted, streams)
}

/// What the writer thread did.
struct Written {
    files: Vec<PathBuf>,
    records: BTreeMap<String, u64>,
    layer_evicted: u64,
    derived_dropped: netcap_derive::Dropped,
}

/// Writer (calling thread): reorders worker outputs by batch, merges them in
/// packet order and hands them to `sink` per record type; runs the stages
/// over them (layer flows, derived records) and writes their records.
#[allow(clippy::too_many_arguments)]
fn write_outputs(
    cfg: &CaptureConfig,
    sink: &mut dyn OutputSink,
    rx: &Receiver<WorkerOutput>,
    spare: &Sender<WorkerOutput>,
    workers: usize,
    mut stages: WriterStages,
    gate: &WriteGate,
    live: &LiveStats,
) -> Result<Written, PipelineError> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut side = SideOutputs::new(&cfg.out_dir);
    let mut pending: BTreeMap<u64, Vec<WorkerOutput>> = BTreeMap::new();
    let mut next_seq = 0u64;
    let mut result = Ok(());
    let mut write = |sink: &mut dyn OutputSink, outputs: &[WorkerOutput]| {
        merge_batch(outputs, |ty, bytes, count| {
            let rt = i32::try_from(ty)
                .ok()
                .and_then(|t| Type::try_from(t).ok())
                .unwrap_or(Type::NcHeader);
            *counts.entry(rt.record_name().to_string()).or_default() += count;
            sink.write(rt, bytes, count)?;
            live.add_records(ty, count);
            Ok(())
        })
    };
    for out in rx {
        let entry = pending.entry(out.seq).or_default();
        entry.push(out);
        while pending.get(&next_seq).is_some_and(|v| v.len() == workers) {
            let Some(mut outputs) = pending.remove(&next_seq) else {
                break;
            };
            result = write(sink, &outputs).and_then(|()| side.write_batch(&outputs));
            for p in side.new_paths().into_iter().chain(sink.take_new_files()) {
                live.add_file(p);
            }
            if result.is_ok() {
                for rec in stages.batch(&mut outputs) {
                    result = result.and_then(|()| write(sink, std::slice::from_ref(&rec)));
                }
                if let Some((open, evicted)) = stages.layer_flows() {
                    live.set_layer_flows(open, evicted);
                }
            }
            if result.is_err() {
                break;
            }
            for o in outputs {
                let _ = spare.try_send(o);
            }
            next_seq += 1;
            gate.advance(next_seq);
        }
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        for rec in stages.finish() {
            result = result.and_then(|()| write(sink, std::slice::from_ref(&rec)));
        }
        if let Some((open, evicted)) = stages.layer_flows() {
            live.set_layer_flows(open, evicted);
        }
        for p in sink.take_new_files() {
            live.add_file(p);
        }
    }
    let mut paths = Vec::new();
    match side.finish() {
        Ok(mut p) => paths.append(&mut p),
        Err(e) => {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    match sink.finish() {
        Ok(mut p) => paths.append(&mut p),
        Err(e) => {
            if result.is_ok() {
                result = Err(e);
            }
        }
    }
    result.map(|()| Written {
        files: paths,
        records: counts,
        layer_evicted: stages.layer_evicted(),
        derived_dropped: stages.derived_dropped(),
    })
}

/// Where the writer stage hands the merged records: one call per record type
/// and batch, records in packet order, types in ascending type number. The
/// writer runs on the thread that called [`run_capture_to`], so a sink need
/// not be `Send`.
pub trait OutputSink {
    /// Appends `count` length-delimited records of type `ty` (`bytes` is a
    /// piece of a record file body: varint length, record, varint length, ...).
    fn write(&mut self, ty: Type, bytes: &[u8], count: u64) -> Result<(), PipelineError>;
    /// Called once after the last record (also after an error): flushes and
    /// closes; returns the files written, if any.
    fn finish(&mut self) -> Result<Vec<PathBuf>, PipelineError>;
    /// The files created since the last call (the metrics watch their size).
    fn take_new_files(&mut self) -> Vec<PathBuf> {
        Vec::new()
    }
}

/// The default sink: one file per record type in `cfg.out_dir`, created on
/// first use, in the configured format.
pub struct FileSink<'a> {
    cfg: &'a CaptureConfig,
    input_name: String,
    files: Vec<Option<RecordWriter>>,
    created: Vec<PathBuf>,
}

impl<'a> FileSink<'a> {
    /// A sink writing the files `cfg` asks for.
    pub fn new(cfg: &'a CaptureConfig) -> Self {
        FileSink {
            cfg,
            input_name: cfg.input.name(),
            files: Vec::new(),
            created: Vec::new(),
        }
    }
}

impl OutputSink for FileSink<'_> {
    fn write(&mut self, ty: Type, bytes: &[u8], count: u64) -> Result<(), PipelineError> {
        write_to(
            &mut self.files,
            self.cfg,
            &self.input_name,
            ty,
            bytes,
            count,
            &mut self.created,
        )
    }

    fn take_new_files(&mut self) -> Vec<PathBuf> {
        std::mem::take(&mut self.created)
    }

    fn finish(&mut self) -> Result<Vec<PathBuf>, PipelineError> {
        let mut result = Ok(());
        let mut paths = Vec::new();
        for w in std::mem::take(&mut self.files).into_iter().flatten() {
            let path = w.path().to_path_buf();
            match w.finish() {
                Ok(p) => paths.push(p),
                Err(source) => {
                    if result.is_ok() {
                        result = Err(PipelineError::Write { path, source });
                    }
                }
            }
        }
        result.map(|()| paths)
    }
}

fn write_to(
    files: &mut Vec<Option<RecordWriter>>,
    cfg: &CaptureConfig,
    input_name: &str,
    rt: Type,
    bytes: &[u8],
    count: u64,
    created: &mut Vec<PathBuf>,
) -> Result<(), PipelineError> {
    let ty = rt as usize;
    if files.len() <= ty {
        files.resize_with(ty + 1, || None);
    }
    let Some(slot) = files.get_mut(ty) else {
        return Ok(());
    };
    if slot.is_none() {
        let header = header_for(rt, input_name, cfg.created_ns);
        let w = RecordWriter::create(&cfg.out_dir, &header, cfg.format, &cfg.writer).map_err(
            |source| PipelineError::Write {
                path: cfg
                    .out_dir
                    .join(RecordWriter::file_name(rt, cfg.format, &cfg.writer)),
                source,
            },
        )?;
        created.push(w.path().to_path_buf());
        *slot = Some(w);
    }
    if let Some(w) = slot.as_mut() {
        w.write_encoded(bytes, count)
            .map_err(|source| PipelineError::Write {
                path: w.path().to_path_buf(),
                source,
            })?;
    }
    Ok(())
}
