//! Netcap's metrics, from a snapshot of the pipeline's live statistics.
//! `docs/metrics.md` lists them with their meaning; names follow Prometheus'
//! conventions (`netcap_` prefix, base units, counters ending in `_total`).

use netcap_pipeline::{LiveSnapshot, LiveStats};

use crate::text::{encode, Family, Value};

/// What does not change while a capture runs.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Netcap's version.
    pub version: &'static str,
    /// When the process started, seconds since the epoch.
    pub start_time: f64,
    /// Decoding threads.
    pub workers: usize,
}

/// Sizes of the files written so far, bytes: read from the file system at
/// each scrape (a file only grows while the capture runs), so that the
/// writers need no counting of their own. Compressed files lag behind by
/// what their codec and buffers still hold; after the capture ended this is
/// exactly what is on disk.
fn output_bytes(s: &LiveSnapshot) -> u64 {
    s.files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The process' resident memory (Linux: `VmRSS` of `/proc/self/status`).
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Every metric of a snapshot.
pub fn families(s: &LiveSnapshot, info: &RunInfo) -> Vec<Family> {
    let mut out = Vec::new();
    let mut build = Family::gauge(
        "netcap_build_info",
        "Always 1; the label tells Netcap's version.",
    );
    build.push(&[("version", info.version)], 1);
    out.push(build);
    let mut start = Family::gauge(
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds.",
    );
    start.push_value(&[], Value::Float(info.start_time));
    out.push(start);
    if let Some(rss) = resident_memory() {
        out.push(
            Family::gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            )
            .with(rss),
        );
    }
    out.push(
        Family::gauge(
            "netcap_capture_running",
            "1 while the capture reads and writes, 0 once it ended (the values are then final).",
        )
        .with(u64::from(s.running)),
    );
    out.push(Family::gauge("netcap_workers", "Decoding threads.").with(info.workers as u64));

    // Input.
    out.push(
        Family::counter(
            "netcap_packets_read_total",
            "Packets read from the interface or file (after the BPF filter).",
        )
        .with(s.packets),
    );
    out.push(
        Family::counter(
            "netcap_bytes_read_total",
            "Captured bytes of the packets read, link layer included.",
        )
        .with(s.bytes),
    );
    out.push(
        Family::counter(
            "netcap_packets_filtered_total",
            "Packets of a file dropped by the BPF filter (live capture filters in the kernel: not counted).",
        )
        .with(s.filtered),
    );
    let mut dropped = Family::counter(
        "netcap_packets_dropped_total",
        "Packets the kernel or libpcap dropped (live capture; no sample when not known).",
    );
    if let Some(d) = s.dropped {
        dropped.push(&[], d);
    }
    out.push(dropped);

    // Decoding outcomes, as the summary counts them.
    let sum = |m: &std::collections::BTreeMap<String, u64>| m.values().sum::<u64>();
    let mut outcome = Family::counter(
        "netcap_packets_processed_total",
        "Packets the workers processed, by outcome: decoded (every layer), partial (up to a layer Netcap does not decode), unknown (nothing decoded), error (a layer failed to decode).",
    );
    outcome.push(&[("outcome", "decoded")], s.decoded);
    outcome.push(&[("outcome", "partial")], sum(&s.partial));
    outcome.push(&[("outcome", "unknown")], sum(&s.unknown));
    outcome.push(&[("outcome", "error")], sum(&s.errors));
    out.push(outcome);
    let mut reasons = Family::counter(
        "netcap_packets_undecoded_total",
        "Packets not fully decoded, by outcome and reason (the layer not decoded, or the error).",
    );
    for (name, map) in [
        ("partial", &s.partial),
        ("unknown", &s.unknown),
        ("error", &s.errors),
    ] {
        for (reason, n) in map {
            reasons.push(&[("outcome", name), ("reason", reason)], *n);
        }
    }
    out.push(reasons);

    // Output.
    let mut records = Family::counter(
        "netcap_records_written_total",
        "Records written, by record type.",
    );
    for (ty, n) in &s.records {
        records.push(&[("type", ty)], *n);
    }
    out.push(records);
    out.push(
        Family::counter(
            "netcap_output_bytes_total",
            "Bytes of the files written (record files and side outputs), as on disk.",
        )
        .with(output_bytes(s)),
    );
    out.push(Family::gauge("netcap_output_files", "Files written.").with(s.files.len() as u64));

    // State held.
    out.push(
        Family::gauge(
            "netcap_connections_open",
            "Open connections (tracked flows).",
        )
        .with(s.connections),
    );
    out.push(
        Family::gauge(
            "netcap_streams_open",
            "Open connections holding TCP stream reassembly state.",
        )
        .with(s.streams),
    );
    let mut layer = Family::gauge(
        "netcap_layer_flows_open",
        "Open link, network and transport flows (LinkFlow, NetworkFlow, TransportFlow records).",
    );
    for (name, n) in ["link", "network", "transport"].iter().zip(s.layer_flows) {
        layer.push(&[("layer", name)], n);
    }
    out.push(layer);
    let mut memory = Family::gauge(
        "netcap_memory_bytes",
        "Memory held, bytes: connections (estimate per open connection, as --flow-memory counts it), streams (TCP reassembly queues, recent bytes, parser buffers), fragments (incomplete IP datagrams, as --frag-memory counts them).",
    );
    memory.push(&[("part", "connections")], s.conn_memory);
    memory.push(&[("part", "streams")], s.stream_memory);
    memory.push(&[("part", "fragments")], s.frag_memory);
    out.push(memory);
    let mut evicted = Family::counter(
        "netcap_evictions_total",
        "Flows written early because their table was full: connections (--flow-memory, --max-flows), layer_flows (--max-flows).",
    );
    evicted.push(&[("table", "connections")], s.flows_evicted);
    evicted.push(&[("table", "layer_flows")], s.layer_flows_evicted);
    out.push(evicted);

    // IP reassembly.
    let f = &s.fragments;
    out.push(Family::counter("netcap_ip_fragments_total", "IP fragments seen.").with(f.fragments));
    out.push(
        Family::counter(
            "netcap_ip_datagrams_reassembled_total",
            "IP datagrams reassembled from fragments.",
        )
        .with(f.reassembled),
    );
    let mut fdrop = Family::counter(
        "netcap_ip_datagrams_dropped_total",
        "Incomplete IP datagrams given up, by reason (incomplete: still waiting when the capture ended).",
    );
    for (reason, n) in [
        ("timeout", f.timeout),
        ("overlap", f.overlap),
        ("memory", f.cap),
        ("too_big", f.too_big),
        ("malformed", f.malformed),
        ("incomplete", f.incomplete),
    ] {
        fdrop.push(&[("reason", reason)], n);
    }
    out.push(fdrop);
    out.push(
        Family::gauge(
            "netcap_ip_datagrams_pending",
            "Incomplete IP datagrams waiting for fragments.",
        )
        .with(s.frag_pending),
    );
    out
}

/// The text served at `/metrics`: a fresh snapshot of `live`.
pub fn render(live: &LiveStats, info: &RunInfo) -> String {
    encode(&families(&live.snapshot(), info))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::text::tests::parse;

    #[test]
    fn every_family_is_well_formed() {
        let mut s = LiveSnapshot {
            running: true,
            packets: 10,
            dropped: Some(2),
            decoded: 7,
            ..LiveSnapshot::default()
        };
        s.errors.insert("TCP: truncated header".into(), 3);
        s.records.insert("TCP", 5);
        s.records.insert("UDP", 1);
        let info = RunInfo {
            version: "v0",
            start_time: 1.5,
            workers: 2,
        };
        let text = render_snapshot(&s, &info);
        let (samples, meta) = parse(&text);
        for (name, (help, ty)) in &meta {
            assert!(
                name.starts_with("netcap_") || name.starts_with("process_"),
                "{name}"
            );
            assert!(!help.is_empty());
            assert_eq!(ty == "counter", name.ends_with("_total"), "{name}");
        }
        let get = |name: &str, label: Option<(&str, &str)>| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v))
                })
                .map(|s| s.2)
        };
        assert_eq!(get("netcap_packets_read_total", None), Some(10.0));
        assert_eq!(get("netcap_packets_dropped_total", None), Some(2.0));
        assert_eq!(
            get("netcap_records_written_total", Some(("type", "UDP"))),
            Some(1.0)
        );
        assert_eq!(
            get("netcap_packets_processed_total", Some(("outcome", "error"))),
            Some(3.0)
        );
        assert_eq!(
            get(
                "netcap_packets_processed_total",
                Some(("outcome", "decoded"))
            ),
            Some(7.0)
        );
        assert_eq!(
            get(
                "netcap_packets_undecoded_total",
                Some(("reason", "TCP: truncated header"))
            ),
            Some(3.0)
        );
        assert_eq!(get("netcap_capture_running", None), Some(1.0));
        assert_eq!(get("process_start_time_seconds", None), Some(1.5));
        // Unknown drops: the family is there, without a sample.
        s.dropped = None;
        let (samples, meta) = parse(&render_snapshot(&s, &info));
        assert!(meta.contains_key("netcap_packets_dropped_total"));
        assert!(!samples
            .iter()
            .any(|x| x.0 == "netcap_packets_dropped_total"));
    }

    fn render_snapshot(s: &LiveSnapshot, info: &RunInfo) -> String {
        encode(&families(s, info))
    }

    #[test]
    fn output_bytes_are_the_files_sizes() {
        let dir = std::env::temp_dir().join(format!("netcap-metrics-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, [0u8; 100]).unwrap();
        std::fs::write(&b, [0u8; 23]).unwrap();
        let s = LiveSnapshot {
            files: vec![a, b, dir.join("missing")],
            ..LiveSnapshot::default()
        };
        assert_eq!(output_bytes(&s), 123);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
