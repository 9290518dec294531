//! Every stream parser on arbitrary bytes: the input is cut into chunks and
//! gaps given to the parser as the engine would (unconsumed rest kept and
//! handed back with the next chunk, at least as long as the parser asked),
//! in both directions, and protocol switches (STARTTLS to TLS) followed.
//! The records they write then go through the derived records' tables
//! (Software, Service, FTPData, the Files of FTP data connections), their
//! announced strings through every software parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcap_stream::conn::PROTOCOLS;
use netcap_stream::{ConnMeta, Cx, Dir, Origin};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let meta = ConnMeta {
        uid: "Cfuzz".into(),
        client: ("10.0.0.1".parse().unwrap(), 40000),
        server: ("10.0.0.2".parse().unwrap(), 80),
        // Extraction on for half the inputs: the kept content is capped.
        files_max: u64::from(sel & 1) << 12,
    };
    if sel >= 0xf0 {
        // The MIME parser on its own, fed raw chunks (IMAP literals) with gaps.
        let mut out = Vec::new();
        let mut cx = Cx::new(&meta, Origin { ts_ns: 0, number: 1 }, &mut out);
        let mut mail = netcap_stream::mime::MailBuilder::new(
            "IMAP",
            "Cfuzz.M1".into(),
            Origin::default(),
            false,
            0,
            &cx,
        );
        let mut at = 0usize;
        while at < rest.len() {
            let ctl = rest[at];
            at += 1;
            let n = usize::from(ctl & 0x7f) + 1;
            let chunk = &rest[at..(at + n).min(rest.len())];
            at += chunk.len();
            if ctl & 0x80 != 0 && chunk.len() < 2 {
                mail.gap();
            } else {
                mail.raw(chunk, &mut cx);
            }
        }
        mail.finish(sel & 2 == 0, &mut cx);
        return;
    }
    // Every detected protocol, and the FTP data parser (started by an
    // announcement, never by detection).
    let n = PROTOCOLS.len() + 1;
    let proto = match PROTOCOLS.get(usize::from(sel) % n) {
        Some(p) => p,
        None => &netcap_stream::ftp_data::PROTOCOL,
    };
    let mut parser = (proto.new)();
    let mut out = Vec::new();
    let mut pending: [Vec<u8>; 2] = Default::default();
    let mut stopped = false;
    // Chunk sizes come from the input itself.
    let mut at = 0usize;
    let mut number = 0u64;
    while at < rest.len() && !stopped {
        let ctl = rest[at];
        at += 1;
        let n = usize::from(ctl & 0x3f) + 1;
        let chunk = &rest[at..(at + n).min(rest.len())];
        at += chunk.len();
        number += 1;
        let dir = if ctl & 0x80 == 0 { Dir::ToServer } else { Dir::ToClient };
        let mut cx = Cx::new(&meta, Origin { ts_ns: 0, number }, &mut out);
        let p = &mut pending[dir.index()];
        if ctl & 0x40 != 0 && chunk.len() < 4 {
            p.clear();
            parser.gap(dir, chunk.len() as u64 + 1, &mut cx);
            continue;
        }
        p.extend_from_slice(chunk);
        match parser.parse(dir, p, &mut cx) {
            Ok(r) => {
                assert!(r.consumed <= p.len());
                if r.consumed < p.len() {
                    assert!(r.needed > p.len() - r.consumed, "needed must exceed the rest");
                }
                p.drain(..r.consumed);
                if p.len() > 1 << 20 {
                    p.clear();
                }
            }
            Err(_) => stopped = true,
        }
        // A protocol switch (STARTTLS) hands the kept bytes to the next
        // parser, as the engine does.
        if let Some(next) = parser.upgrade() {
            parser = next;
        }
        if out.len() > 1024 {
            out.clear();
        }
    }
    let mut cx = Cx::new(&meta, Origin { ts_ns: 0, number }, &mut out);
    parser.finish(&mut cx);
    let mut sightings = Vec::new();
    for (_, rec) in &out {
        netcap_derive::observe_stream(rec, &mut sightings);
        if let netcap_stream::StreamRecord::File(f) = rec {
            sightings.extend(netcap_derive::ftp_file(&f.rec));
        }
    }
    for s in &sightings {
        if let netcap_derive::Sighting::Software(sw) = s {
            for source in netcap_derive::software::source::ALL {
                let _ = netcap_derive::software::parse(source, &sw.raw);
            }
        }
    }
    let mut deriver = netcap_derive::Deriver::default_limits();
    let _ = deriver.batch(&mut sightings);
    let _ = deriver.finish();
});
