//! The differential machinery against tshark, shared by the tests that compare
//! records with tshark field by field (`tshark_diff.rs`, `l3_tshark_diff.rs`,
//! `tunnels_diff.rs`, `tshark_app.rs`): how a tshark value is normalised, the
//! tables mapping record fields to tshark fields, the tshark run, and one
//! compare loop with its report and its list of explained differences.
//!
//! A comparison (a "check") takes, on one packet, the values our records of a
//! type give for a field and tshark's occurrences of the matching field,
//! normalised. tshark's list must equal ours, or, for the usual prefix checks,
//! start with ours: tshark may have more occurrences (layers it decodes beyond
//! Netcap, e.g. quoted packets in ICMP errors), which are counted and reported.
//! Every other difference fails the test, unless it is listed in the test's
//! explained differences, and every listed difference must still be seen.
//!
//! Compared values: each of our values found equal to tshark's, and each check
//! where both sides agree the field is absent (counted once).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use prost_reflect::{DynamicMessage, ReflectMessage, Value};

use super::{all_pcaps, pcap_name, records_of, text, Records};

/// tshark's occurrences of each field on one frame.
pub type Frame = HashMap<String, Vec<String>>;
/// tshark's fields per frame number.
pub type Frames = HashMap<u64, Frame>;

/// How a tshark value is turned into the text Netcap shows.
#[derive(Clone, Copy, Debug)]
pub enum Norm {
    /// As is.
    Same,
    /// `0x`-prefixed hex to decimal (anything else as is).
    Hex,
    /// `0x`-prefixed hex or decimal to decimal: tshark shows some fields in
    /// hex in one dissector and in decimal in another.
    HexOrDec,
    /// Hex without prefix (tshark's bytes fields) to decimal.
    BareHex,
    /// 1/0 or True/False to true/false.
    Bool,
    /// Divided by 4 (header lengths in bytes to 32-bit words).
    Div4,
    /// Multiplied by 8 (ICMPv6 option lengths count 8-byte units).
    Mul8,
    /// Hex with colons or without, to lowercase plain hex (bytes fields).
    Bytes,
    /// Top byte of a 32-bit hex value.
    TopByte,
    /// tshark's `\n` escapes back to newlines.
    Unescape,
    /// A SAP byte without its low (I/G or C/R) bit: Netcap keeps that bit apart.
    Sap,
    /// An OUI number to Netcap's 3-byte hex.
    Oui,
    /// Hex or decimal without the top bit of 16 (mDNS puts the cache-flush /
    /// unicast-response bit on top of the class).
    Class,
    /// An unsigned byte shown by tshark, signed in Netcap (NTP poll, precision).
    I8,
    /// A float number of seconds (NTP root delay) to 16.16 fixed point. tshark
    /// 4.0 prints root delay/dispersion as float seconds in some builds and as
    /// the raw 16.16 value in others: an integer is the raw value.
    Fixed16,
    /// tshark shows the DHCP End option's type as 0.
    DhcpEnd,
    /// NTP reference ID: an IPv4 address or 4 bytes of hex, to the u32.
    RefId,
}

/// `v` as Netcap shows it, by `n`.
pub fn norm(n: Norm, v: &str) -> String {
    let or_same = |x: Option<String>| x.unwrap_or_else(|| v.to_string());
    let hex = |v: &str| {
        v.strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
    };
    let hex_or_dec = |v: &str| match v.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse::<u64>().ok(),
    };
    match n {
        Norm::Same => v.to_string(),
        Norm::Hex => or_same(hex(v).map(|x| x.to_string())),
        Norm::HexOrDec => or_same(hex_or_dec(v).map(|x| x.to_string())),
        Norm::BareHex => or_same(u64::from_str_radix(v, 16).ok().map(|x| x.to_string())),
        Norm::Bool => match v {
            "1" | "True" => "true".into(),
            "0" | "False" => "false".into(),
            o => o.into(),
        },
        Norm::Div4 => or_same(v.parse::<u64>().ok().map(|x| (x / 4).to_string())),
        Norm::Mul8 => or_same(v.parse::<u64>().ok().map(|x| (x * 8).to_string())),
        Norm::Bytes => v.replace(':', "").to_lowercase(),
        Norm::TopByte => or_same(hex(v).map(|x| (x >> 24).to_string())),
        Norm::Unescape => v.replace("\\n", "\n"),
        Norm::Sap => or_same(hex(v).map(|x| (x & 0xfe).to_string())),
        Norm::Oui => or_same(v.parse::<u32>().ok().map(|x| format!("{x:06x}"))),
        Norm::Class => or_same(hex_or_dec(v).map(|x| (x & 0x7fff).to_string())),
        Norm::I8 => or_same(v.parse::<u8>().ok().map(|x| (x as i8).to_string())),
        Norm::Fixed16 if !v.contains('.') => v.to_string(),
        Norm::Fixed16 => or_same(
            v.parse::<f64>()
                .ok()
                .map(|x| ((x * 65536.0).round() as u64).to_string()),
        ),
        Norm::DhcpEnd => if v == "0" { "255" } else { v }.to_string(),
        Norm::RefId => match v.parse::<std::net::Ipv4Addr>() {
            Ok(a) => u32::from(a).to_string(),
            Err(_) => or_same(u64::from_str_radix(v, 16).ok().map(|x| x.to_string())),
        },
    }
}

/// A value of a field of `m` as `netcap dump` shows it; a path `A.B` goes
/// into the nested message `A` (empty when it is not set).
pub fn path_text(m: &DynamicMessage, path: &str) -> String {
    match path.split_once('.') {
        None => text(m, path),
        Some((outer, inner)) => {
            let f = m.descriptor().get_field_by_name(outer).unwrap();
            match m.get_field(&f).as_message() {
                Some(sub) => path_text(sub, inner),
                None => String::new(),
            }
        }
    }
}

/// Values of `sub` in each element of the repeated field `list` of `m` (a
/// path `A.B` goes into the nested message `A`; `sub` empty: the elements
/// themselves, for repeated scalars).
pub fn list_texts(m: &DynamicMessage, list: &str, sub: &str) -> Vec<String> {
    if let Some((outer, inner)) = list.split_once('.') {
        let f = m.descriptor().get_field_by_name(outer).unwrap();
        return match m.get_field(&f).as_message() {
            Some(o) => list_texts(o, inner, sub),
            None => Vec::new(),
        };
    }
    let f = m
        .descriptor()
        .get_field_by_name(list)
        .unwrap_or_else(|| panic!("no field {list}"));
    let v = m.get_field(&f);
    v.as_list()
        .unwrap()
        .iter()
        .map(|i| match i {
            Value::Message(im) => path_text(im, sub),
            Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// What a field check takes from each of our records.
pub enum Ours {
    /// A (possibly nested: `A.B`) field: one value per record.
    Field(&'static str),
    /// A field of every element of a repeated field. Empty values are left
    /// out: they are fields only some elements have (the prefix of an ICMPv6
    /// prefix-information option), of which tshark has no occurrence.
    List(&'static str, &'static str),
    /// A field of the elements of a repeated field inside the elements of a
    /// repeated field: (outer list, inner list, field).
    ListList(&'static str, &'static str, &'static str),
    /// A field of the elements of a repeated field whose `Type` is one of
    /// these (fields only some element types have).
    ListOfType(&'static str, &'static str, &'static [&'static str]),
    /// A text field split into lines (tshark shows each line of CDP's
    /// software version as an occurrence).
    Lines(&'static str),
    /// Values computed from the record by the test, named for reports.
    With(&'static str, fn(&DynamicMessage) -> Vec<String>),
}

impl Ours {
    /// The values of `m`.
    pub fn values(&self, m: &DynamicMessage) -> Vec<String> {
        match *self {
            Ours::Field(p) => vec![path_text(m, p)],
            Ours::List(list, sub) => list_texts(m, list, sub)
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
            Ours::ListList(list, inner, sub) => {
                let f = m.descriptor().get_field_by_name(list).unwrap();
                let items = m.get_field(&f);
                items
                    .as_list()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_message)
                    .flat_map(|im| list_texts(im, inner, sub))
                    .collect()
            }
            Ours::ListOfType(list, sub, types) => list_texts(m, list, "Type")
                .iter()
                .zip(list_texts(m, list, sub))
                .filter(|(k, _)| types.contains(&k.as_str()))
                .map(|(_, x)| x)
                .collect(),
            Ours::Lines(p) => path_text(m, p).lines().map(str::to_string).collect(),
            Ours::With(_, f) => f(m),
        }
    }

    /// How the values are named in reports.
    pub fn name(&self) -> String {
        match *self {
            Ours::Field(p) | Ours::Lines(p) => p.to_string(),
            Ours::List(l, "") => format!("{l}[]"),
            Ours::List(l, s) => format!("{l}[].{s}"),
            Ours::ListList(l, i, "") => format!("{l}[].{i}[]"),
            Ours::ListList(l, i, s) => format!("{l}[].{i}[].{s}"),
            Ours::ListOfType(l, s, t) => format!("{l}[Type in {t:?}].{s}"),
            Ours::With(n, _) => n.to_string(),
        }
    }
}

/// A record field mapped to a tshark field.
pub struct Field {
    pub tshark: &'static str,
    pub ours: Ours,
    pub norm: Norm,
    /// tshark's occurrences must equal ours (otherwise they must start with ours).
    pub exact: bool,
    /// Only compared on packets with exactly one record of the type.
    pub alone: bool,
}

impl Field {
    /// tshark's occurrences must equal ours: no extra occurrences.
    pub fn exact(self) -> Self {
        Self {
            exact: true,
            ..self
        }
    }

    /// Only compared on packets that have exactly one record of the type.
    pub fn alone(self) -> Self {
        Self {
            alone: true,
            ..self
        }
    }
}

/// A field check of `ours` against the occurrences of `tshark`.
pub fn field(tshark: &'static str, ours: Ours, norm: Norm) -> Field {
    Field {
        tshark,
        ours,
        norm,
        exact: false,
        alone: false,
    }
}

/// A (possibly nested) field, one value per record.
pub fn f(tshark: &'static str, ours: &'static str, norm: Norm) -> Field {
    field(tshark, Ours::Field(ours), norm)
}

/// A field of every element of a repeated field (`sub` empty: the elements).
pub fn l(tshark: &'static str, list: &'static str, sub: &'static str, norm: Norm) -> Field {
    field(tshark, Ours::List(list, sub), norm)
}

/// A field of the elements of a repeated field inside a repeated field.
pub fn ll(
    tshark: &'static str,
    list: &'static str,
    inner: &'static str,
    sub: &'static str,
    norm: Norm,
) -> Field {
    field(tshark, Ours::ListList(list, inner, sub), norm)
}

/// A record filter.
pub type Filter = fn(&DynamicMessage) -> bool;

/// Every record.
pub fn any(_: &DynamicMessage) -> bool {
    true
}

/// Every frame.
pub fn any_frame(_: &Frame) -> bool {
    true
}

/// Fields of a record type; `filter` restricts which of our records take part
/// (fields tshark shows only for some of them), `frames` on which frames.
pub struct Table {
    pub record: &'static str,
    pub fields: Vec<Field>,
    pub filter: Filter,
    pub frames: fn(&Frame) -> bool,
}

/// The fields of every record of type `record`.
pub fn table(record: &'static str, fields: Vec<Field>) -> Table {
    Table {
        record,
        fields,
        filter: any,
        frames: any_frame,
    }
}

impl Table {
    /// Only the records `filter` accepts.
    pub fn when(self, filter: Filter) -> Self {
        Self { filter, ..self }
    }

    /// Only on the frames `frames` accepts (by tshark's fields).
    pub fn on_frames(self, frames: fn(&Frame) -> bool) -> Self {
        Self { frames, ..self }
    }
}

/// Where tshark shows a layer, Netcap must have a record: (record type,
/// tshark field, the value its first occurrence must have or "" for any).
pub type Presence = (&'static str, &'static str, &'static str);

/// Where tshark shows a layer, Netcap must have at least as many records of
/// the type as tshark shows occurrences of the layer on the frame: (record
/// type, tshark fields that each occurrence of the layer shows once; their
/// occurrences are added up, e.g. the fields of 802.1Q and 802.1ad tags for
/// Dot1Q records).
pub type Count = (&'static str, &'static [&'static str]);

/// How a `Count` is named in reports and in `Explained::tshark`: its fields
/// joined by `+`.
pub fn count_name(c: &Count) -> String {
    c.1.join("+")
}

/// A known difference, with its reason: on these frames of `capture`, the
/// check of `record` against tshark field `tshark` fails (for a missing
/// record: the `Presence` field that shows the layer; for too few records:
/// the `Count`'s name, see `count_name`).
pub struct Explained {
    pub capture: &'static str,
    pub record: &'static str,
    pub tshark: &'static str,
    pub frames: &'static [u64],
    pub reason: &'static str,
}

/// tshark's IP reassembly preferences for `pcap`. Reassembly stays on (tshark's
/// default), like Netcap's: the layers of a fragmented datagram are on the
/// frame that completes it, and a fragment's own payload is not decoded.
///
/// Netcap reassembles fragments of the outermost IP header only: fragments
/// inside a tunnel are decoded on their own, the first one's transport header
/// included, which is what tshark shows with reassembly off. So for the
/// capture whose fragments are inside a tunnel (IPv4 in PPP in GRE), tshark
/// runs with reassembly off.
pub fn ip_reassembly_prefs(pcap: &Path) -> Vec<&'static str> {
    if pcap
        .file_name()
        .is_some_and(|n| n == "ipv4-frag-gre-ppp-udp.pcap")
    {
        vec!["ip.defragment:FALSE", "ipv6.defragment:FALSE"]
    } else {
        Vec::new()
    }
}

/// tshark's preferences for the field-by-field tests: reassembly above IP off
/// (TCP segments, DNS messages over TCP, SCTP chunks), as each record describes
/// its own packet, and TCP sequence analysis off (with it, tshark takes the
/// segments after a Modbus ADU whose length field exceeds its segment for that
/// ADU's continuation). IP reassembly as in Netcap (`ip_reassembly_prefs`).
pub fn diff_prefs(pcap: &Path) -> Vec<&'static str> {
    let mut prefs = vec![
        "tcp.desegment_tcp_streams:FALSE",
        "tcp.analyze_sequence_numbers:FALSE",
        "tcp.relative_sequence_numbers:FALSE",
        "dns.desegment_dns_messages:FALSE",
        "sctp.reassembly:FALSE",
    ];
    prefs.extend(ip_reassembly_prefs(pcap));
    prefs
}

/// Runs `tshark -T fields` on `pcap` with every occurrence of each field, with
/// the preferences `prefs` (`name:value`), and splits the output per frame.
/// Occurrences are separated by 0x1f, which no field value contains.
pub fn tshark_fields(pcap: &Path, fields: &[&str], prefs: &[&str]) -> Frames {
    let mut frames = Frames::new();
    // A few hundred fields make one run (a run costs mostly tshark's start);
    // more, several runs, so the command line stays short.
    for chunk in fields.chunks(400) {
        let mut cmd = Command::new("tshark");
        cmd.args(["-n", "-r"]).arg(pcap);
        cmd.args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=\u{1f}",
        ]);
        for p in prefs {
            cmd.args(["-o", p]);
        }
        cmd.args(["-e", "frame.number"]);
        for f in chunk {
            cmd.args(["-e", f]);
        }
        let out = cmd
            .output()
            .expect("tshark is installed (apt-get install tshark)");
        // On a damaged capture tshark prints the frames before the damage and
        // exits non-zero: that is an answer too.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("damaged or corrupt") || err.contains("cut short"),
            "tshark failed: {err}"
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut cols = line.split('\t');
            let Some(n) = cols.next().and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            let m = frames.entry(n).or_default();
            for (f, col) in chunk.iter().zip(cols) {
                if !col.is_empty() {
                    m.insert(
                        f.to_string(),
                        col.split('\u{1f}').map(str::to_string).collect(),
                    );
                }
            }
        }
    }
    frames
}

/// tshark's `fields` (and `frame.protocols`, for reports) on `pcap`, with the
/// differential tests' preferences (`diff_prefs`).
pub fn tshark_frames(pcap: &Path, fields: &[&str]) -> Frames {
    let mut all = fields.to_vec();
    all.push("frame.protocols");
    all.sort_unstable();
    all.dedup();
    tshark_fields(pcap, &all, &diff_prefs(pcap))
}

/// Prints `report`, writes it with every failure to `file` in the tests' temp
/// directory, and fails with the first failures if there are any.
pub fn finish_report(file: &str, report: &str, failures: &[String]) {
    println!("{report}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file);
    let _ = std::fs::write(&path, format!("{report}\n{}", failures.join("\n")));
    assert!(
        failures.is_empty(),
        "{} unexplained differences with tshark, first ones (all in {}):\n{}",
        failures.len(),
        path.display(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A difference: where, and what it says.
struct Failure {
    capture: String,
    frame: u64,
    record: String,
    tshark: String,
    text: String,
}

/// Per record type.
#[derive(Default)]
pub struct Stats {
    /// (capture, packet) with records compared.
    pub packets: BTreeSet<(String, u64)>,
    /// Records compared.
    pub records: u64,
    /// Checks passed.
    pub checks: u64,
    /// Values compared and equal (see the module doc).
    pub values: u64,
    /// Checks failed.
    pub differ: u64,
    /// Extra tshark occurrences after ours.
    pub extra: u64,
    /// Presence by count (`Count`): frames where tshark shows the layer.
    pub layer_frames: u64,
    /// Presence by count: tshark's occurrences of the layer on those frames.
    pub layer_occurrences: u64,
    /// Presence by count: frames with fewer records than tshark's occurrences.
    pub layer_short: u64,
}

/// One comparison: the values of our `record`s named `ours` (in reports; may
/// be empty) against tshark's field `tshark`.
pub struct Check<'a> {
    pub record: &'a str,
    pub ours: &'a str,
    pub tshark: &'a str,
    pub norm: Norm,
    /// tshark's occurrences must equal ours (otherwise start with them).
    pub exact: bool,
}

/// The compare loop: checks, their statistics and failures.
pub struct Diff {
    stats: BTreeMap<String, Stats>,
    failures: Vec<Failure>,
    /// Extra tshark occurrences per (record type, tshark field, capture).
    extra: BTreeMap<(String, String, String), u64>,
}

impl Diff {
    /// A compare loop for these record types: each must have values compared.
    pub fn new<'a>(records: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            stats: records
                .into_iter()
                .map(|r| (r.to_string(), Stats::default()))
                .collect(),
            failures: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    fn stats(&mut self, record: &str) -> &mut Stats {
        self.stats.entry(record.to_string()).or_default()
    }

    /// Counts `n` records of `record` as compared.
    pub fn records(&mut self, record: &str, n: u64) {
        self.stats(record).records += n;
    }

    /// Compares our values `got` on packet `n` of `capture` with tshark's
    /// occurrences on that frame.
    pub fn check(&mut self, capture: &str, n: u64, c: &Check<'_>, got: &[String], frame: &Frame) {
        let raw = frame.get(c.tshark).map(Vec::as_slice).unwrap_or_default();
        let want: Vec<String> = raw.iter().map(|v| norm(c.norm, v)).collect();
        let ok = if c.exact {
            want == got
        } else {
            want.get(..got.len()) == Some(got)
        };
        let st = self.stats(c.record);
        st.packets.insert((capture.to_string(), n));
        if !ok {
            st.differ += 1;
            let shown = if want[..] == raw[..] {
                String::new()
            } else {
                format!(" (as tshark shows it: {raw:?})")
            };
            let rule = if c.exact { "" } else { " (or more)" };
            let ours = if c.ours.is_empty() {
                String::new()
            } else {
                format!(".{}", c.ours)
            };
            self.failures.push(Failure {
                capture: capture.to_string(),
                frame: n,
                record: c.record.to_string(),
                tshark: c.tshark.to_string(),
                text: format!(
                    "{capture} #{n} {}{ours} ~ {}: netcap {got:?}, tshark {want:?}{rule}{shown}",
                    c.record, c.tshark
                ),
            });
            return;
        }
        st.checks += 1;
        st.values += if got.is_empty() {
            u64::from(want.is_empty())
        } else {
            got.len() as u64
        };
        let extra = (want.len() - got.len()) as u64;
        if extra > 0 {
            st.extra += extra;
            *self
                .extra
                .entry((
                    c.record.to_string(),
                    c.tshark.to_string(),
                    capture.to_string(),
                ))
                .or_default() += extra;
        }
    }

    /// Compares the records of one capture with tshark's frames, table by table.
    pub fn compare(&mut self, capture: &str, records: &Records, frames: &Frames, tables: &[Table]) {
        let empty = Frame::new();
        // The records that took part, per type (by index).
        let mut compared: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for t in tables {
            let Some(recs) = records.get(t.record) else {
                continue;
            };
            let mut by_packet: BTreeMap<u64, Vec<&DynamicMessage>> = BTreeMap::new();
            for (i, (n, m)) in recs.iter().enumerate() {
                if (t.filter)(m) {
                    by_packet.entry(*n).or_default().push(m);
                    compared.entry(t.record).or_default().insert(i);
                }
            }
            for (n, ours) in &by_packet {
                let frame = frames.get(n).unwrap_or(&empty);
                if !(t.frames)(frame) {
                    continue;
                }
                for fl in &t.fields {
                    if fl.alone && ours.len() != 1 {
                        continue;
                    }
                    let got: Vec<String> = ours.iter().flat_map(|m| fl.ours.values(m)).collect();
                    let c = Check {
                        record: t.record,
                        ours: &fl.ours.name(),
                        tshark: fl.tshark,
                        norm: fl.norm,
                        exact: fl.exact,
                    };
                    self.check(capture, *n, &c, &got, frame);
                }
            }
        }
        for (record, idx) in compared {
            self.records(record, idx.len() as u64);
        }
    }

    /// Checks that Netcap has a record wherever tshark shows one of `presence`.
    pub fn presence(
        &mut self,
        capture: &str,
        records: &Records,
        frames: &Frames,
        presence: &[Presence],
    ) {
        for (record, field, value) in presence {
            let ours: BTreeSet<u64> = records
                .get(*record)
                .map(|r| r.iter().map(|(n, _)| *n).collect())
                .unwrap_or_default();
            let mut missing: Vec<(u64, &Frame)> = frames
                .iter()
                .filter(|(n, fs)| {
                    // The first occurrence: an ICMPv6 error's quoted packet is not ours.
                    fs.get(*field).is_some_and(|v| {
                        value.is_empty() || v.first().map(String::as_str) == Some(*value)
                    }) && !ours.contains(n)
                })
                .map(|(n, fs)| (*n, fs))
                .collect();
            missing.sort_unstable_by_key(|m| m.0);
            for (n, fs) in missing {
                let what = format!("tshark shows {field}, Netcap has no {record} record");
                self.missing(capture, n, record, field, fs, &what);
            }
        }
    }

    /// Checks that on every frame where tshark shows one of the layers of
    /// `counts`, Netcap has at least as many records of its type as tshark
    /// shows occurrences of the layer.
    pub fn presence_counts(
        &mut self,
        capture: &str,
        records: &Records,
        frames: &Frames,
        counts: &[Count],
    ) {
        for c in counts {
            let (record, fields) = *c;
            let name = count_name(c);
            let mut ours: BTreeMap<u64, u64> = BTreeMap::new();
            for (n, _) in records.get(record).map(Vec::as_slice).unwrap_or_default() {
                *ours.entry(*n).or_default() += 1;
            }
            let mut shown: Vec<(u64, u64, &Frame)> = frames
                .iter()
                .map(|(n, fs)| {
                    let k: usize = fields.iter().map(|f| fs.get(*f).map_or(0, Vec::len)).sum();
                    (*n, k as u64, fs)
                })
                .filter(|(_, k, _)| *k > 0)
                .collect();
            shown.sort_unstable_by_key(|s| s.0);
            for (n, want, fs) in shown {
                let got = ours.get(&n).copied().unwrap_or(0);
                let st = self.stats(record);
                st.layer_frames += 1;
                st.layer_occurrences += want;
                if got >= want {
                    continue;
                }
                st.layer_short += 1;
                let what = format!(
                    "tshark shows {want} occurrence(s) of {name}, Netcap has {got} {record} record(s)"
                );
                self.missing(capture, n, record, &name, fs, &what);
            }
        }
    }

    /// Records a record missing on frame `n`; `what` says what tshark shows.
    fn missing(
        &mut self,
        capture: &str,
        n: u64,
        record: &str,
        tshark: &str,
        fs: &Frame,
        what: &str,
    ) {
        let protos = fs
            .get("frame.protocols")
            .map(|p| p.join(":"))
            .unwrap_or_default();
        self.failures.push(Failure {
            capture: capture.to_string(),
            frame: n,
            record: record.to_string(),
            tshark: tshark.to_string(),
            text: format!("{capture} #{n}: {what} ({protos})"),
        });
    }

    /// Reports (printed, and written to `file` in the tests' temp directory),
    /// then fails on any difference not in `explained`, on any explained
    /// difference no longer seen, and on any record type without a value
    /// compared. Returns the statistics per record type.
    pub fn finish(self, file: &str, explained: &[Explained]) -> BTreeMap<String, Stats> {
        let mut failures = Vec::new();
        let mut seen: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
        let mut n_explained = 0;
        for fl in &self.failures {
            let e = explained.iter().position(|e| {
                e.capture == fl.capture
                    && e.record == fl.record
                    && e.tshark == fl.tshark
                    && e.frames.contains(&fl.frame)
            });
            match e {
                Some(i) => {
                    n_explained += 1;
                    seen.entry(i).or_default().insert(fl.frame);
                }
                None => failures.push(fl.text.clone()),
            }
        }
        let mut report = String::from(
            "record type                    packets   records    values agree   checks   differ   extra tshark occurrences\n",
        );
        for (k, s) in &self.stats {
            let _ = writeln!(
                report,
                "{k:<28} {:>9} {:>9} {:>15} {:>8} {:>8} {:>10}",
                s.packets.len(),
                s.records,
                s.values,
                s.checks,
                s.differ,
                s.extra
            );
            if s.values == 0 {
                failures.push(format!("{k}: no value compared"));
            }
        }
        if self.stats.values().any(|s| s.layer_frames > 0) {
            let _ = writeln!(
                report,
                "\npresence (per frame, Netcap's records of a type against tshark's occurrences of its layer):\n\
                 record type                  frames checked   occurrences   frames short"
            );
            for (k, s) in self.stats.iter().filter(|(_, s)| s.layer_frames > 0) {
                let _ = writeln!(
                    report,
                    "  {k:<28} {:>14} {:>13} {:>14}",
                    s.layer_frames, s.layer_occurrences, s.layer_short
                );
            }
        }
        if !self.extra.is_empty() {
            let _ = writeln!(
                report,
                "\nextra tshark occurrences (layers tshark decodes beyond Netcap):"
            );
            for ((r, f, c), n) in &self.extra {
                let _ = writeln!(report, "  {r:<28} {f:<36} {c:<45} {n:>6}");
            }
        }
        if !explained.is_empty() {
            let _ = writeln!(report, "\nexplained differences:");
        }
        for (i, e) in explained.iter().enumerate() {
            let got = seen.get(&i).cloned().unwrap_or_default();
            let _ = writeln!(
                report,
                "  {} {} ~ {} frames {:?}: {}",
                e.capture, e.record, e.tshark, e.frames, e.reason
            );
            let stale: Vec<_> = e.frames.iter().filter(|n| !got.contains(n)).collect();
            if !stale.is_empty() {
                failures.push(format!(
                    "explained difference no longer seen: {} {} ~ {} frames {stale:?}",
                    e.capture, e.record, e.tshark
                ));
            }
        }
        let values: u64 = self.stats.values().map(|s| s.values).sum();
        let records: u64 = self.stats.values().map(|s| s.records).sum();
        let checks: u64 = self.stats.values().map(|s| s.checks).sum();
        let _ = writeln!(
            report,
            "\ncompared {values} values on {records} records ({checks} checks, {n_explained} explained differences)"
        );
        finish_report(file, &report, &failures);
        self.stats
    }
}

/// The tshark fields `tables` and `presence` need, with `more`.
pub fn tshark_field_names(
    tables: &[Table],
    presence: &[Presence],
    more: &[&'static str],
) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = tables
        .iter()
        .flat_map(|t| t.fields.iter().map(|f| f.tshark))
        .chain(presence.iter().map(|p| p.1))
        .chain(more.iter().copied())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The table-driven differential test: on every test capture, Netcap's records
/// against tshark's frames by `tables`, with the presence checks `presence`;
/// `more` are tshark fields the tables' frame filters need. Reports to `file`
/// (see `Diff::finish`).
pub fn diff_test(
    file: &str,
    tables: &[Table],
    presence: &[Presence],
    more: &[&'static str],
    explained: &[Explained],
) -> BTreeMap<String, Stats> {
    diff_test_counting(file, tables, presence, &[], more, explained)
}

/// `diff_test`, with presence also checked by count (`counts`, see
/// `Diff::presence_counts`).
pub fn diff_test_counting(
    file: &str,
    tables: &[Table],
    presence: &[Presence],
    counts: &[Count],
    more: &[&'static str],
    explained: &[Explained],
) -> BTreeMap<String, Stats> {
    let mut more = more.to_vec();
    more.extend(counts.iter().flat_map(|c| c.1.iter().copied()));
    let fields = tshark_field_names(tables, presence, &more);
    let mut diff = Diff::new(tables.iter().map(|t| t.record));
    for pcap in all_pcaps() {
        let name = pcap_name(&pcap);
        let records = records_of(&pcap);
        let frames = tshark_frames(&pcap, &fields);
        diff.presence(&name, &records, &frames, presence);
        diff.presence_counts(&name, &records, &frames, counts);
        diff.compare(&name, &records, &frames, tables);
    }
    diff.finish(file, explained)
}
