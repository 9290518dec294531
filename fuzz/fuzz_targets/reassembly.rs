//! TCP reassembly and the stream parsers behind it: a sequence of segments
//! (each: direction and flags byte, 2-byte sequence offset from a base that
//! may wrap, 1-byte length, payload) through one connection's streams with
//! small caps, then the connection's end. Checks that the memory budget is
//! returned and never exceeded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_stream::conn::{Segment, StreamConfig};
use netcap_stream::reassembly::{Budget, OverlapPolicy};
use netcap_stream::{ConnMeta, ConnStreams, Dir, Origin};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let cfg = StreamConfig {
        depth: if sel & 1 == 0 { 0 } else { 3000 },
        max_queue: 2048,
        max_pending: 4096,
        policy: if sel & 2 == 0 { OverlapPolicy::First } else { OverlapPolicy::Last },
        files_max: 0,
    };
    // The port picks which parser the probes try first.
    let port = [80u16, 443, 53, 9999][usize::from(sel >> 2) & 3];
    let meta = ConnMeta {
        uid: "Cfuzz".into(),
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), port),
        // Bit 4: files are extracted (their content kept up to 1 KiB).
        files_max: if sel & 0x10 == 0 { 0 } else { 1024 },
    };
    let mut streams = ConnStreams::new(meta);
    let mut budget = Budget::new(8192);
    let mut out = Vec::new();
    let base = [u32::MAX - 300, 0x1000_0000];
    let mut number = 0u64;
    while let [flags, hi, lo, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        number += 1;
        let dir = if flags & 0x80 == 0 { Dir::ToServer } else { Dir::ToClient };
        let off = u32::from(u16::from_be_bytes([*hi, *lo]));
        let seg = Segment {
            dir,
            seq: base[dir.index()].wrapping_add(off),
            ack: base[1 - dir.index()].wrapping_add(off / 2),
            flags: u16::from(*flags & 0x17),
            payload,
            // Sometimes more on the wire than captured (a snap length).
            wire_len: u32::try_from(n).unwrap_or(0) + u32::from(flags & 0x40 != 0) * 7,
            origin: Origin { ts_ns: number as i64, number },
        };
        streams.segment(&seg, &cfg, &mut budget, &mut out);
        assert!(budget.used <= budget.limit);
        if out.len() > 4096 {
            out.clear();
        }
    }
    streams.finish(Origin { ts_ns: 0, number }, number, &cfg, &mut budget, &mut out);
    assert_eq!(budget.used, 0);
});
