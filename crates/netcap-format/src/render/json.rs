//! JSON lines: one object per record.

use std::io::{self, Write};

use prost_reflect::DynamicMessage;

use super::value::json_value;
use super::{RenderOptions, Renderer, Selection};

/// One JSON object per line, keys in schema (or selection) order.
pub struct JsonRenderer<W: Write> {
    out: W,
    selection: Selection,
    opts: RenderOptions,
}

impl<W: Write> JsonRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W, selection: Selection, opts: RenderOptions) -> Self {
        JsonRenderer {
            out,
            selection,
            opts,
        }
    }
}

impl<W: Write> Renderer for JsonRenderer<W> {
    fn begin(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn record(&mut self, msg: &DynamicMessage) -> io::Result<()> {
        let obj: serde_json::Map<String, serde_json::Value> = self
            .selection
            .fields()
            .iter()
            .map(|f| (f.name().to_string(), json_value(msg, f, &self.opts)))
            .collect();
        serde_json::to_writer(&mut self.out, &obj)?;
        self.out.write_all(b"\n")
    }

    fn end(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
