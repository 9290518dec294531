//! `netcap label` on a real capture, against tshark.
//!
//! The alerts of `testdata/label/mixed-web.eve.json` were written for flows
//! the capture really holds, each from one frame tshark shows (see
//! testdata/label/README.md). The expected labels are computed here from
//! tshark's own view of the capture: its TCP and UDP streams (and the ICMPv6
//! address pair) give each conversation's frames, endpoints and time range;
//! an alert labels the conversation of the frame it was written from, a
//! ground-truth row every conversation matching its addresses, networks,
//! ports and time range. The labelled records are read with
//! `netcap dump --json` and compared: connections by 5-tuple, per-packet
//! records by frame number, HTTP and TLS records by tshark's counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value as J;

const PCAP: &str = "mixed-web-tls-http-tcp-anomalies.pcap";

fn label_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/label")
}

/// A conversation as tshark sees it.
#[derive(Debug, Default, Clone)]
struct Conv {
    proto: u8,
    a: (Option<IpAddr>, u16),
    b: (Option<IpAddr>, u16),
    first_ns: i64,
    last_ns: i64,
    frames: BTreeSet<u64>,
    /// Frames with a TCP, UDP, IPv4, IPv6 or ICMPv6 layer.
    layers: BTreeMap<&'static str, BTreeSet<u64>>,
    http_requests: usize,
    client_hellos: usize,
}

impl Conv {
    /// The endpoints in a canonical order, as a connection's key.
    fn key(&self) -> (u8, String, String) {
        let s = |e: (Option<IpAddr>, u16)| format!("{}:{}", e.0.unwrap(), e.1);
        let (x, y) = (s(self.a), s(self.b));
        if x <= y {
            (self.proto, x, y)
        } else {
            (self.proto, y, x)
        }
    }
}

fn epoch_ns(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<9}");
    sec.parse::<i64>().unwrap() * 1_000_000_000 + frac[..9].parse::<i64>().unwrap()
}

/// tshark's conversations of the capture, and the conversation of each frame.
fn tshark_conversations(pcap: &Path) -> (Vec<Conv>, BTreeMap<u64, usize>) {
    let fields = [
        "frame.number",
        "frame.time_epoch",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.stream",
        "udp.stream",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "icmpv6.type",
        "http.request",
        "tls.handshake.type",
        "tcp.flags",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args([
        "-r",
        pcap.to_str().unwrap(),
        "-T",
        "fields",
        "-E",
        "separator=\t",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark runs (scripts/setup.sh --test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut convs: Vec<Conv> = Vec::new();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut of_frame = BTreeMap::new();
    // A TCP stream of tshark's that a SYN reopens after a RST or FIN holds
    // two connections (a new incarnation, RFC 9293 3.5): number them.
    let mut incarnation: BTreeMap<String, (u32, bool)> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Vec<&str> = line.split('\t').collect();
        let first = |i: usize| v[i].split(',').next().unwrap_or("");
        let frame: u64 = v[0].parse().unwrap();
        let t = epoch_ns(v[1]);
        let (src, dst, ipl) = if !first(2).is_empty() {
            (first(2), first(3), "IPv4")
        } else {
            (first(4), first(5), "IPv6")
        };
        let (key, proto, sp, dp, l4) = if !first(6).is_empty() {
            let flags = u16::from_str_radix(first(15).trim_start_matches("0x"), 16).unwrap();
            let (syn, ack, fin_rst) = (flags & 2 != 0, flags & 0x10 != 0, flags & 5 != 0);
            let inc = incarnation.entry(first(6).to_string()).or_default();
            if syn && !ack && inc.1 {
                *inc = (inc.0 + 1, false);
            }
            inc.1 |= fin_rst;
            let key = format!("tcp {} {}", first(6), inc.0);
            (key, 6, first(8), first(9), "TCP")
        } else if !first(7).is_empty() {
            (format!("udp {}", first(7)), 17, first(10), first(11), "UDP")
        } else if !first(12).is_empty() {
            let (x, y) = if src <= dst { (src, dst) } else { (dst, src) };
            (format!("icmpv6 {x} {y}"), 58, "0", "0", "ICMPv6")
        } else {
            continue;
        };
        let i = *by_key.entry(key).or_insert_with(|| {
            convs.push(Conv {
                proto,
                a: (src.parse().ok(), sp.parse().unwrap()),
                b: (dst.parse().ok(), dp.parse().unwrap()),
                first_ns: t,
                last_ns: t,
                ..Conv::default()
            });
            convs.len() - 1
        });
        let c = &mut convs[i];
        c.first_ns = c.first_ns.min(t);
        c.last_ns = c.last_ns.max(t);
        c.frames.insert(frame);
        for layer in [ipl, l4, "Ethernet"] {
            c.layers.entry(layer).or_default().insert(frame);
        }
        c.http_requests += usize::from(!v[13].is_empty());
        c.client_hellos += v[14].split(',').filter(|t| *t == "1").count();
        of_frame.insert(frame, i);
    }
    (convs, of_frame)
}

/// Every record of a labelled file, through `netcap dump --json`.
fn dump(file: &Path) -> Vec<J> {
    let o = netcap(&["dump", "--json", "-r", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn label(args: &[&str]) -> String {
    let o = netcap(&[&["label"], args].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stderr).unwrap()
}

fn text(j: &J, k: &str) -> String {
    j[k].as_str().unwrap_or_default().to_string()
}

/// The connection key of a Connection record.
fn record_key(c: &J) -> (u8, String, String) {
    let proto = match c["TransportProto"].as_str().unwrap() {
        "TCP" => 6,
        "UDP" => 17,
        "ICMPv6" => 58,
        p => panic!("{p}"),
    };
    let port = |k: &str| {
        if proto == 58 {
            0
        } else {
            c[k].as_i64().unwrap()
        }
    };
    let x = format!(
        "{}:{}",
        text(c, "SrcIP").parse::<IpAddr>().unwrap(),
        port("SrcPort")
    );
    let y = format!(
        "{}:{}",
        text(c, "DstIP").parse::<IpAddr>().unwrap(),
        port("DstPort")
    );
    if x <= y {
        (proto, x, y)
    } else {
        (proto, y, x)
    }
}

/// The expected (Category, Signature) of each labelled conversation.
type Expected = BTreeMap<usize, (String, String)>;

/// Checks every labelled file of `dir` against the expected conversations.
fn check_labelled(dir: &Path, convs: &[Conv], expected: &Expected) {
    // Connections: exactly the expected ones, with the expected labels.
    let conns = dump(&dir.join("Connection.ncap.gz"));
    let want: BTreeMap<_, _> = expected
        .iter()
        .map(|(&i, l)| (convs[i].key(), l.clone()))
        .collect();
    let mut got = BTreeMap::new();
    let mut uids = BTreeMap::new();
    for c in &conns {
        let l = text(c, "Label");
        if l == "attack" {
            let key = record_key(c);
            got.insert(key.clone(), (text(c, "Category"), text(c, "Signature")));
            uids.insert(text(c, "UID"), key);
        } else {
            assert_eq!(l, "normal", "{c}");
            assert_eq!(
                (text(c, "Category"), text(c, "Signature")),
                (String::new(), String::new())
            );
        }
    }
    assert_eq!(got, want, "labelled connections");

    // Per-packet records: exactly the frames of the expected conversations.
    for (file, layer) in [
        ("TCP", "TCP"),
        ("UDP", "UDP"),
        ("IPv4", "IPv4"),
        ("IPv6", "IPv6"),
        ("ICMPv6", "ICMPv6"),
        ("Ethernet", "Ethernet"),
    ] {
        let want: BTreeSet<u64> = expected
            .keys()
            .flat_map(|&i| convs[i].layers.get(layer).into_iter().flatten().copied())
            .collect();
        let mut got = BTreeSet::new();
        for r in dump(&dir.join(format!("{file}.ncap.gz"))) {
            if text(&r, "Label") == "attack" {
                got.insert(r["PacketNumber"].as_u64().unwrap());
            }
        }
        assert_eq!(got, want, "{file} records labelled attack");
    }

    // Records carrying ConnectionUID: labelled exactly when their connection
    // is, with its labels; HTTP and TLS counts as tshark's.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for file in [
        "HTTP",
        "TLSClientHello",
        "TLSServerHello",
        "Flow",
        "X509Certificate",
        "Anomaly",
    ] {
        for r in dump(&dir.join(format!("{file}.ncap.gz"))) {
            let conn = uids.get(&text(&r, "ConnectionUID"));
            match conn {
                Some(key) => {
                    assert_eq!(text(&r, "Label"), "attack", "{file} {r}");
                    assert_eq!(
                        (text(&r, "Category"), text(&r, "Signature")),
                        got[key].clone(),
                        "{file} {r}"
                    );
                    *counts.entry(file).or_default() += 1;
                }
                None => assert_eq!(text(&r, "Label"), "normal", "{file} {r}"),
            }
        }
    }
    let requests: usize = expected.keys().map(|&i| convs[i].http_requests).sum();
    let hellos: usize = expected.keys().map(|&i| convs[i].client_hellos).sum();
    assert_eq!(counts.get("HTTP").copied().unwrap_or(0), requests, "HTTP");
    assert_eq!(
        counts.get("TLSClientHello").copied().unwrap_or(0),
        hellos,
        "TLSClientHello"
    );
}

/// The alerts: line → (the frame it was written from, or None when it must
/// match nothing; severity), and what each labelled conversation must get.
fn alert_expectations(of_frame: &BTreeMap<u64, usize>) -> (Expected, Vec<u64>) {
    let eve = std::fs::read_to_string(label_dir().join("mixed-web.eve.json")).unwrap();
    // Written from these frames (testdata/label/README.md); line 4 has the
    // 5-tuple of line 5 an hour later, line 6 is a flow event.
    let frames: BTreeMap<usize, Option<u64>> = [
        (1, Some(413)),
        (2, Some(413)),
        (3, Some(8)),
        (4, None),
        (5, Some(1993)),
        (7, Some(132)),
    ]
    .into_iter()
    .collect();
    let mut best: BTreeMap<usize, (u64, usize, String, String)> = BTreeMap::new();
    let mut unmatched = Vec::new();
    for (n, line) in eve.lines().enumerate() {
        let n = n + 1;
        let j: J = serde_json::from_str(line).unwrap();
        if j["event_type"] != "alert" {
            continue;
        }
        let Some(frame) = frames[&n] else {
            unmatched.push(n as u64);
            continue;
        };
        let a = &j["alert"];
        let sev = a["severity"].as_u64().unwrap();
        let cand = (sev, n, text(a, "category"), text(a, "signature"));
        // Highest severity (lowest number) wins, then the earlier line.
        let e = best.entry(of_frame[&frame]).or_insert(cand.clone());
        if (cand.0, cand.1) < (e.0, e.1) {
            *e = cand;
        }
    }
    let expected = best
        .into_iter()
        .map(|(i, (_, _, c, s))| (i, (c, s)))
        .collect();
    (expected, unmatched)
}

#[test]
fn alerts_label_connections_their_packets_and_records() {
    let pcap = pcaps_dir().join(PCAP);
    let (convs, of_frame) = tshark_conversations(&pcap);
    let (expected, unmatched) = alert_expectations(&of_frame);
    assert_eq!(expected.len(), 4);
    assert_eq!(unmatched, vec![4]);

    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("cap");
    capture(&pcap, &cap, &["--quiet"]);
    let out = tmp.path().join("out");
    let eve = label_dir().join("mixed-web.eve.json");
    let summary = label(&[
        "-r",
        cap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--alerts",
        eve.to_str().unwrap(),
    ]);
    // Six alerts, one flow event; lines 1 and 2 are on one connection, and
    // line 1 (severity 3) loses to line 2 (severity 1): conflicting.
    assert!(
        summary.contains(
            "6 alerts (1 other events skipped): 5 matched, 1 conflicting, 1 unmatched (lines 4)"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("4 labelled (1 by conflicting attacks)"),
        "{summary}"
    );
    check_labelled(&out, &convs, &expected);

    // The same labels whatever the number of threads, byte for byte.
    let out1 = tmp.path().join("out1");
    label(&[
        "-r",
        cap.to_str().unwrap(),
        "-o",
        out1.to_str().unwrap(),
        "--alerts",
        eve.to_str().unwrap(),
        "-w",
        "1",
        "-q",
    ]);
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(out1.join(name)).unwrap(),
            "{name:?}"
        );
    }

    // JSON output is dump --json of the labelled records; Parquet has the
    // same labels.
    for format in ["json", "parquet"] {
        let dir = tmp.path().join(format);
        label(&[
            "-r",
            cap.to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
            "--alerts",
            eve.to_str().unwrap(),
            "--format",
            format,
            "-q",
        ]);
        for ty in ["Connection", "TCP", "HTTP", "DNS"] {
            let ncap = dump(&out.join(format!("{ty}.ncap.gz")));
            if format == "json" {
                let got: Vec<J> = std::fs::read_to_string(dir.join(format!("{ty}.json")))
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(got, ncap, "{ty}.json");
                continue;
            }
            let reader = ParquetRecordBatchReaderBuilder::try_new(
                File::open(dir.join(format!("{ty}.parquet"))).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap();
            let mut got = Vec::new();
            for batch in reader {
                let batch = batch.unwrap();
                let col = |n: &str| batch.column_by_name(n).unwrap().as_string::<i32>().clone();
                let (l, c, s) = (col("Label"), col("Category"), col("Signature"));
                for i in 0..batch.num_rows() {
                    got.push((
                        l.value(i).to_string(),
                        c.value(i).to_string(),
                        s.value(i).to_string(),
                    ));
                }
            }
            let want: Vec<_> = ncap
                .iter()
                .map(|r| (text(r, "Label"), text(r, "Category"), text(r, "Signature")))
                .collect();
            assert_eq!(got, want, "{ty}.parquet");
        }
    }

    // A labelled folder labelled again: the old labels are replaced, not kept.
    let again = tmp.path().join("again");
    let gt = label_dir().join("mixed-web.ground-truth.csv");
    label(&[
        "-r",
        out.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
        "--ground-truth",
        gt.to_str().unwrap(),
        "-q",
    ]);
    for c in dump(&again.join("Connection.ncap.gz")) {
        if text(&c, "Label") == "normal" {
            assert_eq!(text(&c, "Category"), "", "{c}");
        }
    }
}

/// Whether `ip` is in the IPv4 network `net`/`bits` (test's own check).
fn in_net(ip: Option<IpAddr>, net: [u8; 4], bits: u32) -> bool {
    let Some(IpAddr::V4(a)) = ip else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(a) & mask == u32::from_be_bytes(net) & mask
}

#[test]
fn ground_truth_labels_by_network_port_and_time_range() {
    let pcap = pcaps_dir().join(PCAP);
    let (convs, _) = tshark_conversations(&pcap);
    // The rows of testdata/label/mixed-web.ground-truth.csv, restated.
    struct Row {
        start: i64,
        end: i64,
        src: ([u8; 4], u32),
        dst: ([u8; 4], u32),
        proto: u8,
        dst_port: Option<u16>,
        category: &'static str,
        signature: &'static str,
    }
    let rows = [
        Row {
            start: 1_647_506_354_746_977_000,
            end: 1_647_506_355_746_977_000,
            src: ([192, 168, 100, 0], 24),
            dst: ([138, 201, 208, 0], 24),
            proto: 6,
            dst_port: Some(443),
            category: "Exfiltration",
            signature: "GT row 2",
        },
        Row {
            start: 1_647_506_334_146_977_000,
            end: 1_647_506_334_546_977_000,
            src: ([192, 168, 100, 2], 32),
            dst: ([192, 168, 100, 206], 32),
            proto: 17,
            dst_port: None,
            category: "DNS tunnelling",
            signature: "GT row 3",
        },
    ];
    let mut expected = Expected::new();
    for (i, c) in convs.iter().enumerate() {
        for r in &rows {
            let fits = |s: (Option<IpAddr>, u16), d: (Option<IpAddr>, u16)| {
                in_net(s.0, r.src.0, r.src.1)
                    && in_net(d.0, r.dst.0, r.dst.1)
                    && r.dst_port.is_none_or(|p| p == d.1)
            };
            if c.proto == r.proto
                && c.first_ns <= r.end
                && c.last_ns >= r.start
                && (fits(c.a, c.b) || fits(c.b, c.a))
            {
                expected.insert(i, (r.category.to_string(), r.signature.to_string()));
            }
        }
    }
    // Row 2: two connections overlap its second (one ends in it, one
    // starts in it), not the ones before or after; row 3: four DNS lookups.
    assert_eq!(expected.len(), 6, "{expected:?}");

    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("cap");
    capture(&pcap, &cap, &["--quiet", "--compression", "zstd"]);
    let out = tmp.path().join("out");
    let gt = label_dir().join("mixed-web.ground-truth.csv");
    let summary = label(&[
        "-r",
        cap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--ground-truth",
        gt.to_str().unwrap(),
    ]);
    assert!(
        summary.contains("3 rows: 2 matched, 0 conflicting, 1 unmatched (lines 4)"),
        "{summary}"
    );
    check_labelled(&out, &convs, &expected);
}

#[test]
fn bad_inputs_are_errors_that_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let cap = tmp.path().join("cap");
    capture(
        &pcaps_dir().join("dns-udp-record-types.pcap"),
        &cap,
        &["--quiet"],
    );
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, "{\"event_type\":\"alert\",\"timestamp\":\"soon\"}\n").unwrap();
    let run = |extra: &[&str]| {
        let out = tmp.path().join("out");
        let mut args = vec![
            "label",
            "-r",
            cap.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        netcap(&args)
    };
    let o = run(&["--alerts", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.json:1:") && e.contains("soon"), "{e}");
    // Neither alerts nor ground truth: a usage error.
    assert_eq!(run(&[]).status.code(), Some(2));
    // Into the input folder: refused.
    let o = netcap(&[
        "label",
        "-r",
        cap.to_str().unwrap(),
        "-o",
        cap.to_str().unwrap(),
        "--alerts",
        label_dir().join("mixed-web.eve.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // No Connection records.
    let nf = tmp.path().join("noflows");
    capture(
        &pcaps_dir().join("dns-udp-record-types.pcap"),
        &nf,
        &["--quiet", "--no-flows"],
    );
    let o = netcap(&[
        "label",
        "-r",
        nf.to_str().unwrap(),
        "-o",
        tmp.path().join("o2").to_str().unwrap(),
        "--alerts",
        label_dir().join("mixed-web.eve.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no Connection record file"));
}

/// Inside VXLAN: the alert names the inner SSH connection; its packets are
/// labelled (all their records, the outer UDP header's too), the outer
/// VXLAN connection is not.
#[test]
fn alert_on_a_tunnelled_connection() {
    let pcap = pcaps_dir().join("vxlan-dns-ntp-ssh.pcap");
    let out = Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .args(["-e", "frame.time_epoch", "-Y", "tcp.port==37182"])
        .output()
        .unwrap();
    let lines: Vec<(u64, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, t) = l.split_once('\t').unwrap();
            (n.parse().unwrap(), t.to_string())
        })
        .collect();
    assert_eq!(
        lines.len(),
        21,
        "tshark: 21 frames in conversation 37182 <-> 22"
    );
    let frames: BTreeSet<u64> = lines.iter().map(|l| l.0).collect();
    // An alert at the time of the conversation's fifth frame, in epoch
    // seconds turned into RFC 3339 by the test's own arithmetic.
    let ns = epoch_ns(&lines[4].1);
    let secs = ns / 1_000_000_000;
    let (days, sod) = (secs / 86_400, secs % 86_400);
    assert_eq!(days, 18_074, "2019-06-27 (date -u -d @1561644078)");
    let ts = format!(
        "2019-06-27T{:02}:{:02}:{:02}.{:06}+0000",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ns % 1_000_000_000 / 1000
    );
    let tmp = tempfile::tempdir().unwrap();
    let eve = tmp.path().join("eve.json");
    std::fs::write(
        &eve,
        format!(
            "{{\"timestamp\":\"{ts}\",\"event_type\":\"alert\",\"src_ip\":\"172.31.0.238\",\"src_port\":22,\"dest_ip\":\"18.196.145.224\",\"dest_port\":37182,\"proto\":\"TCP\",\"alert\":{{\"signature\":\"TEST ssh\",\"category\":\"Attempted User Privilege Gain\",\"severity\":1}}}}\n"
        ),
    )
    .unwrap();
    let cap = tmp.path().join("cap");
    capture(&pcap, &cap, &["--quiet"]);
    let lab = tmp.path().join("out");
    let summary = label(&[
        "-r",
        cap.to_str().unwrap(),
        "-o",
        lab.to_str().unwrap(),
        "--alerts",
        eve.to_str().unwrap(),
    ]);
    assert!(
        summary.contains("1 alerts (0 other events skipped): 1 matched"),
        "{summary}"
    );
    let conns: Vec<J> = dump(&lab.join("Connection.ncap.gz"))
        .into_iter()
        .filter(|c| text(c, "Label") == "attack")
        .collect();
    assert_eq!(conns.len(), 1);
    assert_eq!(
        (conns[0]["SrcPort"].as_i64(), conns[0]["DstPort"].as_i64()),
        (Some(37182), Some(22))
    );
    assert_eq!(text(&conns[0], "LinkProto"), "Tunnel");
    for file in ["TCP", "UDP", "Ethernet", "VXLAN"] {
        let got: BTreeSet<u64> = dump(&lab.join(format!("{file}.ncap.gz")))
            .iter()
            .filter(|r| text(r, "Label") == "attack")
            .map(|r| r["PacketNumber"].as_u64().unwrap())
            .collect();
        assert_eq!(got, frames, "{file}");
    }
    // IPv4: the outer and the inner header of each of those packets.
    let ipv4: Vec<u64> = dump(&lab.join("IPv4.ncap.gz"))
        .iter()
        .filter(|r| text(r, "Label") == "attack")
        .map(|r| r["PacketNumber"].as_u64().unwrap())
        .collect();
    assert_eq!(ipv4.len(), 2 * frames.len());
}
