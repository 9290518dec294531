//! The streams of one TCP connection: both directions reassembled, the
//! protocol recognised by content, and the parser fed.
//!
//! Detection: until a protocol is recognised, each direction's first bytes
//! (at most [`DETECT_MAX`]) are kept and shown to every protocol's probe,
//! those whose server port matches first. A probe checks the role too (a
//! ClientHello is only a client's first bytes): when the bytes match the
//! other role, the connection's client and server are swapped for the stream
//! records (a capture that starts with the server's packets). When no
//! protocol can match any longer, the connection's bytes are only counted.
//!
//! Buffering: a parser that stops inside a message says how many bytes it
//! needs; the unconsumed rest is kept, with the packet each byte came from,
//! up to [`StreamConfig::max_pending`] per direction; past that the message
//! is cut and the parser told of a gap.

use crate::dns;
use crate::http;
use crate::line;
use crate::parser::{ConnMeta, Cx, Dir, End, Origin, Probe, Protocol, StreamParser};
use crate::reassembly::{Budget, DirCounters, DirLimits, DirReassembler, Event, OverlapPolicy};
use crate::records::StreamRecord;
use crate::ssh;
use crate::telnet;
use crate::tls;

/// Every stream protocol, in the order they are tried when no port hints
/// (FTP before POP3: both know USER, but a POP3 server's `+OK` greeting
/// comes first).
pub const PROTOCOLS: &[Protocol] = &[
    http::PROTOCOL,
    tls::PROTOCOL,
    dns::PROTOCOL,
    line::FTP,
    line::SMTP,
    line::POP3,
    line::IMAP,
    ssh::PROTOCOL,
    telnet::PROTOCOL,
];

/// First bytes of a direction kept while the protocol is not known yet
/// (Zeek's `dpd_buffer_size` is 1024).
pub const DETECT_MAX: usize = 4096;

/// TCP flag bits as the segments carry them.
pub mod flag {
    /// FIN.
    pub const FIN: u16 = 0x001;
    /// SYN.
    pub const SYN: u16 = 0x002;
    /// RST.
    pub const RST: u16 = 0x004;
    /// ACK.
    pub const ACK: u16 = 0x010;
}

/// Stream layer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Bytes delivered per direction; later ones are only counted (0: no limit).
    pub depth: u64,
    /// Out-of-order bytes queued per direction.
    pub max_queue: usize,
    /// Unconsumed bytes a parser may ask to be kept per direction.
    pub max_pending: usize,
    /// Overlap policy.
    pub policy: OverlapPolicy,
    /// File extraction: bytes of each file's content kept for it (0: off;
    /// see [`ConnMeta::files_max`]).
    pub files_max: u64,
}

impl StreamConfig {
    /// Default `--stream-memory`, MiB.
    pub const DEFAULT_MEMORY_MIB: u64 = 256;
    /// Default `--stream-depth`, MiB.
    pub const DEFAULT_DEPTH_MIB: u64 = 8;
}

impl StreamConfig {
    /// The limits of one direction's reassembler.
    pub fn limits(&self) -> DirLimits {
        DirLimits {
            depth: self.depth,
            max_queue: self.max_queue,
            policy: self.policy,
        }
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            depth: Self::DEFAULT_DEPTH_MIB << 20,
            max_queue: 1 << 20,
            max_pending: 256 << 10,
            policy: OverlapPolicy::First,
            files_max: 0,
        }
    }
}

/// A TCP segment as the stream layer needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Direction relative to the connection's client.
    pub dir: Dir,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flag bits ([`flag`]).
    pub flags: u16,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload length on the wire.
    pub wire_len: u32,
    /// The packet.
    pub origin: Origin,
}

/// What a connection's streams did, for its Connection record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounters {
    /// Per direction (client to server first).
    pub dirs: [DirCounters; 2],
    /// Bytes a parser could not use: cut messages past the pending cap.
    pub parser_dropped: u64,
    /// Units (lines) the parsers cut at their limits.
    pub parser_cut: u64,
}

/// Totals of a worker (or a run), for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamTotals {
    /// Connections whose streams delivered data.
    pub streams: u64,
    /// The directions' counters, summed.
    pub bytes: DirCounters,
    /// Bytes of messages cut by the parser buffer cap.
    pub parser_dropped: u64,
    /// Lines the parsers cut at their line limits.
    pub parser_cut: u64,
    /// Most memory held at once by queues and recent bytes (per worker; summed
    /// over workers it is an upper bound).
    pub peak_memory: u64,
    /// Connections per recognised protocol.
    pub protocols: std::collections::BTreeMap<String, u64>,
    /// Announced FTP data endpoints forgotten before a connection used
    /// them because too many waited (the flow layer's expected connections).
    pub expected_dropped: u64,
}

impl StreamTotals {
    /// Adds a finished connection.
    pub fn add(&mut self, c: &StreamCounters, proto: Option<&'static str>) {
        let [a, b] = &c.dirs;
        if a.delivered + b.delivered > 0 {
            self.streams += 1;
        }
        self.bytes.add(a);
        self.bytes.add(b);
        self.parser_dropped += c.parser_dropped;
        self.parser_cut += c.parser_cut;
        if let Some(p) = proto {
            *self.protocols.entry(p.to_string()).or_default() += 1;
        }
    }

    /// Adds another worker's totals.
    pub fn merge(&mut self, o: &StreamTotals) {
        self.streams += o.streams;
        self.bytes.add(&o.bytes);
        self.parser_dropped += o.parser_dropped;
        self.parser_cut += o.parser_cut;
        self.peak_memory += o.peak_memory;
        self.expected_dropped += o.expected_dropped;
        for (k, v) in &o.protocols {
            *self.protocols.entry(k.clone()).or_default() += v;
        }
    }
}

/// Capacity a cleared pending buffer keeps for the next message.
const KEEP_CAPACITY: usize = 16 << 10;

/// Unconsumed bytes of one direction, with the packet of each run of bytes.
#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    runs: Vec<(usize, Origin)>,
    /// Least length worth a parser call.
    needed: usize,
    /// The first packet that brought bytes (detection order).
    first: Option<u64>,
}

impl Pending {
    fn push(&mut self, data: &[u8], origin: Origin) {
        if self.runs.last().is_none_or(|(_, o)| *o != origin) {
            self.runs.push((self.buf.len(), origin));
        }
        self.buf.extend_from_slice(data);
    }

    /// Drops the first `n` bytes.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        // Runs that start at or before `n`: the last of them covers byte n.
        let keep_from = self
            .runs
            .partition_point(|(s, _)| *s <= n)
            .saturating_sub(1);
        self.runs.drain(..keep_from);
        for (s, _) in &mut self.runs {
            *s = s.saturating_sub(n);
        }
        if self.buf.is_empty() {
            self.runs.clear();
        }
    }

    fn clear(&mut self) {
        // A large message is rare: give its buffer back rather than keep it
        // for the life of the connection.
        if self.buf.capacity() > KEEP_CAPACITY {
            self.release();
        }
        self.buf.clear();
        self.runs.clear();
        self.needed = 0;
    }

    fn memory(&self) -> usize {
        self.buf.capacity() + self.runs.capacity() * std::mem::size_of::<(usize, Origin)>()
    }

    fn release(&mut self) {
        self.buf = Vec::new();
        self.runs = Vec::new();
    }
}

/// Where the connection is in recognising its protocol.
enum State {
    /// Candidates left (bit per entry of [`PROTOCOLS`]).
    Detecting(u32),
    /// A parser runs.
    Parsing(Box<dyn StreamParser>),
    /// Nothing to parse: bytes are only counted.
    Off,
}

/// The streams of one TCP connection.
pub struct ConnStreams {
    dirs: [DirReassembler; 2],
    app: App,
}

/// Everything above the reassembler: detection, buffers, the parser.
struct App {
    meta: ConnMeta,
    pending: [Pending; 2],
    state: State,
    /// The stream records swap client and server (see the module docs).
    flipped: bool,
    /// The protocol recognised, if any.
    proto: Option<&'static str>,
    /// The protocol the connection switched to (TLS after STARTTLS).
    upgraded: Option<&'static str>,
    /// A switch happened: the kept bytes go to the new parser.
    refeed: bool,
    /// Units cut by parsers no longer running.
    parser_cut: u64,
    ended: [bool; 2],
    reset: bool,
    reported: u8,
    parser_dropped: u64,
}

const REPORTED_DATA_AFTER_RST: u8 = 1;
const REPORTED_ACK_UNSEEN: u8 = 2;

impl std::fmt::Debug for ConnStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnStreams")
            .field("meta", &self.app.meta)
            .field("proto", &self.app.proto)
            .finish_non_exhaustive()
    }
}

/// The output of a call: records with the key that orders them.
pub type Records = Vec<(u64, StreamRecord)>;

impl ConnStreams {
    /// Streams of a new connection.
    pub fn new(meta: ConnMeta) -> ConnStreams {
        let all = (1u32 << PROTOCOLS.len()) - 1;
        ConnStreams {
            dirs: Default::default(),
            app: App {
                meta,
                pending: Default::default(),
                state: State::Detecting(all),
                flipped: false,
                proto: None,
                upgraded: None,
                refeed: false,
                parser_cut: 0,
                ended: [false; 2],
                reset: false,
                reported: 0,
                parser_dropped: 0,
            },
        }
    }

    /// Streams of a new connection whose protocol is known before its first
    /// byte (an FTP data connection to an announced endpoint): no detection,
    /// `proto`'s parser gets every byte.
    pub fn with_protocol(meta: ConnMeta, proto: &Protocol) -> ConnStreams {
        let mut s = ConnStreams::new(meta);
        s.app.proto = Some(proto.name);
        s.app.state = State::Parsing((proto.new)());
        s
    }

    /// The protocol recognised, if any.
    pub fn protocol(&self) -> Option<&'static str> {
        self.app.proto
    }

    /// The protocols the connection carried: the one recognised, then the
    /// one it switched to (e.g. SMTP, TLS after STARTTLS).
    pub fn services(&self) -> Vec<String> {
        self.app
            .proto
            .into_iter()
            .chain(self.app.upgraded)
            .map(str::to_string)
            .collect()
    }

    /// Heap bytes of these streams (an estimate, allocator overhead
    /// included): the state itself, what the reassemblers and the engine
    /// buffer, and the parser. Counted with the connection's own memory.
    pub fn memory(&self) -> usize {
        let app = &self.app;
        let parser = match &app.state {
            State::Parsing(p) => std::mem::size_of_val(&**p) + p.memory(),
            _ => 0,
        };
        let [a, b] = &self.dirs;
        let [p, q] = &app.pending;
        std::mem::size_of::<Self>()
            + 16
            + app.meta.uid.capacity()
            + p.memory()
            + q.memory()
            + parser
            + a.memory()
            + b.memory()
    }

    /// Counters for the Connection record.
    pub fn counters(&self) -> StreamCounters {
        let [a, b] = &self.dirs;
        StreamCounters {
            dirs: [a.counters, b.counters],
            parser_dropped: self.app.parser_dropped,
            parser_cut: self.app.parser_cut
                + match &self.app.state {
                    State::Parsing(p) => p.cut_units(),
                    _ => 0,
                },
        }
    }

    /// Adds a segment; records emitted now get key `seg.origin.number`.
    pub fn segment(
        &mut self,
        seg: &Segment<'_>,
        cfg: &StreamConfig,
        budget: &mut Budget,
        out: &mut Records,
    ) {
        let d = seg.dir;
        let limits = cfg.limits();
        let app = &mut self.app;
        if seg.flags & flag::RST != 0 {
            if !seg.payload.is_empty() {
                app.anomaly_now(
                    d,
                    "rst_with_data",
                    format!("{} bytes", seg.wire_len),
                    seg.origin,
                    out,
                );
            }
            app.reset = true;
        } else if app.reset && seg.wire_len > 0 && app.reported & REPORTED_DATA_AFTER_RST == 0 {
            app.reported |= REPORTED_DATA_AFTER_RST;
            app.anomaly_now(
                d,
                "data_after_reset",
                format!("{} bytes", seg.wire_len),
                seg.origin,
                out,
            );
        }
        if seg.flags & flag::ACK != 0 && app.reported & REPORTED_ACK_UNSEEN == 0 {
            if let Some(beyond) = self
                .dirs
                .get(d.other().index())
                .and_then(|o| o.acked_beyond_seen(seg.ack))
            {
                app.reported |= REPORTED_ACK_UNSEEN;
                let details = format!("acknowledges {beyond} bytes beyond the last one seen");
                app.anomaly_now(d, "ack_unseen_data", details, seg.origin, out);
            }
        }
        let Some(dir) = self.dirs.get_mut(d.index()) else {
            return;
        };
        let (now, key) = (seg.origin, seg.origin.number);
        let mut on = |e: Event<'_>| app.event(d, e, now, key, cfg, out);
        if seg.flags & flag::SYN != 0 {
            dir.syn(seg.seq, &mut on);
        } else if !dir.started() && seg.wire_len == 0 && seg.flags & (flag::FIN | flag::RST) == 0 {
            // A pure ACK's sequence number is the sender's next byte: it
            // starts a direction picked up mid-stream as well as data would.
            if seg.flags & flag::ACK != 0 {
                dir.syn(seg.seq.wrapping_sub(1), &mut on);
            }
        }
        // A RST's sequence number says nothing about the stream.
        if seg.flags & flag::RST == 0 || seg.wire_len > 0 {
            let seq = if seg.flags & flag::SYN != 0 {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let fin = seg.flags & flag::FIN != 0;
            if seg.wire_len > 0 || fin {
                dir.segment(
                    seq,
                    seg.payload,
                    seg.wire_len,
                    fin,
                    seg.origin,
                    &limits,
                    budget,
                    &mut on,
                );
            }
        }
    }

    /// The connection ended: holes become gaps, queued bytes are delivered,
    /// parsers write what is pending. `last` is the connection's last
    /// packet, `key` the key of the records emitted now.
    pub fn finish(
        &mut self,
        last: Origin,
        key: u64,
        cfg: &StreamConfig,
        budget: &mut Budget,
        out: &mut Records,
    ) {
        let limits = cfg.limits();
        let app = &mut self.app;
        for d in [Dir::ToServer, Dir::ToClient] {
            if let Some(dir) = self.dirs.get_mut(d.index()) {
                dir.flush(&limits, budget, &mut |e| {
                    app.event(d, e, last, key, cfg, out)
                });
            }
        }
        for d in [Dir::ToServer, Dir::ToClient] {
            app.end_dir(d, End::Close, last, key, out);
        }
        if let State::Parsing(p) = &mut app.state {
            let mut cx = Cx::at(&app.meta, last, key, out);
            p.finish(&mut cx);
            app.parser_cut += p.cut_units();
        }
        app.state = State::Off;
        for p in &mut app.pending {
            p.release();
        }
        for d in &mut self.dirs {
            d.release(budget);
        }
    }
}

impl App {
    fn anomaly_now(&self, d: Dir, name: &str, details: String, origin: Origin, out: &mut Records) {
        let mut cx = Cx::at(&self.meta, origin, origin.number, out);
        cx.anomaly(self.rel(d), "tcp", name, details);
    }

    /// A direction as the parser sees it.
    fn rel(&self, d: Dir) -> Dir {
        if self.flipped {
            d.other()
        } else {
            d
        }
    }

    /// Handles one event of the reassembler of direction `d`.
    fn event(
        &mut self,
        d: Dir,
        e: Event<'_>,
        now: Origin,
        key: u64,
        cfg: &StreamConfig,
        out: &mut Records,
    ) {
        match e {
            Event::Data { data, origin } => self.data(d, data, origin, now, key, cfg, out),
            Event::Gap { len } => self.gap(d, len, now, key, out),
            Event::Fin => self.end_dir(d, End::Fin, now, key, out),
            Event::Depth => self.end_dir(d, End::Depth, now, key, out),
            Event::Anomaly { name, details } => {
                let mut cx = Cx::at(&self.meta, now, key, out);
                cx.anomaly(self.rel(d), "tcp", name, details);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data(
        &mut self,
        d: Dir,
        data: &[u8],
        origin: Origin,
        now: Origin,
        key: u64,
        cfg: &StreamConfig,
        out: &mut Records,
    ) {
        if self.ended.get(d.index()).copied().unwrap_or(true) {
            return;
        }
        match &self.state {
            State::Off => {}
            State::Detecting(_) => {
                let Some(p) = self.pending.get_mut(d.index()) else {
                    return;
                };
                if p.first.is_none() {
                    p.first = Some(origin.number);
                }
                let room = DETECT_MAX.saturating_sub(p.buf.len());
                p.push(data.get(..room.min(data.len())).unwrap_or_default(), origin);
                self.detect(d, now, key, cfg, out);
            }
            State::Parsing(_) => self.feed(d, data, origin, now, key, cfg, out),
        }
        self.refeed(now, key, cfg, out);
    }

    /// After a protocol switch, gives the new parser the bytes the old one
    /// left, the direction that spoke first first.
    fn refeed(&mut self, now: Origin, key: u64, cfg: &StreamConfig, out: &mut Records) {
        while self.refeed {
            self.refeed = false;
            for d in [Dir::ToServer, Dir::ToClient] {
                let Some(p) = self.pending.get_mut(d.index()) else {
                    continue;
                };
                if !p.buf.is_empty() {
                    p.needed = 0;
                    self.parse_pending(d, now, key, cfg, out);
                }
            }
        }
    }

    /// Probes the protocols on direction `d`'s first bytes; starts the
    /// parser of the first that matches and feeds it what was kept.
    fn detect(&mut self, d: Dir, now: Origin, key: u64, cfg: &StreamConfig, out: &mut Records) {
        let State::Detecting(mut cands) = self.state else {
            return;
        };
        let Some(p) = self.pending.get(d.index()) else {
            return;
        };
        let port = self.meta.server.1;
        let client_port = self.meta.client.1;
        // Port-hinted protocols first, then the rest in table order (two passes:
        // no allocation on this per-segment path).
        let hinted = |pr: &Protocol| pr.ports.contains(&port) || pr.ports.contains(&client_port);
        let mut found = None;
        let order = (0..2).flat_map(|pass| {
            PROTOCOLS
                .iter()
                .enumerate()
                .filter(move |(_, pr)| hinted(pr) == (pass == 0))
        });
        for (i, pr) in order {
            if cands & (1 << i) == 0 {
                continue;
            }
            let hint = hinted(pr);
            match (pr.probe)(d, &p.buf, hint) {
                Probe::Yes => {
                    found = Some((i, false));
                    break;
                }
                Probe::NeedMore => {}
                Probe::No => match (pr.probe)(d.other(), &p.buf, hint) {
                    Probe::Yes => {
                        found = Some((i, true));
                        break;
                    }
                    Probe::NeedMore => {}
                    Probe::No => cands &= !(1 << i),
                },
            }
        }
        let Some((i, flip)) = found else {
            let full = p.buf.len() >= DETECT_MAX;
            self.state = if cands == 0 || full {
                for p in &mut self.pending {
                    p.release();
                }
                State::Off
            } else {
                State::Detecting(cands)
            };
            return;
        };
        let Some(pr) = PROTOCOLS.get(i) else {
            return;
        };
        if flip {
            // Records name the roles the bytes showed, once and for all.
            self.flipped = true;
            std::mem::swap(&mut self.meta.client, &mut self.meta.server);
        }
        self.proto = Some(pr.name);
        self.state = State::Parsing((pr.new)());
        // Feed what each direction kept, the one that spoke first first.
        let mut dirs = [Dir::ToServer, Dir::ToClient];
        let first = |p: &Pending| p.first.unwrap_or(u64::MAX);
        let [a, b] = &self.pending;
        if first(b) < first(a) {
            dirs.swap(0, 1);
        }
        for dd in dirs {
            let Some(p) = self.pending.get_mut(dd.index()) else {
                continue;
            };
            if p.buf.is_empty() {
                continue;
            }
            // Keep the bytes in place: parse from the pending buffer.
            p.needed = 0;
            self.parse_pending(dd, now, key, cfg, out);
        }
        self.refeed(now, key, cfg, out);
    }

    /// Gives new bytes to the parser (through the pending buffer when bytes
    /// wait there).
    #[allow(clippy::too_many_arguments)]
    fn feed(
        &mut self,
        d: Dir,
        data: &[u8],
        origin: Origin,
        now: Origin,
        key: u64,
        cfg: &StreamConfig,
        out: &mut Records,
    ) {
        let Some(p) = self.pending.get_mut(d.index()) else {
            return;
        };
        if p.buf.is_empty() {
            // Zero copy: the parser reads the reassembler's bytes.
            let runs = [(0usize, origin)];
            let Some(res) = self.call(d, data, &runs, now, key, out) else {
                return;
            };
            let consumed = res.consumed.min(data.len());
            if consumed < data.len() {
                let rest = data.get(consumed..).unwrap_or_default();
                if res.needed > cfg.max_pending {
                    self.cut(d, rest.len() as u64, now, key, out);
                    return;
                }
                if let Some(p) = self.pending.get_mut(d.index()) {
                    p.push(rest, origin);
                    p.needed = res.needed;
                }
            }
            return;
        }
        if p.buf.len() + data.len() > cfg.max_pending {
            let n = (p.buf.len() + data.len()) as u64;
            self.cut(d, n, now, key, out);
            return;
        }
        p.push(data, origin);
        if p.buf.len() >= p.needed {
            self.parse_pending(d, now, key, cfg, out);
        }
    }

    /// Calls the parser on the pending bytes of `d`.
    fn parse_pending(
        &mut self,
        d: Dir,
        now: Origin,
        key: u64,
        cfg: &StreamConfig,
        out: &mut Records,
    ) {
        let Some(p) = self.pending.get_mut(d.index()) else {
            return;
        };
        let buf = std::mem::take(&mut p.buf);
        let runs = std::mem::take(&mut p.runs);
        let res = self.call(d, &buf, &runs, now, key, out);
        let Some(p) = self.pending.get_mut(d.index()) else {
            return;
        };
        p.buf = buf;
        p.runs = runs;
        match res {
            Some(res) => {
                p.consume(res.consumed);
                p.needed = res.needed;
                if !p.buf.is_empty() && res.needed > cfg.max_pending {
                    let n = p.buf.len() as u64;
                    self.cut(d, n, now, key, out);
                }
            }
            None => p.clear(),
        }
    }

    /// Runs the parser; `None` when it is not running (any more).
    fn call(
        &mut self,
        d: Dir,
        input: &[u8],
        runs: &[(usize, Origin)],
        now: Origin,
        key: u64,
        out: &mut Records,
    ) -> Option<crate::parser::Parsed> {
        let rel = self.rel(d);
        let State::Parsing(parser) = &mut self.state else {
            return None;
        };
        let mut cx = Cx {
            meta: &self.meta,
            runs,
            now,
            key,
            out,
        };
        match parser.parse(rel, input, &mut cx) {
            Ok(r) => {
                if let Some(next) = parser.upgrade() {
                    self.parser_cut += parser.cut_units();
                    self.upgraded = Some(next.name());
                    self.state = State::Parsing(next);
                    self.refeed = true;
                }
                Some(r)
            }
            Err(e) => {
                let name = parser.name().to_ascii_lowercase();
                cx.anomaly(rel, &name, "protocol_violation", e.0);
                self.parser_cut += parser.cut_units();
                self.state = State::Off;
                None
            }
        }
    }

    /// A message of `d` does not fit the pending cap: it is dropped and the
    /// parser told of a gap.
    fn cut(&mut self, d: Dir, n: u64, now: Origin, key: u64, out: &mut Records) {
        self.parser_dropped += n;
        if let Some(p) = self.pending.get_mut(d.index()) {
            p.clear();
        }
        let rel = self.rel(d);
        if let State::Parsing(parser) = &mut self.state {
            let mut cx = Cx::at(&self.meta, now, key, out);
            cx.anomaly(
                rel,
                "tcp",
                "parser_buffer_limit",
                format!("{n} bytes of an unfinished message dropped"),
            );
            parser.gap(rel, n, &mut cx);
        }
    }

    fn gap(&mut self, d: Dir, len: u64, now: Origin, key: u64, out: &mut Records) {
        let rel = self.rel(d);
        {
            let mut cx = Cx::at(&self.meta, now, key, &mut *out);
            cx.anomaly(rel, "tcp", "content_gap", format!("{len} bytes missing"));
        }
        if let Some(p) = self.pending.get_mut(d.index()) {
            p.clear();
        }
        if let State::Parsing(parser) = &mut self.state {
            let mut cx = Cx::at(&self.meta, now, key, out);
            parser.gap(rel, len, &mut cx);
        }
    }

    fn end_dir(&mut self, d: Dir, why: End, now: Origin, key: u64, out: &mut Records) {
        let Some(ended) = self.ended.get_mut(d.index()) else {
            return;
        };
        if *ended {
            return;
        }
        *ended = true;
        if let Some(p) = self.pending.get_mut(d.index()) {
            p.clear();
        }
        if why == End::Depth {
            let mut cx = Cx::at(&self.meta, now, key, &mut *out);
            cx.anomaly(
                self.rel(d),
                "tcp",
                "reassembly_depth_reached",
                String::new(),
            );
        }
        let rel = self.rel(d);
        if let State::Parsing(parser) = &mut self.state {
            let mut cx = Cx::at(&self.meta, now, key, out);
            parser.end(rel, why, &mut cx);
        }
    }
}
