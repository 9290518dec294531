//! `TYPE.parquet` files: length-delimited records in, Parquet out, on a
//! thread of the file's own.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use netcap_schema::{message_descriptor, Header, Type};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Type as PhysicalType, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use prost_reflect::{DynamicMessage, MessageDescriptor};

use crate::columns::RecordColumns;
use crate::Error;

/// How Parquet files are written. Every limit counts records or their
/// encoded bytes, never time or arrival: the same records give the same
/// file, whatever the number of workers that produced them.
#[derive(Debug, Clone)]
pub struct ParquetOptions {
    /// zstd level of the column chunks (1 to 22).
    pub zstd_level: i32,
    /// Records per Arrow batch handed to the Parquet encoder.
    pub batch_rows: usize,
    /// Encoded record bytes that end a batch early (large records).
    pub batch_bytes: usize,
    /// Most rows in a row group.
    pub row_group_rows: usize,
    /// Most (estimated, encoded) bytes in a row group: the writer holds a
    /// whole row group in memory until it is complete.
    pub row_group_bytes: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            zstd_level: 1,
            batch_rows: 4096,
            batch_bytes: 2 << 20,
            row_group_rows: 64 * 1024,
            row_group_bytes: 16 << 20,
        }
    }
}

impl ParquetOptions {
    /// The zstd levels accepted.
    pub const LEVELS: std::ops::RangeInclusive<i32> = 1..=22;
}

/// Key-value metadata keys holding the Netcap file header.
pub mod meta {
    /// The record type name (`TCP`).
    pub const TYPE: &str = "netcap.type";
    /// The Netcap version that wrote the records (`v0.1.0`).
    pub const VERSION: &str = "netcap.version";
    /// The input the records were made from.
    pub const INPUT_SOURCE: &str = "netcap.input_source";
    /// Creation time, nanoseconds since the epoch (decimal).
    pub const CREATED: &str = "netcap.created";
    /// Whether the records carry payloads.
    pub const CONTAINS_PAYLOADS: &str = "netcap.contains_payloads";
}

/// The `created_by` of every file: fixed, so that files do not depend on
/// anything but the records and the header.
pub const CREATED_BY: &str = concat!("netcap v", env!("CARGO_PKG_VERSION"), " (parquet-rs)");

/// Bytes of records handed to the encoding thread at a time.
const CHUNK: usize = 256 * 1024;

/// Writes one `TYPE.parquet` file. Records are encoded on a thread of the
/// file's own, so that files are encoded in parallel and alongside decoding.
pub struct ParquetFileWriter {
    path: PathBuf,
    pending: Vec<u8>,
    pending_records: u64,
    records: u64,
    tx: Option<SyncSender<(Vec<u8>, u64)>>,
    handle: Option<JoinHandle<Result<(), Error>>>,
}

impl std::fmt::Debug for ParquetFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFileWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ParquetFileWriter {
    /// The file name of a record type: `TCP.parquet`.
    pub fn file_name(record_name: &str) -> String {
        format!("{record_name}.parquet")
    }

    /// Creates `dir/<type>.parquet` for the records of `header`'s type; the
    /// header goes into the file's key-value metadata.
    pub fn create(dir: &Path, header: &Header, opts: &ParquetOptions) -> Result<Self, Error> {
        let ty = Type::try_from(header.r#type).map_err(|_| Error::UnknownType(header.r#type))?;
        let desc = message_descriptor(ty).ok_or(Error::UnknownType(header.r#type))?;
        if !ParquetOptions::LEVELS.contains(&opts.zstd_level) {
            return Err(Error::Level(opts.zstd_level));
        }
        let path = dir.join(Self::file_name(ty.record_name()));
        let file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let mut encoder = Encoder::new(file, desc, header, ty, opts)?;
        let (tx, rx) = sync_channel::<(Vec<u8>, u64)>(2);
        let handle = std::thread::Builder::new()
            .name(format!("parquet {}", ty.record_name()))
            .spawn(move || {
                for (chunk, count) in rx {
                    encoder.write_encoded(&chunk, count)?;
                }
                // Also reached when the writer is dropped without finish
                // (an error elsewhere): the file is valid up to here.
                encoder.finish()
            })?;
        Ok(ParquetFileWriter {
            path,
            pending: Vec::with_capacity(CHUNK),
            pending_records: 0,
            records: 0,
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Appends `count` records, each preceded by its varint length.
    pub fn write_encoded(&mut self, bytes: &[u8], count: u64) -> Result<(), Error> {
        self.pending.extend_from_slice(bytes);
        self.pending_records += count;
        self.records += count;
        if self.pending.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Error> {
        if self.pending_records == 0 {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        let count = std::mem::take(&mut self.pending_records);
        match self.tx.as_ref().map(|tx| tx.send((chunk, count))) {
            Some(Ok(())) => Ok(()),
            // The thread stopped on an error: report it.
            _ => self.close(),
        }
    }

    fn close(&mut self) -> Result<(), Error> {
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Thread),
            None => Err(Error::Closed),
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the last row group and the footer, and closes the file.
    pub fn finish(mut self) -> Result<PathBuf, Error> {
        self.send()?;
        self.close()?;
        Ok(std::mem::take(&mut self.path))
    }
}

/// Decodes records into Arrow batches and writes them: the part of the
/// writer that runs on the file's thread (also usable directly).
pub struct Encoder {
    desc: MessageDescriptor,
    columns: RecordColumns,
    batch_bytes: usize,
    opts: ParquetOptions,
    writer: ArrowWriter<BufWriter<File>>,
    records: u64,
}

impl Encoder {
    /// An encoder writing the records of `ty` to `file`.
    pub fn new(
        file: BufWriter<File>,
        desc: MessageDescriptor,
        header: &Header,
        ty: Type,
        opts: &ParquetOptions,
    ) -> Result<Self, Error> {
        let columns = RecordColumns::new(&desc)?;
        let level = ZstdLevel::try_new(opts.zstd_level)?;
        let kv = vec![
            KeyValue::new(meta::TYPE.to_string(), ty.record_name().to_string()),
            KeyValue::new(meta::VERSION.to_string(), header.version.clone()),
            KeyValue::new(meta::INPUT_SOURCE.to_string(), header.input_source.clone()),
            KeyValue::new(meta::CREATED.to_string(), header.created.to_string()),
            KeyValue::new(
                meta::CONTAINS_PAYLOADS.to_string(),
                header.contains_payloads.to_string(),
            ),
        ];
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_created_by(CREATED_BY.to_string())
            .set_key_value_metadata(Some(kv))
            .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
            .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1)));
        // Min/max statistics of string and bytes columns (addresses, UIDs,
        // names, payloads) cost a byte comparison per value, 13% of a
        // capture's CPU time, and prune almost no row group: their values are
        // spread over the whole capture. Numbers and timestamps keep them.
        let leaves = ArrowSchemaConverter::new().convert(columns.schema())?;
        for col in leaves.columns() {
            if col.physical_type() == PhysicalType::BYTE_ARRAY {
                props = props
                    .set_column_statistics_enabled(col.path().clone(), EnabledStatistics::None);
            }
        }
        let props = props.build();
        let writer =
            ArrowWriter::try_new(file, std::sync::Arc::clone(columns.schema()), Some(props))?;
        Ok(Encoder {
            desc,
            columns,
            batch_bytes: 0,
            opts: opts.clone(),
            writer,
            records: 0,
        })
    }

    /// Appends `count` length-delimited records from `bytes`.
    pub fn write_encoded(&mut self, mut bytes: &[u8], count: u64) -> Result<(), Error> {
        for _ in 0..count {
            let index = self.records;
            let bad = |source| Error::Decode { index, source };
            let len = prost::decode_length_delimiter(&mut bytes).map_err(bad)?;
            let (msg, rest) = bytes
                .split_at_checked(len)
                .ok_or(Error::Truncated { index })?;
            let m = DynamicMessage::decode(self.desc.clone(), msg).map_err(bad)?;
            self.columns.append(&m)?;
            self.records += 1;
            self.batch_bytes += len;
            if self.columns.rows() >= self.opts.batch_rows
                || self.batch_bytes >= self.opts.batch_bytes
            {
                self.write_batch()?;
            }
            bytes = rest;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> Result<(), Error> {
        if self.columns.rows() == 0 {
            return Ok(());
        }
        let batch = self.columns.finish()?;
        self.batch_bytes = 0;
        self.writer.write(&batch)?;
        Ok(())
    }

    /// Writes what is left and the footer.
    pub fn finish(mut self) -> Result<(), Error> {
        self.write_batch()?;
        // Writes the footer; then the file's buffer is flushed, its errors reported.
        let out = self.writer.into_inner()?;
        out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}
