//! The two sources of labels: Suricata alerts (`eve.json`) and ground-truth
//! files of attacks (CSV), read into [`Attack`]s.

use std::io::{BufRead, Read};
use std::net::IpAddr;
use std::path::Path;

use crate::net::{protocol_number, IpNet};
use crate::time::parse_time;
use crate::LabelError;

/// One alert or ground-truth row: what it matches and the label it gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Attack {
    /// Source of the traffic (an address for alerts, possibly a network for ground truth).
    pub src: IpNet,
    /// Destination.
    pub dst: IpNet,
    /// Source port (`None`: any, or the protocol has none).
    pub src_port: Option<u16>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// IP protocol number (`None`: any).
    pub proto: Option<u8>,
    /// Time range, nanoseconds since the epoch: an alert's time twice, or a
    /// ground-truth row's start and end.
    pub start: i64,
    /// End of the time range (inclusive).
    pub end: i64,
    /// Class of the attack: the alert's `alert.category`, the row's label.
    pub category: String,
    /// The alert's `alert.signature`, the row's signature or description.
    pub signature: String,
    /// Suricata's severity (1 is the highest); 0 for ground truth, which
    /// outranks every alert.
    pub severity: u32,
    /// Line number in its file (1-based), for messages and the tie-break.
    pub line: u64,
}

/// Alerts read from an `eve.json` file.
#[derive(Debug, Default)]
pub struct Alerts {
    /// The alerts, in file order.
    pub attacks: Vec<Attack>,
    /// Lines of other event types (flow, http, stats, ...), skipped.
    pub other_events: u64,
}

/// Reads the `event_type: alert` lines of a Suricata EVE JSON file. A
/// line that is not JSON, or an alert without a valid time, address or
/// protocol, is an error naming the line: a damaged file should not be
/// labelled silently without its alerts.
pub fn read_alerts(path: &Path, default_offset: i64) -> Result<Alerts, LabelError> {
    let file = std::fs::File::open(path).map_err(|e| LabelError::io(path, e))?;
    let mut out = Alerts::default();
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        line.clear();
        // Lines are bounded so that one endless line cannot take all memory.
        let read = (&mut reader)
            .take(MAX_LINE + 1)
            .read_line(&mut line)
            .map_err(|e| LabelError::io(path, e))?;
        if read == 0 {
            break;
        }
        n += 1;
        if read as u64 > MAX_LINE {
            return Err(LabelError::input(path, n, "line longer than 1 MiB"));
        }
        let text = line.trim();
        // Other event types are most of an EVE file: skip them before parsing.
        if text.is_empty() || !text.contains("\"alert\"") {
            if !text.is_empty() {
                out.other_events += 1;
            }
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| LabelError::input(path, n, &format!("not JSON: {e}")))?;
        if v.get("event_type").and_then(|t| t.as_str()) != Some("alert") {
            out.other_events += 1;
            continue;
        }
        let alert = alert_from_json(&v, default_offset, n)
            .map_err(|reason| LabelError::input(path, n, &reason))?;
        out.attacks.push(alert);
    }
    Ok(out)
}

/// Longest line read from an input file.
const MAX_LINE: u64 = 1 << 20;

fn alert_from_json(v: &serde_json::Value, offset: i64, line: u64) -> Result<Attack, String> {
    let text = |key: &str| v.get(key).and_then(|x| x.as_str());
    let ts = text("timestamp").ok_or("no timestamp")?;
    let time = parse_time(ts, offset).ok_or_else(|| format!("timestamp {ts:?} not understood"))?;
    let ip = |key: &str| -> Result<IpNet, String> {
        let s = text(key).ok_or_else(|| format!("no {key}"))?;
        s.parse::<IpAddr>()
            .map(|a| IpNet {
                addr: a,
                prefix: if a.is_ipv4() { 32 } else { 128 },
            })
            .map_err(|_| format!("{key} {s:?} is not an IP address"))
    };
    let port = |key: &str| -> Result<Option<u16>, String> {
        match v.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(p) => p
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .map(Some)
                .ok_or_else(|| format!("{key} {p} is not a port")),
        }
    };
    let proto = match v.get("proto") {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => protocol_number(s),
        _ => None,
    }
    .ok_or("no known proto")?;
    let alert = v.get("alert").ok_or("no alert object")?;
    let field = |key: &str| {
        alert
            .get(key)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let severity = alert
        .get("severity")
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(3)
        .max(1);
    // ICMP alerts carry icmp_type/icmp_code, not ports: match without ports.
    let (src_port, dst_port) = if matches!(proto, 6 | 17 | 132) {
        (port("src_port")?, port("dest_port")?)
    } else {
        (None, None)
    };
    Ok(Attack {
        src: ip("src_ip")?,
        dst: ip("dest_ip")?,
        src_port,
        dst_port,
        proto: Some(proto),
        start: time,
        end: time,
        category: field("category"),
        signature: field("signature"),
        severity,
        line,
    })
}

/// The columns of a ground-truth file, found by name in its header line.
#[derive(Debug, Default)]
struct Columns {
    start: Option<usize>,
    end: Option<usize>,
    src: Option<usize>,
    dst: Option<usize>,
    src_port: Option<usize>,
    dst_port: Option<usize>,
    proto: Option<usize>,
    label: Option<usize>,
    signature: Option<usize>,
}

/// Header names accepted for each column (compared in lower case with
/// spaces, `_` and `-` removed), the CIC-IDS, UNSW-NB15 and Netcap spellings.
const NAMES: [(&str, &[&str]); 9] = [
    (
        "start",
        &["start", "starttime", "stime", "begin", "from", "first"],
    ),
    (
        "end",
        &["end", "endtime", "lasttime", "ltime", "stop", "to", "last"],
    ),
    (
        "src",
        &[
            "src", "srcip", "source", "sourceip", "srcaddr", "srcnet", "attacker", "saddr",
        ],
    ),
    (
        "dst",
        &[
            "dst",
            "dstip",
            "destination",
            "destinationip",
            "destip",
            "dstaddr",
            "dstnet",
            "victim",
            "target",
            "daddr",
        ],
    ),
    ("src_port", &["srcport", "sourceport", "sport"]),
    (
        "dst_port",
        &["dstport", "destinationport", "destport", "dport", "dsport"],
    ),
    ("proto", &["proto", "protocol"]),
    (
        "label",
        &[
            "label",
            "attack",
            "attackcategory",
            "attackcat",
            "category",
            "class",
        ],
    ),
    (
        "signature",
        &["signature", "attackname", "name", "description"],
    ),
];

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Columns {
        let mut c = Columns::default();
        for (i, name) in header.iter().enumerate() {
            let key: String = name
                .chars()
                .filter(|ch| !matches!(ch, ' ' | '_' | '-'))
                .flat_map(char::to_lowercase)
                .collect();
            for (col, names) in NAMES {
                if !names.contains(&key.as_str()) {
                    continue;
                }
                let slot = match col {
                    "start" => &mut c.start,
                    "end" => &mut c.end,
                    "src" => &mut c.src,
                    "dst" => &mut c.dst,
                    "src_port" => &mut c.src_port,
                    "dst_port" => &mut c.dst_port,
                    "proto" => &mut c.proto,
                    "label" => &mut c.label,
                    _ => &mut c.signature,
                };
                // The first column of a kind wins (UNSW-NB15 has both
                // "Attack category" and "Attack subcategory").
                slot.get_or_insert(i);
            }
        }
        c
    }
}

/// Reads a ground-truth CSV file (comma, semicolon or tab separated, with a
/// header line; see docs/labelling.md for the columns).
pub fn read_ground_truth(path: &Path, default_offset: i64) -> Result<Vec<Attack>, LabelError> {
    let data = std::fs::read(path).map_err(|e| LabelError::io(path, e))?;
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let sep = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|s| first.iter().filter(|b| *b == s).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data.as_slice());
    let header = reader
        .headers()
        .map_err(|e| LabelError::input(path, 1, &e.to_string()))?
        .clone();
    let cols = Columns::from_header(&header);
    let need = |c: Option<usize>, what: &str| {
        c.ok_or_else(|| {
            LabelError::input(
                path,
                1,
                &format!("no {what} column in the header line (see docs/labelling.md)"),
            )
        })
    };
    let (start, end) = (need(cols.start, "start")?, need(cols.end, "end")?);
    let (src, dst) = (need(cols.src, "source")?, need(cols.dst, "destination")?);
    let label = need(cols.label, "label")?;
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| LabelError::input(path, line, &e.to_string()))?;
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let bad = |what: &str| LabelError::input(path, line, what);
        let get = |i: usize| rec.get(i).unwrap_or_default();
        let opt = |c: Option<usize>| c.map(get).filter(|s| !is_any(s));
        let time = |i: usize, what: &str| {
            parse_time(get(i), default_offset)
                .ok_or_else(|| bad(&format!("{what} time {:?} not understood", get(i))))
        };
        let net = |i: usize, what: &str| {
            IpNet::parse(get(i))
                .ok_or_else(|| bad(&format!("{what} {:?} is not an address or network", get(i))))
        };
        let port = |c: Option<usize>| -> Result<Option<u16>, LabelError> {
            opt(c)
                .map(|s| parse_port(s).ok_or_else(|| bad(&format!("port {s:?} not understood"))))
                .transpose()
        };
        let row = Attack {
            start: time(start, "start")?,
            end: time(end, "end")?,
            src: net(src, "source")?,
            dst: net(dst, "destination")?,
            src_port: port(cols.src_port)?,
            dst_port: port(cols.dst_port)?,
            proto: opt(cols.proto)
                .map(|s| protocol_number(s).ok_or_else(|| bad(&format!("protocol {s:?} unknown"))))
                .transpose()?,
            category: get(label).to_string(),
            signature: opt(cols.signature).unwrap_or_default().to_string(),
            severity: 0,
            line,
        };
        if row.end < row.start {
            return Err(bad("the end is before the start"));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// An empty cell or a wildcard: any value matches.
fn is_any(s: &str) -> bool {
    matches!(s, "" | "-" | "*" | "any" | "ANY" | "Any")
}

/// A port in decimal or `0x` hexadecimal (UNSW-NB15 writes some in hex).
fn parse_port(s: &str) -> Option<u16> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn eve_alerts_are_read_and_other_events_skipped() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, r#"{{"timestamp":"2017-07-05T13:43:43.048884+0200","flow_id":1,"event_type":"flow","src_ip":"10.0.0.1","proto":"TCP"}}"#).unwrap();
        writeln!(f, r#"{{"timestamp":"2017-07-05T13:43:43.048884+0200","flow_id":1,"event_type":"alert","src_ip":"10.0.0.1","src_port":1234,"dest_ip":"2001:db8::1","dest_port":80,"proto":"TCP","alert":{{"signature":"ET SCAN x","category":"Attempted Information Leak","severity":2}}}}"#).unwrap();
        writeln!(f, r#"{{"timestamp":"2017-07-05T11:43:44Z","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"ICMP","icmp_type":8,"alert":{{"signature":"ping"}}}}"#).unwrap();
        writeln!(f).unwrap();
        let a = read_alerts(f.path(), 0).unwrap();
        assert_eq!(a.other_events, 1);
        assert_eq!(a.attacks.len(), 2);
        let first = &a.attacks[0];
        assert_eq!(first.start, 1_499_255_023_048_884_000);
        assert_eq!(
            (first.src_port, first.dst_port, first.proto),
            (Some(1234), Some(80), Some(6))
        );
        assert_eq!(first.dst, IpNet::parse("2001:db8::1").unwrap());
        assert_eq!(first.category, "Attempted Information Leak");
        assert_eq!((first.severity, first.line), (2, 2));
        let icmp = &a.attacks[1];
        assert_eq!(
            (icmp.src_port, icmp.proto, icmp.severity),
            (None, Some(1), 3)
        );
    }

    #[test]
    fn damaged_alerts_name_their_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, r#"{{"event_type":"alert","timestamp":"never","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","alert":{{}}}}"#).unwrap();
        let e = read_alerts(f.path(), 0).unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("never"), "{e}");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, r#"{{"event_type":"alert", "#).unwrap();
        assert!(read_alerts(f.path(), 0)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }

    #[test]
    fn ground_truth_columns_by_name() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "Start time,Last time,Attack category,Attack subcategory,Protocol,Source IP,Source Port,Destination IP,Destination Port,Attack Name").unwrap();
        writeln!(f, "1421927414,1421927416,Reconnaissance,HTTP,tcp,175.45.176.0,13284,149.171.126.16,0x50,Domino Web Server Database Access").unwrap();
        writeln!(
            f,
            "2015-01-22T11:50:14Z,2015-01-22 11:55,DoS,,-,175.45.176.0/24,-,149.171.126.0/24,,"
        )
        .unwrap();
        let rows = read_ground_truth(f.path(), 0).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].category, "Reconnaissance");
        assert_eq!(rows[0].signature, "Domino Web Server Database Access");
        assert_eq!(
            (rows[0].src_port, rows[0].dst_port, rows[0].proto),
            (Some(13284), Some(80), Some(6))
        );
        assert_eq!(rows[0].start, 1_421_927_414_000_000_000);
        assert_eq!((rows[1].src_port, rows[1].proto), (None, None));
        assert_eq!(rows[1].dst.prefix, 24);
        assert_eq!(rows[1].end, 1_421_927_700_000_000_000);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn ground_truth_errors() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "start;end;src;dst;label").unwrap();
        writeln!(f, "10;5;10.0.0.1;10.0.0.2;x").unwrap();
        let e = read_ground_truth(f.path(), 0).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("before the start"), "{e}");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "start,end,src,label").unwrap();
        let e = read_ground_truth(f.path(), 0).unwrap_err().to_string();
        assert!(e.contains("no destination column"), "{e}");
    }
}
