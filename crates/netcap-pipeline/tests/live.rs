//! The live statistics (what `--metrics` serves) equal the summary once the
//! capture ended, whatever the number of workers, including evictions
//! (a tiny flow table), IP reassembly, side outputs and every record type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use netcap_decode::DecodeOptions;
use netcap_format::WriterOptions;
use netcap_pipeline::{
    run_capture, CaptureConfig, DefragConfig, FlowConfig, Input, OutputFormat, Progress,
    StreamOptions,
};

fn config(pcap: &str, out: &Path, workers: usize, max_flows: u64) -> CaptureConfig {
    CaptureConfig {
        input: Input::File(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/pcaps")
                .join(pcap),
        ),
        bpf: None,
        out_dir: out.to_path_buf(),
        workers,
        decode: DecodeOptions::default(),
        writer: WriterOptions::default(),
        format: OutputFormat::Ncap,
        created_ns: 0,
        include: Vec::new(),
        side_outputs: true,
        flows: Some(FlowConfig {
            max_flows,
            max_layer_flows: max_flows,
            ..FlowConfig::default()
        }),
        defrag: Some(DefragConfig::default()),
        streams: Some(StreamOptions {
            cfg: Default::default(),
            memory: 64 << 20,
        }),
        files: None,
    }
}

#[test]
fn final_snapshot_equals_the_summary() {
    for (pcap, max_flows) in [
        ("mixed-lan-wireshark-samples.pcapng", 8),
        ("mixed-web-tls-http-tcp-anomalies.pcap", 1_000_000),
        ("ip-fragments-dns-udp-icmp.pcap", 1_000_000),
    ] {
        for workers in [1, 3] {
            let out = tempfile::tempdir().unwrap();
            let progress = Progress::default();
            let summary =
                run_capture(&config(pcap, out.path(), workers, max_flows), &progress).unwrap();
            let s = progress.live.snapshot();
            let what = format!("{pcap}, {workers} workers");
            assert!(!s.running, "{what}");
            assert_eq!(s.packets, summary.packets, "{what}");
            assert_eq!(s.bytes, summary.bytes, "{what}");
            assert_eq!(s.filtered, summary.filtered, "{what}");
            assert_eq!(s.dropped, None, "{what}");
            assert_eq!(s.decoded, summary.decoded, "{what}");
            assert_eq!(s.partial, summary.partial, "{what}");
            assert_eq!(s.unknown, summary.unknown, "{what}");
            assert_eq!(s.errors, summary.errors, "{what}");
            let records: BTreeMap<String, u64> =
                s.records.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            assert_eq!(records, summary.records, "{what}");
            assert_eq!(s.flows_evicted, summary.flows_evicted, "{what}");
            assert_eq!(s.layer_flows_evicted, summary.layer_flows_evicted, "{what}");
            assert_eq!(s.fragments, summary.fragments, "{what}");
            let mut files = s.files.clone();
            let mut want = summary.files.clone();
            files.sort();
            want.sort();
            assert_eq!(files, want, "{what}");
            // Everything ended: nothing is held any more.
            assert_eq!(s.connections, 0, "{what}");
            assert_eq!(s.streams, 0, "{what}");
            assert_eq!(s.conn_memory + s.stream_memory + s.frag_memory, 0, "{what}");
            assert_eq!(s.layer_flows, [0; 3], "{what}");
            // (Connections are evicted 32 batches after their table went
            // over its cap; this capture has 6.)
            if max_flows < 100 {
                assert!(s.layer_flows_evicted > 0, "{what}: {s:?}");
            }
            // Every packet read has one outcome.
            assert_eq!(
                s.packets,
                s.decoded
                    + [&s.partial, &s.unknown, &s.errors]
                        .iter()
                        .map(|m| m.values().sum::<u64>())
                        .sum::<u64>(),
                "{what}"
            );
        }
    }
}

#[test]
fn a_second_capture_starts_from_zero() {
    let progress = Progress::default();
    let a = tempfile::tempdir().unwrap();
    run_capture(&config("geneve.pcap", a.path(), 2, 1000), &progress).unwrap();
    let b = tempfile::tempdir().unwrap();
    let second = run_capture(&config("geneve.pcap", b.path(), 2, 1000), &progress).unwrap();
    let s = progress.live.snapshot();
    assert_eq!(s.packets, second.packets);
    assert_eq!(s.decoded, second.decoded);
    assert_eq!(
        s.records.get("Ethernet").copied(),
        second.records.get("Ethernet").copied()
    );
    assert!(s.files.iter().all(|f| f.starts_with(b.path())));
}
