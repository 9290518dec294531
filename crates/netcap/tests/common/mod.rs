//! Helpers shared by the integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netcap_format::render::{cell_text, RenderOptions};
use netcap_format::FileReader;
use prost_reflect::{DynamicMessage, ReflectMessage};

pub mod diff;

/// Netcap's records of one capture per record type, with their packet numbers.
pub type Records = BTreeMap<String, Vec<(u64, DynamicMessage)>>;

/// The repository's test captures.
pub fn pcaps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pcaps")
}

/// Every capture in the test data, sorted by name.
pub fn all_pcaps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pcaps_dir())
        .expect("testdata/pcaps exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    v.sort();
    v
}

/// The captures of TCP stream reassembly and the stream parsers.
pub fn streams_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/streams")
}

/// The stream captures, then every other test capture.
pub fn all_pcaps_and_streams() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(streams_dir())
        .expect("testdata/streams exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    v.sort();
    v.extend(all_pcaps());
    v
}

/// Runs the netcap binary with `args`.
pub fn netcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netcap"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("netcap runs")
}

/// A capture's file name.
pub fn pcap_name(pcap: &Path) -> String {
    pcap.file_name().unwrap().to_string_lossy().to_string()
}

/// Netcap's records of `pcap` (captured uncompressed into a temporary directory).
pub fn records_of(pcap: &Path) -> Records {
    records_with(pcap, &["--no-compress", "--quiet"])
}

/// Netcap's records of `pcap` captured with the options `extra` into a
/// temporary directory.
pub fn records_with(pcap: &Path, extra: &[&str]) -> Records {
    let dir = tempfile::tempdir().unwrap();
    capture(pcap, dir.path(), extra);
    load_records(dir.path())
}

/// Runs `netcap capture` on `pcap` into `out` and asserts success.
pub fn capture(pcap: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "capture",
        "-r",
        pcap.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = netcap(&args);
    assert!(
        o.status.success(),
        "capture of {} failed: {}",
        pcap.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Records of every file in `dir`, per record type, with their packet numbers.
pub fn load_records(dir: &Path) -> Records {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if !name.contains(".ncap") {
            continue;
        }
        let mut r = FileReader::open(&path).unwrap();
        let desc = r.descriptor().unwrap();
        let pn = desc.get_field_by_name("PacketNumber").unwrap();
        let mut recs = Vec::new();
        while let Some(m) = r.next_dynamic(&desc).unwrap() {
            let n = m.get_field(&pn).as_u64().unwrap();
            recs.push((n, m));
        }
        out.insert(r.record_type().record_name().to_string(), recs);
    }
    out
}

/// A field of a record as `netcap dump` shows it.
pub fn text(m: &DynamicMessage, field: &str) -> String {
    let f = m
        .descriptor()
        .get_field_by_name(field)
        .unwrap_or_else(|| panic!("no field {field}"));
    cell_text(m, &f, &RenderOptions::default())
}
