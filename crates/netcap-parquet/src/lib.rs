//! Parquet output for Netcap records.
//!
//! * [`schema`]: the Arrow schema of a record type, derived from its protobuf
//!   descriptor (`netcap.proto`) with no code per record type.
//! * [`RecordColumns`]: Arrow column builders that records decoded as
//!   `DynamicMessage`s are appended to, row by row.
//! * [`ParquetFileWriter`]: `TYPE.parquet`, written from length-delimited
//!   records (what the capture pipeline and `.ncap` files hold) on a thread
//!   of its own, zstd-compressed, in bounded row groups, byte-identical for
//!   the same records.
//!
//! See `docs/parquet.md` for the type mapping and how to read the files.
#![forbid(unsafe_code)]

mod columns;
pub mod schema;
mod writer;

pub use columns::RecordColumns;
pub use schema::arrow_schema;
pub use writer::{meta, Encoder, ParquetFileWriter, ParquetOptions, CREATED_BY};

/// What can go wrong while writing Parquet.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The header names a record type that the schema does not have.
    #[error("record type {0} has no message in the schema")]
    UnknownType(i32),
    /// A message nests deeper than [`schema::MAX_DEPTH`] (a recursive message).
    #[error("message {0} nests too deeply for a columnar schema")]
    TooDeep(String),
    /// A zstd level outside [`ParquetOptions::LEVELS`].
    #[error("parquet zstd compression level must be 1 to 22, got {0}")]
    Level(i32),
    /// A record's bytes are not a valid message of its type.
    #[error("record {index} cannot be decoded: {source}")]
    Decode {
        /// 0-based number of the record in the file.
        index: u64,
        /// The protobuf error.
        source: prost::DecodeError,
    },
    /// A record's length prefix runs past the bytes given.
    #[error("record {index} is shorter than its length prefix")]
    Truncated {
        /// 0-based number of the record in the file.
        index: u64,
    },
    /// A decoded value does not have its field's type (a schema defect).
    #[error("field {field} holds an unexpected value {value}")]
    Mismatch {
        /// Full name of the field.
        field: String,
        /// The value, abbreviated.
        value: String,
    },
    /// A repeated field with more than 2^31 elements in one batch.
    #[error("a list column has more than 2^31 elements in one batch")]
    ListTooLong,
    /// The encoding thread panicked.
    #[error("the parquet encoding thread panicked")]
    Thread,
    /// The file was used after an earlier error closed it.
    #[error("file already closed after an error")]
    Closed,
    /// Building Arrow arrays failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Encoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Writing the file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            Error::Decode { .. } | Error::Truncated { .. } => {
                std::io::Error::new(std::io::ErrorKind::InvalidData, e)
            }
            Error::Level(_) => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            other => std::io::Error::other(other),
        }
    }
}
