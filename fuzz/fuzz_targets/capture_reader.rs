//! The pcap / pcapng reader on arbitrary bytes: every packet it hands out is
//! bounded, and it always ends (with packets, an end, or an error). The first
//! byte chooses how: copied out one packet at a time, or read in place in
//! batches of 1 to 8 packets (the pipeline's way); both must hand out the
//! same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_source::CaptureReader;

fn open(data: &[u8]) -> Option<CaptureReader> {
    CaptureReader::from_read(std::io::Cursor::new(data.to_vec()), "fuzz").ok()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let Some(mut r) = open(data) else {
        return;
    };
    let mut copied = Vec::new();
    let mut buf = Vec::new();
    for _ in 0..100_000 {
        buf.clear();
        match r.next_packet(&mut buf) {
            Ok(Some(meta)) => {
                assert_eq!(meta.caplen as usize, buf.len());
                copied.push((meta, buf.clone()));
            }
            Ok(None) | Err(_) => break,
        }
    }
    let Some(mut r) = open(data) else {
        return;
    };
    let batch = usize::from(mode % 8) + 1;
    let mut in_place = Vec::new();
    let mut buf = Vec::new();
    'batches: while in_place.len() < 100_000 {
        r.begin_batch(&mut buf, batch);
        for _ in 0..batch {
            match r.next_in_place(&mut buf) {
                Ok(Some((meta, range))) => {
                    let bytes = buf.get(range).expect("range inside the buffer");
                    assert_eq!(meta.caplen as usize, bytes.len());
                    in_place.push((meta, bytes.to_vec()));
                }
                Ok(None) | Err(_) => break 'batches,
            }
        }
        r.end_batch(&buf);
    }
    assert_eq!(copied, in_place);
});
