//! IP reassembly: a sequence of packets (each: 2-byte time step that may go
//! backwards, 1-byte length, bytes of an IP packet) through fragment parsing,
//! the defragmenter with small caps, and the decoding of every reassembled
//! payload. Checks the caps hold after every fragment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_decode::defrag::{ip_fragment, DefragConfig, Defragmenter, Verdict};
use netcap_decode::{decode_reassembled, DecodeOptions, PacketInfo, RecordSink};
use netcap_schema::Record;

struct Encode(Vec<u8>);

impl RecordSink for Encode {
    fn emit<R: Record>(&mut self, rec: &R) {
        self.0.clear();
        let _ = rec.encode_length_delimited(&mut self.0);
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = DefragConfig {
        timeout_ns: 5_000_000,
        max_bytes: 4096,
        max_datagrams: 8,
    };
    let mut d = Defragmenter::new(cfg);
    let mut sink = Encode(Vec::new());
    let mut out = Vec::new();
    let mut ts: i64 = 1_600_000_000_000_000_000;
    let mut rest = data;
    let mut number = 0u64;
    while let [a, b, len, tail @ ..] = rest {
        ts = ts.saturating_add(i64::from(i16::from_be_bytes([*a, *b])) * 100_000);
        let n = usize::from(*len).min(tail.len());
        let (ip, next) = tail.split_at(n);
        rest = next;
        number += 1;
        let Some(frag) = ip_fragment(ip) else {
            continue;
        };
        out.clear();
        let verdict = d.push(ts, &frag, &mut out);
        assert!(d.buffered_bytes() <= cfg.max_bytes, "over the byte cap");
        assert!(d.pending() <= cfg.max_datagrams, "over the datagram cap");
        if let Verdict::Complete { protocol, len } = verdict {
            assert_eq!(len, out.len());
            let pkt = PacketInfo {
                number,
                ts_ns: ts,
                link_type: 101,
                orig_len: u32::try_from(ip.len()).unwrap_or(u32::MAX),
                data: ip,
            };
            let _ = decode_reassembled(&pkt, &DecodeOptions::default(), protocol, &out, &mut sink);
        }
    }
    let s = d.finish();
    assert!(s.reassembled + s.dropped() <= s.fragments);
});
