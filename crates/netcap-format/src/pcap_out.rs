//! Minimal pcap writer for the side outputs (`unknown.pcap`, `errors.pcap`).
//!
//! Nanosecond-resolution legacy pcap, so packets keep the precision they were
//! read with. A pcap file has one link type; packets of another link type go to
//! a sibling file named after it (`unknown.linktype-113.pcap`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// Writes packets into `<stem>.pcap` (first link type seen) and
/// `<stem>.linktype-N.pcap` (others), creating each file on first use.
pub struct PcapSideWriter {
    dir: PathBuf,
    stem: String,
    first_link_type: Option<u32>,
    files: BTreeMap<u32, (PathBuf, BufWriter<File>)>,
    packets: u64,
}

impl std::fmt::Debug for PcapSideWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapSideWriter")
            .field("stem", &self.stem)
            .finish()
    }
}

impl PcapSideWriter {
    /// A writer for `dir/<stem>.pcap`; nothing is created until a packet arrives.
    pub fn new(dir: &Path, stem: &str) -> Self {
        PcapSideWriter {
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            first_link_type: None,
            files: BTreeMap::new(),
            packets: 0,
        }
    }

    /// Appends one packet.
    pub fn write(
        &mut self,
        ts_ns: i64,
        link_type: u32,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let first = *self.first_link_type.get_or_insert(link_type);
        if !self.files.contains_key(&link_type) {
            let name = if link_type == first {
                format!("{}.pcap", self.stem)
            } else {
                format!("{}.linktype-{link_type}.pcap", self.stem)
            };
            let path = self.dir.join(name);
            let mut w = BufWriter::new(File::create(&path)?);
            let mut hdr = Vec::with_capacity(24);
            hdr.extend_from_slice(&MAGIC_NANOS.to_le_bytes());
            hdr.extend_from_slice(&2u16.to_le_bytes());
            hdr.extend_from_slice(&4u16.to_le_bytes());
            hdr.extend_from_slice(&0i32.to_le_bytes());
            hdr.extend_from_slice(&0u32.to_le_bytes());
            hdr.extend_from_slice(&SNAPLEN.to_le_bytes());
            hdr.extend_from_slice(&link_type.to_le_bytes());
            w.write_all(&hdr)?;
            self.files.insert(link_type, (path, w));
        }
        let Some((_, w)) = self.files.get_mut(&link_type) else {
            return Ok(());
        };
        let secs = u32::try_from(ts_ns.div_euclid(1_000_000_000)).unwrap_or(0);
        let nanos = u32::try_from(ts_ns.rem_euclid(1_000_000_000)).unwrap_or(0);
        let caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&nanos.to_le_bytes());
        rec[8..12].copy_from_slice(&caplen.to_le_bytes());
        rec[12..].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        w.write_all(&rec)?;
        w.write_all(data)?;
        self.packets += 1;
        Ok(())
    }

    /// The files created so far.
    pub fn paths(&self) -> impl Iterator<Item = &Path> + '_ {
        self.files.values().map(|(p, _)| p.as_path())
    }

    /// Packets written.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and closes every file; returns their paths.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for (_, (path, mut w)) in self.files {
            w.flush()?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Classic hex dump: offset, 16 bytes in hex, and their printable ASCII.
pub fn hex_dump(data: &[u8]) -> String {
    use std::fmt::Write as _;
    // Digits pushed directly: the fmt machinery per byte made the dumps of a
    // capture with many damaged packets a visible share of its run time.
    let digit = |n: u8| {
        char::from(
            b"0123456789abcdef"
                .get(usize::from(n & 15))
                .copied()
                .unwrap_or(b'0'),
        )
    };
    let mut s = String::with_capacity(data.len().div_ceil(16) * 80);
    for (i, line) in data.chunks(16).enumerate() {
        let _ = write!(s, "{:04x}  ", i * 16);
        for j in 0..16 {
            match line.get(j) {
                Some(&b) => {
                    s.push(digit(b >> 4));
                    s.push(digit(b));
                    s.push(' ');
                }
                None => s.push_str("   "),
            }
            if j == 7 {
                s.push(' ');
            }
        }
        s.push_str(" |");
        s.extend(line.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        }));
        s.push_str("|\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_readable_pcap_per_link_type() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PcapSideWriter::new(dir.path(), "unknown");
        w.write(1_500_000_000_123_456_789, 1, 100, b"abcdef")
            .unwrap();
        w.write(1_500_000_001_000_000_000, 113, 4, b"wxyz").unwrap();
        w.write(1_500_000_002_000_000_000, 1, 3, b"ghi").unwrap();
        assert_eq!(w.packets(), 3);
        let paths = w.finish().unwrap();
        assert_eq!(paths.len(), 2);
        let main = std::fs::read(dir.path().join("unknown.pcap")).unwrap();
        assert_eq!(&main[..4], &MAGIC_NANOS.to_le_bytes());
        assert_eq!(main.len(), 24 + 16 + 6 + 16 + 3);
        assert_eq!(&main[24..28], &1_500_000_000u32.to_le_bytes());
        assert_eq!(&main[28..32], &123_456_789u32.to_le_bytes());
        assert!(dir.path().join("unknown.linktype-113.pcap").exists());
    }

    #[test]
    fn hex_dump_layout() {
        let d = hex_dump(b"0123456789abcdefXY");
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0000  30 31 32 33 34 35 36 37  38 39"));
        assert!(lines[0].ends_with("|0123456789abcdef|"));
        assert!(lines[1].starts_with("0010  58 59 "));
        assert!(lines[1].ends_with("|XY|"));
    }
}
