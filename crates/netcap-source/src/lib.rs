//! Packet sources for Netcap.
//!
//! [`CaptureReader`] reads pcap (microsecond and nanosecond, both byte orders)
//! and pcapng (several sections and interfaces, each with its own link type and
//! timestamp resolution), optionally gzip-compressed, and hands out packets
//! with their link type and a nanosecond timestamp. pcapng goes through
//! `pcap-parser`; legacy pcap, the common case and a simple format, is read
//! by module `legacy` straight into the buffer the packets are handed on in.
//! [`LiveCapture`] reads from an interface through libpcap, and [`BpfFilter`]
//! applies libpcap-compiled filters to packets read from files.
#![forbid(unsafe_code)]
// libpcap itself is reached through the `pcap` crate; no unsafe code here.

mod legacy;
mod live;
mod reader;

pub use live::{interfaces, BpfFilter, InterfaceInfo, LiveCapture, LiveOptions, Poll};
pub use reader::{CaptureReader, Format, PacketMeta};

use std::path::PathBuf;

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The input path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The input is empty.
    #[error("{path}: the file is empty")]
    Empty {
        /// The input path.
        path: PathBuf,
    },
    /// The input is neither pcap nor pcapng.
    #[error("{path}: not a pcap or pcapng capture (unrecognised file header)")]
    NotACapture {
        /// The input path.
        path: PathBuf,
    },
    /// A live capture could not be opened or read.
    #[error("capture on {interface} failed: {reason}")]
    Live {
        /// The interface.
        interface: String,
        /// libpcap's message.
        reason: String,
    },
    /// A BPF filter expression does not compile.
    #[error("invalid BPF filter {expr:?}: {reason}")]
    Bpf {
        /// The expression.
        expr: String,
        /// libpcap's message.
        reason: String,
    },
    /// The input ends in the middle of a packet or block.
    #[error("capture cut short: input ends in the middle of a record after packet {packets} (byte {offset})")]
    Truncated {
        /// Packets read before the damage.
        packets: u64,
        /// Byte offset in the (decompressed) input where the damage starts.
        offset: u64,
    },
    /// The input holds a record that cannot be parsed.
    #[error("corrupt capture after packet {packets} (byte {offset}): {reason}")]
    Corrupt {
        /// Packets read before the damage.
        packets: u64,
        /// Byte offset in the (decompressed) input where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl SourceError {
    /// Whether this error ends the input after some packets were delivered
    /// (a warning for the user) rather than preventing reading altogether.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            SourceError::Truncated { .. } | SourceError::Corrupt { .. }
        )
    }
}
