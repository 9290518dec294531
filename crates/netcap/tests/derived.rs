//! The derived records against tshark on every test capture: Software from
//! the HTTP User-Agent and Server headers and from the SSH, FTP, SMTP, POP3
//! and IMAP banners, Service from the TCP servers that answered, FTPData
//! against tshark's ftp-data conversations; their determinism across worker
//! counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::*;

/// Joins the occurrences of a field in tshark's output (a character no
/// value holds, unlike ',').
const AGG: char = '\u{1e}';

/// Captures whose differences are understood: (test, capture, why).
const EXPLAINED: &[(&str, &str, &str)] = &[
    (
        "software",
        "mixed-web-tls-http-tcp-anomalies.pcap",
        "frame 1601's response has two Server headers (Caddy, then Apache): Netcap's HTTP \
         record, and so its Software, takes the first",
    ),
    (
        "software",
        "slice-truncated-http.pcap",
        "the response follows a gap after a RST: tshark shows none, Netcap parses it (see \
         the HTTP test in streams.rs)",
    ),
];

/// tshark's rows of `fields` for frames matching `filter` (reassembly on),
/// every occurrence of a field joined by [`AGG`].
fn tshark(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-o", "tcp.reassemble_out_of_order:TRUE", "-r"])
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=a"])
        .arg(format!("-Eaggregator={AGG}"));
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The last occurrence of a field: a tunnel's inner address or port.
fn last(col: &str) -> String {
    col.rsplit(AGG).next().unwrap_or_default().to_string()
}

/// The packet's innermost source address, as Netcap writes it.
fn src(row: &[String]) -> String {
    // Columns 0 and 1 are ip.src and ipv6.src; a 6in4 tunnel has both, and
    // then the IPv6 one is the inner.
    if row[1].is_empty() {
        last(&row[0])
    } else {
        last(&row[1])
    }
}

/// Software's (host, port, string) sets against tshark's for one capture;
/// returns how many values tshark gave.
fn software(name: &str, pcap: &Path, recs: &Records, fails: &mut Vec<String>) -> usize {
    let mut theirs = BTreeSet::new();
    for row in tshark(
        pcap,
        "http.user_agent && tcp",
        &["ip.src", "ipv6.src", "http.user_agent"],
    ) {
        // Pipelined requests completed by one frame: one value each.
        for ua in row[2].split(AGG) {
            theirs.insert((src(&row), "0".to_string(), ua.to_string()));
        }
    }
    for row in tshark(
        pcap,
        "http.server && tcp",
        &["ip.src", "ipv6.src", "tcp.srcport", "http.server"],
    ) {
        for server in row[3].split(AGG) {
            theirs.insert((src(&row), last(&row[2]), server.to_string()));
        }
    }
    let mine: BTreeSet<(String, String, String)> = recs
        .get("Software")
        .into_iter()
        .flatten()
        .filter(|(_, m)| {
            ["HTTP User-Agent", "HTTP Server"].contains(&text(m, "SourceName").as_str())
        })
        .map(|(_, m)| (text(m, "Host"), text(m, "HostPort"), text(m, "SourceData")))
        .collect();
    let explained = EXPLAINED.iter().any(|e| e.0 == "software" && e.1 == name);
    if theirs != mine && !explained {
        fails.push(format!(
            "Software of {name}: tshark only {:?}, netcap only {:?}",
            theirs.difference(&mine).collect::<Vec<_>>(),
            mine.difference(&theirs).collect::<Vec<_>>()
        ));
    }
    theirs.len()
}

/// TCP services against the servers tshark saw answer; returns how many
/// SYN-ACK senders tshark gave.
fn tcp_services(name: &str, pcap: &Path, recs: &Records, fails: &mut Vec<String>) -> usize {
    // Servers that answered a SYN, and the sides that sent data.
    let synack: BTreeSet<(String, String)> = tshark(
        pcap,
        "tcp.flags.syn==1 && tcp.flags.ack==1",
        &["ip.src", "ipv6.src", "tcp.srcport"],
    )
    .into_iter()
    .map(|r| (src(&r), last(&r[2])))
    .collect();
    let senders: BTreeSet<(String, String)> =
        tshark(pcap, "tcp.len>0", &["ip.src", "ipv6.src", "tcp.srcport"])
            .into_iter()
            .map(|r| (src(&r), last(&r[2])))
            .collect();
    let mine: BTreeSet<(String, String)> = recs
        .get("Service")
        .into_iter()
        .flatten()
        .filter(|(_, m)| text(m, "Protocol") == "TCP")
        .map(|(_, m)| (text(m, "IP"), text(m, "Port")))
        .collect();
    let missing: Vec<_> = synack.difference(&mine).collect();
    // Without a handshake, a service is a side that sent data.
    let unfounded: Vec<_> = mine
        .difference(&synack)
        .filter(|k| !senders.contains(*k))
        .collect();
    if !missing.is_empty() || !unfounded.is_empty() {
        fails.push(format!(
            "Service of {name}: SYN-ACK senders without a service {missing:?}, services that \
             neither answered a SYN nor sent data {unfounded:?}"
        ));
    }
    synack.len()
}

#[test]
fn software_and_services_agree_with_tshark() {
    let (mut software_values, mut banner_values, mut servers) = (0, 0, 0);
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    let mut fails = Vec::new();
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        let recs = records_of(&pcap);
        software_values += software(&name, &pcap, &recs, &mut fails);
        // The banner checks take a dozen tshark runs: only where tshark
        // sees one of their protocols, or Netcap made banner software.
        let banner_software = recs
            .get("Software")
            .into_iter()
            .flatten()
            .any(|(_, m)| !text(m, "SourceName").starts_with("HTTP"));
        if banner_software
            || !tshark(
                &pcap,
                "ssh || ftp || smtp || pop || imap",
                &["frame.number"],
            )
            .is_empty()
        {
            banner_values += banners(&name, &pcap, &recs, &mut fails);
        }
        servers += tcp_services(&name, &pcap, &recs, &mut fails);
        for (_, m) in recs.get("Software").into_iter().flatten() {
            *per_source.entry(text(m, "SourceName")).or_default() += 1;
        }
    }
    println!(
        "Software: {software_values} HTTP values and {banner_values} banners compared \
         (records per source: {per_source:?}); Service: {servers} TCP servers compared; \
         {} differences",
        fails.len()
    );
    assert!(software_values > 20, "too few values: {software_values}");
    assert!(banner_values >= 15, "too few banners: {banner_values}");
    for source in [
        "SSH client banner",
        "SSH server banner",
        "FTP greeting",
        "SMTP greeting",
        "POP3 greeting",
        "IMAP greeting",
    ] {
        assert!(per_source.contains_key(source), "no {source} record");
    }
    assert!(servers > 20, "too few servers: {servers}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// The server of each TCP stream (by tshark's `tcp.stream`): the receiver
/// of its SYN, else the sender of its SYN-ACK.
fn stream_servers(pcap: &Path) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let syn = "tcp.flags.syn==1 && tcp.flags.ack==0";
    for r in tshark(
        pcap,
        syn,
        &["tcp.stream", "ip.dst", "ipv6.dst", "tcp.dstport"],
    ) {
        let host = if r[2].is_empty() {
            last(&r[1])
        } else {
            last(&r[2])
        };
        out.entry(r[0].clone()).or_insert((host, last(&r[3])));
    }
    let synack = "tcp.flags.syn==1 && tcp.flags.ack==1";
    for r in tshark(
        pcap,
        synack,
        &["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport"],
    ) {
        out.entry(r[0].clone())
            .or_insert_with(|| (src(&r[1..]), last(&r[3])));
    }
    out
}

/// The first frame of each TCP stream that `filter` matches, as (host, port,
/// then `fields`); rows come in frame order.
fn first_per_stream(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport"];
    all.extend_from_slice(fields);
    let mut seen = BTreeSet::new();
    tshark(pcap, filter, &all)
        .into_iter()
        .filter(|r| seen.insert(r[0].clone()))
        .map(|r| {
            let mut row = vec![src(&r[1..]), last(&r[3])];
            row.extend(r[4..].iter().cloned());
            row
        })
        .collect()
}

/// A multi-line reply's lines as tshark gives them (one occurrence each),
/// joined as Netcap's records join them.
fn lines(col: &str) -> String {
    col.split(AGG).collect::<Vec<_>>().join("\n")
}

/// Software from banners and greetings against tshark for one capture:
/// (source, host, port, raw string) sets; returns how many tshark gave.
fn banners(name: &str, pcap: &Path, recs: &Records, fails: &mut Vec<String>) -> usize {
    type Key = (String, String, String, String);
    let mut theirs: BTreeSet<Key> = BTreeSet::new();
    let key = |source: &str, host: &str, port: &str, raw: &str| {
        (
            source.to_string(),
            host.to_string(),
            port.to_string(),
            raw.to_string(),
        )
    };
    // SSH: both banners of every stream.
    let servers = stream_servers(pcap);
    for r in tshark(
        pcap,
        "ssh.protocol",
        &[
            "tcp.stream",
            "ip.src",
            "ipv6.src",
            "tcp.srcport",
            "ssh.protocol",
        ],
    ) {
        let (host, port) = (src(&r[1..]), last(&r[3]));
        if servers.get(&r[0]) == Some(&(host.clone(), port.clone())) {
            theirs.insert(key("SSH server banner", &host, &port, &r[4]));
        } else {
            theirs.insert(key("SSH client banner", &host, "0", &r[4]));
        }
    }
    // Greetings: the first message of a stream, when the server sent it
    // (a capture may start after the greeting: the first reply then answers
    // a command).
    let requests_or_replies = |req: &str, reply: &str| format!("{req} || {reply}");
    for r in first_per_stream(
        pcap,
        &requests_or_replies("ftp.request.command", "ftp.response.code"),
        &["ftp.response.code", "ftp.response.arg"],
    ) {
        if r[2].split(AGG).next() == Some("220") {
            theirs.insert(key("FTP greeting", &r[0], &r[1], &lines(&r[3])));
        }
    }
    for r in first_per_stream(
        pcap,
        &requests_or_replies("smtp.req.command", "smtp.response.code"),
        &["smtp.response.code", "smtp.rsp.parameter"],
    ) {
        if r[2].split(AGG).next() == Some("220") {
            theirs.insert(key("SMTP greeting", &r[0], &r[1], &lines(&r[3])));
        }
    }
    for r in first_per_stream(
        pcap,
        &requests_or_replies("pop.request.command", "pop.response.indicator"),
        &["pop.response.indicator", "pop.response.description"],
    ) {
        if r[2] == "+OK" {
            theirs.insert(key("POP3 greeting", &r[0], &r[1], &r[3]));
        }
    }
    // tshark's IMAP greeting is a line of its own (imap.line, CR LF shown
    // as "\r\n"); Netcap keeps the text after "* OK " or "* PREAUTH ".
    for r in first_per_stream(pcap, "imap", &["imap.isrequest", "imap.line"]) {
        let line = r[3].split(AGG).next().unwrap_or_default();
        let line = line.strip_suffix("\\r\\n").unwrap_or(line);
        for status in ["* OK ", "* PREAUTH "] {
            match line.strip_prefix(status) {
                Some(t) if r[2] == "0" => {
                    theirs.insert(key("IMAP greeting", &r[0], &r[1], t));
                }
                _ => {}
            }
        }
    }
    // FTP CLNT and the reply to SYST.
    for r in tshark(
        pcap,
        "ftp.request.command == \"CLNT\"",
        &["ip.src", "ipv6.src", "ftp.request.arg"],
    ) {
        theirs.insert(key("FTP CLNT", &src(&r), "0", &r[2]));
    }
    for r in tshark(
        pcap,
        "ftp.response.code == 215",
        &["ip.src", "ipv6.src", "tcp.srcport", "ftp.response.arg"],
    ) {
        theirs.insert(key("FTP SYST reply", &src(&r), &last(&r[2]), &lines(&r[3])));
    }
    let sources = [
        "SSH client banner",
        "SSH server banner",
        "FTP greeting",
        "FTP CLNT",
        "FTP SYST reply",
        "SMTP greeting",
        "POP3 greeting",
        "IMAP greeting",
    ];
    let mine: BTreeSet<Key> = recs
        .get("Software")
        .into_iter()
        .flatten()
        .filter(|(_, m)| sources.contains(&text(m, "SourceName").as_str()))
        .map(|(_, m)| {
            let f = |n| text(m, n);
            key(
                &f("SourceName"),
                &f("Host"),
                &f("HostPort"),
                &f("SourceData"),
            )
        })
        .collect();
    if theirs != mine {
        fails.push(format!(
            "banner Software of {name}: tshark only {:?}, netcap only {:?}",
            theirs.difference(&mine).collect::<Vec<_>>(),
            mine.difference(&theirs).collect::<Vec<_>>()
        ));
    }
    theirs.len()
}

/// FTPData against tshark's ftp-data conversations for one capture: per data
/// connection (client, server, setup method and frame, command and its
/// frame, bytes); returns how many tshark gave.
fn ftp_data(name: &str, pcap: &Path, recs: &Records, fails: &mut Vec<String>) -> usize {
    let servers = stream_servers(pcap);
    // Per stream: setup method and frame, command and frame, payload bytes
    // (retransmissions left out).
    let mut theirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in tshark(
        pcap,
        "ftp-data",
        &[
            "tcp.stream",
            "ftp-data.setup-method",
            "ftp-data.setup-frame",
            "ftp-data.command",
            "ftp-data.command-frame",
            "tcp.len",
            "tcp.analysis.retransmission",
        ],
    ) {
        let e = theirs.entry(r[0].clone()).or_insert_with(|| {
            let (ip, port) = servers.get(&r[0]).cloned().unwrap_or_default();
            // tshark calls EPSV "EPASV"; it opens EPRT's conversation at
            // the 200 reply, without a method or command.
            let method = if r[1] == "EPASV" { "EPSV" } else { &r[1] };
            let setup = if method.is_empty() { "" } else { &r[2] };
            let (c, f) = (r[3].clone(), r[4].clone());
            vec![ip, port, method.into(), setup.into(), c, f, "0".into()]
        });
        if r[6].is_empty() {
            let n: i64 = e[6].parse().unwrap_or(0) + r[5].parse::<i64>().unwrap_or(0);
            e[6] = n.to_string();
        }
    }
    let theirs: BTreeSet<Vec<String>> = theirs.into_values().collect();
    let mine: BTreeSet<Vec<String>> = recs
        .get("FTPData")
        .into_iter()
        .flatten()
        // tshark knows data connections by their payload.
        .filter(|(_, m)| text(m, "Size") != "0")
        .map(|(_, m)| {
            let f = |n| text(m, n);
            let command = format!("{} {}", f("Command"), f("FileName"));
            let mut row = vec![
                f("DstIP"),
                f("DstPort"),
                f("SetupCommand"),
                f("SetupPacketNumber"),
                command.trim().to_string(),
                f("CommandPacketNumber"),
                f("Size"),
            ];
            if row[2] == "EPRT" {
                for v in &mut row[2..6] {
                    v.clear();
                }
            }
            row
        })
        .collect();
    if theirs != mine {
        fails.push(format!(
            "FTPData of {name}: tshark only {:?}, netcap only {:?}",
            theirs.difference(&mine).collect::<Vec<_>>(),
            mine.difference(&theirs).collect::<Vec<_>>()
        ));
    }
    theirs.len()
}

#[test]
fn ftp_data_agrees_with_tshark() {
    let (mut conns, mut fails) = (0, Vec::new());
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        if tshark(&pcap, "ftp", &["frame.number"]).is_empty() {
            continue;
        }
        conns += ftp_data(&name, &pcap, &records_of(&pcap), &mut fails);
    }
    println!(
        "FTPData: {conns} data connections compared; {} differences",
        fails.len()
    );
    assert!(conns >= 10, "too few data connections: {conns}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn derived_records_do_not_depend_on_the_worker_count() {
    for (file, types) in [
        ("6in4-tunnel-tls-http.pcap", &["Software", "Service"][..]),
        (
            "ftp-active-passive-all-data-commands.pcap",
            &["Software", "Service", "FTPData"][..],
        ),
    ] {
        same_for_1_2_3_workers(&streams_dir().join(file), types);
    }
}

fn same_for_1_2_3_workers(pcap: &Path, types: &[&str]) {
    let one = records_with(pcap, &["--no-compress", "--quiet", "-w", "1"]);
    for w in ["2", "3"] {
        let other = records_with(pcap, &["--no-compress", "--quiet", "-w", w]);
        for &ty in types {
            let a: Vec<String> = one[ty].iter().map(|(_, m)| format!("{m:?}")).collect();
            let b: Vec<String> = other[ty].iter().map(|(_, m)| format!("{m:?}")).collect();
            assert!(!a.is_empty(), "{ty}: no records");
            assert_eq!(a, b, "{ty} with -w {w}");
        }
    }
}
