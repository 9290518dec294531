//! Batches of packets (reader → workers) and of encoded records (workers → writer).

use netcap_decode::{Outcome, RecordSink};
use netcap_schema::Record;
use std::collections::BTreeMap;

/// Packets read in sequence, stored back to back in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Position of the batch in the input.
    pub seq: u64,
    pub data: Vec<u8>,
    pub packets: Vec<PacketSlot>,
}

/// One packet of a batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketSlot {
    pub number: u64,
    pub ts_ns: i64,
    pub link_type: u32,
    pub orig_len: u32,
    pub start: usize,
    pub end: usize,
    /// Worker that owns the packet's flow.
    pub shard: u32,
}

/// Length-delimited records of one type with the packet each came from.
#[derive(Debug, Default)]
pub(crate) struct TypeStream {
    pub data: Vec<u8>,
    /// (packet number, end offset in `data`) per record.
    pub ends: Vec<(u64, usize)>,
}

/// Decode tallies, merged into the summary.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub decoded: u64,
    pub unknown: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Decoded => self.decoded += 1,
            Outcome::Unknown(u) => *self.unknown.entry(u.to_string()).or_default() += 1,
            Outcome::Error(e) => *self.errors.entry(e.to_string_kind()).or_default() += 1,
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.decoded += other.decoded;
        for (k, v) in &other.unknown {
            *self.unknown.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

trait KindText {
    fn to_string_kind(&self) -> String;
}

impl KindText for netcap_decode::DecodeError {
    /// The error without its byte counts, so that counts aggregate by kind.
    fn to_string_kind(&self) -> String {
        match self {
            netcap_decode::DecodeError::Truncated { layer, .. } => {
                format!("{layer}: truncated header")
            }
            netcap_decode::DecodeError::Invalid { layer, field } => {
                format!("{layer}: invalid {field}")
            }
        }
    }
}

/// What one worker produced for one batch.
#[derive(Debug, Default)]
pub(crate) struct WorkerOutput {
    pub seq: u64,
    /// Indexed by record type number.
    pub streams: Vec<TypeStream>,
    /// Type numbers with at least one record, in first-use order.
    pub touched: Vec<usize>,
    pub tally: Tally,
    current_packet: u64,
}

impl WorkerOutput {
    pub fn new(seq: u64) -> Self {
        WorkerOutput {
            seq,
            ..Default::default()
        }
    }

    pub fn set_packet(&mut self, number: u64) {
        self.current_packet = number;
    }
}

impl RecordSink for WorkerOutput {
    fn emit<R: Record>(&mut self, rec: &R) {
        let idx = R::TYPE as usize;
        if self.streams.len() <= idx {
            self.streams.resize_with(idx + 1, TypeStream::default);
        }
        let Some(stream) = self.streams.get_mut(idx) else {
            return;
        };
        if stream.ends.is_empty() {
            self.touched.push(idx);
        }
        // Encoding into a Vec cannot run out of space.
        let _ = rec.encode_length_delimited(&mut stream.data);
        stream.ends.push((self.current_packet, stream.data.len()));
    }
}
