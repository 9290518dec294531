//! Netcap's capture pipeline.
//!
//! ```text
//! reader ──Arc<Batch>──▶ worker 0..N ──WorkerOutput──▶ merger/writer
//!  (sequential I/O,       (decode the packets        (reorders batches by
//!   flow-hash shard        of their shard,            sequence number, merges
//!   per packet, IP         encode records)            records in packet order,
//!   reassembly)                                       writes one file per type)
//! ```
//!
//! Every packet of a flow goes to the same worker (symmetric hash of its
//! addresses), so per-flow state can live in a worker without locks. Records
//! carry their packet number, and the merger writes them in packet order, so
//! the output is byte-identical whatever the number of workers. Channels are
//! bounded: memory does not grow with the size of the capture.
#![forbid(unsafe_code)]

mod batch;
mod files;
mod flows;
mod live;
mod merge;
mod run;
mod side;
mod stages;

pub use files::{FileStore, FilesOptions, FilesStats};
pub use live::{LiveSnapshot, LiveStats};
pub use netcap_decode::defrag::{DefragConfig, DefragStats};
pub use netcap_flow::FlowConfig;
pub use netcap_format::OutputFormat;
pub use netcap_source::LiveOptions;
pub use netcap_stream::{reassembly::OverlapPolicy, StreamConfig, StreamTotals};
pub use run::{
    run_capture, run_capture_to, CaptureConfig, FileSink, Input, OutputSink, PipelineError,
    Progress, StreamOptions, Summary,
};
