//! Legacy pcap, read straight into the caller's buffer.
//!
//! The format is a 24-byte file header and then records of a 16-byte header
//! and the packet bytes. Instead of reading into a parser's buffer and then
//! copying every packet out, the input is read into the buffer the packets
//! are handed on in (the pipeline's batch), and each packet is a range of it:
//! the only copy left is the few bytes read past the last packet of a batch,
//! which move to the next one.
//!
//! The buffer's bytes are initialised once and then reused (its length is
//! not shortened between batches), so reads need no zeroing and no unsafe
//! code.

use std::io::{self, Read};
use std::ops::Range;

/// Length of the file header.
pub(crate) const FILE_HEADER: usize = 24;
/// Length of a record header.
pub(crate) const RECORD_HEADER: usize = 16;
/// Smallest and largest read. Reads are sized for the packets the batch
/// still expects, so that little is read past its last packet.
const READ_MIN: usize = 16 << 10;
const READ_MAX: usize = 1 << 20;

/// What a legacy file header says, if `head` (its first 24 bytes) is one
/// with a standard magic number.
pub(crate) fn header(head: &[u8]) -> Option<Header> {
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        _ => return None,
    };
    let network: [u8; 4] = head.get(20..FILE_HEADER)?.try_into().ok()?;
    let network = if big_endian {
        u32::from_be_bytes(network)
    } else {
        u32::from_le_bytes(network)
    };
    Some(Header {
        big_endian,
        nanos,
        link_type: link_type_of(network),
    })
}

/// Link types carry FCS flags in their upper bits in legacy pcap.
pub(crate) fn link_type_of(network: u32) -> u32 {
    network & 0xffff
}

/// A record's time in nanoseconds: `frac` is microseconds, or nanoseconds
/// in a nanosecond capture.
pub(crate) fn ts_ns(secs: u32, frac: u32, nanos: bool) -> i64 {
    let frac = if nanos {
        i64::from(frac)
    } else {
        i64::from(frac) * 1_000
    };
    i64::from(secs) * 1_000_000_000 + frac
}

/// The parts of the file header the records need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub big_endian: bool,
    pub nanos: bool,
    pub link_type: u32,
}

/// One record: its header fields and where its packet bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub ts_ns: i64,
    pub orig_len: u32,
    pub data: Range<usize>,
}

/// Why no record came.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The input ended between records.
    End,
    /// The input ended inside a record.
    Truncated,
    /// A record longer than the limit.
    TooLong,
    Io(io::Error),
}

/// Reads the records of one legacy capture after its file header.
pub(crate) struct LegacyReader {
    input: Box<dyn Read + Send>,
    header: Header,
    /// Largest record accepted (header included).
    max_record: usize,
    /// Next unparsed byte and end of the bytes read, in the current buffer.
    pos: usize,
    filled: usize,
    /// Bytes read past the last packet of the previous batch.
    carry: Vec<u8>,
    exhausted: bool,
    /// Packets the current batch still expects, and the records and bytes
    /// seen, which size the reads.
    expect: usize,
    records: u64,
    record_bytes: u64,
}

impl LegacyReader {
    /// A reader of the records that follow the file header.
    pub fn new(input: Box<dyn Read + Send>, header: Header, max_record: usize) -> LegacyReader {
        LegacyReader {
            input,
            header,
            max_record,
            pos: 0,
            filled: 0,
            carry: Vec::new(),
            exhausted: false,
            expect: 0,
            records: 0,
            record_bytes: 0,
        }
    }

    /// The link type of every packet.
    pub fn link_type(&self) -> u32 {
        self.header.link_type
    }

    /// Starts filling `buf`, which holds no packet handed out any more: the
    /// bytes carried over from the last batch go to its start. `packets`:
    /// how many the batch will take (0: unknown).
    pub fn begin(&mut self, buf: &mut Vec<u8>, packets: usize) {
        let n = self.carry.len();
        if buf.len() < n {
            buf.resize(n, 0);
        }
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(&self.carry);
        }
        self.carry.clear();
        self.pos = 0;
        self.filled = n;
        self.expect = packets;
    }

    /// Ends the batch in `buf`: what was read past its last packet is kept
    /// for the next one.
    pub fn end(&mut self, buf: &[u8]) {
        self.carry
            .extend_from_slice(buf.get(self.pos..self.filled).unwrap_or_default());
        self.filled = self.pos;
    }

    /// The next record, its bytes in `buf` (read into it as needed). With
    /// `compact`, the bytes before the record may be dropped to make room
    /// (no earlier range of `buf` is in use).
    pub fn next(&mut self, buf: &mut Vec<u8>, compact: bool) -> Result<Record, Stop> {
        loop {
            let avail = self.filled - self.pos;
            let need = match self.record_len(buf) {
                Some(total) if total <= avail => return Ok(self.take(buf, total)),
                Some(total) if total > self.max_record => return Err(Stop::TooLong),
                Some(total) => total - avail,
                None => RECORD_HEADER - avail,
            };
            if self.exhausted {
                return Err(if avail == 0 {
                    Stop::End
                } else {
                    Stop::Truncated
                });
            }
            self.fill(buf, need, compact).map_err(Stop::Io)?;
        }
    }

    /// Length of the record at `pos` (header included), once its header is in.
    fn record_len(&self, buf: &[u8]) -> Option<usize> {
        // `buf` goes on past `filled` with bytes of earlier batches.
        if self.filled - self.pos < RECORD_HEADER {
            return None;
        }
        let h = buf.get(self.pos..self.pos + RECORD_HEADER)?;
        let caplen = self.u32_at(h, 8)?;
        Some(RECORD_HEADER + caplen as usize)
    }

    fn u32_at(&self, h: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = h.get(at..at + 4)?.try_into().ok()?;
        Some(if self.header.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Hands out the whole record of `total` bytes at `pos`.
    fn take(&mut self, buf: &[u8], total: usize) -> Record {
        let start = self.pos;
        let h = buf.get(start..start + RECORD_HEADER).unwrap_or_default();
        let field = |at| self.u32_at(h, at).unwrap_or(0);
        let (secs, frac, orig_len) = (field(0), field(4), field(12));
        self.pos += total;
        self.expect = self.expect.saturating_sub(1);
        self.records += 1;
        self.record_bytes += total as u64;
        Record {
            ts_ns: ts_ns(secs, frac, self.header.nanos),
            orig_len,
            data: start + RECORD_HEADER..start + total,
        }
    }

    /// Reads at least `need` more bytes into `buf` after `filled`, unless the
    /// input ends first.
    fn fill(&mut self, buf: &mut Vec<u8>, need: usize, compact: bool) -> io::Result<()> {
        if compact && self.pos > 0 {
            buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.pos = 0;
        }
        // Half of what the rest of the batch will probably need, by the mean
        // record: packet sizes vary from batch to batch, and what is read
        // past the batch's last packet is copied to the next batch.
        let mean = match self.records {
            0 => 0,
            n => (self.record_bytes / n) as usize,
        };
        let want = need.max((self.expect.saturating_mul(mean) / 2).clamp(READ_MIN, READ_MAX));
        let end = self.filled + want;
        if buf.len() < end {
            // Grows geometrically, so a buffer is zeroed about once.
            let len = end.max(buf.len().saturating_mul(2)).max(READ_MAX);
            buf.resize(len, 0);
        }
        let mut got = 0;
        while got < need {
            let dst = buf.get_mut(self.filled..end).unwrap_or_default();
            match self.input.read(dst) {
                Ok(0) => {
                    self.exhausted = true;
                    break;
                }
                Ok(n) => {
                    self.filled += n;
                    got += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn records(big_endian: bool, caplens: &[usize]) -> Vec<u8> {
        let mut v = Vec::new();
        let put = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        for (i, &n) in caplens.iter().enumerate() {
            put(&mut v, i as u32);
            put(&mut v, 7);
            put(&mut v, n as u32);
            put(&mut v, n as u32 + 1);
            v.extend((0..n).map(|j| (i + j) as u8));
        }
        v
    }

    /// A reader that returns at most `step` bytes a call.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.2).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn reader(bytes: Vec<u8>, step: usize) -> LegacyReader {
        let h = Header {
            big_endian: false,
            nanos: false,
            link_type: 1,
        };
        LegacyReader::new(Box::new(Trickle(bytes, 0, step)), h, 1 << 20)
    }

    #[test]
    fn batches_hand_out_every_packet_whatever_the_read_sizes() {
        let caplens: Vec<usize> = (0..500).map(|i| (i * 37) % 1600).collect();
        let bytes = records(false, &caplens);
        for step in [1, 7, 100, 4096, 1 << 20] {
            let mut r = reader(bytes.clone(), step);
            let mut seen = Vec::new();
            let mut buf = Vec::new();
            'batches: loop {
                r.begin(&mut buf, 64);
                for _ in 0..64 {
                    match r.next(&mut buf, false) {
                        Ok(rec) => seen.push((rec.ts_ns, buf[rec.data].to_vec())),
                        Err(Stop::End) => break 'batches,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                r.end(&buf);
            }
            assert_eq!(seen.len(), caplens.len(), "step {step}");
            for (i, (ts, data)) in seen.iter().enumerate() {
                assert_eq!(*ts, i as i64 * 1_000_000_000 + 7_000);
                assert_eq!(data.len(), caplens[i]);
                assert!(data.iter().enumerate().all(|(j, &b)| b == (i + j) as u8));
            }
        }
    }

    #[test]
    fn compacting_keeps_the_buffer_small() {
        let bytes = records(false, &vec![1500; 5000]);
        let mut r = reader(bytes, 1 << 20);
        let mut buf = Vec::new();
        let mut n = 0;
        while r.next(&mut buf, true).is_ok() {
            n += 1;
        }
        assert_eq!(n, 5000);
        assert!(buf.len() <= 2 * READ_MAX, "{}", buf.len());
    }

    #[test]
    fn a_cut_record_and_an_oversized_one() {
        let mut bytes = records(false, &[10, 20]);
        bytes.truncate(bytes.len() - 1);
        let mut r = reader(bytes, 3);
        let mut buf = Vec::new();
        assert!(r.next(&mut buf, true).is_ok());
        assert!(matches!(r.next(&mut buf, true), Err(Stop::Truncated)));
        // A cut record header is a truncation too; nothing after it is an end.
        let mut r = reader(records(false, &[10])[..20].to_vec(), 3);
        assert!(matches!(r.next(&mut buf, true), Err(Stop::Truncated)));
        let mut r = reader(Vec::new(), 3);
        assert!(matches!(r.next(&mut buf, true), Err(Stop::End)));
        // The length field is checked before anything is read for it.
        let mut r = reader(records(false, &[(1 << 20) + 1]), 1 << 20);
        assert!(matches!(r.next(&mut buf, true), Err(Stop::TooLong)));
        assert!(buf.len() <= 2 * READ_MAX);
    }

    #[test]
    fn header_magic_numbers() {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&[0xa1, 0xb2, 0x3c, 0x4d]);
        h[20..].copy_from_slice(&[0x10, 0, 0, 105]);
        let got = header(&h).unwrap();
        assert!(got.big_endian && got.nanos);
        // FCS bits (upper bits of the link type) are dropped.
        assert_eq!(got.link_type, 105);
        h[..4].copy_from_slice(b"\x0a\x0d\x0d\x0a");
        assert_eq!(header(&h), None);
        assert_eq!(header(&h[..10]), None);
    }
}
