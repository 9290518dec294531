//! The `.ncap` file format and the record renderers.
//!
//! * [`ncap`]: writing and reading `.ncap` / `.ncap.gz` / `.ncap.zst` files —
//!   a `Header` record, then varint-length-delimited records of one type,
//!   optionally compressed with gzip or zstd (see `docs/file-format.md`).
//! * [`pcap_out`]: the pcap side outputs (`unknown.pcap`, `errors.pcap`).
//! * [`text_out`]: CSV and JSON files written directly during a capture.
//! * [`render`]: CSV, TSV, JSON lines, aligned tables and readable text, all
//!   derived from the schema through reflection, with no code per record type.
#![forbid(unsafe_code)]

pub mod ncap;
mod output;
pub mod pcap_out;
pub mod render;
pub mod text_out;

pub use ncap::{
    header_for, Codec, FileReader, LevelError, ReadError, RecordFileWriter, WriterOptions,
    MAX_RECORD_LEN,
};
pub use output::{OutputFormat, RecordWriter};
