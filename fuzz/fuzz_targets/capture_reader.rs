//! The pcap / pcapng reader on arbitrary bytes: every packet it hands out is
//! bounded, and it always ends (with packets, an end, or an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_source::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = CaptureReader::from_read(std::io::Cursor::new(data.to_vec()), "fuzz") else {
        return;
    };
    let mut buf = Vec::new();
    for _ in 0..100_000 {
        buf.clear();
        match r.next_packet(&mut buf) {
            Ok(Some(meta)) => assert_eq!(meta.caplen as usize, buf.len()),
            Ok(None) | Err(_) => return,
        }
    }
});
