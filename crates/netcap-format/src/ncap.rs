//! Reading and writing `.ncap` files.
//!
//! Layout (after optional gzip): `varint(len) Header` then `varint(len) Record`
//! repeated; the varint is protobuf's base-128 varint. A file holds one record
//! type, named by the header.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use flate2::{Compression, GzBuilder};
use netcap_schema::{message_descriptor, Header, Record, Type};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Largest record accepted by the reader; a larger length prefix is corruption.
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// How record files are written.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// gzip the stream (`.ncap.gz`); otherwise plain `.ncap`.
    pub compress: bool,
    /// gzip level, 0–9.
    pub level: u32,
    /// Bytes buffered before each write to the file.
    pub buffer_size: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compress: true,
            level: 1,
            buffer_size: 1 << 20,
        }
    }
}

/// Builds the header of a file of record type `ty`.
pub fn header_for(ty: Type, input_source: &str, created_ns: i64) -> Header {
    Header {
        created: created_ns,
        input_source: input_source.to_string(),
        r#type: ty as i32,
        version: concat!("v", env!("CARGO_PKG_VERSION")).to_string(),
        contains_payloads: false,
    }
}

/// Where a record file's bytes go.
enum Sink {
    Plain(BufWriter<File>),
    /// gzip runs on a thread of its own per file, so that compressing overlaps
    /// with decoding and the files compress in parallel.
    Gzip {
        tx: Option<SyncSender<Vec<u8>>>,
        handle: Option<JoinHandle<io::Result<()>>>,
    },
}

impl Sink {
    fn gzip(file: BufWriter<File>, level: u32, name: &str) -> io::Result<Sink> {
        let (tx, rx) = sync_channel::<Vec<u8>>(4);
        let handle = std::thread::Builder::new()
            .name(format!("gzip {name}"))
            .spawn(move || {
                // No name and mtime 0: the bytes depend only on the records.
                let mut enc = GzBuilder::new()
                    .mtime(0)
                    .write(file, Compression::new(level.min(9)));
                for chunk in rx {
                    enc.write_all(&chunk)?;
                }
                enc.finish()?.into_inner().map_err(|e| e.into_error())?;
                Ok(())
            })?;
        Ok(Sink::Gzip {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Takes a full chunk.
    fn write_chunk(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(&chunk),
            Sink::Gzip { tx, .. } => match tx.as_ref().map(|t| t.send(chunk)) {
                Some(Ok(())) => Ok(()),
                // The thread stopped on an error: report it.
                _ => self.close(),
            },
        }
    }

    /// Flushes and closes the file, reporting any error of the gzip thread.
    fn close(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip { tx, handle } => {
                drop(tx.take());
                match handle.take().map(|h| h.join()) {
                    Some(Ok(result)) => result,
                    Some(Err(_)) => Err(io::Error::other("gzip thread panicked")),
                    None => Err(io::Error::other("file already closed after an error")),
                }
            }
        }
    }
}

/// Bytes handed to the compressor at a time. Feeding deflate in fixed-size
/// chunks makes the compressed bytes independent of how the records arrived
/// (one large batch or many small merged runs), which keeps `.ncap.gz` files
/// byte-identical whatever the number of workers.
const CHUNK: usize = 256 * 1024;

/// Writes one `.ncap[.gz]` file.
pub struct RecordFileWriter {
    sink: Sink,
    pending: Vec<u8>,
    path: PathBuf,
    records: u64,
}

impl std::fmt::Debug for RecordFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordFileWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl RecordFileWriter {
    /// File name for a record type: `TCP.ncap.gz` or `TCP.ncap`.
    pub fn file_name(record_name: &str, compress: bool) -> String {
        if compress {
            format!("{record_name}.ncap.gz")
        } else {
            format!("{record_name}.ncap")
        }
    }

    /// Creates `dir/<type>.ncap[.gz]` and writes its header.
    pub fn create(dir: &Path, header: &Header, opts: &WriterOptions) -> io::Result<Self> {
        let ty =
            Type::try_from(header.r#type).map_err(|_| io::Error::other("unknown record type"))?;
        let path = dir.join(Self::file_name(ty.record_name(), opts.compress));
        let file = BufWriter::with_capacity(opts.buffer_size, File::create(&path)?);
        let sink = if opts.compress {
            Sink::gzip(file, opts.level, ty.record_name())?
        } else {
            Sink::Plain(file)
        };
        let mut w = RecordFileWriter {
            sink,
            pending: Vec::with_capacity(CHUNK),
            path,
            records: 0,
        };
        w.push(&header.encode_length_delimited_to_vec())?;
        Ok(w)
    }

    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let take = (CHUNK - self.pending.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.pending.extend_from_slice(head);
            bytes = rest;
            if self.pending.len() == CHUNK {
                let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
                self.sink.write_chunk(chunk)?;
            }
        }
        Ok(())
    }

    /// Appends `count` records that are already length-delimited in `bytes`.
    pub fn write_encoded(&mut self, bytes: &[u8], count: u64) -> io::Result<()> {
        self.push(bytes)?;
        self.records += count;
        Ok(())
    }

    /// Appends one record.
    pub fn write_record<R: Record>(&mut self, rec: &R) -> io::Result<()> {
        self.write_encoded(&rec.encode_length_delimited_to_vec(), 1)
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes everything and closes the file (ends the gzip stream).
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if !self.pending.is_empty() {
            let chunk = std::mem::take(&mut self.pending);
            self.sink.write_chunk(chunk)?;
        }
        self.sink.close()?;
        Ok(self.path)
    }
}

/// Why a `.ncap` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file does not start with a valid Netcap header.
    #[error("{path}: not a Netcap record file ({reason})")]
    NotNcap {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The header names a record type this version does not know.
    #[error("{path}: unknown record type {ty} (written by a newer Netcap?)")]
    UnknownType {
        /// The file.
        path: PathBuf,
        /// The type number.
        ty: i32,
    },
    /// The file ends in the middle of a record.
    #[error("{path}: truncated after {records} records (the file ends inside record {})", records + 1)]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Complete records read before the damage.
        records: u64,
    },
    /// A record cannot be decoded.
    #[error("{path}: corrupt after {records} records: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Complete records read before the damage.
        records: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a `.ncap` file: its header, then its records one by one.
///
/// Compression is recognised from the content (gzip magic), not the file name.
pub struct FileReader {
    input: Box<dyn BufRead + Send>,
    path: PathBuf,
    header: Header,
    record_type: Type,
    records: u64,
    buf: Vec<u8>,
    failed: bool,
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .finish()
    }
}

enum Frame {
    End,
    Record,
}

impl FileReader {
    /// Opens a file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_reader(file, path)
    }

    /// Reads from any byte stream; `name` is used in error messages.
    pub fn from_reader(
        input: impl Read + Send + 'static,
        name: PathBuf,
    ) -> Result<Self, ReadError> {
        let mut raw = BufReader::with_capacity(1 << 16, input);
        let magic = raw.fill_buf().map_err(|source| ReadError::Io {
            path: name.clone(),
            source,
        })?;
        let input: Box<dyn BufRead + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let mut r = FileReader {
            input,
            path: name,
            header: Header::default(),
            record_type: Type::NcHeader,
            records: 0,
            buf: Vec::new(),
            failed: false,
        };
        let not_ncap = |path: &PathBuf, reason: &str| ReadError::NotNcap {
            path: path.clone(),
            reason: reason.into(),
        };
        match r.read_frame() {
            Ok(Frame::Record) => {}
            Ok(Frame::End) => return Err(not_ncap(&r.path, "empty file")),
            Err(ReadError::Io { path, source }) => return Err(ReadError::Io { path, source }),
            Err(_) => return Err(not_ncap(&r.path, "no header record")),
        }
        let header = Header::decode(r.buf.as_slice())
            .map_err(|_| not_ncap(&r.path, "header does not decode"))?;
        if header.version.is_empty() || !header.version.starts_with('v') {
            return Err(not_ncap(&r.path, "header has no Netcap version"));
        }
        r.record_type = Type::try_from(header.r#type)
            .ok()
            .filter(|t| *t != Type::NcHeader)
            .ok_or(ReadError::UnknownType {
                path: r.path.clone(),
                ty: header.r#type,
            })?;
        r.header = header;
        Ok(r)
    }

    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The record type of every record in the file.
    pub fn record_type(&self) -> Type {
        self.record_type
    }

    /// The schema descriptor of the file's records.
    pub fn descriptor(&self) -> Result<MessageDescriptor, ReadError> {
        message_descriptor(self.record_type).ok_or(ReadError::UnknownType {
            path: self.path.clone(),
            ty: self.record_type as i32,
        })
    }

    /// Complete records read so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// The next record's encoded bytes, or `None` at a clean end of file.
    pub fn next_raw(&mut self) -> Result<Option<&[u8]>, ReadError> {
        if self.failed {
            return Ok(None);
        }
        match self.read_frame() {
            Ok(Frame::End) => Ok(None),
            Ok(Frame::Record) => {
                self.records += 1;
                Ok(Some(&self.buf))
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// The next record decoded as `R`; `R` must be the file's record type.
    pub fn next_record<R: Record>(&mut self) -> Result<Option<R>, ReadError> {
        if R::TYPE != self.record_type {
            return Err(ReadError::Corrupt {
                path: self.path.clone(),
                records: self.records,
                reason: format!(
                    "file holds {} records, not {}",
                    self.record_type.record_name(),
                    R::NAME
                ),
            });
        }
        let records = self.records;
        match self.next_raw()? {
            None => Ok(None),
            Some(bytes) => R::decode(bytes)
                .map(Some)
                .map_err(|e| self.corrupt_at(records, e)),
        }
    }

    /// The next record decoded through the schema.
    pub fn next_dynamic(
        &mut self,
        desc: &MessageDescriptor,
    ) -> Result<Option<DynamicMessage>, ReadError> {
        let records = self.records;
        match self.next_raw()? {
            None => Ok(None),
            Some(bytes) => DynamicMessage::decode(desc.clone(), bytes)
                .map(Some)
                .map_err(|e| self.corrupt_at(records, e)),
        }
    }

    /// Iterates the records decoded as `R`, stopping after the first error.
    pub fn records<R: Record>(&mut self) -> impl Iterator<Item = Result<R, ReadError>> + '_ {
        std::iter::from_fn(move || self.next_record::<R>().transpose())
    }

    fn corrupt_at(&mut self, records: u64, e: prost::DecodeError) -> ReadError {
        self.failed = true;
        ReadError::Corrupt {
            path: self.path.clone(),
            records,
            reason: format!("record does not decode: {e}"),
        }
    }

    /// Reads one varint-delimited frame into `self.buf`.
    fn read_frame(&mut self) -> Result<Frame, ReadError> {
        let mut len: u64 = 0;
        let mut shift = 0u32;
        let mut first = true;
        loop {
            let mut byte = [0u8; 1];
            match self.input.read(&mut byte) {
                Ok(0) if first => return Ok(Frame::End),
                Ok(0) => return Err(self.truncated()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.damaged(e)),
            }
            first = false;
            len |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(self.corrupt("invalid length prefix"));
            }
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > MAX_RECORD_LEN {
            return Err(self.corrupt(&format!("record length {len} exceeds {MAX_RECORD_LEN}")));
        }
        self.buf.clear();
        self.buf.resize(len, 0);
        match self.input.read_exact(&mut self.buf) {
            Ok(()) => Ok(Frame::Record),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.truncated()),
            Err(e) => Err(self.damaged(e)),
        }
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated {
            path: self.path.clone(),
            records: self.records,
        }
    }

    fn corrupt(&self, reason: &str) -> ReadError {
        ReadError::Corrupt {
            path: self.path.clone(),
            records: self.records,
            reason: reason.into(),
        }
    }

    /// A read error inside the stream: a gzip stream cut short shows up as
    /// UnexpectedEof or InvalidInput from the decoder.
    fn damaged(&self, e: io::Error) -> ReadError {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => self.truncated(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                self.corrupt(&format!("compressed stream is damaged: {e}"))
            }
            _ => ReadError::Io {
                path: self.path.clone(),
                source: e,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcap_schema::{Tcp, TcpOption};

    fn tcp(n: u64) -> Tcp {
        Tcp {
            timestamp: 1_499_255_023_048_884_000 + n as i64,
            src_port: 443,
            dst_port: 50_000 + n as i32,
            options: vec![TcpOption {
                option_type: 2,
                option_length: 4,
                option_data: vec![5, 0xb4],
            }],
            packet_number: n,
            ..Default::default()
        }
    }

    fn write(dir: &Path, compress: bool, n: u64) -> PathBuf {
        let opts = WriterOptions {
            compress,
            ..Default::default()
        };
        let mut w =
            RecordFileWriter::create(dir, &header_for(Type::NcTcp, "in.pcap", 42), &opts).unwrap();
        for i in 1..=n {
            w.write_record(&tcp(i)).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trip_plain_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        for compress in [true, false] {
            let sub = dir.path().join(compress.to_string());
            std::fs::create_dir(&sub).unwrap();
            let path = write(&sub, compress, 3);
            assert_eq!(
                path.file_name().unwrap().to_str().unwrap(),
                if compress { "TCP.ncap.gz" } else { "TCP.ncap" }
            );
            let mut r = FileReader::open(&path).unwrap();
            assert_eq!(r.header().input_source, "in.pcap");
            assert_eq!(r.header().created, 42);
            assert_eq!(r.record_type(), Type::NcTcp);
            let recs: Vec<Tcp> = r.records::<Tcp>().collect::<Result<_, _>>().unwrap();
            assert_eq!(recs, vec![tcp(1), tcp(2), tcp(3)]);
        }
    }

    #[test]
    fn compression_is_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), true, 2);
        let renamed = dir.path().join("whatever.bin");
        std::fs::rename(&path, &renamed).unwrap();
        let mut r = FileReader::open(&renamed).unwrap();
        assert_eq!(r.records::<Tcp>().count(), 2);
    }

    #[test]
    fn gzip_is_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let pa = write(a.path(), true, 50);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let pb = write(b.path(), true, 50);
        assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
    }

    #[test]
    fn truncated_file_reports_records_before_damage() {
        let dir = tempfile::tempdir().unwrap();
        for compress in [false, true] {
            let sub = dir.path().join(compress.to_string());
            std::fs::create_dir(&sub).unwrap();
            let path = write(&sub, compress, 10);
            let full = std::fs::read(&path).unwrap();
            let cut = &full[..full.len() * 2 / 3];
            let mut r =
                FileReader::from_reader(std::io::Cursor::new(cut.to_vec()), path.clone()).unwrap();
            let mut good = Vec::new();
            let err = loop {
                match r.next_record::<Tcp>() {
                    Ok(Some(t)) => good.push(t),
                    Ok(None) => panic!("truncation not detected"),
                    Err(e) => break e,
                }
            };
            assert!(!good.is_empty() && good.len() < 10);
            assert_eq!(good[0], tcp(1));
            let msg = err.to_string();
            match err {
                ReadError::Truncated { records, .. } | ReadError::Corrupt { records, .. } => {
                    assert_eq!(records, good.len() as u64)
                }
                other => panic!("{other:?}"),
            }
            assert!(
                msg.contains(&format!("after {} records", good.len())),
                "{msg}"
            );
            assert_eq!(
                r.next_record::<Tcp>().unwrap(),
                None,
                "no records after damage"
            );
        }
    }

    #[test]
    fn garbage_is_not_ncap() {
        let r = FileReader::from_reader(
            std::io::Cursor::new(b"\x05hello world".to_vec()),
            "x".into(),
        );
        assert!(matches!(r, Err(ReadError::NotNcap { .. })));
        let r = FileReader::from_reader(std::io::Cursor::new(Vec::new()), "x".into());
        assert!(matches!(r, Err(ReadError::NotNcap { .. })));
    }

    #[test]
    fn oversized_length_is_corruption_not_allocation() {
        let mut bytes = header_for(Type::NcTcp, "x", 0).encode_length_delimited_to_vec();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x7f]);
        let mut r = FileReader::from_reader(std::io::Cursor::new(bytes), "x".into()).unwrap();
        assert!(matches!(
            r.next_raw(),
            Err(ReadError::Corrupt { records: 0, .. })
        ));
    }
}
