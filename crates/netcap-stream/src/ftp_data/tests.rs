#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::records::StreamRecord;
use crate::testkit::{meta, Engine};
use netcap_schema::File;

fn files(out: &[(u64, StreamRecord)]) -> Vec<(u64, File, Option<Vec<u8>>)> {
    out.iter()
        .filter_map(|(k, r)| match r {
            StreamRecord::File(f) => Some((*k, f.rec.clone(), f.data.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn each_direction_is_a_file_hashed_as_it_streams() {
    let mut m = meta("Cdata", 20);
    m.files_max = 1 << 10;
    let mut e = Engine::with(FtpDataParser::default(), m);
    // FIPS 180-2 / RFC 1321 vectors: "abc" split over three segments.
    e.feed(Dir::ToClient, 4, b"a");
    e.feed(Dir::ToClient, 5, b"b");
    e.feed(Dir::ToClient, 6, b"c");
    let mut cx = Cx::new(&e.meta, crate::testkit::origin(7), &mut e.out);
    e.parser.end(Dir::ToClient, End::Fin, &mut cx);
    e.finish_at(9);
    let f = files(&e.out);
    assert_eq!(f.len(), 1, "the silent direction is no file");
    let (key, rec, data) = &f[0];
    assert_eq!(*key, 7);
    assert_eq!(rec.hash, "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(rec.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(
        rec.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!((rec.length, rec.total_bytes), (3, -1));
    assert_eq!((rec.packet_number, rec.timestamp), (4, 4_000));
    assert_eq!(rec.source, "FTP");
    assert_eq!(rec.file_uid, "Cdata.F1");
    assert_eq!(rec.connection_uid, "Cdata");
    assert!(!rec.to_server);
    assert_eq!((rec.truncated, rec.state.as_str()), (false, "CLOSED"));
    assert_eq!(rec.content_type_detected, "text/plain");
    assert_eq!(data.as_deref(), Some(&b"abc"[..]));
}

#[test]
fn an_upload_then_a_cut_download_are_two_files() {
    let mut e = Engine::with(FtpDataParser::default(), meta("Cd", 20));
    e.feed(Dir::ToServer, 3, b"%PDF-1.4\n");
    let mut cx = Cx::new(&e.meta, crate::testkit::origin(4), &mut e.out);
    e.parser.end(Dir::ToServer, End::Fin, &mut cx);
    e.feed(Dir::ToClient, 5, b"xy");
    e.gap(Dir::ToClient, 6);
    e.feed(Dir::ToClient, 7, b"z");
    e.finish_at(8);
    let f = files(&e.out);
    assert_eq!(f.len(), 2);
    assert!(f[0].1.to_server);
    assert_eq!(f[0].1.content_type_detected, "application/pdf");
    assert_eq!(f[0].2, None, "nothing kept without --files");
    let cut = &f[1].1;
    assert_eq!(cut.file_uid, "Cd.F2");
    assert_eq!((cut.length, cut.missing_bytes), (3, 10));
    assert_eq!((cut.truncated, cut.state.as_str()), (true, "TRUNCATED"));
}

#[test]
fn depth_reset_and_close_cut_a_file_but_a_fin_does_not() {
    for (why, cut) in [
        (End::Fin, false),
        (End::Depth, true),
        (End::Reset, true),
        (End::Close, true),
    ] {
        let mut e = Engine::with(FtpDataParser::default(), meta("C", 20));
        e.feed(Dir::ToClient, 1, b"data");
        let mut cx = Cx::new(&e.meta, crate::testkit::origin(2), &mut e.out);
        e.parser.end(Dir::ToClient, why, &mut cx);
        e.finish_at(3);
        let f = files(&e.out);
        assert_eq!(f.len(), 1, "{why:?}");
        assert_eq!(f[0].1.truncated, cut, "{why:?}");
    }
}

#[test]
fn an_empty_connection_is_no_file_and_memory_is_given_back() {
    let mut e = Engine::with(FtpDataParser::default(), meta("C", 20));
    e.finish_at(2);
    assert!(files(&e.out).is_empty());
    let mut m = meta("C", 20);
    m.files_max = 1 << 20;
    let mut e = Engine::with(FtpDataParser::default(), m);
    e.feed(Dir::ToClient, 1, &[7u8; 5000]);
    assert!(e.parser.memory() >= 5000);
    e.finish_at(2);
    assert_eq!(e.parser.memory(), 0);
}
