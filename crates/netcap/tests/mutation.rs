//! Mutation tests: deterministic corruptions of every test capture (the
//! stream captures included, so reassembly and the stream parsers see them) (bit flips in
//! packet bytes, corrupted record lengths, truncations of the file) run through
//! a full capture. Netcap must not panic or hang, must exit 0 (damage to the
//! container is a warning, not an error), and its summary must account for
//! every packet it read.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Offsets of the record headers of a legacy pcap (None for pcapng).
fn pcap_records(bytes: &[u8]) -> Option<Vec<usize>> {
    let le = match bytes.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let mut offs = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        let raw: [u8; 4] = bytes[pos + 8..pos + 12].try_into().unwrap();
        let caplen = if le {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        } as usize;
        offs.push(pos);
        pos += 16 + caplen;
    }
    Some(offs)
}

fn mutations(name: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15
        ^ name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    let mut out = Vec::new();
    // Bit flips in the packet area (past the file header), at several densities.
    for (i, flips) in [1usize, 8, 64, 512].into_iter().enumerate() {
        let mut m = bytes.to_vec();
        for _ in 0..flips {
            let at = 24 + rng.below(m.len().saturating_sub(24));
            if let Some(b) = m.get_mut(at) {
                *b ^= 1 << rng.below(8);
            }
        }
        out.push((format!("flip{i}"), m));
    }
    // Random bytes overwritten inside packets: headers full of garbage.
    let mut m = bytes.to_vec();
    for _ in 0..64 {
        let at = 24 + rng.below(m.len().saturating_sub(24));
        if let Some(b) = m.get_mut(at) {
            *b = rng.next() as u8;
        }
    }
    out.push(("garbage".into(), m));
    // Corrupted record length fields (legacy pcap): huge, zero, off by a few.
    if let Some(offs) = pcap_records(bytes) {
        for (label, value) in [("len-huge", u32::MAX), ("len-zero", 0), ("len-big", 70_000)] {
            let mut m = bytes.to_vec();
            let at = offs[rng.below(offs.len())] + 8;
            let le = bytes[0] == 0xd4 || bytes[0] == 0x4d;
            let v = if le {
                value.to_le_bytes()
            } else {
                value.to_be_bytes()
            };
            m[at..at + 4].copy_from_slice(&v);
            out.push((label.to_string(), m));
        }
    }
    // Truncations: inside the file header, and at three places in the packets.
    for cut in [
        10,
        bytes.len() / 3,
        bytes.len() / 2 + 7,
        bytes.len().saturating_sub(5),
    ] {
        out.push((format!("cut{cut}"), bytes[..cut.min(bytes.len())].to_vec()));
    }
    out
}

fn summary_number(err: &str, prefix: &str) -> u64 {
    err.lines()
        .find_map(|l| {
            l.trim_start()
                .strip_prefix(prefix)
                .and_then(|r| r.split_whitespace().next())
        })
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn mutated_captures_never_crash_hang_or_lose_count() {
    let work = tempfile::tempdir().unwrap();
    let mut cases = 0;
    for pcap in all_pcaps_and_streams() {
        let name = pcap.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&pcap).unwrap();
        for (label, data) in mutations(&name, &bytes) {
            cases += 1;
            let input = work.path().join(format!("{label}-{name}"));
            std::fs::write(&input, &data).unwrap();
            let out = work.path().join("out");
            let _ = std::fs::remove_dir_all(&out);
            let mut child = Command::new(env!("CARGO_BIN_EXE_netcap"))
                .args(["capture", "--no-compress", "-w", "2", "-r"])
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if start.elapsed() > Duration::from_secs(60) {
                    child.kill().unwrap();
                    panic!("{label} of {name}: hung");
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let err = std::io::read_to_string(child.stderr.take().unwrap()).unwrap();
            let code = status.code();
            // A file too short for any capture header is not a capture: exit 1
            // with a one-line error; everything else must succeed.
            if code == Some(1) {
                assert!(
                    err.starts_with("netcap: error: ") && err.lines().count() == 1,
                    "{label} of {name}: {err}"
                );
                assert!(
                    data.len() < 64 || err.contains("not a pcap"),
                    "{label} of {name}: {err}"
                );
                continue;
            }
            assert_eq!(
                code,
                Some(0),
                "{label} of {name} (input kept at {}): {err}",
                input.display()
            );
            let packets: u64 = err
                .lines()
                .find(|l| l.contains(" packets in "))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("{label} of {name}: no summary in {err}"))
                .parse()
                .unwrap();
            let accounted = summary_number(&err, "decoded ")
                + summary_number(&err, "partial ")
                + summary_number(&err, "unknown ")
                + summary_number(&err, "errors ");
            assert_eq!(accounted, packets, "{label} of {name}: {err}");
            // Every file written is readable to its end.
            for (_, recs) in load_records(&out) {
                assert!(!recs.is_empty());
            }
            let _ = std::fs::remove_file(&input);
        }
    }
    println!("{cases} mutated captures processed");
    assert!(cases > 400);
}
