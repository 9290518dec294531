//! `--format parquet` and `netcap convert`: every row of every record type
//! of the test captures read back with the parquet crate and compared with
//! what `netcap dump --json` shows for the same record; byte-identical
//! files whatever the number of workers; convert equals capture.
#![cfg(feature = "parquet")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use common::*;
use netcap_format::render::{json_value, RenderOptions};
use netcap_schema::time::format_rfc3339;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use prost_reflect::ReflectMessage;
use serde_json::{Map, Value as J};

/// One value of an Arrow array as `netcap dump --json --utc` writes it:
/// timestamps as RFC 3339 with nanoseconds, bytes as lowercase hex, structs as objects
/// (null when unset), lists as arrays.
fn json_of(a: &ArrayRef, i: usize) -> J {
    if a.is_null(i) {
        return J::Null;
    }
    match a.data_type() {
        DataType::Boolean => J::Bool(a.as_boolean().value(i)),
        DataType::Int32 => J::from(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => J::from(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt32 => J::from(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => J::from(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => J::from(f64::from(a.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => J::from(a.as_primitive::<Float64Type>().value(i)),
        DataType::Timestamp(..) => J::String(format_rfc3339(
            a.as_primitive::<TimestampNanosecondType>().value(i),
        )),
        DataType::Utf8 => J::String(a.as_string::<i32>().value(i).to_string()),
        DataType::Binary => J::String(
            a.as_binary::<i32>()
                .value(i)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        ),
        DataType::Struct(fields) => {
            let s = a.as_struct();
            J::Object(
                fields
                    .iter()
                    .zip(s.columns())
                    .map(|(f, c)| (f.name().clone(), json_of(c, i)))
                    .collect(),
            )
        }
        DataType::List(_) => {
            let items = a.as_list::<i32>().value(i);
            J::Array((0..items.len()).map(|k| json_of(&items, k)).collect())
        }
        other => panic!("unexpected column type {other:?}"),
    }
}

/// Every row of a Parquet file as JSON objects.
fn parquet_rows(path: &Path) -> Vec<Map<String, J>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            rows.push(
                schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(f, c)| (f.name().clone(), json_of(c, i)))
                    .collect(),
            );
        }
    }
    rows
}

fn files(dir: &Path, ext: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_row_of_every_type_equals_dump() {
    let mut types = BTreeMap::<String, usize>::new();
    for pcap in all_pcaps_and_streams() {
        let name = pcap_name(&pcap);
        let ncap = tempfile::tempdir().unwrap();
        let pq = tempfile::tempdir().unwrap();
        // --entropy: doubles are exercised too.
        capture(
            &pcap,
            ncap.path(),
            &["--no-compress", "--quiet", "--entropy"],
        );
        capture(
            &pcap,
            pq.path(),
            &["--format", "parquet", "--quiet", "--entropy"],
        );
        let records = load_records(ncap.path());
        let written = files(pq.path(), ".parquet");
        assert_eq!(
            written.len(),
            records.len(),
            "{name}: {:?} vs {:?}",
            written.keys().collect::<Vec<_>>(),
            records.keys().collect::<Vec<_>>()
        );
        for (ty, recs) in &records {
            let rows = parquet_rows(&pq.path().join(format!("{ty}.parquet")));
            assert_eq!(rows.len(), recs.len(), "{name} {ty}: row count");
            for (i, ((_, m), row)) in recs.iter().zip(&rows).enumerate() {
                let want: Map<String, J> = m
                    .descriptor()
                    .fields()
                    .map(|f| {
                        (
                            f.name().to_string(),
                            json_value(m, &f, &RenderOptions { utc: true }),
                        )
                    })
                    .collect();
                assert_eq!(
                    J::Object(row.clone()),
                    J::Object(want),
                    "{name} {ty} row {i}"
                );
            }
            *types.entry(ty.clone()).or_default() += rows.len();
        }
    }
    // The captures cover most of the schema: make sure the test really saw it.
    assert!(
        types.len() >= 55,
        "only {} record types: {types:?}",
        types.len()
    );
}

#[test]
fn parquet_is_byte_identical_whatever_the_number_of_workers() {
    for name in [
        "mixed-lan-wireshark-samples.pcapng",
        "mixed-web-tls-http-tcp-anomalies.pcap",
        "ip-fragments-dns-udp-icmp.pcap",
    ] {
        let pcap = pcaps_dir().join(name);
        let mut reference: Option<BTreeMap<String, Vec<u8>>> = None;
        for workers in ["1", "2", "3"] {
            let dir = tempfile::tempdir().unwrap();
            capture(
                &pcap,
                dir.path(),
                &["--format", "parquet", "--workers", workers, "--quiet"],
            );
            let got = files(dir.path(), ".parquet");
            assert!(got.len() >= 3, "{name}: too few files");
            match &reference {
                None => reference = Some(got),
                Some(r) => {
                    assert_eq!(r.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
                    for (k, v) in r {
                        assert!(&got[k] == v, "{name}: {k} differs with {workers} workers");
                    }
                }
            }
        }
    }
}

#[test]
fn convert_writes_what_capture_writes() {
    let pcap = pcaps_dir().join("mixed-lan-wireshark-samples.pcapng");
    let ncap = tempfile::tempdir().unwrap();
    capture(&pcap, ncap.path(), &["--quiet", "--compression", "zstd"]);
    for (format, flag, ext) in [
        ("parquet", "--format=parquet", ".parquet"),
        ("csv", "--csv", ".csv"),
        ("json", "--json", ".json"),
    ] {
        let direct = tempfile::tempdir().unwrap();
        capture(&pcap, direct.path(), &["--quiet", flag]);
        let converted = tempfile::tempdir().unwrap();
        let o = netcap(&[
            "convert",
            "-r",
            ncap.path().to_str().unwrap(),
            "-o",
            converted.path().to_str().unwrap(),
            "--format",
            format,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let want = files(direct.path(), ext);
        let got = files(converted.path(), ext);
        assert!(want.len() >= 10);
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>()
        );
        for (k, v) in &want {
            assert!(
                &got[k] == v,
                "{format}: converted {k} differs from captured"
            );
        }
    }
    // One file.
    let one = tempfile::tempdir().unwrap();
    let o = netcap(&[
        "convert",
        "-r",
        ncap.path().join("DNS.ncap.zst").to_str().unwrap(),
        "-o",
        one.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        files(one.path(), "").into_keys().collect::<Vec<_>>(),
        ["DNS.parquet"]
    );
}

#[test]
fn convert_reports_damage_after_writing_what_it_read() {
    let pcap = pcaps_dir().join("mixed-lan-wireshark-samples.pcapng");
    let ncap = tempfile::tempdir().unwrap();
    capture(&pcap, ncap.path(), &["--quiet", "--no-compress"]);
    let path = ncap.path().join("Ethernet.ncap");
    let bytes = std::fs::read(&path).unwrap();
    let cut = tempfile::tempdir().unwrap();
    std::fs::write(cut.path().join("Ethernet.ncap"), &bytes[..bytes.len() - 3]).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = netcap(&[
        "convert",
        "-r",
        cut.path().to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("truncated"), "{err}");
    let rows = parquet_rows(&out.path().join("Ethernet.parquet"));
    let all = load_records(ncap.path())["Ethernet"].len();
    assert_eq!(rows.len(), all - 1);

    // A folder without record files, and formats that take no level.
    let o = netcap(&[
        "convert",
        "-r",
        out.path().to_str().unwrap(),
        "-o",
        "/tmp/x",
    ]);
    assert!(!o.status.success());
    let o = netcap(&[
        "capture",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "--format",
        "parquet",
        "--compression",
        "zstd",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
