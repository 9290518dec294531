//! Reading and writing `.ncap` files.
//!
//! Layout (after optional gzip or zstd compression): `varint(len) Header` then
//! `varint(len) Record` repeated; the varint is protobuf's base-128 varint. A
//! file holds one record type, named by the header.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use flate2::{Compression, GzBuilder};
use netcap_schema::{message_descriptor, Header, Record, Type};
use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Largest record accepted by the reader; a larger length prefix is corruption.
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// How the stream of a record file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// No compression: `TYPE.ncap`.
    None,
    /// gzip (RFC 1952, zlib-rs): `TYPE.ncap.gz`.
    #[default]
    Gzip,
    /// Zstandard (RFC 8878, libzstd): `TYPE.ncap.zst`.
    Zstd,
}

/// A compression level outside the codec's range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// The level is out of range for the codec.
    #[error("{codec} compression level must be {min} to {max}, got {level}")]
    OutOfRange {
        /// The codec's name.
        codec: &'static str,
        /// The level asked for.
        level: i32,
        /// Lowest accepted level.
        min: i32,
        /// Highest accepted level.
        max: i32,
    },
    /// zstd's level 0, which libzstd would take for its default level (3).
    #[error("zstd has no compression level 0: use -7 to -1 (fast) or 1 to 19")]
    ZstdZero,
    /// The codec has no levels (no compression).
    #[error("uncompressed output takes no compression level, got {level}")]
    NoLevels {
        /// The level asked for.
        level: i32,
    },
}

impl Codec {
    /// Every codec, in the order they are listed to users.
    pub const ALL: [Codec; 3] = [Codec::Gzip, Codec::Zstd, Codec::None];

    /// The codec's name on the command line: `gzip`, `zstd` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }

    /// The file-name suffix after the record type: `ncap`, `ncap.gz`, `ncap.zst`.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::None => "ncap",
            Codec::Gzip => "ncap.gz",
            Codec::Zstd => "ncap.zst",
        }
    }

    /// The range of levels the codec accepts (none for [`Codec::None`]):
    /// gzip 0–9 (0 stores without compressing), zstd 1–19 and the fast
    /// levels −7 to −1, but not 0 (see [`Codec::check_level`]). zstd's levels
    /// 20–22 are left out: their windows (up to 128 MiB per record file) cost
    /// too much memory with dozens of files open at once.
    pub fn levels(self) -> Option<RangeInclusive<i32>> {
        match self {
            Codec::None => None,
            Codec::Gzip => Some(0..=9),
            Codec::Zstd => Some(-7..=19),
        }
    }

    /// The level used when none is given: 1 for both gzip and zstd, the
    /// best speed for the size on Netcap's records (see the README).
    pub fn default_level(self) -> Option<i32> {
        match self {
            Codec::None => None,
            Codec::Gzip | Codec::Zstd => Some(1),
        }
    }

    /// `level`, or the codec's default when `None`, checked against
    /// [`Codec::levels`]; zstd's 0, which libzstd takes for "default" (3),
    /// is refused too. `Ok(None)` for [`Codec::None`] without a level.
    pub fn check_level(self, level: Option<i32>) -> Result<Option<i32>, LevelError> {
        let Some(range) = self.levels() else {
            return match level {
                None => Ok(None),
                Some(level) => Err(LevelError::NoLevels { level }),
            };
        };
        let level = level.or(self.default_level()).unwrap_or(*range.start());
        if self == Codec::Zstd && level == 0 {
            Err(LevelError::ZstdZero)
        } else if range.contains(&level) {
            Ok(Some(level))
        } else {
            Err(LevelError::OutOfRange {
                codec: self.name(),
                level,
                min: *range.start(),
                max: *range.end(),
            })
        }
    }

    /// The codec of a stream from its first bytes (at least 4 when the
    /// stream has them): gzip by `1f 8b`, zstd by a frame's magic
    /// `28 b5 2f fd` or a skippable frame's `5? 2a 4d 18`, otherwise none.
    /// An uncompressed Netcap stream starts with the header's length then a
    /// field key of the header (`08`, `12`, `18`, `22` or `28`), so it never
    /// looks like either.
    pub fn detect(start: &[u8]) -> Codec {
        match start {
            [0x1f, 0x8b, ..] => Codec::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Codec::Zstd,
            [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..] => Codec::Zstd,
            _ => Codec::None,
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How record files are written.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Compression of the files (gzip by default).
    pub codec: Codec,
    /// Compression level; `None`: the codec's default ([`Codec::default_level`]).
    /// Checked by [`RecordFileWriter::create`] against [`Codec::levels`].
    pub level: Option<i32>,
    /// Bytes buffered before each write to the file.
    pub buffer_size: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            codec: Codec::Gzip,
            level: None,
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

/// A compressing stream into a record file. It lives on the file's
/// compression thread; a codec is one variant here, the thread and the
/// channel around it are shared.
enum Encoder {
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

/// Each codec has a fixed configuration, so that the bytes depend only on the
/// records and the level.
impl Encoder {
    /// gzip without a file name and with mtime 0.
    fn gzip(file: BufWriter<File>, level: i32) -> Encoder {
        let level = Compression::new(level.clamp(0, 9).unsigned_abs());
        Encoder::Gzip(GzBuilder::new().mtime(0).write(file, level))
    }

    /// One zstd frame with a content checksum (XXH64, as gzip has its
    /// CRC-32) and no content size (unknown while streaming), compressed on
    /// this one thread: libzstd's worker threads are not even compiled in
    /// (the crate's `zstdmt` feature is off).
    fn zstd(file: BufWriter<File>, level: i32) -> io::Result<Encoder> {
        let mut enc = zstd::stream::write::Encoder::new(file, level)?;
        enc.include_checksum(true)?;
        enc.include_contentsize(false)?;
        Ok(Encoder::Zstd(enc))
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write_all(bytes),
            Encoder::Zstd(e) => e.write_all(bytes),
        }
    }

    /// Ends the stream (gzip trailer, zstd last block and checksum) and
    /// flushes the file.
    fn finish(self) -> io::Result<()> {
        let file = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
        };
        file.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

/// Where a record file's bytes go.
///
/// Chunks are recycled: a fresh 256 KiB buffer per chunk costs page faults
/// and malloc consolidation in the writer thread.
enum Sink {
    Plain {
        file: BufWriter<File>,
        spare: Option<Vec<u8>>,
    },
    /// Compression runs on a thread of its own per file, so that compressing
    /// overlaps with decoding and the files compress in parallel.
    Compressed {
        tx: Option<SyncSender<Vec<u8>>>,
        /// Chunks the thread is done with.
        spare: Receiver<Vec<u8>>,
        handle: Option<JoinHandle<io::Result<()>>>,
    },
}

impl Sink {
    /// A plain file, or a compressing thread writing `file`; `name` names
    /// the thread.
    fn new(file: BufWriter<File>, codec: Codec, level: i32, name: &str) -> io::Result<Sink> {
        let mut enc = match codec {
            Codec::None => return Ok(Sink::Plain { file, spare: None }),
            Codec::Gzip => Encoder::gzip(file, level),
            Codec::Zstd => Encoder::zstd(file, level)?,
        };
        let (tx, rx) = sync_channel::<Vec<u8>>(4);
        let (spare_tx, spare) = sync_channel::<Vec<u8>>(2);
        let handle = std::thread::Builder::new()
            .name(format!("{codec} {name}"))
            .spawn(move || {
                for mut chunk in rx {
                    enc.write_all(&chunk)?;
                    chunk.clear();
                    // Full: the writer has enough spares; this one is freed.
                    let _ = spare_tx.try_send(chunk);
                }
                // The channel closes on `finish` and also when the writer is
                // dropped without it (an error elsewhere): either way the
                // stream is ended properly up to the last chunk received.
                enc.finish()
            })?;
        Ok(Sink::Compressed {
            tx: Some(tx),
            spare,
            handle: Some(handle),
        })
    }

    /// An empty buffer for the next chunk.
    fn next_buffer(&mut self) -> Vec<u8> {
        let spare = match self {
            Sink::Plain { spare, .. } => spare.take(),
            Sink::Compressed { spare, .. } => spare.try_recv().ok(),
        };
        spare.unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    /// Takes a full chunk.
    fn write_chunk(&mut self, mut chunk: Vec<u8>) -> io::Result<()> {
        match self {
            Sink::Plain { file, spare } => {
                file.write_all(&chunk)?;
                chunk.clear();
                *spare = Some(chunk);
                Ok(())
            }
            Sink::Compressed { tx, .. } => match tx.as_ref().map(|t| t.send(chunk)) {
                Some(Ok(())) => Ok(()),
                // The thread stopped on an error: report it.
                _ => self.close(),
            },
        }
    }

    /// Flushes and closes the file, reporting any error of the compression thread.
    fn close(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain { file, .. } => file.flush(),
            Sink::Compressed { tx, handle, .. } => {
                drop(tx.take());
                match handle.take().map(|h| h.join()) {
                    Some(Ok(result)) => result,
                    Some(Err(_)) => Err(io::Error::other("compression thread panicked")),
                    None => Err(io::Error::other("file already closed after an error")),
                }
            }
        }
    }
}

/// Bytes handed to the compressor at a time. Feeding the encoder in
/// fixed-size chunks makes the compressed bytes independent of how the
/// records arrived (one large batch or many small merged runs), which keeps
/// `.ncap.gz` and `.ncap.zst` files byte-identical whatever the number of
/// workers.
const CHUNK: usize = 256 * 1024;

/// Writes one `.ncap`, `.ncap.gz` or `.ncap.zst` file.
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
    /// File name for a record type: `TCP.ncap`, `TCP.ncap.gz` or `TCP.ncap.zst`.
    pub fn file_name(record_name: &str, codec: Codec) -> String {
        format!("{record_name}.{}", codec.extension())
    }

    /// Creates `dir/<type>.<codec extension>` and writes its header. A level
    /// outside the codec's range is an `InvalidInput` error carrying a
    /// [`LevelError`], before any file is created.
    pub fn create(dir: &Path, header: &Header, opts: &WriterOptions) -> io::Result<Self> {
        let ty =
            Type::try_from(header.r#type).map_err(|_| io::Error::other("unknown record type"))?;
        let level = opts
            .codec
            .check_level(opts.level)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
            .unwrap_or(0);
        let path = dir.join(Self::file_name(ty.record_name(), opts.codec));
        let file = BufWriter::with_capacity(opts.buffer_size, File::create(&path)?);
        let sink = Sink::new(file, opts.codec, level, ty.record_name())?;
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
                let next = self.sink.next_buffer();
                let chunk = std::mem::replace(&mut self.pending, next);
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

    /// Flushes everything and closes the file (ends the gzip or zstd stream).
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

/// Reads a `.ncap`, `.ncap.gz` or `.ncap.zst` file: its header, then its
/// records one by one.
///
/// Compression is recognised from the content (gzip or zstd magic, see
/// [`Codec::detect`]), not the file name.
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
        let io_err = |source| ReadError::Io {
            path: name.clone(),
            source,
        };
        let start = raw.fill_buf().map_err(io_err)?;
        let input: Box<dyn BufRead + Send> = match Codec::detect(start) {
            Codec::Gzip => Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(raw),
            )),
            Codec::Zstd => Box::new(BufReader::with_capacity(
                1 << 16,
                ZstdInput(zstd::stream::read::Decoder::with_buffer(raw).map_err(io_err)?),
            )),
            Codec::None => Box::new(raw),
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
            Err(ReadError::Truncated { .. }) => {
                return Err(not_ncap(&r.path, "the file ends inside the header record"))
            }
            Err(ReadError::Corrupt { reason, .. }) => {
                return Err(not_ncap(&r.path, &format!("no header record: {reason}")))
            }
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

    /// A read error inside the stream: a gzip or zstd stream cut short shows
    /// up as UnexpectedEof (or InvalidInput from gzip) from the decoder,
    /// damaged compressed data as InvalidInput or InvalidData.
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

/// The zstd decoder, with libzstd's errors (damaged data: "Data corruption
/// detected", "Restored data doesn't match checksum", ...) as `InvalidData`
/// instead of the `Other` the crate gives them, so that they read as
/// corruption and not as I/O failures. A frame cut short is already
/// `UnexpectedEof` ("incomplete frame").
struct ZstdInput<R: BufRead>(zstd::stream::read::Decoder<'static, R>);

impl<R: BufRead> Read for ZstdInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.get_ref().is_some_and(|inner| inner.is::<zstd::Error>()) {
                io::Error::new(io::ErrorKind::InvalidData, e.to_string())
            } else {
                e
            }
        })
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

    fn opts(codec: Codec) -> WriterOptions {
        WriterOptions {
            codec,
            ..Default::default()
        }
    }

    fn write(dir: &Path, codec: Codec, n: u64) -> PathBuf {
        let mut w =
            RecordFileWriter::create(dir, &header_for(Type::NcTcp, "in.pcap", 42), &opts(codec))
                .unwrap();
        for i in 1..=n {
            w.write_record(&tcp(i)).unwrap();
        }
        w.finish().unwrap()
    }

    /// A fresh sub-folder of `dir` per codec.
    fn sub(dir: &Path, codec: Codec) -> PathBuf {
        let sub = dir.join(codec.name());
        std::fs::create_dir_all(&sub).unwrap();
        sub
    }

    #[test]
    fn round_trip_every_codec() {
        let dir = tempfile::tempdir().unwrap();
        for codec in Codec::ALL {
            let path = write(&sub(dir.path(), codec), codec, 3);
            assert_eq!(
                path.file_name().unwrap().to_str().unwrap(),
                match codec {
                    Codec::None => "TCP.ncap",
                    Codec::Gzip => "TCP.ncap.gz",
                    Codec::Zstd => "TCP.ncap.zst",
                }
            );
            let mut r = FileReader::open(&path).unwrap();
            assert_eq!(r.header().input_source, "in.pcap");
            assert_eq!(r.header().created, 42);
            assert_eq!(r.record_type(), Type::NcTcp);
            let recs: Vec<Tcp> = r.records::<Tcp>().collect::<Result<_, _>>().unwrap();
            assert_eq!(recs, vec![tcp(1), tcp(2), tcp(3)], "{codec}");
        }
    }

    #[test]
    fn compression_is_detected_by_content() {
        let dir = tempfile::tempdir().unwrap();
        for codec in Codec::ALL {
            let path = write(&sub(dir.path(), codec), codec, 2);
            assert_eq!(Codec::detect(&std::fs::read(&path).unwrap()), codec);
            let renamed = path.with_file_name("whatever.bin");
            std::fs::rename(&path, &renamed).unwrap();
            let mut r = FileReader::open(&renamed).unwrap();
            assert_eq!(r.records::<Tcp>().count(), 2, "{codec}");
        }
    }

    #[test]
    fn zstd_frame_has_a_fixed_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(write(dir.path(), Codec::Zstd, 5)).unwrap();
        // Frame magic 0xFD2FB528, little-endian (RFC 8878).
        assert_eq!(bytes[..4], [0x28, 0xb5, 0x2f, 0xfd]);
        // Frame header descriptor: no content size, not single-segment, no
        // dictionary, content checksum on.
        assert_eq!(bytes[4], 0b0000_0100);
        // One frame: the whole file decodes as a single frame to the stream.
        let stream = zstd::stream::read::Decoder::new(bytes.as_slice())
            .unwrap()
            .single_frame();
        let mut plain = Vec::new();
        std::io::BufReader::new(stream)
            .read_to_end(&mut plain)
            .unwrap();
        let plain_file = std::fs::read(write(&sub(dir.path(), Codec::None), Codec::None, 5));
        assert_eq!(plain, plain_file.unwrap());
    }

    #[test]
    fn concatenated_zstd_frames_read_as_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let plain = std::fs::read(write(dir.path(), Codec::None, 4)).unwrap();
        let (a, b) = plain.split_at(plain.len() / 2);
        let mut two = zstd::encode_all(a, 3).unwrap();
        two.extend(zstd::encode_all(b, 3).unwrap());
        let mut r = FileReader::from_reader(std::io::Cursor::new(two), "two".into()).unwrap();
        let recs: Vec<Tcp> = r.records::<Tcp>().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs, (1..=4).map(tcp).collect::<Vec<_>>());
    }

    /// A skippable frame (RFC 8878 §3.1.2) first: still zstd, and skipped.
    #[test]
    fn leading_zstd_skippable_frame_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let zst = std::fs::read(write(dir.path(), Codec::Zstd, 3)).unwrap();
        let mut bytes = vec![0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3];
        bytes.extend_from_slice(&zst);
        assert_eq!(Codec::detect(&bytes), Codec::Zstd);
        let mut r = FileReader::from_reader(std::io::Cursor::new(bytes), "skip".into()).unwrap();
        assert_eq!(r.records::<Tcp>().count(), 3);
    }

    #[test]
    fn compressed_output_is_deterministic() {
        for codec in [Codec::Gzip, Codec::Zstd] {
            let a = tempfile::tempdir().unwrap();
            let b = tempfile::tempdir().unwrap();
            let pa = write(a.path(), codec, 50);
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let pb = write(b.path(), codec, 50);
            assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
        }
    }

    /// The same records handed over in different batches (as 1 or several
    /// workers' merged runs would) give the same compressed bytes.
    #[test]
    fn compressed_bytes_do_not_depend_on_how_records_arrive() {
        let records: Vec<Vec<u8>> = (1..=30_000)
            .map(|i| tcp(i).encode_length_delimited_to_vec())
            .collect();
        for codec in [Codec::Gzip, Codec::Zstd] {
            let mut files = Vec::new();
            for batch in [1, 7, 1000, 30_000] {
                let dir = tempfile::tempdir().unwrap();
                let mut w = RecordFileWriter::create(
                    dir.path(),
                    &header_for(Type::NcTcp, "in.pcap", 42),
                    &opts(codec),
                )
                .unwrap();
                for group in records.chunks(batch) {
                    w.write_encoded(&group.concat(), group.len() as u64)
                        .unwrap();
                }
                assert_eq!(w.records(), 30_000);
                files.push(std::fs::read(w.finish().unwrap()).unwrap());
            }
            assert!(files.windows(2).all(|w| w[0] == w[1]), "{codec}");
        }
    }

    #[test]
    fn truncated_file_reports_records_before_damage() {
        let dir = tempfile::tempdir().unwrap();
        // Enough records for several zstd blocks (128 KiB of stream each):
        // zstd hands out a block only once all of it is there.
        let n = 20_000;
        for codec in Codec::ALL {
            let path = write(&sub(dir.path(), codec), codec, n);
            let full = std::fs::read(&path).unwrap();
            let cut = &full[..full.len() * 2 / 3];
            let mut r =
                FileReader::from_reader(std::io::Cursor::new(cut.to_vec()), path.clone()).unwrap();
            let mut good = Vec::new();
            let err = loop {
                match r.next_record::<Tcp>() {
                    Ok(Some(t)) => good.push(t),
                    Ok(None) => panic!("{codec}: truncation not detected"),
                    Err(e) => break e,
                }
            };
            assert!(!good.is_empty() && good.len() < n as usize, "{codec}");
            assert_eq!(good[0], tcp(1));
            assert_eq!(good.last(), Some(&tcp(good.len() as u64)));
            let msg = err.to_string();
            match err {
                ReadError::Truncated { records, .. } => assert_eq!(records, good.len() as u64),
                ReadError::Corrupt { records, .. } if codec == Codec::Gzip => {
                    assert_eq!(records, good.len() as u64)
                }
                other => panic!("{codec}: {other:?}"),
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
    fn zstd_cut_inside_the_first_block_is_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let full = std::fs::read(write(dir.path(), Codec::Zstd, 10)).unwrap();
        for len in 0..full.len() {
            let cut = full[..len].to_vec();
            match FileReader::from_reader(std::io::Cursor::new(cut), "cut".into()) {
                Err(ReadError::NotNcap { reason, .. }) => {
                    assert!(
                        ["empty file", "the file ends inside the header record"]
                            .contains(&reason.as_str()),
                        "{len}: {reason}"
                    )
                }
                Err(e) => panic!("{len}: {e}"),
                // The block was complete, only the checksum is missing.
                Ok(mut r) => {
                    let err = loop {
                        match r.next_record::<Tcp>() {
                            Ok(Some(_)) => {}
                            Ok(None) => panic!("{len}: truncation not detected"),
                            Err(e) => break e,
                        }
                    };
                    assert!(
                        matches!(err, ReadError::Truncated { records: 10, .. }),
                        "{len}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn damaged_zstd_data_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        // Several blocks: the records of the first ones come out before the
        // checksum is checked at the end.
        let mut bytes = std::fs::read(write(dir.path(), Codec::Zstd, 20_000)).unwrap();
        // The last 4 bytes are the content checksum.
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        let mut r = FileReader::from_reader(std::io::Cursor::new(bytes), "bad".into()).unwrap();
        let mut read = 0;
        let err = loop {
            match r.next_record::<Tcp>() {
                Ok(Some(_)) => read += 1,
                Ok(None) => panic!("checksum mismatch not detected"),
                Err(e) => break e,
            }
        };
        assert!(read > 0);
        let msg = err.to_string();
        assert!(matches!(err, ReadError::Corrupt { .. }), "{err:?}");
        assert!(msg.contains("compressed stream is damaged"), "{msg}");
        assert!(msg.contains("checksum"), "{msg}");

        // One block: libzstd checks the checksum before handing out anything.
        let mut bytes =
            std::fs::read(write(&sub(dir.path(), Codec::Zstd), Codec::Zstd, 20)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        let r = FileReader::from_reader(std::io::Cursor::new(bytes), "bad".into());
        match r {
            Err(ReadError::NotNcap { reason, .. }) => {
                assert!(reason.contains("checksum"), "{reason}")
            }
            other => panic!("{other:?}"),
        }

        // Garbage after the magic.
        let mut junk = vec![0x28, 0xb5, 0x2f, 0xfd];
        junk.extend_from_slice(&[0xff; 64]);
        let r = FileReader::from_reader(std::io::Cursor::new(junk), "junk".into());
        assert!(matches!(r, Err(ReadError::NotNcap { .. })), "{r:?}");
    }

    #[test]
    fn levels_are_checked_per_codec() {
        assert_eq!(Codec::Gzip.check_level(None), Ok(Some(1)));
        assert_eq!(Codec::Zstd.check_level(None), Ok(Some(1)));
        assert_eq!(Codec::None.check_level(None), Ok(None));
        assert_eq!(Codec::Gzip.check_level(Some(9)), Ok(Some(9)));
        assert_eq!(Codec::Zstd.check_level(Some(19)), Ok(Some(19)));
        assert_eq!(Codec::Zstd.check_level(Some(-7)), Ok(Some(-7)));
        let err = Codec::Gzip.check_level(Some(10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "gzip compression level must be 0 to 9, got 10"
        );
        let err = Codec::Zstd.check_level(Some(20)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "zstd compression level must be -7 to 19, got 20"
        );
        assert!(Codec::Zstd.check_level(Some(-8)).is_err());
        assert_eq!(Codec::Zstd.check_level(Some(0)), Err(LevelError::ZstdZero));
        assert!(Codec::Gzip.check_level(Some(-1)).is_err());
        assert_eq!(
            Codec::None.check_level(Some(1)),
            Err(LevelError::NoLevels { level: 1 })
        );

        // The writer checks too, before creating the file.
        let dir = tempfile::tempdir().unwrap();
        let bad = WriterOptions {
            codec: Codec::Zstd,
            level: Some(22),
            ..Default::default()
        };
        let err = RecordFileWriter::create(dir.path(), &header_for(Type::NcTcp, "x", 0), &bad)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(!dir.path().join("TCP.ncap.zst").exists());
    }

    /// Every zstd level in range writes a file that reads back.
    #[test]
    fn every_zstd_level_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for level in Codec::Zstd.levels().unwrap().filter(|l| *l != 0) {
            let opts = WriterOptions {
                codec: Codec::Zstd,
                level: Some(level),
                ..Default::default()
            };
            let mut w =
                RecordFileWriter::create(dir.path(), &header_for(Type::NcTcp, "x", 0), &opts)
                    .unwrap();
            for i in 1..=100 {
                w.write_record(&tcp(i)).unwrap();
            }
            let path = w.finish().unwrap();
            let mut r = FileReader::open(&path).unwrap();
            assert_eq!(r.records::<Tcp>().count(), 100, "level {level}");
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
