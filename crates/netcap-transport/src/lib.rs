//! Netcap's transport between sensors and collectors, on NATS JetStream.
//!
//! ```text
//! netcap agent ──publish, acked──▶ JetStream stream NETCAP ──pull, durable──▶ netcap collect
//!  pipeline → Agent               subjects netcap.<sensor>.<Type>            DIR/<sensor>/<Type>.ncap.gz
//!  (spool while NATS is away)     file storage, de-duplication by ID
//! ```
//!
//! * [`wire`]: subject, headers and payload of a batch (see `docs/sensors.md`).
//! * [`Agent`]: batches records per type, publishes them, counts a batch as
//!   sent only once JetStream acknowledged it, spools the rest ([`spool`]).
//! * [`collect()`]: the durable consumer writing record files, acknowledging
//!   a batch only once it is on disk.
//!
//! The tokio runtime of the NATS client lives inside this crate, on threads
//! of its own: callers are synchronous.
#![forbid(unsafe_code)]

mod agent;
mod collect;
mod nats;
pub mod spool;
pub mod wire;

use std::path::PathBuf;

pub use agent::{Agent, AgentConfig, AgentStats};
pub use collect::{
    collect, collected_file, CollectConfig, CollectStats, Rotate, COLLECTOR_INBOX, STATE_FILE,
};
pub use nats::{sensor_inbox, NatsOptions, StreamSettings};

/// Why sending or collecting failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// NATS could not be reached or refused a request.
    #[error("NATS: {0}")]
    Nats(String),
    /// The server refused what the client did (a permission violation).
    #[error("NATS refused: {0}")]
    Refused(String),
    /// JetStream answered with an error that retrying does not mend (the
    /// stream or the consumer deleted, a consumer configuration that
    /// conflicts, storage the server cannot reserve).
    #[error("JetStream: {0}")]
    JetStream(String),
    /// A setting or a credentials file is wrong.
    #[error("{0}")]
    Config(String),
    /// The spool folder could not be used.
    #[error("spool: {0}")]
    Spool(String),
    /// A collected file or state file could not be written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A message or a name is not valid.
    #[error(transparent)]
    Wire(#[from] wire::WireError),
    /// The publisher has stopped (its error is returned by `Agent::finish`).
    #[error("the publisher has stopped")]
    Closed,
}
