//! Batches of packets (reader → workers) and of encoded records (workers → writer).

use netcap_decode::{Outcome, RecordSink};
use netcap_flow::DecodedApp;
use netcap_schema::{Record, Type};
use std::collections::BTreeMap;

/// Packets read in sequence, stored back to back in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Position of the batch in the input.
    pub seq: u64,
    pub data: Vec<u8>,
    pub packets: Vec<PacketSlot>,
    /// Payloads of the IP datagrams that packets of this batch completed.
    pub reassembled: Vec<u8>,
}

/// One packet of a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketSlot {
    pub number: u64,
    pub ts_ns: i64,
    pub link_type: u32,
    pub orig_len: u32,
    pub start: usize,
    pub end: usize,
    /// Worker that owns the packet's flow.
    pub shard: u32,
    /// What IP reassembly did with the packet.
    pub frag: FragSlot,
    /// For a fragment after the first: its datagram's ports, when its first
    /// fragment came before it (so it counts in its connection).
    pub frag_ports: Option<(u16, u16)>,
}

/// What IP reassembly (in the reader) did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragSlot {
    /// Not a fragment, or reassembly is off.
    None,
    /// A fragment that did not complete its datagram.
    Taken,
    /// The fragment that completed a datagram, whose payload is
    /// `Batch::reassembled[start..end]`.
    Reassembled {
        protocol: u8,
        start: usize,
        end: usize,
    },
}

impl FragSlot {
    /// The decoder's view of it, with the payload taken from `batch`.
    pub fn defragged<'a>(&self, batch: &'a Batch) -> netcap_decode::Defragged<'a> {
        match *self {
            FragSlot::None => netcap_decode::Defragged::No,
            FragSlot::Taken => netcap_decode::Defragged::Taken,
            FragSlot::Reassembled {
                protocol,
                start,
                end,
            } => netcap_decode::Defragged::Reassembled {
                protocol,
                payload: batch.reassembled.get(start..end).unwrap_or_default(),
            },
        }
    }
}

/// Orders the records of one type within a batch.
pub(crate) type Key = (u64, u64);

/// Where the payload of a kept TCP segment is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SegData {
    /// `[start, end)` of the packet's own bytes.
    Packet(usize, usize),
    /// `[start, end)` of the batch's reassembled IP payloads.
    Reassembled(usize, usize),
    /// `[start, end)` of `WorkerOutput::seg_data` (a copy).
    Copied(usize, usize),
}

/// A TCP segment of the current packet, kept for the stream layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegMeta {
    /// The segment, its payload left empty...
    pub seg: netcap_decode::TransportSegment<'static>,
    /// ...since it is kept here.
    pub data: SegData,
}

/// Length-delimited records of one type with the packet each came from.
#[derive(Debug, Default)]
pub(crate) struct TypeStream {
    pub data: Vec<u8>,
    /// (key, end offset in `data`) per record. The key orders records of a
    /// type in the batch: (packet number, 0) for a packet's records; stream
    /// records written when a connection ends come after (see
    /// `netcap_flow::FlowSink::emit_stream`).
    pub ends: Vec<(Key, usize)>,
}

/// Decode tallies, merged into the summary. Every packet lands in exactly one
/// of the four classes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    /// Every layer decoded.
    pub decoded: u64,
    /// Some layers decoded, then a layer Netcap does not decode, by layer.
    pub partial: BTreeMap<String, u64>,
    /// Nothing decoded (e.g. an unsupported link type), by layer.
    pub unknown: BTreeMap<String, u64>,
    /// A layer failed to decode, by error.
    pub errors: BTreeMap<String, u64>,
}

/// Which class a packet that was not fully decoded falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SideClass {
    Partial,
    Unknown,
    Error,
}

impl Tally {
    /// Counts one packet; returns its class and reason when it was not fully decoded.
    pub fn count(&mut self, outcome: Outcome, emitted: bool) -> Option<(SideClass, String)> {
        let (class, reason, map) = match outcome {
            Outcome::Decoded => {
                self.decoded += 1;
                return None;
            }
            Outcome::Unknown(u) if emitted => {
                (SideClass::Partial, u.to_string(), &mut self.partial)
            }
            Outcome::Unknown(u) => (SideClass::Unknown, u.to_string(), &mut self.unknown),
            Outcome::Error(e) => (SideClass::Error, e.to_string_kind(), &mut self.errors),
        };
        *map.entry(reason.clone()).or_default() += 1;
        Some((class, reason))
    }

    pub fn merge(&mut self, other: &Tally) {
        self.decoded += other.decoded;
        for (mine, theirs) in [
            (&mut self.partial, &other.partial),
            (&mut self.unknown, &other.unknown),
            (&mut self.errors, &other.errors),
        ] {
            for (k, v) in theirs {
                // No key copy when the key is known (merged once per batch).
                match mine.get_mut(k) {
                    Some(n) => *n += v,
                    None => {
                        mine.insert(k.clone(), *v);
                    }
                }
            }
        }
    }
}

/// A packet that goes to a side output (unknown.pcap, errors.pcap, errors.log).
#[derive(Debug)]
pub(crate) struct SidePacket {
    pub number: u64,
    pub ts_ns: i64,
    pub link_type: u32,
    pub orig_len: u32,
    pub data: Vec<u8>,
    pub class: SideClass,
    /// The error with its details (for errors.log), or the unknown layer.
    pub detail: String,
}

trait KindText {
    fn to_string_kind(&self) -> String;
}

impl KindText for netcap_decode::DecodeError {
    /// The error without its byte counts, so that counts aggregate by kind.
    fn to_string_kind(&self) -> String {
        match self {
            netcap_decode::DecodeError::Truncated { layer, .. } => {
                format!("{layer}: truncated header")
            }
            netcap_decode::DecodeError::Invalid { layer, field } => {
                format!("{layer}: invalid {field}")
            }
        }
    }
}

/// What one worker produced for one batch.
#[derive(Debug, Default)]
pub(crate) struct WorkerOutput {
    pub seq: u64,
    /// Indexed by record type number.
    pub streams: Vec<TypeStream>,
    /// Type numbers with at least one record, in first-use order.
    pub touched: Vec<usize>,
    pub tally: Tally,
    /// Packets not fully decoded, in packet order.
    pub side: Vec<SidePacket>,
    /// Layer flow observations of this worker's packets, in packet order.
    pub layer: Vec<netcap_flow::LayerObs>,
    /// Latest packet time and last packet number of the whole batch (every
    /// worker has the same), set when flows are tracked.
    pub batch_end: Option<(i64, u64)>,
    /// Record types to write, indexed by type number (empty: all).
    enabled: std::sync::Arc<Vec<bool>>,
    current_packet: u64,
    emitted: u64,
    /// Application protocol decoded in the current packet.
    pub app: Option<DecodedApp>,
    /// IPv4/IPv6 records of the current packet (more than one: a tunnel).
    ip_records: u32,
    /// Second part of the key of the records emitted now.
    current_sub: u64,
    /// Keep the current packet's TCP segments (connections are tracked)...
    pub collect_segments: bool,
    /// ...with their payloads (the stream layer is on).
    pub collect_payloads: bool,
    /// TCP segments of the current packet.
    pub segments: Vec<SegMeta>,
    /// Payloads that are neither in the packet nor in the reassembled
    /// datagrams (none today: a safety net).
    pub seg_data: Vec<u8>,
    /// Address ranges of the current packet's bytes and of the batch's
    /// reassembled payloads: a segment's payload is a slice of one of them,
    /// kept as offsets instead of a copy (the copy of every TCP payload was
    /// 2% of a capture's time).
    pub spans: [(usize, usize); 2],
    /// What the derived records (Software, Service, FTPData) need from this batch's
    /// records, in no particular order (the writer sorts them).
    pub sightings: Vec<netcap_derive::Sighting>,
    /// Where `--files` stores file contents (None: extraction off).
    pub files: Option<std::sync::Arc<crate::files::FileStore>>,
}

impl WorkerOutput {
    pub fn new(seq: u64, enabled: std::sync::Arc<Vec<bool>>) -> Self {
        WorkerOutput {
            seq,
            enabled,
            ..Default::default()
        }
    }

    /// Empties the output for batch `seq`, keeping its buffers' capacity
    /// (buffers that grew past a few MiB, e.g. for a burst of ended
    /// connections, are let go rather than pinned).
    pub fn reset(&mut self, seq: u64) {
        const KEEP: usize = 4 << 20;
        self.seq = seq;
        for &ty in &self.touched {
            if let Some(s) = self.streams.get_mut(ty) {
                if s.data.capacity() > KEEP {
                    *s = TypeStream::default();
                } else {
                    s.data.clear();
                    s.ends.clear();
                }
            }
        }
        self.touched.clear();
        self.tally = Tally::default();
        self.side.clear();
        self.layer.clear();
        self.batch_end = None;
        self.current_packet = 0;
        self.current_sub = 0;
        self.emitted = 0;
        self.segments.clear();
        self.seg_data.clear();
        self.sightings.clear();
    }

    /// Starts a packet; returns the number of records emitted so far.
    pub fn set_packet(&mut self, number: u64) -> u64 {
        self.current_packet = number;
        self.current_sub = 0;
        self.app = None;
        self.ip_records = 0;
        self.segments.clear();
        self.seg_data.clear();
        self.emitted
    }

    /// Tells where the current packet's bytes and the batch's reassembled
    /// payloads are (see `spans`).
    pub fn set_spans(&mut self, packet: &[u8], reassembled: &[u8]) {
        let span = |b: &[u8]| (b.as_ptr() as usize, b.as_ptr() as usize + b.len());
        self.spans = [span(packet), span(reassembled)];
    }

    /// Sets the key of the records emitted next to (`key`, `sub`).
    pub fn set_key(&mut self, key: u64, sub: u64) {
        self.current_packet = key;
        self.current_sub = sub;
    }

    /// Emits a stream record with the current key.
    pub fn emit_stream_record(&mut self, rec: &netcap_stream::StreamRecord) {
        use netcap_stream::StreamRecord as S;
        if self.wants(Type::NcSoftware)
            || self.wants(Type::NcService)
            || self.wants(Type::NcFtpData)
            || self.wants(Type::NcFile)
        {
            netcap_derive::observe_stream(rec, &mut self.sightings);
        }
        match rec {
            S::Http(r) => self.emit(&**r),
            S::TlsClientHello(r) => self.emit(&**r),
            S::TlsServerHello(r) => self.emit(&**r),
            S::X509(r) => self.emit(&**r),
            S::Dns(r) => self.emit(&**r),
            S::Anomaly(r) => self.emit(&**r),
            S::Ftp(r) => self.emit(&**r),
            S::Smtp(r) => self.emit(&**r),
            S::Pop3(r) => self.emit(&**r),
            S::Imap(r) => self.emit(&**r),
            S::Credentials(r) => self.emit(&**r),
            S::Ssh(r) => self.emit(&**r),
            S::Telnet(r) => self.emit(&**r),
            S::Mail(r) => self.emit(&**r),
            S::File(f) => {
                let stored = match (&self.files, &f.data) {
                    (Some(store), Some(data)) => {
                        let mut rec = f.rec.clone();
                        rec.location = store.store(&rec.sha256, data);
                        Some(rec)
                    }
                    _ => None,
                };
                let rec = stored.as_ref().unwrap_or(&f.rec);
                // An FTP data connection's File waits on the writer thread
                // for its name (the derived stage runs whenever File records
                // are written with streams on).
                match netcap_derive::ftp_file(rec).filter(|_| self.wants(Type::NcFile)) {
                    Some(s) => self.sightings.push(s),
                    None => self.emit(rec),
                }
            }
        }
    }

    /// Whether records of type `t` are written.
    pub fn wants(&self, t: Type) -> bool {
        self.enabled.is_empty() || self.enabled.get(t as usize).copied().unwrap_or(false)
    }

    /// Records emitted so far (including types filtered out).
    pub fn emitted(&self) -> u64 {
        self.emitted
    }
}

impl RecordSink for WorkerOutput {
    fn emit<R: Record>(&mut self, rec: &R) {
        let idx = R::TYPE as usize;
        self.emitted += 1;
        // The application protocol of the packet's own connection: not one
        // found inside a tunnel (after a second IP header).
        match R::TYPE {
            Type::NcIPv4 | Type::NcIPv6 => self.ip_records += 1,
            t if self.app.is_none() && self.ip_records == 1 => self.app = DecodedApp::of_type(t),
            _ => {}
        }
        if !self.enabled.is_empty() && !self.enabled.get(idx).copied().unwrap_or(false) {
            return;
        }
        if self.streams.len() <= idx {
            self.streams.resize_with(idx + 1, TypeStream::default);
        }
        let Some(stream) = self.streams.get_mut(idx) else {
            return;
        };
        if stream.ends.is_empty() {
            self.touched.push(idx);
        }
        rec.encode_fast_delimited(&mut stream.data);
        stream
            .ends
            .push(((self.current_packet, self.current_sub), stream.data.len()));
    }

    fn transport_segment(&mut self, seg: &netcap_decode::TransportSegment<'_>) {
        if !self.collect_segments {
            return;
        }
        let p = seg.payload.as_ptr() as usize;
        let end = p + seg.payload.len();
        let [pkt, reasm] = self.spans;
        let data = if !self.collect_payloads {
            SegData::Copied(0, 0)
        } else if p >= pkt.0 && end <= pkt.1 {
            SegData::Packet(p - pkt.0, end - pkt.0)
        } else if p >= reasm.0 && end <= reasm.1 {
            SegData::Reassembled(p - reasm.0, end - reasm.0)
        } else {
            let start = self.seg_data.len();
            self.seg_data.extend_from_slice(seg.payload);
            SegData::Copied(start, self.seg_data.len())
        };
        self.segments.push(SegMeta {
            seg: netcap_decode::TransportSegment {
                payload: &[],
                ..*seg
            },
            data,
        });
    }
}
