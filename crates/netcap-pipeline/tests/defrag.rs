//! IP reassembly counters in the capture summary, the same whatever the
//! number of workers (reassembly runs in the reader thread).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use netcap_decode::DecodeOptions;
use netcap_format::WriterOptions;
use netcap_pipeline::{
    run_capture, CaptureConfig, DefragConfig, DefragStats, Input, OutputFormat, Progress, Summary,
};

fn run(workers: usize, defrag: Option<DefragConfig>) -> Summary {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/pcaps/ip-fragments-dns-udp-icmp.pcap");
    let out = tempfile::tempdir().unwrap();
    let cfg = CaptureConfig {
        input: Input::File(pcap),
        bpf: None,
        out_dir: out.path().to_path_buf(),
        workers,
        decode: DecodeOptions::default(),
        writer: WriterOptions::default(),
        format: OutputFormat::Ncap,
        created_ns: 0,
        include: Vec::new(),
        side_outputs: false,
        flows: None,
        defrag,
        streams: None,
        files: None,
    };
    run_capture(&cfg, &Progress::default()).unwrap()
}

#[test]
fn fragment_counters_are_in_the_summary() {
    let want = DefragStats {
        fragments: 18,
        reassembled: 5,
        overlap: 1,
        incomplete: 2,
        ..DefragStats::default()
    };
    for workers in 1..=3 {
        let s = run(workers, Some(DefragConfig::default()));
        assert_eq!(s.fragments, want, "{workers} workers");
        assert_eq!(s.records.get("DNS"), Some(&3));
        assert_eq!(s.records.get("UDP"), Some(&6));
        assert_eq!(s.decoded, 20);
    }
    let off = run(2, None);
    assert_eq!(off.fragments, DefragStats::default());
    assert_eq!(off.records.get("UDP"), Some(&8));
    // A 1-datagram cap: arriving datagrams push the older ones out.
    let tight = run(
        2,
        Some(DefragConfig {
            max_datagrams: 1,
            ..DefragConfig::default()
        }),
    );
    assert!(tight.fragments.cap > 0);
    assert_eq!(tight.fragments.fragments, 18);
}
