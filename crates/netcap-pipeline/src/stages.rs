//! What runs on the writer thread over every worker's output, in packet
//! order: the layer flows (LinkFlow, NetworkFlow, TransportFlow span shards)
//! and the derived records (Software, Service, FTPData and the Files of FTP
//! data connections span connections). Each stage
//! turns a merged batch into more records, as one more [`WorkerOutput`].

use std::sync::Arc;

use netcap_decode::RecordSink;
use netcap_derive::{Deriver, Dropped};
use netcap_flow::{LayerFlowTable, LayerObs};

use crate::batch::WorkerOutput;

/// The layer flows: one table over every worker's packets.
pub(crate) struct LayerFlows {
    pub table: LayerFlowTable,
    /// Record types to write (as the workers' outputs).
    pub enabled: Arc<Vec<bool>>,
    /// Reused buffer for a batch's observations.
    pub obs: Vec<LayerObs>,
    pub last_number: u64,
}

impl LayerFlows {
    /// Feeds a merged batch; returns the records of the flows that ended.
    fn batch(&mut self, outputs: &[WorkerOutput]) -> WorkerOutput {
        let mut rec = WorkerOutput::new(0, Arc::clone(&self.enabled));
        self.obs.clear();
        for o in outputs {
            self.obs.extend_from_slice(&o.layer);
        }
        // Each worker's run is in packet order: the stable sort merges runs.
        self.obs.sort_by_key(|o| o.number);
        for o in &self.obs {
            self.table.packet(o);
        }
        if let Some((max_ts, last)) = outputs.iter().find_map(|o| o.batch_end) {
            self.last_number = last;
            self.table.end_batch(max_ts, last, &mut rec);
        }
        rec
    }

    /// The flows still open at the end of the input.
    fn finish(&mut self) -> WorkerOutput {
        let mut rec = WorkerOutput::new(0, Arc::clone(&self.enabled));
        self.table.finish(self.last_number, &mut rec);
        rec
    }
}

/// The derived records, from the sightings the workers took.
pub(crate) struct Derived {
    pub deriver: Deriver,
    pub enabled: Arc<Vec<bool>>,
    /// Reused buffer for a batch's sightings.
    pub sightings: Vec<netcap_derive::Sighting>,
}

impl Derived {
    fn batch(&mut self, outputs: &mut [WorkerOutput]) -> WorkerOutput {
        let mut rec = WorkerOutput::new(0, Arc::clone(&self.enabled));
        self.sightings.clear();
        for o in outputs.iter_mut() {
            self.sightings.append(&mut o.sightings);
        }
        let derived = self.deriver.batch(&mut self.sightings);
        emit(&mut rec, derived);
        rec
    }

    fn finish(&mut self) -> WorkerOutput {
        let mut rec = WorkerOutput::new(0, Arc::clone(&self.enabled));
        emit(&mut rec, self.deriver.finish());
        rec
    }
}

/// Emits derived records, each keyed by its packet number.
fn emit(rec: &mut WorkerOutput, derived: netcap_derive::Derived) {
    for sw in &derived.software {
        rec.set_packet(sw.packet_number);
        rec.emit(sw);
    }
    for fd in &derived.ftp_data {
        rec.set_packet(fd.packet_number);
        rec.emit(fd);
    }
    for f in &derived.files {
        rec.set_packet(f.packet_number);
        rec.emit(f);
    }
    for sv in &derived.services {
        rec.set_packet(sv.packet_number);
        rec.emit(sv);
    }
}

/// The writer thread's stages.
#[derive(Default)]
pub(crate) struct WriterStages {
    pub layer: Option<LayerFlows>,
    pub derived: Option<Derived>,
}

impl WriterStages {
    /// The records the stages make of a merged batch.
    pub fn batch(&mut self, outputs: &mut [WorkerOutput]) -> Vec<WorkerOutput> {
        let mut out = Vec::new();
        if let Some(l) = self.layer.as_mut() {
            out.push(l.batch(outputs));
        }
        if let Some(d) = self.derived.as_mut() {
            out.push(d.batch(outputs));
        }
        out
    }

    /// The records the stages hold at the end of the input.
    pub fn finish(&mut self) -> Vec<WorkerOutput> {
        let mut out = Vec::new();
        if let Some(l) = self.layer.as_mut() {
            out.push(l.finish());
        }
        if let Some(d) = self.derived.as_mut() {
            out.push(d.finish());
        }
        out
    }

    /// Layer flows open and evicted so far (None: layer flows are off).
    pub fn layer_flows(&self) -> Option<([usize; 3], u64)> {
        self.layer
            .as_ref()
            .map(|l| (l.table.len(), l.table.counts().evicted))
    }

    /// Layer flows written early because their table was full.
    pub fn layer_evicted(&self) -> u64 {
        self.layer.as_ref().map_or(0, |l| l.table.counts().evicted)
    }

    /// What the derived tables dropped.
    pub fn derived_dropped(&self) -> Dropped {
        self.derived
            .as_ref()
            .map_or(Dropped::default(), |d| d.deriver.dropped())
    }
}
