//! CSV and JSON-lines record files written directly during a capture
//! (`TCP.csv`, `TCP.json`), with the same columns and values as `netcap dump`.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use netcap_schema::{message_descriptor, Type};
use prost_reflect::{DynamicMessage, MessageDescriptor};

use crate::render::{CsvRenderer, JsonRenderer, RenderOptions, Renderer, Selection};

/// A text output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    Json,
}

impl TextFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            TextFormat::Csv => "csv",
            TextFormat::Json => "json",
        }
    }
}

/// Renders length-delimited records of one type into a text file.
pub struct TextFileWriter {
    renderer: Box<dyn Renderer + Send>,
    desc: MessageDescriptor,
    path: PathBuf,
    records: u64,
}

impl std::fmt::Debug for TextFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextFileWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl TextFileWriter {
    /// Creates `dir/<type>.<ext>` and writes its header line (CSV).
    pub fn create(
        dir: &Path,
        ty: Type,
        format: TextFormat,
        opts: RenderOptions,
    ) -> io::Result<Self> {
        let desc = message_descriptor(ty)
            .ok_or_else(|| io::Error::other("record type without a message"))?;
        let path = dir.join(format!("{}.{}", ty.record_name(), format.extension()));
        let out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let selection = Selection::all(&desc);
        let mut renderer: Box<dyn Renderer + Send> = match format {
            TextFormat::Csv => Box::new(CsvRenderer::new(out, b',', selection, opts)),
            TextFormat::Json => Box::new(JsonRenderer::new(out, selection, opts)),
        };
        renderer.begin()?;
        Ok(TextFileWriter {
            renderer,
            desc,
            path,
            records: 0,
        })
    }

    /// Renders `count` length-delimited records from `bytes`.
    pub fn write_encoded(&mut self, mut bytes: &[u8], count: u64) -> io::Result<()> {
        let bad = |e: prost::DecodeError| io::Error::new(io::ErrorKind::InvalidData, e);
        for _ in 0..count {
            let len = prost::decode_length_delimiter(&mut bytes).map_err(bad)?;
            let (msg, rest) = bytes.split_at_checked(len).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "record shorter than its length")
            })?;
            let m = DynamicMessage::decode(self.desc.clone(), msg).map_err(bad)?;
            self.renderer.record(&m)?;
            bytes = rest;
        }
        self.records += count;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and closes the file.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        self.renderer.end()?;
        Ok(self.path)
    }
}
