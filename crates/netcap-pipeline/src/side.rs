//! Side outputs: what could not be fully decoded is kept for later analysis.
//!
//! * `unknown.pcap`: packets with a layer Netcap does not decode (partly decoded
//!   or not at all).
//! * `errors.pcap`: packets whose decoding failed.
//! * `errors.log`: one entry per failed packet (number, time, error, hex dump)
//!   and a summary of counts by error at the end.
//!
//! Files are created on first use, and written in packet order like the records.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use netcap_format::pcap_out::{hex_dump, PcapSideWriter};
use netcap_schema::time::format_epoch_micros;

use crate::batch::{SideClass, WorkerOutput};
use crate::PipelineError;

/// Failed packets described in full in errors.log; past this, errors are only
/// counted (the summary at the end still has every count, and errors.pcap every
/// packet), so a flood of bad packets cannot make the log dominate the run.
const MAX_LOGGED_ERRORS: u64 = 10_000;

pub(crate) struct SideOutputs {
    dir: PathBuf,
    unknown: PcapSideWriter,
    errors: PcapSideWriter,
    log: Option<BufWriter<File>>,
    error_counts: BTreeMap<String, u64>,
    logged: u64,
    /// Files already returned by [`SideOutputs::new_paths`].
    announced: Vec<PathBuf>,
}

impl SideOutputs {
    pub fn new(dir: &Path) -> Self {
        SideOutputs {
            dir: dir.to_path_buf(),
            unknown: PcapSideWriter::new(dir, "unknown"),
            errors: PcapSideWriter::new(dir, "errors"),
            log: None,
            error_counts: BTreeMap::new(),
            logged: 0,
            announced: Vec::new(),
        }
    }

    fn err(&self, name: &str, source: std::io::Error) -> PipelineError {
        PipelineError::Write {
            path: self.dir.join(name),
            source,
        }
    }

    /// Writes the side packets of one batch, merged from all workers in packet order.
    pub fn write_batch(&mut self, outputs: &[WorkerOutput]) -> Result<(), PipelineError> {
        let mut side: Vec<_> = outputs.iter().flat_map(|o| o.side.iter()).collect();
        if side.is_empty() {
            return Ok(());
        }
        side.sort_by_key(|p| p.number);
        for p in side {
            match p.class {
                SideClass::Partial | SideClass::Unknown => self
                    .unknown
                    .write(p.ts_ns, p.link_type, p.orig_len, &p.data)
                    .map_err(|e| self.err("unknown.pcap", e))?,
                SideClass::Error => {
                    self.errors
                        .write(p.ts_ns, p.link_type, p.orig_len, &p.data)
                        .map_err(|e| self.err("errors.pcap", e))?;
                    let kind = p.detail.split(" (").next().unwrap_or_default().to_string();
                    *self.error_counts.entry(kind).or_default() += 1;
                    self.logged += 1;
                    if self.logged > MAX_LOGGED_ERRORS {
                        continue;
                    }
                    let entry = format!(
                        "packet {} at {} (link type {}, {} of {} bytes captured): {}\n{}\n",
                        p.number,
                        format_epoch_micros(p.ts_ns),
                        p.link_type,
                        p.data.len(),
                        p.orig_len,
                        p.detail,
                        hex_dump(&p.data)
                    );
                    self.log_write(entry.as_bytes())?;
                }
            }
        }
        Ok(())
    }

    /// The files created since the last call (for the live statistics).
    pub fn new_paths(&mut self) -> Vec<PathBuf> {
        let log = self.log.as_ref().map(|_| self.dir.join("errors.log"));
        let count =
            usize::from(log.is_some()) + self.unknown.paths().count() + self.errors.paths().count();
        if count == self.announced.len() {
            return Vec::new();
        }
        let all: Vec<PathBuf> = log
            .into_iter()
            .chain(self.unknown.paths().map(Path::to_path_buf))
            .chain(self.errors.paths().map(Path::to_path_buf))
            .collect();
        let new: Vec<PathBuf> = all
            .into_iter()
            .filter(|p| !self.announced.contains(p))
            .collect();
        self.announced.extend(new.iter().cloned());
        new
    }

    fn log_write(&mut self, bytes: &[u8]) -> Result<(), PipelineError> {
        if self.log.is_none() {
            let f =
                File::create(self.dir.join("errors.log")).map_err(|e| self.err("errors.log", e))?;
            self.log = Some(BufWriter::new(f));
        }
        let result = match self.log.as_mut() {
            Some(log) => log.write_all(bytes),
            None => Ok(()),
        };
        result.map_err(|e| self.err("errors.log", e))
    }

    /// Writes the error summary and closes every file; returns the paths written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, PipelineError> {
        let mut paths = Vec::new();
        if !self.error_counts.is_empty() {
            let total: u64 = self.error_counts.values().sum();
            let mut summary = String::new();
            if total > MAX_LOGGED_ERRORS {
                summary.push_str(&format!(
                    "({} more errors not shown; every one is in errors.pcap)\n\n",
                    total - MAX_LOGGED_ERRORS
                ));
            }
            summary.push_str(&format!("summary: {total} packets with decoding errors\n"));
            for (k, v) in &self.error_counts {
                summary.push_str(&format!("  {k}: {v}\n"));
            }
            self.log_write(summary.as_bytes())?;
        }
        if let Some(mut log) = self.log.take() {
            log.flush().map_err(|e| self.err("errors.log", e))?;
            paths.push(self.dir.join("errors.log"));
        }
        let dir = self.dir.clone();
        let err = |name: &str, source| PipelineError::Write {
            path: dir.join(name),
            source,
        };
        paths.extend(self.unknown.finish().map_err(|e| err("unknown.pcap", e))?);
        paths.extend(self.errors.finish().map_err(|e| err("errors.pcap", e))?);
        Ok(paths)
    }
}
