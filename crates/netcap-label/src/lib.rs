//! Labels Netcap records for supervised learning (`netcap label`).
//!
//! Attacks come from Suricata alerts (`eve.json`) or a ground-truth file
//! ([`source`]). They are matched to `Connection` records by 5-tuple (either
//! direction) and time, and a connection's label then reaches every record
//! of it: records carrying its UID (`ConnectionUID`: Flow, HTTP, TLS, DNS
//! over TCP, ...), records of its packets (`PacketNumber`, with the packet's
//! connection found from its IPv4/IPv6 and TCP/UDP/SCTP records), and the
//! layer flows (LinkFlow, NetworkFlow, TransportFlow) sharing its addresses
//! or ports while it was open. The output is the same record types with the
//! `Label`, `Category` and `Signature` fields that every record message
//! reserves (numbers 1000–1002), appended to the encoded records, so any
//! output format works without code per record type. See docs/labelling.md.
//!
//! Every step is a hash-map or interval-index lookup: the time is linear in
//! records plus attacks (the original Netcap compared every record with
//! every alert).
#![forbid(unsafe_code)]

mod interval;
pub mod net;
mod packets;
pub mod source;
pub mod time;
pub mod wire;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use foldhash::{HashMap, HashMapExt};
use netcap_format::{FileReader, OutputFormat, ReadError, RecordWriter, WriterOptions};
use netcap_schema::{put_varint, Connection, Type, LABEL_FIELDS};

pub use interval::IntervalIndex;
pub use source::{read_alerts, read_ground_truth, Alerts, Attack};

/// Why labelling failed.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An alert or ground-truth line is not understood.
    #[error("{path}:{line}: {reason}")]
    Input {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record file is damaged.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The records do not allow labelling.
    #[error("{0}")]
    Records(String),
}

impl LabelError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        LabelError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn input(path: &Path, line: u64, reason: &str) -> Self {
        LabelError::Input {
            path: path.to_path_buf(),
            line,
            reason: reason.to_string(),
        }
    }
}

/// How records are labelled and written.
#[derive(Debug, Clone)]
pub struct Options {
    /// An alert matches a connection when its time is within the
    /// connection's first..last packet time widened by this much on each
    /// side (nanoseconds).
    pub tolerance_ns: i64,
    /// `Label` of the records of matched connections.
    pub attack_label: String,
    /// `Label` of every other record.
    pub normal_label: String,
    /// Format of the files written.
    pub format: OutputFormat,
    /// Codec and level of record files (and Parquet's level).
    pub writer: WriterOptions,
    /// Files written at once.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance_ns: 1_000_000_000,
            attack_label: "attack".into(),
            normal_label: "normal".into(),
            format: OutputFormat::Ncap,
            writer: WriterOptions::default(),
            workers: 1,
        }
    }
}

/// What labelling did, for the summary.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per attack (same order as given): whether it matched a connection.
    pub matched: Vec<bool>,
    /// Per attack: it matched, but its connection took the label of a
    /// higher ranked attack with a different category or signature.
    pub conflicting: Vec<bool>,
    /// Connection records read.
    pub connections: u64,
    /// Connections labelled.
    pub connections_labelled: u64,
    /// Labelled connections matched by attacks with different labels.
    pub connections_conflicting: u64,
    /// Packets found to belong to a labelled connection.
    pub packets_labelled: u64,
    /// Neither IPv4 nor IPv6 records were there (captured with `--exclude`):
    /// no packet could be related to its connection, per-packet records
    /// are all normal.
    pub no_packet_keys: bool,
    /// One entry per file written, in input order.
    pub files: Vec<FileSummary>,
}

/// One labelled file.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// The record file read.
    pub input: PathBuf,
    /// The file written.
    pub output: PathBuf,
    /// Its record type.
    pub record_type: Type,
    /// Records written.
    pub records: u64,
    /// Of which labelled as attacks.
    pub labelled: u64,
}

/// Whether a file name is that of a record file.
pub fn is_record_file(name: &str) -> bool {
    name.ends_with(".ncap") || name.ends_with(".ncap.gz") || name.ends_with(".ncap.zst")
}

/// The record files of a capture's output: the folder holding them all,
/// and those to label (all of them, or the one file given).
#[derive(Debug)]
pub struct Inputs {
    /// Every record file of the folder, by record type.
    pub by_type: BTreeMap<i32, PathBuf>,
    /// The files to label, sorted by name.
    pub to_label: Vec<PathBuf>,
}

impl Inputs {
    /// `path` is an output folder of `netcap capture`, or one record file
    /// in such a folder (the folder's Connection, IP and transport files are
    /// still used to find what to label).
    pub fn find(path: &Path) -> Result<Inputs, LabelError> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .to_path_buf()
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| LabelError::io(&dir, e))? {
            let p = entry.map_err(|e| LabelError::io(&dir, e))?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_file() && is_record_file(name) {
                files.push(p);
            }
        }
        files.sort();
        let mut by_type = BTreeMap::new();
        for f in &files {
            let ty = FileReader::open(f)?.record_type() as i32;
            if let Some(other) = by_type.insert(ty, f.clone()) {
                return Err(LabelError::Records(format!(
                    "{} and {} hold the same record type: keep one",
                    other.display(),
                    f.display()
                )));
            }
        }
        let to_label = if path.is_dir() {
            files
        } else {
            if !files.iter().any(|f| f == path) {
                // A file outside the listing (a name not ending in .ncap*).
                let ty = FileReader::open(path)?.record_type() as i32;
                by_type.insert(ty, path.to_path_buf());
            }
            vec![path.to_path_buf()]
        };
        if to_label.is_empty() {
            return Err(LabelError::Records(format!(
                "{}: no record files (.ncap, .ncap.gz, .ncap.zst) in this folder",
                dir.display()
            )));
        }
        Ok(Inputs { by_type, to_label })
    }

    fn file(&self, ty: Type) -> Option<&Path> {
        self.by_type.get(&(ty as i32)).map(PathBuf::as_path)
    }
}

/// A connection's identity as the matching needs it.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub uid: String,
    pub proto: u8,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub first_ns: i64,
    pub last_ns: i64,
    pub first_pkt: u64,
    pub last_pkt: u64,
    pub client_mac: String,
    pub server_mac: String,
}

impl Conn {
    fn from_record(c: &Connection) -> Option<Conn> {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let port = |p: i32| u16::try_from(p).ok();
        Some(Conn {
            uid: c.uid.clone(),
            proto: net::protocol_number(&c.transport_proto)?,
            client: (ip(&c.src_ip)?, port(c.src_port)?),
            server: (ip(&c.dst_ip)?, port(c.dst_port)?),
            first_ns: c.timestamp_first,
            last_ns: c.timestamp_last,
            first_pkt: c.first_packet_number,
            last_pkt: c.last_packet_number,
            client_mac: c.src_mac.to_ascii_lowercase(),
            server_mac: c.dst_mac.to_ascii_lowercase(),
        })
    }
}

/// A 5-tuple with its two endpoints in a canonical order (either direction).
pub(crate) type TupleKey = (u8, (IpAddr, u16), (IpAddr, u16));
/// Protocol and address pair in a canonical order.
pub(crate) type PairKey = (u8, IpAddr, IpAddr);

pub(crate) fn tuple_key(proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> TupleKey {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

pub(crate) fn pair_key(proto: u8, a: IpAddr, b: IpAddr) -> PairKey {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

/// The attacks indexed for lookups by connection: by exact 5-tuple, by
/// address pair (no ports), and the rest (networks) by time only.
struct AttackIndex {
    exact: HashMap<TupleKey, IntervalIndex<u32>>,
    pairs: HashMap<(Option<u8>, IpAddr, IpAddr), IntervalIndex<u32>>,
    nets: IntervalIndex<u32>,
}

impl AttackIndex {
    fn new(attacks: &[Attack]) -> AttackIndex {
        let mut idx = AttackIndex {
            exact: HashMap::new(),
            pairs: HashMap::new(),
            nets: IntervalIndex::new(),
        };
        for (i, a) in attacks.iter().enumerate() {
            let i = i as u32;
            match (a.src.host(), a.dst.host(), a.proto, a.src_port, a.dst_port) {
                (Some(s), Some(d), Some(p), Some(sp), Some(dp)) => idx
                    .exact
                    .entry(tuple_key(p, (s, sp), (d, dp)))
                    .or_default()
                    .push(a.start, a.end, i),
                (Some(s), Some(d), p, _, _) => {
                    let (lo, hi) = if s <= d { (s, d) } else { (d, s) };
                    idx.pairs
                        .entry((p, lo, hi))
                        .or_default()
                        .push(a.start, a.end, i);
                }
                _ => idx.nets.push(a.start, a.end, i),
            }
        }
        idx.exact.values_mut().for_each(IntervalIndex::build);
        idx.pairs.values_mut().for_each(IntervalIndex::build);
        idx.nets.build();
        idx
    }

    /// Calls `f(attack)` for every attack matching the connection: addresses
    /// (and ports and protocol, where the attack gives them) in either
    /// direction, time overlapping the connection's widened by `tol`.
    fn matching(&self, attacks: &[Attack], c: &Conn, tol: i64, mut f: impl FnMut(u32)) {
        let (lo, hi) = (
            c.first_ns.saturating_sub(tol),
            c.last_ns.saturating_add(tol),
        );
        let mut check = |_: i64, _: i64, &i: &u32| {
            if attacks.get(i as usize).is_some_and(|a| attack_fits(a, c)) {
                f(i);
            }
        };
        if let Some(list) = self.exact.get(&tuple_key(c.proto, c.client, c.server)) {
            list.overlapping(lo, hi, &mut check);
        }
        let (a, b) = if c.client.0 <= c.server.0 {
            (c.client.0, c.server.0)
        } else {
            (c.server.0, c.client.0)
        };
        for p in [Some(c.proto), None] {
            if let Some(list) = self.pairs.get(&(p, a, b)) {
                list.overlapping(lo, hi, &mut check);
            }
        }
        self.nets.overlapping(lo, hi, &mut check);
    }
}

/// Whether an attack's addresses, ports and protocol fit the connection in
/// one of its two directions.
fn attack_fits(a: &Attack, c: &Conn) -> bool {
    if a.proto.is_some_and(|p| p != c.proto) {
        return false;
    }
    let fits = |src: (IpAddr, u16), dst: (IpAddr, u16)| {
        a.src.contains(src.0)
            && a.dst.contains(dst.0)
            && a.src_port.is_none_or(|p| p == src.1)
            && a.dst_port.is_none_or(|p| p == dst.1)
    };
    fits(c.client, c.server) || fits(c.server, c.client)
}

/// How good a connection is for an alert at time `t`: 0 when the time is
/// within it, else the distance to it; the smallest wins.
fn distance(c: &Conn, t: i64) -> i64 {
    if t < c.first_ns {
        c.first_ns - t
    } else if t > c.last_ns {
        t - c.last_ns
    } else {
        0
    }
}

/// Rank of an attack: lower wins. Ground truth (severity 0) first, then
/// Suricata's severity (1 highest), then the earlier time, then file order.
fn rank(attacks: &[Attack], i: u32) -> (u32, i64, u32) {
    attacks
        .get(i as usize)
        .map_or((u32::MAX, i64::MAX, i), |a| (a.severity, a.start, i))
}

/// The labelled connections and what labelled them.
pub(crate) struct Labelled {
    /// Labelled connections.
    pub conns: Vec<Conn>,
    /// The winning attack of each, same order.
    pub winner: Vec<u32>,
}

/// Reads the Connection records and matches the attacks to them.
fn match_connections(
    inputs: &Inputs,
    attacks: &[Attack],
    opts: &Options,
    summary: &mut Summary,
) -> Result<Labelled, LabelError> {
    let path = inputs.file(Type::NcConnection).ok_or_else(|| {
        LabelError::Records(
            "no Connection record file: labels are matched to connections, so capture \
             without --no-flows and do not --exclude Connection"
                .into(),
        )
    })?;
    let index = AttackIndex::new(attacks);
    // Alerts (a point in time) label the one nearest connection; ground-truth
    // rows (a time range) every connection they match.
    let mut best: Vec<Option<(i64, usize)>> = vec![None; attacks.len()];
    let mut ranges: Vec<Vec<u32>> = Vec::new();
    let mut conns: Vec<Conn> = Vec::new();
    let mut reader = FileReader::open(path)?;
    while let Some(rec) = reader.next_record::<Connection>()? {
        summary.connections += 1;
        let Some(c) = Conn::from_record(&rec) else {
            continue;
        };
        let mut hits: Vec<u32> = Vec::new();
        index.matching(attacks, &c, opts.tolerance_ns, |i| hits.push(i));
        if hits.is_empty() {
            continue;
        }
        let slot = conns.len();
        let mut kept = false;
        let mut own = Vec::new();
        for i in hits {
            let Some(a) = attacks.get(i as usize) else {
                continue;
            };
            if a.severity == 0 {
                own.push(i);
                kept = true;
                continue;
            }
            let d = distance(&c, a.start);
            if let Some(b) = best.get_mut(i as usize) {
                // Equal distances: the earlier connection (read first) stays.
                if b.is_none_or(|(bd, _)| d < bd) {
                    *b = Some((d, slot));
                    kept = true;
                }
            }
        }
        if kept {
            conns.push(c);
            ranges.push(own);
        }
    }
    // Gather each connection's attacks and pick the winner.
    let mut per_conn = ranges;
    for (i, b) in best.iter().enumerate() {
        if let Some((_, slot)) = b {
            if let Some(v) = per_conn.get_mut(*slot) {
                v.push(i as u32);
            }
        }
    }
    let mut matched = vec![false; attacks.len()];
    let mut conflicting = vec![false; attacks.len()];
    let mut labelled = Labelled {
        conns: Vec::new(),
        winner: Vec::new(),
    };
    for (c, hits) in conns.into_iter().zip(per_conn) {
        let Some(&w) = hits.iter().min_by_key(|&&i| rank(attacks, i)) else {
            continue;
        };
        let label_of = |i: u32| {
            attacks
                .get(i as usize)
                .map(|a| (a.category.as_str(), a.signature.as_str()))
        };
        let mut conflict = false;
        for &i in &hits {
            if let Some(m) = matched.get_mut(i as usize) {
                *m = true;
            }
            if label_of(i) != label_of(w) {
                if let Some(x) = conflicting.get_mut(i as usize) {
                    *x = true;
                }
                conflict = true;
            }
        }
        summary.connections_conflicting += u64::from(conflict);
        labelled.conns.push(c);
        labelled.winner.push(w);
    }
    summary.matched = matched;
    summary.conflicting = conflicting;
    summary.connections_labelled = labelled.conns.len() as u64;
    Ok(labelled)
}

/// How the records of one type find their label, from the fields their
/// message has (no code per record type).
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Connection records: their own UID.
    Uid(u32),
    /// Records carrying `ConnectionUID`; per-packet ones fall back to
    /// `PacketNumber` when it is empty (DNS over UDP).
    ConnectionUid { uid: u32, packet: Option<u32> },
    /// Layer flows: an address or port pair (field numbers of Src and Dst
    /// and the pair's kind) and the packet range.
    Pair {
        kind: PairKind,
        src: u32,
        dst: u32,
        first: u32,
        last: u32,
    },
    /// Per-packet records.
    Packet(u32),
    /// Nothing to match on: always normal.
    Nothing,
}

/// What a layer flow's pair holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PairKind {
    Ip,
    Port,
    Mac,
}

impl Rule {
    fn of(ty: Type) -> Rule {
        let Some(d) = netcap_schema::message_descriptor(ty) else {
            return Rule::Nothing;
        };
        let num = |name: &str| d.get_field_by_name(name).map(|f| f.number());
        if ty == Type::NcConnection {
            if let Some(uid) = num("UID") {
                return Rule::Uid(uid);
            }
        }
        // Aggregates (flows) have a UID of their own; their PacketNumber is
        // the last packet read, not one of theirs.
        let aggregate = num("UID").is_some();
        if let Some(uid) = num("ConnectionUID") {
            let packet = if aggregate { None } else { num("PacketNumber") };
            return Rule::ConnectionUid { uid, packet };
        }
        if aggregate {
            let pairs = [
                (PairKind::Ip, "SrcIP", "DstIP"),
                (PairKind::Port, "SrcPort", "DstPort"),
                (PairKind::Mac, "SrcMAC", "DstMAC"),
            ];
            for (kind, s, t) in pairs {
                if let (Some(src), Some(dst), Some(first), Some(last)) = (
                    num(s),
                    num(t),
                    num("FirstPacketNumber"),
                    num("LastPacketNumber"),
                ) {
                    return Rule::Pair {
                        kind,
                        src,
                        dst,
                        first,
                        last,
                    };
                }
            }
            return Rule::Nothing;
        }
        num("PacketNumber").map_or(Rule::Nothing, Rule::Packet)
    }
}

/// A pair value of a layer flow, canonical (addresses parsed, MACs lower case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum PairValue {
    Ip(IpAddr),
    Port(u64),
    Mac(String),
}

/// Everything a record's label is looked up in.
struct Lookup<'a> {
    attacks: &'a [Attack],
    by_uid: HashMap<&'a str, u32>,
    packets: HashMap<u64, u32>,
    pairs: HashMap<(PairKind, PairValue, PairValue), IntervalIndex<u32>>,
}

impl<'a> Lookup<'a> {
    fn new(attacks: &'a [Attack], labelled: &'a Labelled, packets: HashMap<u64, u32>) -> Self {
        let mut by_uid = HashMap::with_capacity(labelled.conns.len());
        let mut pairs: HashMap<_, IntervalIndex<u32>> = HashMap::new();
        for (c, &w) in labelled.conns.iter().zip(&labelled.winner) {
            by_uid.insert(c.uid.as_str(), w);
            let (first, last) = (c.first_pkt as i64, c.last_pkt as i64);
            let mut add = |kind, a: PairValue, b: PairValue| {
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                pairs.entry((kind, a, b)).or_default().push(first, last, w);
            };
            add(
                PairKind::Ip,
                PairValue::Ip(c.client.0),
                PairValue::Ip(c.server.0),
            );
            add(
                PairKind::Port,
                PairValue::Port(c.client.1.into()),
                PairValue::Port(c.server.1.into()),
            );
            if !c.client_mac.is_empty() {
                add(
                    PairKind::Mac,
                    PairValue::Mac(c.client_mac.clone()),
                    PairValue::Mac(c.server_mac.clone()),
                );
            }
        }
        pairs.values_mut().for_each(IntervalIndex::build);
        Lookup {
            attacks,
            by_uid,
            packets,
            pairs,
        }
    }

    /// The attack labelling an encoded record, if any; `None` also for a
    /// record whose fields cannot be read (it is then written as normal).
    fn label(&self, rule: Rule, record: &[u8]) -> Option<u32> {
        match rule {
            Rule::Nothing => None,
            Rule::Uid(n) => self.by_uid.get(text_field(record, n)?).copied(),
            Rule::ConnectionUid { uid, packet } => match text_field(record, uid) {
                Some(u) if !u.is_empty() => self.by_uid.get(u).copied(),
                _ => self.packets.get(&int_field(record, packet?)?).copied(),
            },
            Rule::Packet(n) => self.packets.get(&int_field(record, n)?).copied(),
            Rule::Pair {
                kind,
                src,
                dst,
                first,
                last,
            } => {
                let mut vals = [None, None];
                let (mut lo, mut hi) = (0i64, -1i64);
                wire::for_each_field(record, |n, v| {
                    let slot = if n == src {
                        vals.get_mut(0)
                    } else if n == dst {
                        vals.get_mut(1)
                    } else {
                        if n == first {
                            lo = v.int().unwrap_or(0) as i64;
                        } else if n == last {
                            hi = v.int().unwrap_or(0) as i64;
                        }
                        None
                    };
                    if let Some(s) = slot {
                        *s = match kind {
                            PairKind::Ip => {
                                v.text().and_then(|t| t.parse().ok()).map(PairValue::Ip)
                            }
                            PairKind::Port => Some(PairValue::Port(v.int().unwrap_or(0))),
                            PairKind::Mac => {
                                v.text().map(|t| PairValue::Mac(t.to_ascii_lowercase()))
                            }
                        };
                    }
                })?;
                // proto3 leaves zero ports out: a missing port is 0.
                let zero = || (kind == PairKind::Port).then_some(PairValue::Port(0));
                let [a, b] = vals;
                let (a, b) = (a.or_else(zero)?, b.or_else(zero)?);
                let key = if a <= b { (kind, a, b) } else { (kind, b, a) };
                let mut best: Option<u32> = None;
                self.pairs.get(&key)?.overlapping(lo, hi, |_, _, &w| {
                    if best.is_none_or(|b| rank(self.attacks, w) < rank(self.attacks, b)) {
                        best = Some(w);
                    }
                });
                best
            }
        }
    }
}

/// The last value of a string field.
fn text_field(record: &[u8], number: u32) -> Option<&str> {
    let mut out = None;
    wire::for_each_field(record, |n, v| {
        if n == number {
            out = v.text();
        }
    })?;
    Some(out.unwrap_or_default())
}

/// The last value of an integer field (0 when absent, as proto3 means).
fn int_field(record: &[u8], number: u32) -> Option<u64> {
    let mut out = 0;
    wire::for_each_field(record, |n, v| {
        if n == number {
            out = v.int().unwrap_or(0);
        }
    })?;
    Some(out)
}

/// Bytes of length-delimited records handed to a writer at a time.
const BATCH: usize = 1 << 20;

/// Labels the records: matches the attacks to connections, finds their
/// packets and writes every file of `inputs` to `out` with labels.
pub fn label(
    inputs: &Inputs,
    attacks: &[Attack],
    out: &Path,
    opts: &Options,
) -> Result<Summary, LabelError> {
    let mut summary = Summary::default();
    let labelled = match_connections(inputs, attacks, opts, &mut summary)?;
    let packets = packets::label_packets(inputs, &labelled, attacks)?;
    summary.packets_labelled = packets.len() as u64;
    summary.no_packet_keys =
        inputs.file(Type::NcIPv4).is_none() && inputs.file(Type::NcIPv6).is_none();
    let lookup = Lookup::new(attacks, &labelled, packets);

    std::fs::create_dir_all(out).map_err(|e| LabelError::io(out, e))?;
    let files = &inputs.to_label;
    let workers = opts.workers.clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FileSummary, LabelError>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = files.get(i) else { break };
                let r = label_file(input, out, &lookup, opts);
                if let Ok(mut v) = results.lock() {
                    if let Some(slot) = v.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| LabelError::Records("a labelling thread panicked".into()))?;
    for (input, r) in files.iter().zip(results) {
        match r {
            Some(Ok(f)) => summary.files.push(f),
            Some(Err(e)) => return Err(e),
            None => {
                return Err(LabelError::Records(format!(
                    "{}: not labelled",
                    input.display()
                )))
            }
        }
    }
    Ok(summary)
}

/// Writes one file's records with their labels appended.
fn label_file(
    input: &Path,
    out: &Path,
    lookup: &Lookup<'_>,
    opts: &Options,
) -> Result<FileSummary, LabelError> {
    let mut reader = FileReader::open(input)?;
    let ty = reader.record_type();
    let rule = Rule::of(ty);
    let name = RecordWriter::file_name(ty, opts.format, &opts.writer);
    let path = out.join(&name);
    let mut writer = RecordWriter::create(out, reader.header(), opts.format, &opts.writer)
        .map_err(|e| LabelError::io(&path, e))?;
    let drop = LABEL_FIELDS.map(|(_, n)| n);
    let mut buf = Vec::with_capacity(BATCH + 4096);
    let mut rec = Vec::new();
    let (mut count, mut records, mut labelled) = (0u64, 0u64, 0u64);
    let write_err = |e| LabelError::io(&path, e);
    while let Some(raw) = reader.next_raw()? {
        let hit = lookup.label(rule, raw);
        rec.clear();
        // A record labelled before: drop its old labels (rare, so first check).
        let mut has_label = false;
        if wire::for_each_field(raw, |n, _| has_label |= drop.contains(&n)).is_none() {
            return Err(LabelError::Records(format!(
                "{}: record {} is malformed",
                input.display(),
                records + 1
            )));
        }
        if has_label {
            wire::copy_without(raw, &drop, &mut rec);
        } else {
            rec.extend_from_slice(raw);
        }
        let [(_, label_no), (_, category_no), (_, signature_no)] = LABEL_FIELDS;
        match hit.and_then(|i| lookup.attacks.get(i as usize)) {
            Some(a) => {
                labelled += 1;
                wire::put_string(&mut rec, label_no, &opts.attack_label);
                wire::put_string(&mut rec, category_no, &a.category);
                wire::put_string(&mut rec, signature_no, &a.signature);
            }
            None => wire::put_string(&mut rec, label_no, &opts.normal_label),
        }
        put_varint(&mut buf, rec.len() as u64);
        buf.extend_from_slice(&rec);
        count += 1;
        records += 1;
        if buf.len() >= BATCH {
            writer.write_encoded(&buf, count).map_err(write_err)?;
            buf.clear();
            count = 0;
        }
    }
    if count > 0 {
        writer.write_encoded(&buf, count).map_err(write_err)?;
    }
    let output = writer.finish().map_err(write_err)?;
    Ok(FileSummary {
        input: input.to_path_buf(),
        output,
        record_type: ty,
        records,
        labelled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::ALL_TYPES;

    /// Every record type finds its label some way, chosen from its fields.
    #[test]
    fn every_record_type_has_a_rule() {
        for &t in ALL_TYPES {
            let r = Rule::of(t);
            assert!(!matches!(r, Rule::Nothing), "{t:?}");
            match t {
                Type::NcConnection => assert!(matches!(r, Rule::Uid(16)), "{r:?}"),
                Type::NcFlow => assert!(matches!(r, Rule::ConnectionUid { packet: None, .. })),
                Type::NcDns | Type::NcHttp => {
                    assert!(matches!(
                        r,
                        Rule::ConnectionUid {
                            packet: Some(_),
                            ..
                        }
                    ))
                }
                Type::NcLinkFlow => assert!(matches!(
                    r,
                    Rule::Pair {
                        kind: PairKind::Mac,
                        ..
                    }
                )),
                Type::NcNetworkFlow => assert!(matches!(
                    r,
                    Rule::Pair {
                        kind: PairKind::Ip,
                        ..
                    }
                )),
                Type::NcTransportFlow => {
                    assert!(matches!(
                        r,
                        Rule::Pair {
                            kind: PairKind::Port,
                            ..
                        }
                    ))
                }
                Type::NcTcp | Type::NcEthernet => assert!(matches!(r, Rule::Packet(_))),
                _ => {}
            }
        }
    }

    fn conn(client: &str, cport: u16, server: &str, sport: u16, first: i64, last: i64) -> Conn {
        Conn {
            uid: format!("C{first}"),
            proto: 6,
            client: (client.parse().unwrap(), cport),
            server: (server.parse().unwrap(), sport),
            first_ns: first,
            last_ns: last,
            first_pkt: first as u64,
            last_pkt: last as u64,
            client_mac: String::new(),
            server_mac: String::new(),
        }
    }

    fn row(src: &str, dst: &str, dport: Option<u16>, start: i64, end: i64) -> Attack {
        Attack {
            src: net::IpNet::parse(src).unwrap(),
            dst: net::IpNet::parse(dst).unwrap(),
            src_port: None,
            dst_port: dport,
            proto: Some(6),
            start,
            end,
            category: "x".into(),
            signature: String::new(),
            severity: 0,
            line: 2,
        }
    }

    #[test]
    fn rows_fit_either_direction_with_ports_on_their_side() {
        let c = conn("10.0.0.5", 40000, "192.168.1.9", 80, 100, 200);
        assert!(attack_fits(
            &row("10.0.0.0/8", "192.168.1.0/24", Some(80), 0, 1),
            &c
        ));
        // The row written from the server's side: the reply traffic.
        assert!(attack_fits(&row("192.168.1.9", "10.0.0.5", None, 0, 1), &c));
        // The port belongs to the destination side.
        assert!(!attack_fits(
            &row("10.0.0.0/8", "192.168.1.0/24", Some(40000), 0, 1),
            &c
        ));
        assert!(!attack_fits(
            &row("10.0.0.0/8", "10.0.0.0/8", None, 0, 1),
            &c
        ));
        let mut udp = row("10.0.0.0/8", "192.168.1.0/24", None, 0, 1);
        udp.proto = Some(17);
        assert!(!attack_fits(&udp, &c));
    }

    #[test]
    fn index_finds_attacks_by_tuple_pair_and_network_in_time() {
        let mut alert = row("192.168.1.9", "10.0.0.5", Some(40000), 150, 150);
        alert.src_port = Some(80);
        alert.severity = 2;
        let attacks = vec![
            alert.clone(),
            row("10.0.0.5", "192.168.1.9", None, 90, 95),
            row("10.0.0.0/8", "192.168.0.0/16", None, 210, 300),
            row("10.0.0.0/8", "192.168.0.0/16", None, 500, 600),
        ];
        let idx = AttackIndex::new(&attacks);
        let c = conn("10.0.0.5", 40000, "192.168.1.9", 80, 100, 200);
        let mut got = Vec::new();
        idx.matching(&attacks, &c, 10, |i| got.push(i));
        got.sort_unstable();
        // Tolerance 10: the row ending at 95 and the one starting at 210 fit.
        assert_eq!(got, vec![0, 1, 2]);
        got.clear();
        idx.matching(&attacks, &c, 0, |i| got.push(i));
        assert_eq!(got, vec![0]);
        // Ground truth outranks alerts; among alerts severity 1 first.
        assert!(rank(&attacks, 1) < rank(&attacks, 0));
        assert_eq!(distance(&c, 150), 0);
        assert_eq!(distance(&c, 90), 10);
        assert_eq!(distance(&c, 230), 30);
    }
}
