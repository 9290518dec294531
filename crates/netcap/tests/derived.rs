//! The derived records against tshark on every test capture: Software from
//! the HTTP User-Agent and Server headers, Service from the TCP servers that
//! answered; their determinism across worker counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
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
        .filter(|(_, m)| text(m, "SourceName").starts_with("HTTP "))
        .filter(|(_, m)| text(m, "SourceName") != "HTTP X-Powered-By")
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
    let (mut software_values, mut servers) = (0, 0);
    let mut fails = Vec::new();
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        let recs = records_of(&pcap);
        software_values += software(&name, &pcap, &recs, &mut fails);
        servers += tcp_services(&name, &pcap, &recs, &mut fails);
    }
    println!(
        "Software: {software_values} values compared; Service: {servers} TCP servers compared; \
         {} differences",
        fails.len()
    );
    assert!(software_values > 20, "too few values: {software_values}");
    assert!(servers > 20, "too few servers: {servers}");
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

#[test]
fn derived_records_do_not_depend_on_the_worker_count() {
    let pcap = streams_dir().join("6in4-tunnel-tls-http.pcap");
    let one = records_with(&pcap, &["--no-compress", "--quiet", "-w", "1"]);
    for w in ["2", "3"] {
        let other = records_with(&pcap, &["--no-compress", "--quiet", "-w", w]);
        for ty in ["Software", "Service"] {
            let a: Vec<String> = one[ty].iter().map(|(_, m)| format!("{m:?}")).collect();
            let b: Vec<String> = other[ty].iter().map(|(_, m)| format!("{m:?}")).collect();
            assert!(!a.is_empty(), "{ty}: no records");
            assert_eq!(a, b, "{ty} with -w {w}");
        }
    }
}
