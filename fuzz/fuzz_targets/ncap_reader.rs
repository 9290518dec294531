//! The .ncap reader on arbitrary bytes, typed and through the schema. The
//! reader picks the codec from the first bytes (gzip `1f 8b`, zstd
//! `28 b5 2f fd`, else none), so the fuzzer reaches the plain, gzip and zstd
//! paths alike; the corpus is seeded with files of all three (fuzz/seed.py).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_format::FileReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = FileReader::from_reader(std::io::Cursor::new(data.to_vec()), "fuzz".into())
    else {
        return;
    };
    let Ok(desc) = r.descriptor() else { return };
    for _ in 0..100_000 {
        match r.next_dynamic(&desc) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
});
