//! File and Mail records against independent oracles, on every test
//! capture and the stream captures:
//!
//! * HTTP files: the SHA-256 (`sha256sum`) of each object tshark exports
//!   (`--export-objects http`) against the File records' SHA256.
//! * Mails: tshark's IMF dissector (`imf.from`, `imf.to`, `imf.subject`,
//!   `imf.message_id`, ...) against the Mail records, message by message;
//!   the messages tshark exports (`--export-objects imf`) parsed by
//!   Python's `email` package against the Mail parts and their Files.
//! * Sniffed types: `file --mime-type` (libmagic) on the same objects
//!   against `ContentTypeDetected`, for the types Netcap's table knows.
//! * `--files DIR`: every extracted file is where Location says, named and
//!   hashed (`sha256sum`) as its record says, and the records do not depend
//!   on the number of workers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `sha256sum` of every file in `dir`: (hash, path).
fn sha256sums(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    files.sort();
    if files.is_empty() {
        return Vec::new();
    }
    let out = Command::new("sha256sum").args(&files).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .zip(files)
        .map(|(l, p)| (l.split(' ').next().unwrap().to_string(), p))
        .collect()
}

/// tshark's exported objects of `proto` (http, imf) in a new directory.
fn export_objects(pcap: &Path, proto: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("tshark")
        .args(["-n", "-o", "tcp.reassemble_out_of_order:TRUE", "-r"])
        .arg(pcap)
        .args(["-q", "--export-objects"])
        .arg(format!("{proto},{}", dir.path().display()))
        .output()
        .expect("tshark is installed");
    assert!(out.status.success(), "tshark failed on {}", pcap.display());
    dir
}

/// libmagic's type of a file.
fn file_mime(path: &Path) -> String {
    let out = Command::new("file")
        .args(["-b", "--mime-type"])
        .arg(path)
        .output()
        .expect("file is installed (scripts/setup.sh --test)");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The types Netcap's signature table names (crates/netcap-stream/src/magic.rs):
/// libmagic's answer is compared only when it is one of them.
const KNOWN_TYPES: &[&str] = &[
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/x-rar",
    "application/vnd.microsoft.portable-executable",
    "application/x-dosexec",
    "application/x-executable",
    "application/x-sharedlib",
    "application/x-mach-binary",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/html",
    "text/xml",
    "application/json",
    "text/plain",
    "application/x-ole-storage",
    "application/java-archive",
];

/// File records (SHA256, Source, ContentTypeDetected, Truncated) of `recs`.
fn files_of(recs: &Records) -> Vec<BTreeMap<&'static str, String>> {
    recs.get("File")
        .map(|v| {
            v.iter()
                .map(|(_, m)| {
                    [
                        "SHA256",
                        "Source",
                        "ContentTypeDetected",
                        "Truncated",
                        "Name",
                        "Location",
                        "FileUID",
                        "Hash",
                        "Length",
                    ]
                    .into_iter()
                    .map(|f| (f, text(m, f)))
                    .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Captures with an HTTP body tshark can export, known to differ, and why.
const HTTP_EXPLAINED: &[(&str, &str)] = &[(
    "http-pipelined-chunked-gaps.pcap",
    "after the gap in the first connection's responses tshark exports no later object; Netcap \
     resynchronises on the next status line and hashes the complete JPEG (34152 of 34152 bytes)",
)];

#[test]
fn http_files_agree_with_tshark_export_objects() {
    let mut report = String::new();
    let mut fails = Vec::new();
    let (mut objects, mut matched, mut sniffed, mut sniff_ok) = (0, 0, 0, 0);
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        let recs = records_of(&pcap);
        if !recs.contains_key("HTTP") {
            continue;
        }
        let files: Vec<_> = files_of(&recs)
            .into_iter()
            .filter(|f| f["Source"] == "HTTP")
            .collect();
        let dir = export_objects(&pcap, "http");
        let theirs = sha256sums(dir.path());
        let mine: Vec<&str> = files.iter().map(|f| f["SHA256"].as_str()).collect();
        let (mut found, mut missing) = (0, Vec::new());
        for (h, p) in &theirs {
            if mine.contains(&h.as_str()) {
                found += 1;
            } else {
                missing.push(p.file_name().unwrap().to_string_lossy().to_string());
            }
        }
        // Complete files of ours that tshark does not export.
        let extra: Vec<&str> = files
            .iter()
            .filter(|f| f["Truncated"] == "false")
            .map(|f| f["SHA256"].as_str())
            .filter(|h| !theirs.iter().any(|(t, _)| t == h))
            .collect();
        objects += theirs.len();
        matched += found;
        let _ = writeln!(
            report,
            "{name}: tshark {} objects, {found} with a File of the same SHA-256; Netcap {} Files ({} complete without a tshark object)",
            theirs.len(),
            files.len(),
            extra.len()
        );
        if (!missing.is_empty() || !extra.is_empty())
            && !HTTP_EXPLAINED.iter().any(|(n, _)| *n == name)
        {
            fails.push(format!(
                "{name}: tshark objects without a File: {missing:?}; complete Files without an object: {extra:?}"
            ));
        }
        // libmagic on the objects with a File.
        for (h, p) in &theirs {
            let Some(f) = files.iter().find(|f| &f["SHA256"] == h) else {
                continue;
            };
            let magic = file_mime(p);
            if !KNOWN_TYPES.contains(&magic.as_str()) {
                continue;
            }
            sniffed += 1;
            if f["ContentTypeDetected"] == magic {
                sniff_ok += 1;
            } else {
                fails.push(format!(
                    "{name}: {}: file --mime-type {magic}, Netcap {}",
                    p.display(),
                    f["ContentTypeDetected"]
                ));
            }
        }
    }
    let _ = writeln!(
        report,
        "HTTP objects: {objects} exported by tshark, {matched} equal to a File; sniffed types compared {sniffed}, equal {sniff_ok}"
    );
    println!("{report}");
    for (n, why) in HTTP_EXPLAINED {
        println!("explained: {n}: {why}");
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    assert!(matched > 0);
}

const PY_PARTS: &str = r#"
import email, email.policy, hashlib, sys
for path in sys.argv[1:]:
    msg = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.compat32)
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True) or b""
        if part.get("Content-Transfer-Encoding", "").strip().lower() == "quoted-printable":
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if data:
            print(hashlib.sha256(data).hexdigest())
"#;

/// The messages tshark's IMF dissector shows in `pcap`: its fields by
/// name (the first occurrence of each), unfolded and trimmed. JSON keeps
/// the messages of one frame apart (an IMAP FETCH of several). tshark's POP
/// dissector hands each segment of a multi-segment response to IMF on its
/// own (two passes are needed for it to know the command at all): the
/// fields of the segments between two POP status lines of a connection are
/// merged into one message.
fn tshark_messages(pcap: &Path) -> Vec<BTreeMap<String, String>> {
    let out = Command::new("tshark")
        .args(["-n", "-2", "-o", "tcp.reassemble_out_of_order:TRUE", "-r"])
        .arg(pcap)
        .args(["-Y", "imf || pop.response.indicator", "-T", "json"])
        .args(["--no-duplicate-keys", "-J", "tcp pop imf"])
        .output()
        .expect("tshark is installed");
    assert!(out.status.success(), "tshark failed on {}", pcap.display());
    let frames: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let value = |v: &serde_json::Value| -> Option<String> {
        let v = match v {
            serde_json::Value::Array(a) => a.first()?,
            v => v,
        };
        let s = v.as_str()?;
        Some(
            s.replace("\r\n", "")
                .replace(['\r', '\n'], "")
                .trim()
                .to_string(),
        )
    };
    let as_list = |v: Option<&serde_json::Value>| -> Vec<serde_json::Value> {
        match v {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => Vec::new(),
        }
    };
    let mut msgs: Vec<BTreeMap<String, String>> = Vec::new();
    // The POP response whose segments are being merged: (tcp.stream, index).
    let mut pop_open: BTreeMap<String, usize> = BTreeMap::new();
    for f in frames.as_array().cloned().unwrap_or_default() {
        let layers = &f["_source"]["layers"];
        let stream = value(&layers["tcp"]["tcp.stream"]).unwrap_or_default();
        let pop = layers.get("pop");
        let status = pop.is_some_and(|p| p.to_string().contains("pop.response.indicator"));
        for imf in as_list(layers.get("imf")) {
            let Some(obj) = imf.as_object() else { continue };
            let fields: BTreeMap<String, String> = obj
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), value(v)?)))
                .collect();
            match (pop.is_some() && !status, pop_open.get(&stream)) {
                (true, Some(&i)) => {
                    for (k, v) in fields {
                        msgs[i].entry(k).or_insert(v);
                    }
                }
                _ => {
                    if pop.is_some() {
                        pop_open.insert(stream.clone(), msgs.len());
                    }
                    msgs.push(fields);
                }
            }
        }
        if status {
            pop_open.remove(&stream);
        }
    }
    msgs
}

/// (capture, Message-ID, field) tshark cannot show: the header line spans
/// two segments of a POP3 response ("X-Mailer: Open-Xchange Mailer
/// v7.8.0-Rev16" of TOP 94 0; no single frame contains it:
/// `tshark -Y 'frame contains "Open-Xchange Mailer"'` finds none).
const EXPLAINED_MAIL: &[(&str, &str, &str)] = &[(
    "pop3-session.pcap",
    "<OF6A701C31.8C76FE74-ON86257F49.00776E2E-86257F49.00778F83@jci.com>",
    "XMailer",
)];

/// Mails flagged HeadersOnly.
fn headers_only(recs: &Records) -> usize {
    recs.get("Mail")
        .map(|v| {
            v.iter()
                .filter(|(_, m)| text(m, "HeadersOnly") == "true")
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn mails_agree_with_tshark_imf_and_python_email() {
    let mut report = String::new();
    let mut fails = Vec::new();
    let mut mails = 0;
    let mut parts = 0;
    let fields = [
        ("imf.from", "From"),
        ("imf.to", "To"),
        ("imf.cc", "CC"),
        ("imf.subject", "Subject"),
        ("imf.date", "Date"),
        ("imf.message_id", "MessageID"),
        ("imf.in_reply_to", "InReplyTo"),
        ("imf.return_path", "ReturnPath"),
        ("imf.delivery_date", "DeliveryDate"),
        // XMailer: X-Mailer, else User-Agent (merged below).
        ("imf.ext.mailer", "XMailer"),
        ("imf.user_agent", ""),
    ];
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        let recs = records_of(&pcap);
        if !["SMTP", "POP3", "IMAP"]
            .iter()
            .any(|t| recs.contains_key(*t))
        {
            continue;
        }
        let theirs: Vec<Vec<String>> = tshark_messages(&pcap)
            .iter()
            .map(|m| {
                let get = |f: &str| m.get(f).cloned().unwrap_or_default();
                let mut v: Vec<String> = fields
                    .iter()
                    .filter(|(_, ours)| !ours.is_empty())
                    .map(|(t, _)| get(t))
                    .collect();
                if let Some(x) = v.last_mut().filter(|x| x.is_empty()) {
                    *x = get("imf.user_agent");
                }
                v
            })
            // Messages tshark shows without From, Subject and Message-ID
            // (LIST and UIDL listings handed to IMF) are not compared.
            .filter(|v| !(v[0].is_empty() && v[3].is_empty() && v[5].is_empty()))
            .collect();
        let mut mine: Vec<&(u64, prost_reflect::DynamicMessage)> = recs
            .get("Mail")
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        mine.sort_by_key(|(n, _)| *n);
        let mine: Vec<Vec<String>> = mine
            .iter()
            .map(|(_, m)| {
                fields
                    .iter()
                    .filter(|(_, f)| !f.is_empty())
                    .map(|(_, f)| text(m, f).trim().to_string())
                    .collect()
            })
            .collect();
        mails += mine.len();
        // Every message tshark shows (SMTP DATA, POP3 RETR and TOP, IMAP
        // FETCH of a message or its headers) is a Mail, and every Mail has
        // the values of a message tshark shows. tshark's POP dissector
        // shows the lines of a response whose status line shares a segment
        // with the data but does not hand them to IMF: those Mails (the
        // POP3 ones of pop3-top-imap-header-fetch-dovecot.pcap) must equal
        // a message tshark shows of the same capture (the same messages
        // fetched over IMAP there). With SMTP only, the lists are equal.
        let smtp_only = !recs.contains_key("POP3") && !recs.contains_key("IMAP");
        // Explained: tshark's POP dissector cuts a header line that spans
        // two segments (IMF sees each segment alone), so its value is
        // missing there; such fields are not compared.
        let explained = |v: &Vec<String>| {
            let mut v = v.clone();
            for (pcap, id, field) in EXPLAINED_MAIL {
                let i = fields.iter().position(|(_, f)| f == field).unwrap_or(0);
                if name == *pcap && v[5] == *id {
                    v[i].clear();
                }
            }
            v
        };
        let theirs: Vec<Vec<String>> = theirs.iter().map(explained).collect();
        let mine: Vec<Vec<String>> = mine.iter().map(explained).collect();
        let mut left = mine.clone();
        let mut unseen = Vec::new();
        for t in &theirs {
            match left.iter().position(|m| m == t) {
                Some(i) => {
                    left.remove(i);
                }
                None => unseen.push(t),
            }
        }
        let unknown: Vec<&Vec<String>> = left.iter().filter(|m| !theirs.contains(m)).collect();
        let _ = writeln!(
            report,
            "{name}: tshark {} messages with headers, Netcap {} Mail records ({} header-only), {} not shown by tshark",
            theirs.len(),
            mine.len(),
            headers_only(&recs),
            left.len()
        );
        if !unseen.is_empty() || !unknown.is_empty() || (smtp_only && !left.is_empty()) {
            fails.push(format!(
                "{name}: tshark's without a Mail {unseen:?}\n  Mails not among tshark's {unknown:?}"
            ));
        }
        // The parts of the exported messages, decoded by Python.
        let dir = export_objects(&pcap, "imf");
        let emls: Vec<PathBuf> = sha256sums(dir.path()).into_iter().map(|(_, p)| p).collect();
        if emls.is_empty() {
            continue;
        }
        let out = Command::new("python3")
            .args(["-c", PY_PARTS])
            .args(&emls)
            .output()
            .expect("python3 runs");
        assert!(out.status.success());
        let mut py: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        // A part cut short (a gap, POP3 TOP's line count) is not compared.
        let mut ours: Vec<String> = files_of(&recs)
            .into_iter()
            .filter(|f| matches!(f["Source"].as_str(), "SMTP" | "POP3" | "IMAP"))
            .filter(|f| f["Truncated"] != "true")
            .map(|f| f["SHA256"].clone())
            .collect();
        py.sort();
        ours.sort();
        parts += ours.len();
        let _ = writeln!(
            report,
            "    parts: Python {} decoded (of every exported message), Netcap {} Files",
            py.len(),
            ours.len()
        );
        let unknown: Vec<&String> = ours.iter().filter(|h| !py.contains(h)).collect();
        if !unknown.is_empty() || (smtp_only && py != ours) {
            fails.push(format!("{name}: parts: Python {py:?}\n  Netcap {ours:?}"));
        }
        // libmagic on the decoded parts Netcap extracted.
        let x = tempfile::tempdir().unwrap();
        let recs = records_with(
            &pcap,
            &["--no-compress", "-q", "--files", x.path().to_str().unwrap()],
        );
        for f in files_of(&recs) {
            if f["Location"].is_empty() {
                continue;
            }
            let magic = file_mime(Path::new(&f["Location"]));
            if KNOWN_TYPES.contains(&magic.as_str()) && magic != f["ContentTypeDetected"] {
                fails.push(format!(
                    "{name}: {}: file --mime-type {magic}, Netcap {}",
                    f["Name"], f["ContentTypeDetected"]
                ));
            }
        }
    }
    let _ = writeln!(report, "Mails compared: {mails}; parts compared: {parts}");
    println!("{report}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    assert!(mails > 0 && parts > 0);
}

#[test]
fn extracted_files_are_named_by_their_hash_whatever_the_worker_count() {
    let pcaps = [
        streams_dir().join("http-pdf-download.pcap"),
        streams_dir().join("smtp-rfc2231-filename-zip-attachment.pcap"),
        streams_dir().join("http-gzip-chunked-keepalive.pcap"),
        streams_dir().join("ftp-active-passive-all-data-commands.pcap"),
        streams_dir().join("ftp-ipv6-eprt-epsv-all-data-commands.pcap"),
        streams_dir().join("pop3-top-imap-header-fetch-dovecot.pcap"),
    ];
    for pcap in &pcaps {
        let mut outputs = Vec::new();
        for w in ["1", "2", "3"] {
            let out = tempfile::tempdir().unwrap();
            let x = tempfile::tempdir().unwrap();
            let xdir = x.path().join("files");
            capture(
                pcap,
                out.path(),
                &[
                    "--no-compress",
                    "-q",
                    "-w",
                    w,
                    "--files",
                    xdir.to_str().unwrap(),
                ],
            );
            let recs = load_records(out.path());
            let files = files_of(&recs);
            assert!(!files.is_empty(), "{}", pcap.display());
            let sums: BTreeMap<String, PathBuf> = sha256sums(&xdir).into_iter().collect();
            for f in &files {
                let want = xdir.join(&f["SHA256"]);
                assert_eq!(f["Location"], want.to_string_lossy(), "{f:?}");
                assert_eq!(sums.get(&f["SHA256"]), Some(&want), "sha256sum of {want:?}");
            }
            assert_eq!(sums.len(), {
                let mut h: Vec<&String> = files.iter().map(|f| &f["SHA256"]).collect();
                h.sort();
                h.dedup();
                h.len()
            });
            // Records minus the Location (its folder is a temporary one).
            let flat: Vec<String> = files
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {} {} {}",
                        f["FileUID"], f["SHA256"], f["Hash"], f["Name"], f["Source"]
                    )
                })
                .collect();
            outputs.push(flat);
        }
        assert_eq!(outputs[0], outputs[1], "{}", pcap.display());
        assert_eq!(outputs[0], outputs[2], "{}", pcap.display());
    }
    // Over --files-max: not extracted, flagged.
    let x = tempfile::tempdir().unwrap();
    let recs = records_with(
        &pcaps[0],
        &[
            "--no-compress",
            "-q",
            "--files",
            x.path().to_str().unwrap(),
            "--files-max",
            "0",
        ],
    );
    let f = &recs["File"][0].1;
    assert_eq!(text(f, "Location"), "");
    assert_eq!(text(f, "ExtractedCutoff"), "true");
}

/// `sha256sum` of some bytes.
fn sha256_of(data: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// One TCP stream as tshark reassembles it (`-z follow,tcp,raw`): the
/// endpoint that sent first ("address:port") and the bytes of each way.
#[derive(Debug, Default)]
struct Followed {
    node0: String,
    from0: Vec<u8>,
    from1: Vec<u8>,
}

/// tshark's TCP streams of `pcap` whose packets match `filter`: per stream
/// index, its two endpoints ("address:port") and its bytes.
fn follow_streams(pcap: &Path, filter: &str) -> BTreeMap<u32, ([String; 2], Followed)> {
    let fields = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", "tcp.stream"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"])
        .output()
        .expect("tshark is installed");
    let mut ends: BTreeMap<u32, [String; 2]> = BTreeMap::new();
    for l in String::from_utf8_lossy(&fields.stdout).lines() {
        let c: Vec<&str> = l.split('\t').collect();
        let (Some(n), true) = (c[0].parse::<u32>().ok(), c.len() == 7) else {
            continue;
        };
        let ip = |v4: &str, v6: &str| if v4.is_empty() { v6 } else { v4 }.to_string();
        let a = format!("{}:{}", ip(c[1], c[2]), c[3]);
        let b = format!("{}:{}", ip(c[4], c[5]), c[6]);
        ends.entry(n).or_insert([a, b]);
    }
    if ends.is_empty() {
        return BTreeMap::new();
    }
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(pcap).arg("-q");
    for n in ends.keys() {
        cmd.args(["-z", &format!("follow,tcp,raw,{n}")]);
    }
    let out = cmd.output().unwrap();
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    };
    let mut followed: BTreeMap<u32, Followed> = BTreeMap::new();
    let mut cur: Option<u32> = None;
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(n) = l.strip_prefix("Filter: tcp.stream eq ") {
            cur = n.trim().parse().ok();
            continue;
        }
        let Some(f) = cur.map(|n| followed.entry(n).or_default()) else {
            continue;
        };
        let hex = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some(node) = l.strip_prefix("Node 0: ") {
            // "[v6]:port" for IPv6.
            f.node0 = node.trim().replacen('[', "", 1).replacen(']', "", 1);
        } else if let Some(h) = l.strip_prefix('\t').filter(|h| hex(h)) {
            f.from1.extend(unhex(h));
        } else if hex(l) {
            f.from0.extend(unhex(l));
        }
    }
    ends.into_iter()
        .map(|(n, e)| (n, (e, followed.remove(&n).unwrap_or_default())))
        .collect()
}

/// The captures with FTP data connections.
fn ftp_pcaps() -> Vec<PathBuf> {
    vec![
        streams_dir().join("ftp-active-passive-all-data-commands.pcap"),
        streams_dir().join("ftp-ipv6-eprt-epsv-all-data-commands.pcap"),
        pcaps_dir().join("mixed-lan-ftp-dhcp-dns-ipv6.pcap"),
    ]
}

#[test]
fn ftp_files_agree_with_tshark_follow_and_export_objects() {
    let mut report = String::new();
    let mut fails = Vec::new();
    let (mut compared, mut exported) = (0, 0);
    for pcap in ftp_pcaps() {
        let name = pcap_name(&pcap);
        let recs = records_of(&pcap);
        let files: Vec<&prost_reflect::DynamicMessage> = recs
            .get("File")
            .map(|v| v.iter().map(|(_, m)| m).collect())
            .unwrap_or_default();
        let files: Vec<_> = files
            .into_iter()
            .filter(|m| text(m, "Source") == "FTP")
            .collect();
        // tshark's ftp-data streams (linked to their command, or on port
        // 20) that carried bytes: one File per direction with bytes.
        let streams = follow_streams(&pcap, "ftp-data");
        let commands: BTreeMap<u32, String> = {
            let out = Command::new("tshark")
                .args(["-n", "-r"])
                .arg(&pcap)
                .args(["-Y", "ftp-data.command", "-T", "fields"])
                .args(["-e", "tcp.stream", "-e", "ftp-data.command"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    let (n, c) = l.split_once('\t')?;
                    Some((n.parse().ok()?, c.to_string()))
                })
                .collect()
        };
        let with_bytes: usize = streams
            .values()
            .map(|(_, f)| usize::from(!f.from0.is_empty()) + usize::from(!f.from1.is_empty()))
            .sum();
        if with_bytes != files.len() {
            fails.push(format!(
                "{name}: tshark has {with_bytes} ftp-data directions with bytes, Netcap {} FTP Files",
                files.len()
            ));
        }
        for f in &files {
            let client = format!("{}:{}", text(f, "SrcIP"), text(f, "SrcPort"));
            let server = format!("{}:{}", text(f, "DstIP"), text(f, "DstPort"));
            let Some((n, (_, fl))) = streams
                .iter()
                .find(|(_, (e, _))| e.contains(&client) && e.contains(&server))
            else {
                fails.push(format!(
                    "{name}: no tshark ftp-data stream {client} {server}"
                ));
                continue;
            };
            let sender = if text(f, "ToServer") == "true" {
                &client
            } else {
                &server
            };
            let bytes = if *sender == fl.node0 {
                &fl.from0
            } else {
                &fl.from1
            };
            compared += 1;
            let got = (text(f, "Length"), text(f, "SHA256"), text(f, "State"));
            let want = (bytes.len().to_string(), sha256_of(bytes), "CLOSED".into());
            if got != want {
                fails.push(format!(
                    "{name}: stream {n}: Netcap {got:?}, tshark {want:?}"
                ));
            }
            // tshark's command of the stream ("RETR index.html"), when it
            // linked it.
            if let Some(c) = commands.get(n) {
                let verb = c.split(' ').next().unwrap_or_default();
                if text(f, "Command") != verb {
                    fails.push(format!(
                        "{name}: stream {n}: Command {}, tshark {c}",
                        text(f, "Command")
                    ));
                }
            }
        }
        // The objects tshark exports (STOR and RETR it linked): each a File
        // of that name and content.
        let dir = export_objects(&pcap, "ftp-data");
        let objects = sha256sums(dir.path());
        for (h, p) in &objects {
            let fname = p.file_name().unwrap().to_string_lossy().to_string();
            // tshark numbers repeated names: "index(1).html".
            let re_num = |s: &str| -> String {
                match (s.find('('), s.find(')')) {
                    (Some(a), Some(b))
                        if b > a && s[a + 1..b].bytes().all(|c| c.is_ascii_digit()) =>
                    {
                        format!("{}{}", &s[..a], &s[b + 1..])
                    }
                    _ => s.to_string(),
                }
            };
            let want = re_num(&fname);
            exported += 1;
            if !files
                .iter()
                .any(|f| text(f, "SHA256") == *h && text(f, "Name") == want)
            {
                fails.push(format!("{name}: tshark object {fname} ({h}) has no File"));
            }
        }
        let _ = writeln!(
            report,
            "{name}: {} FTP Files, tshark {} ftp-data streams ({with_bytes} directions with bytes), {} exported objects",
            files.len(),
            streams.len(),
            objects.len()
        );
    }
    let _ = writeln!(
        report,
        "FTP Files compared with tshark's streams: {compared}; tshark objects: {exported}"
    );
    println!("{report}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    assert!(compared >= 30 && exported >= 7, "{compared} {exported}");
}
