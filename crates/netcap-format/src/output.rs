//! One writer per output format behind a common interface for the pipeline.

use std::io;
use std::path::{Path, PathBuf};

use netcap_schema::{Header, Type};

use crate::ncap::{RecordFileWriter, WriterOptions};
use crate::render::RenderOptions;
use crate::text_out::{TextFileWriter, TextFormat};

/// The format of the files a capture writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// `.ncap` / `.ncap.gz` / `.ncap.zst` protobuf record files.
    #[default]
    Ncap,
    /// `.csv` files, as `netcap dump` prints them.
    Csv,
    /// `.json` files, one object per line, as `netcap dump --json` prints them.
    Json,
    /// `.parquet` files (needs the `parquet` cargo feature).
    Parquet,
}

impl OutputFormat {
    /// Whether this build can write the format: Parquet needs the `parquet`
    /// cargo feature.
    pub fn available(self) -> bool {
        self != OutputFormat::Parquet || cfg!(feature = "parquet")
    }
}

/// A record file of any output format.
#[derive(Debug)]
pub enum RecordWriter {
    /// Protobuf records.
    Ncap(RecordFileWriter),
    /// Rendered text.
    Text(TextFileWriter),
    /// Parquet columns.
    #[cfg(feature = "parquet")]
    Parquet(netcap_parquet::ParquetFileWriter),
}

/// The Parquet options from the record file options: `level` is the zstd level.
#[cfg(feature = "parquet")]
fn parquet_options(opts: &WriterOptions) -> netcap_parquet::ParquetOptions {
    let mut p = netcap_parquet::ParquetOptions::default();
    if let Some(level) = opts.level {
        p.zstd_level = level;
    }
    p
}

impl RecordWriter {
    /// The file a record type is written to.
    pub fn file_name(ty: Type, format: OutputFormat, opts: &WriterOptions) -> String {
        match format {
            OutputFormat::Ncap => RecordFileWriter::file_name(ty.record_name(), opts.codec),
            OutputFormat::Csv => format!("{}.csv", ty.record_name()),
            OutputFormat::Json => format!("{}.json", ty.record_name()),
            OutputFormat::Parquet => format!("{}.parquet", ty.record_name()),
        }
    }

    /// Creates the file of `header`'s record type in `dir`.
    pub fn create(
        dir: &Path,
        header: &Header,
        format: OutputFormat,
        opts: &WriterOptions,
    ) -> io::Result<Self> {
        let ty =
            Type::try_from(header.r#type).map_err(|_| io::Error::other("unknown record type"))?;
        let text = |f| {
            TextFileWriter::create(dir, ty, f, RenderOptions::default()).map(RecordWriter::Text)
        };
        match format {
            OutputFormat::Ncap => {
                RecordFileWriter::create(dir, header, opts).map(RecordWriter::Ncap)
            }
            OutputFormat::Csv => text(TextFormat::Csv),
            OutputFormat::Json => text(TextFormat::Json),
            #[cfg(feature = "parquet")]
            OutputFormat::Parquet => {
                netcap_parquet::ParquetFileWriter::create(dir, header, &parquet_options(opts))
                    .map(RecordWriter::Parquet)
                    .map_err(io::Error::from)
            }
            #[cfg(not(feature = "parquet"))]
            OutputFormat::Parquet => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this netcap was built without Parquet support (cargo feature `parquet`)",
            )),
        }
    }

    /// Appends `count` length-delimited records.
    pub fn write_encoded(&mut self, bytes: &[u8], count: u64) -> io::Result<()> {
        match self {
            RecordWriter::Ncap(w) => w.write_encoded(bytes, count),
            RecordWriter::Text(w) => w.write_encoded(bytes, count),
            #[cfg(feature = "parquet")]
            RecordWriter::Parquet(w) => w.write_encoded(bytes, count).map_err(io::Error::from),
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        match self {
            RecordWriter::Ncap(w) => w.records(),
            RecordWriter::Text(w) => w.records(),
            #[cfg(feature = "parquet")]
            RecordWriter::Parquet(w) => w.records(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        match self {
            RecordWriter::Ncap(w) => w.path(),
            RecordWriter::Text(w) => w.path(),
            #[cfg(feature = "parquet")]
            RecordWriter::Parquet(w) => w.path(),
        }
    }

    /// Flushes and closes the file.
    pub fn finish(self) -> io::Result<PathBuf> {
        match self {
            RecordWriter::Ncap(w) => w.finish(),
            RecordWriter::Text(w) => w.finish(),
            #[cfg(feature = "parquet")]
            RecordWriter::Parquet(w) => w.finish().map_err(io::Error::from),
        }
    }
}
