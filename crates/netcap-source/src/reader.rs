//! Streaming pcap/pcapng reader over any `Read`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

use crate::legacy::{self, LegacyReader, Stop};
use crate::SourceError;

/// Initial size of the parser's buffer; it grows for larger records.
const INITIAL_BUFFER: usize = 1 << 20;
/// Largest record we accept: far above any real snap length (libpcap's maximum
/// is 256 KiB), low enough that a corrupt length cannot exhaust memory.
const MAX_BUFFER: usize = 64 << 20;

/// Bytes read before pcap-parser is handed a non-legacy input.
const HEAD_MAX: usize = 64 << 10;

/// The container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Legacy pcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Metadata of one packet; its bytes are appended to the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketMeta {
    /// 1-based frame number as tshark counts it (`frame.number`): packets, plus
    /// pcapng custom and systemd-journal blocks, which tshark also numbers.
    pub number: u64,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// LINKTYPE_* value of the packet's interface (low 16 bits; FCS flags removed).
    pub link_type: u32,
    /// Captured length (bytes appended to the buffer).
    pub caplen: u32,
    /// Length on the wire.
    pub orig_len: u32,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

enum State {
    /// Before the legacy header was seen.
    Start,
    Legacy {
        link_type: u32,
        nanos: bool,
    },
    Ng {
        interfaces: Vec<Interface>,
    },
}

/// Counts bytes read from the underlying file, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The parser of a capture.
enum Inner {
    /// pcapng, and legacy pcap with a non-standard magic number.
    Parser(Box<dyn PcapReaderIterator + Send>),
    /// Legacy pcap; `own` is the buffer of [`CaptureReader::next_packet`],
    /// which copies the packets out of it.
    Legacy {
        reader: Box<LegacyReader>,
        own: Vec<u8>,
    },
}

/// Reads packets from a pcap or pcapng capture.
pub struct CaptureReader {
    inner: Inner,
    state: State,
    format: Format,
    packets: u64,
    frames: u64,
    offset: u64,
    bytes_read: Arc<AtomicU64>,
    size: u64,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("packets", &self.packets)
            .finish()
    }
}

impl CaptureReader {
    /// Opens a capture file. gzip-compressed captures are recognised by content.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let size = file.metadata().map_err(io_err)?.len();
        let count = Arc::new(AtomicU64::new(0));
        let mut file = Counting {
            inner: file,
            count: Arc::clone(&count),
        };
        let mut magic = [0u8; 2];
        let got = read_up_to(&mut file, &mut magic).map_err(io_err)?;
        if got == 0 {
            return Err(SourceError::Empty {
                path: path.to_path_buf(),
            });
        }
        let gzip = magic == [0x1f, 0x8b];
        let file = io::Cursor::new(magic.get(..got).unwrap_or_default().to_vec()).chain(file);
        // No buffer in front of a plain file: the readers read large blocks,
        // legacy pcap straight into the batches.
        let input: Box<dyn Read + Send> = if gzip {
            Box::new(flate2::bufread::MultiGzDecoder::new(
                BufReader::with_capacity(1 << 16, file),
            ))
        } else {
            Box::new(file)
        };
        Self::from_reader(input, path.to_path_buf(), count, size)
    }

    /// Reads a capture from any byte stream (uncompressed); `name` is used in
    /// error messages. For tests, fuzzing and pipes.
    pub fn from_read(input: impl Read + Send + 'static, name: &str) -> Result<Self, SourceError> {
        Self::from_reader(
            Box::new(input),
            PathBuf::from(name),
            Arc::new(AtomicU64::new(0)),
            0,
        )
    }

    fn from_reader(
        mut input: Box<dyn Read + Send>,
        path: PathBuf,
        bytes_read: Arc<AtomicU64>,
        size: u64,
    ) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.clone(),
            source,
        };
        let mut head = vec![0u8; legacy::FILE_HEADER];
        let got = read_up_to(&mut input, &mut head).map_err(io_err)?;
        head.truncate(got);
        let (inner, state, offset) = match legacy::header(&head) {
            Some(h) => (
                Inner::Legacy {
                    reader: Box::new(LegacyReader::new(input, h, MAX_BUFFER)),
                    own: Vec::new(),
                },
                State::Legacy {
                    link_type: h.link_type,
                    nanos: h.nanos,
                },
                legacy::FILE_HEADER as u64,
            ),
            None => {
                // pcap-parser recognises the format from its first read,
                // which must hold a whole first block, as reading a file
                // through a 64 KiB buffer did.
                head.resize(HEAD_MAX, 0);
                let more = head.get_mut(got..).unwrap_or_default();
                let got = got + read_up_to(&mut input, more).map_err(io_err)?;
                head.truncate(got);
                let input = io::Cursor::new(head).chain(input);
                let parser = create_reader(INITIAL_BUFFER, input).map_err(|e| match e {
                    PcapError::Eof => SourceError::Empty { path: path.clone() },
                    PcapError::ReadError => SourceError::Io {
                        path: path.clone(),
                        source: io::Error::other("read failed (corrupt compression?)"),
                    },
                    _ => SourceError::NotACapture { path: path.clone() },
                })?;
                (Inner::Parser(parser), State::Start, 0)
            }
        };
        Ok(CaptureReader {
            inner,
            state,
            format: Format::Pcap,
            packets: 0,
            frames: 0,
            offset,
            bytes_read,
            size,
        })
    }

    /// The container format, known after the first call to [`CaptureReader::next_packet`].
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of the input file read so far (compressed bytes for gzip input).
    pub fn progress_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes_read)
    }

    /// Size of the input file in bytes.
    pub fn file_size(&self) -> u64 {
        self.size
    }

    /// Packets delivered so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Reads the next packet, appending its bytes to `buf`. Returns `None` at the
    /// end of the input. A truncated or corrupt input returns an error after the
    /// packets before the damage were delivered.
    pub fn next_packet(&mut self, buf: &mut Vec<u8>) -> Result<Option<PacketMeta>, SourceError> {
        if let Inner::Legacy { reader, own } = &mut self.inner {
            let next = reader.next(own, true);
            let Some((meta, range)) = self.legacy_packet(next)? else {
                return Ok(None);
            };
            if let Inner::Legacy { own, .. } = &self.inner {
                buf.extend_from_slice(own.get(range).unwrap_or_default());
            }
            return Ok(Some(meta));
        }
        let Inner::Parser(inner) = &mut self.inner else {
            return Ok(None);
        };
        loop {
            let step = match inner.next() {
                Ok((used, block)) => {
                    let meta = handle_block(&mut self.state, &mut self.format, block, buf);
                    Ok((used, meta))
                }
                Err(e) => Err(classify(&e)),
            };
            match step {
                Ok((used, meta)) => {
                    // No shift here: `refill` shifts the few bytes left, where
                    // `consume` would move half the buffer every time it passes
                    // the middle.
                    inner.consume_noshift(used);
                    self.offset += used as u64;
                    match meta {
                        Ok(Record::Packet(mut m)) => {
                            self.packets += 1;
                            self.frames += 1;
                            m.number = self.frames;
                            return Ok(Some(m));
                        }
                        Ok(Record::NumberedOther) => self.frames += 1,
                        Ok(Record::Other) => {}
                        Err(reason) => return Err(self.corrupt(reason)),
                    }
                }
                Err(Step::Eof) => return Ok(None),
                Err(Step::Refill) => {
                    if inner.refill().is_err() {
                        return Err(self.corrupt("read error (corrupt compression?)".into()));
                    }
                }
                Err(Step::Grow) => {
                    let cap = inner.data().len().max(INITIAL_BUFFER) * 2;
                    if cap > MAX_BUFFER || !inner.grow(cap) {
                        return Err(self.corrupt(format!(
                            "record larger than {} MiB (corrupt length field?)",
                            MAX_BUFFER >> 20
                        )));
                    }
                }
                Err(Step::Truncated) => {
                    return Err(SourceError::Truncated {
                        packets: self.packets,
                        offset: self.offset,
                    })
                }
                Err(Step::Corrupt(reason)) => return Err(self.corrupt(reason)),
            }
        }
    }

    /// Whether packets can be read in place ([`CaptureReader::next_in_place`]):
    /// legacy pcap.
    pub fn in_place(&self) -> bool {
        matches!(self.inner, Inner::Legacy { .. })
    }

    /// Starts a batch in `buf` for [`CaptureReader::next_in_place`]: no range
    /// of `buf` handed out before is in use any more. `packets`: how many the
    /// batch takes. Without in-place reading, `buf` is cleared.
    pub fn begin_batch(&mut self, buf: &mut Vec<u8>, packets: usize) {
        match &mut self.inner {
            Inner::Legacy { reader, .. } => reader.begin(buf, packets),
            Inner::Parser(_) => buf.clear(),
        }
    }

    /// The next packet and where its bytes are in `buf`, which the reader
    /// reads into directly (legacy pcap; other formats append the packet as
    /// [`CaptureReader::next_packet`] does). Between [`CaptureReader::begin_batch`]
    /// and [`CaptureReader::end_batch`], `buf` must not be changed.
    pub fn next_in_place(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Result<Option<(PacketMeta, Range<usize>)>, SourceError> {
        if let Inner::Legacy { reader, .. } = &mut self.inner {
            let next = reader.next(buf, false);
            return self.legacy_packet(next);
        }
        let start = buf.len();
        Ok(self.next_packet(buf)?.map(|m| (m, start..buf.len())))
    }

    /// Ends the batch in `buf`: bytes read past its last packet are kept for
    /// the next.
    pub fn end_batch(&mut self, buf: &[u8]) {
        if let Inner::Legacy { reader, .. } = &mut self.inner {
            reader.end(buf);
        }
    }

    /// Numbers a legacy record, or turns why none came into an error.
    fn legacy_packet(
        &mut self,
        next: Result<legacy::Record, Stop>,
    ) -> Result<Option<(PacketMeta, Range<usize>)>, SourceError> {
        let link_type = match &self.inner {
            Inner::Legacy { reader, .. } => reader.link_type(),
            Inner::Parser(_) => 0,
        };
        match next {
            Ok(r) => {
                let caplen = r.data.len();
                self.offset += (legacy::RECORD_HEADER + caplen) as u64;
                self.packets += 1;
                self.frames += 1;
                let meta = PacketMeta {
                    number: self.frames,
                    ts_ns: r.ts_ns,
                    link_type,
                    caplen: caplen as u32,
                    orig_len: r.orig_len,
                };
                Ok(Some((meta, r.data)))
            }
            Err(Stop::End) => Ok(None),
            Err(Stop::Truncated) => Err(SourceError::Truncated {
                packets: self.packets,
                offset: self.offset,
            }),
            Err(Stop::TooLong) => Err(self.corrupt(format!(
                "record larger than {} MiB (corrupt length field?)",
                MAX_BUFFER >> 20
            ))),
            Err(Stop::Io(e)) => Err(self.corrupt(format!("read error: {e}"))),
        }
    }

    fn corrupt(&self, reason: String) -> SourceError {
        SourceError::Corrupt {
            packets: self.packets,
            offset: self.offset,
            reason,
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

enum Step {
    Eof,
    Refill,
    Grow,
    Truncated,
    Corrupt(String),
}

fn classify(e: &PcapError<&[u8]>) -> Step {
    match e {
        PcapError::Eof => Step::Eof,
        PcapError::Incomplete(_) => Step::Refill,
        PcapError::BufferTooSmall => Step::Grow,
        PcapError::UnexpectedEof => Step::Truncated,
        PcapError::ReadError => Step::Corrupt("read error".into()),
        PcapError::HeaderNotRecognized => Step::Corrupt("unrecognised block".into()),
        PcapError::NomError(_, kind) => Step::Corrupt(format!("unparsable record ({kind:?})")),
        PcapError::OwnedNomError(_, kind) => Step::Corrupt(format!("unparsable record ({kind:?})")),
    }
}

/// What a block is, for numbering.
enum Record {
    Packet(PacketMeta),
    /// A non-packet record that tshark still gives a frame number.
    NumberedOther,
    Other,
}

fn handle_block(
    state: &mut State,
    format: &mut Format,
    block: PcapBlockOwned<'_>,
    buf: &mut Vec<u8>,
) -> Result<Record, String> {
    match block {
        PcapBlockOwned::LegacyHeader(h) => {
            *format = Format::Pcap;
            *state = State::Legacy {
                link_type: legacy::link_type_of(h.network.0 as u32),
                nanos: h.is_nanosecond_precision(),
            };
            Ok(Record::Other)
        }
        PcapBlockOwned::Legacy(b) => {
            let State::Legacy { link_type, nanos } = *state else {
                return Err("packet record before the file header".into());
            };
            let ts_ns = legacy::ts_ns(b.ts_sec, b.ts_usec, nanos);
            let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
            buf.extend_from_slice(data);
            Ok(Record::Packet(PacketMeta {
                number: 0,
                ts_ns,
                link_type,
                caplen: data.len() as u32,
                orig_len: b.origlen,
            }))
        }
        PcapBlockOwned::NG(block) => {
            *format = Format::PcapNg;
            handle_ng(state, block, buf)
        }
    }
}

fn handle_ng(state: &mut State, block: Block<'_>, buf: &mut Vec<u8>) -> Result<Record, String> {
    match block {
        Block::SectionHeader(_) => {
            *state = State::Ng {
                interfaces: Vec::new(),
            };
            Ok(Record::Other)
        }
        Block::InterfaceDescription(idb) => {
            let State::Ng { interfaces } = state else {
                return Err("interface block before a section header".into());
            };
            let units_per_sec = idb.ts_resolution().ok_or("invalid if_tsresol")?;
            if units_per_sec == 0 {
                return Err("invalid if_tsresol".into());
            }
            interfaces.push(Interface {
                link_type: legacy::link_type_of(idb.linktype.0 as u32),
                units_per_sec,
                offset_secs: idb.ts_offset(),
            });
            Ok(Record::Other)
        }
        Block::EnhancedPacket(epb) => {
            let State::Ng { interfaces } = state else {
                return Err("packet block before a section header".into());
            };
            let iface = interfaces
                .get(epb.if_id as usize)
                .ok_or_else(|| format!("packet on undeclared interface {}", epb.if_id))?;
            let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let data = epb.packet_data();
            buf.extend_from_slice(data);
            Ok(Record::Packet(PacketMeta {
                number: 0,
                ts_ns: ticks_to_ns(ticks, iface),
                link_type: iface.link_type,
                caplen: data.len() as u32,
                orig_len: epb.origlen,
            }))
        }
        Block::SimplePacket(spb) => {
            let State::Ng { interfaces } = state else {
                return Err("packet block before a section header".into());
            };
            let iface = interfaces
                .first()
                .ok_or("simple packet without an interface")?;
            let data = spb.packet_data();
            buf.extend_from_slice(data);
            Ok(Record::Packet(PacketMeta {
                number: 0,
                ts_ns: 0,
                link_type: iface.link_type,
                caplen: data.len() as u32,
                orig_len: spb.origlen,
            }))
        }
        Block::Custom(_) | Block::SystemdJournalExport(_) => Ok(Record::NumberedOther),
        _ => Ok(Record::Other),
    }
}

fn ticks_to_ns(ticks: u64, iface: &Interface) -> i64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(iface.units_per_sec);
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    ns.saturating_add(iface.offset_secs.saturating_mul(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn legacy(magic: u32, big_endian: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let put16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        put32(&mut v, magic);
        put16(&mut v, 2);
        put16(&mut v, 4);
        put32(&mut v, 0);
        put32(&mut v, 0);
        put32(&mut v, 65535);
        put32(&mut v, 1);
        for (s, frac, data) in records {
            put32(&mut v, *s);
            put32(&mut v, *frac);
            put32(&mut v, data.len() as u32);
            put32(&mut v, data.len() as u32 + 10);
            v.extend_from_slice(data);
        }
        v
    }

    fn read_all(bytes: &[u8]) -> (Vec<(PacketMeta, Vec<u8>)>, Option<SourceError>) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        let mut r = CaptureReader::open(f.path()).unwrap();
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            match r.next_packet(&mut buf) {
                Ok(Some(m)) => out.push((m, buf)),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn legacy_micro_and_nano_both_orders() {
        for be in [false, true] {
            let micro = legacy(0xa1b2c3d4, be, &[(10, 5, b"abc"), (11, 999_999, b"de")]);
            let (pkts, err) = read_all(&micro);
            assert!(err.is_none());
            assert_eq!(pkts.len(), 2);
            assert_eq!(pkts[0].0.ts_ns, 10_000_005_000);
            assert_eq!(pkts[0].0.orig_len, 13);
            assert_eq!(pkts[1].1, b"de");
            let nano = legacy(0xa1b23c4d, be, &[(10, 5, b"abc")]);
            let (pkts, _) = read_all(&nano);
            assert_eq!(pkts[0].0.ts_ns, 10_000_000_005);
            assert_eq!(pkts[0].0.link_type, 1);
        }
    }

    #[test]
    fn truncated_last_record_is_reported_after_delivering_the_rest() {
        let mut bytes = legacy(0xa1b2c3d4, false, &[(1, 0, b"abcdef"), (2, 0, b"ghijkl")]);
        bytes.truncate(bytes.len() - 3);
        let (pkts, err) = read_all(&bytes);
        assert_eq!(pkts.len(), 1);
        match err {
            Some(SourceError::Truncated {
                packets: 1,
                offset: 46,
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn packets_read_in_place_equal_the_copied_ones() {
        let data: Vec<Vec<u8>> = (0..300u32)
            .map(|i| vec![i as u8; (i as usize * 53) % 1500])
            .collect();
        let records: Vec<(u32, u32, &[u8])> = data
            .iter()
            .enumerate()
            .map(|(i, d)| (i as u32, 1, d.as_slice()))
            .collect();
        let mut bytes = legacy(0xa1b2c3d4, true, &records);
        bytes.truncate(bytes.len() - 5);
        let (copied, err) = read_all(&bytes);
        assert!(matches!(
            err,
            Some(SourceError::Truncated { packets: 299, .. })
        ));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        let mut r = CaptureReader::open(f.path()).unwrap();
        assert!(r.in_place());
        let (mut in_place, mut buf) = (Vec::new(), Vec::new());
        let err = 'batches: loop {
            r.begin_batch(&mut buf, 7);
            for _ in 0..7 {
                match r.next_in_place(&mut buf) {
                    Ok(Some((m, range))) => in_place.push((m, buf[range].to_vec())),
                    Ok(None) => break 'batches None,
                    Err(e) => break 'batches Some(e),
                }
            }
            r.end_batch(&buf);
        };
        assert_eq!(in_place, copied);
        match err {
            Some(SourceError::Truncated {
                packets: 299,
                offset,
            }) => {
                assert_eq!(offset as usize, bytes.len() + 5 - 16 - data[299].len())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_input_is_recognised_by_content() {
        let bytes = legacy(0xa1b2c3d4, false, &[(1, 0, b"abcdef")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let (pkts, err) = read_all(&gz.finish().unwrap());
        assert!(err.is_none());
        assert_eq!(pkts.len(), 1);
    }

    #[test]
    fn not_a_capture() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"hello, this is not a pcap file at all")
            .unwrap();
        assert!(matches!(
            CaptureReader::open(f.path()),
            Err(SourceError::NotACapture { .. })
        ));
    }

    #[test]
    fn pcapng_resolution_and_offset() {
        let iface = Interface {
            link_type: 1,
            units_per_sec: 1_000_000_000,
            offset_secs: 0,
        };
        assert_eq!(ticks_to_ns(5, &iface), 5);
        let iface = Interface {
            link_type: 1,
            units_per_sec: 1 << 10,
            offset_secs: 100,
        };
        assert_eq!(ticks_to_ns(1 << 10, &iface), 101_000_000_000);
    }
}
