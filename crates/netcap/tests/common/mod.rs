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

/// Runs the netcap binary with `args`.
pub fn netcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netcap"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("netcap runs")
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

/// Records of every file in `dir`, per record type, as (packet number, field name → text).
pub fn load_records(dir: &Path) -> BTreeMap<String, Vec<(u64, DynamicMessage)>> {
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

/// Values of `sub` in each element of the repeated message field `list`, comma-joined.
pub fn list_of(m: &DynamicMessage, list: &str, sub: &str) -> String {
    let f = m.descriptor().get_field_by_name(list).unwrap();
    let v = m.get_field(&f);
    let items = v.as_list().unwrap();
    items
        .iter()
        .map(|i| {
            let im = i.as_message().unwrap();
            text(im, sub)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// tshark's field values per frame number: field → occurrences.
pub type Frames = std::collections::HashMap<u64, std::collections::HashMap<String, Vec<String>>>;

/// Runs `tshark -T fields` on `pcap` with every occurrence of each field, with
/// the preferences `prefs` (`name:value`), and splits the output per frame.
/// Occurrences are separated by 0x1f, which no field value contains.
pub fn tshark_fields(pcap: &Path, fields: &[&str], prefs: &[&str]) -> Frames {
    let mut frames = Frames::new();
    // Many fields: several runs, so the command line stays short.
    for chunk in fields.chunks(60) {
        let mut cmd = Command::new("tshark");
        cmd.args(["-n", "-r"]).arg(pcap);
        cmd.args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=\u{1f}",
        ]);
        for p in prefs {
            cmd.args(["-o", p]);
        }
        cmd.args(["-e", "frame.number"]);
        for f in chunk {
            cmd.args(["-e", f]);
        }
        let out = cmd
            .output()
            .expect("tshark is installed (apt-get install tshark)");
        // On a damaged capture tshark prints the frames before the damage and
        // exits non-zero: that is an answer too.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("damaged or corrupt") || err.contains("cut short"),
            "tshark failed: {err}"
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut cols = line.split('\t');
            let Some(n) = cols.next().and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            let m = frames.entry(n).or_default();
            for (f, col) in chunk.iter().zip(cols) {
                if !col.is_empty() {
                    m.insert(
                        f.to_string(),
                        col.split('\u{1f}').map(str::to_string).collect(),
                    );
                }
            }
        }
    }
    frames
}

/// tshark's IP reassembly preferences for `pcap`. Reassembly stays on (tshark's
/// default), like Netcap's: the layers of a fragmented datagram are on the
/// frame that completes it, and a fragment's own payload is not decoded.
///
/// Netcap reassembles fragments of the outermost IP header only: fragments
/// inside a tunnel are decoded on their own, the first one's transport header
/// included, which is what tshark shows with reassembly off. So for the
/// capture whose fragments are inside a tunnel (IPv4 in PPP in GRE), tshark
/// runs with reassembly off.
pub fn ip_reassembly_prefs(pcap: &Path) -> Vec<&'static str> {
    if pcap
        .file_name()
        .is_some_and(|n| n == "ipv4-frag-gre-ppp-udp.pcap")
    {
        vec!["ip.defragment:FALSE", "ipv6.defragment:FALSE"]
    } else {
        Vec::new()
    }
}
