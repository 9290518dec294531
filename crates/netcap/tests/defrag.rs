//! IP reassembly end to end, on the generated capture
//! `ip-fragments-dns-udp-icmp.pcap` (see scripts/make_frag_pcap.py for its
//! frames): the layers of a reassembled datagram are on the frame completing
//! it, the fragments' own payloads are not decoded, and the summary counts
//! what was reassembled and dropped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::*;

const PCAP: &str = "ip-fragments-dns-udp-icmp.pcap";

/// Packet numbers of the records of type `ty` in `dir`.
fn numbers(dir: &Path, ty: &str) -> Vec<u64> {
    load_records(dir)
        .get(ty)
        .map(|r| r.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default()
}

fn run(extra: &[&str]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--no-compress"];
    args.extend_from_slice(extra);
    let out = capture(&pcaps_dir().join(PCAP), dir.path(), &args);
    (dir, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn reassembled_layers_are_on_the_completing_frame() {
    let (dir, summary) = run(&[]);
    let d = dir.path();
    // 3: IPv4 DNS in order; 6: IPv4 in reverse order; 12: IPv6 DNS with a
    // duplicate middle fragment; 14: IPv6 behind hop-by-hop, last first;
    // 19: IPv6 atomic fragment; 20: not fragmented. 17 completes a datagram
    // with conflicting overlaps: dropped.
    assert_eq!(numbers(d, "UDP"), [3, 6, 12, 14, 19, 20]);
    assert_eq!(numbers(d, "DNS"), [3, 12, 20]);
    assert_eq!(numbers(d, "ICMPv4"), [8]);
    // Every fragment keeps its own network-layer records.
    assert_eq!(numbers(d, "IPv4").len(), 13);
    assert_eq!(numbers(d, "IPv6Fragment"), [9, 10, 11, 12, 13, 14, 19]);
    // The reassembled DNS response is whole: 70 answers, 40 over IPv6.
    let recs = load_records(d);
    let dns = &recs["DNS"];
    assert_eq!(text(&dns[0].1, "ANCount"), "70");
    assert_eq!(text(&dns[1].1, "ANCount"), "40");
    let udp = &recs["UDP"];
    assert_eq!(text(&udp[0].1, "Length"), "1157");
    assert!(
        summary.contains(
            "IP fragments 18: 5 datagrams reassembled, 1 dropped, 2 incomplete at the end"
        ),
        "{summary}"
    );
    assert!(summary.contains("overlap             1"), "{summary}");
    // Every packet is decoded: a fragment is not an unknown or broken layer.
    assert!(summary.contains("decoded          20"), "{summary}");
}

#[test]
fn without_reassembly_each_fragment_is_decoded_alone() {
    let (dir, summary) = run(&["--no-defrag"]);
    let d = dir.path();
    // First fragments carry the transport header (6 and 14 came first in
    // their datagram's order of offsets, not of arrival).
    assert_eq!(numbers(d, "UDP"), [1, 6, 9, 14, 15, 18, 19, 20]);
    assert_eq!(numbers(d, "ICMPv4"), [7]);
    assert!(!summary.contains("IP fragments"), "{summary}");
}

#[test]
fn timeout_and_memory_cap_drop_and_count() {
    // Fragments are 1 ms apart: with a 1.5 ms timeout the 3-fragment DNS
    // response does not make it.
    let (dir, summary) = run(&["--frag-timeout", "0.0015"]);
    assert!(!numbers(dir.path(), "DNS").contains(&3));
    assert!(summary.contains("timeout "), "{summary}");
    // No memory at all: every datagram is dropped as soon as it is buffered.
    let (dir, summary) = run(&["--frag-memory", "0"]);
    assert_eq!(numbers(dir.path(), "UDP"), [19, 20]);
    assert!(summary.contains(" 0 datagrams reassembled"), "{summary}");
    assert!(summary.contains("memory "), "{summary}");
}

#[test]
fn later_fragments_count_in_their_datagrams_connection() {
    let (dir, _) = run(&[]);
    let recs = load_records(dir.path());
    let conns: Vec<(String, String, String)> = recs["Connection"]
        .iter()
        .map(|(_, c)| {
            (
                format!("{}:{}", text(c, "SrcIP"), text(c, "SrcPort")),
                format!("{}:{}", text(c, "DstIP"), text(c, "DstPort")),
                text(c, "NumPackets"),
            )
        })
        .collect();
    let has = |s: &str, d: &str, n: &str| conns.contains(&(s.into(), d.into(), n.into()));
    // Frames 1-3: the first fragment first, so the two later ones join its
    // connection; no portless connection is left for the pair.
    assert!(has("192.0.2.53:53", "192.0.2.10:40000", "3"), "{conns:?}");
    assert!(has("203.0.113.5:6000", "192.0.2.10:6001", "2"), "{conns:?}");
    assert!(!conns.iter().any(|c| c.0 == "192.0.2.53:0"), "{conns:?}");
    // Frames 4-5 arrive last fragment first: nothing tells the later one its
    // ports, so it stays in the portless connection of its address pair.
    assert!(has("192.0.2.10:0", "198.51.100.9:0", "2"), "{conns:?}");
}
