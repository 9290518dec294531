//! Every decoder through the layer walk: the first two bytes choose the link
//! type, the rest is the packet. Records are encoded, as in a capture.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_decode::{decode_packet, DecodeOptions, FlowKey, PacketInfo, RecordSink};
use netcap_schema::Record;

struct Encode(Vec<u8>);

impl RecordSink for Encode {
    fn emit<R: Record>(&mut self, rec: &R) {
        self.0.clear();
        let _ = rec.encode_length_delimited(&mut self.0);
    }
}

/// Link types with a decoder, plus one without.
const LINK_TYPES: [u32; 14] = [1, 0, 108, 101, 12, 14, 228, 229, 113, 276, 9, 50, 127, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let link_type = LINK_TYPES[usize::from(sel) % LINK_TYPES.len()];
    let pkt = PacketInfo {
        number: 1,
        ts_ns: 1_500_000_000_000_000_000,
        link_type,
        orig_len: u32::try_from(rest.len()).unwrap_or(u32::MAX),
        data: rest,
    };
    let mut sink = Encode(Vec::new());
    let _ = decode_packet(
        &pkt,
        &DecodeOptions {
            entropy: sel & 0x80 != 0,
            tcp_streams: sel & 0x40 != 0,
        },
        &mut sink,
    );
    let _ = FlowKey::of(link_type, rest);
});
