//! Netcap's TCP stream layer.
//!
//! * [`reassembly`]: one direction of a TCP connection put back in order
//!   (RFC 1982 sequence arithmetic, out-of-order queue, overlaps, gaps, caps).
//! * [`parser`]: the contract every stream protocol implements: a parser gets
//!   a direction's contiguous bytes and gap notices, says how much it consumed
//!   or how much more it needs, and emits records.
//! * [`conn`]: the streams of one connection: reassembly of both directions,
//!   protocol detection by content (ports only as a hint), dispatch.
//! * One module per protocol: [`http`], [`tls`], [`dns`], and [`line`] for
//!   the line protocols (FTP, SMTP, POP3, IMAP) and their credentials, [`ssh`],
//!   [`telnet`], [`ftp_data`] (FTP data connections: files).
//! * What the streams carry: [`file`] (File records: hashes, extraction),
//!   [`magic`] (content type by magic numbers), [`mime`] (Mail records: a
//!   streaming MIME parser).
//!
//! No I/O and no output format: records go out as [`StreamRecord`]s with the
//! key that orders them (see [`parser::Cx`]).
#![forbid(unsafe_code)]

pub mod conn;
pub mod dns;
pub mod file;
pub mod ftp_data;
pub mod http;
pub mod line;
pub mod magic;
pub mod mime;
pub mod parser;
pub mod reassembly;
pub mod records;
pub mod ssh;
pub mod telnet;
pub mod tls;
mod wire;

#[cfg(test)]
mod testkit;

pub use conn::{ConnStreams, StreamConfig, StreamCounters, StreamTotals};
pub use parser::{ConnMeta, Cx, Dir, End, Origin, Parsed, StreamParser};
pub use records::{FileOut, StreamRecord};
