//! CSV and other separated-value output.

use std::io::{self, Write};

use prost_reflect::DynamicMessage;

use super::value::cell_text;
use super::{RenderOptions, Renderer, Selection};

/// Separated values with a header line of field names. Values containing the
/// separator, a quote or a line break are quoted (RFC 4180).
pub struct CsvRenderer<W: Write> {
    out: csv::Writer<W>,
    selection: Selection,
    opts: RenderOptions,
    row: Vec<String>,
}

impl<W: Write> CsvRenderer<W> {
    /// A renderer writing to `out` with separator `sep`.
    pub fn new(out: W, sep: u8, selection: Selection, opts: RenderOptions) -> Self {
        let out = csv::WriterBuilder::new()
            .delimiter(sep)
            .has_headers(false)
            .from_writer(out);
        CsvRenderer {
            out,
            selection,
            opts,
            row: Vec::new(),
        }
    }
}

fn csv_err(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> Renderer for CsvRenderer<W> {
    fn begin(&mut self) -> io::Result<()> {
        self.out
            .write_record(self.selection.names())
            .map_err(csv_err)
    }

    fn record(&mut self, msg: &DynamicMessage) -> io::Result<()> {
        self.row.clear();
        for f in self.selection.fields() {
            self.row.push(cell_text(msg, f, &self.opts));
        }
        self.out.write_record(&self.row).map_err(csv_err)
    }

    fn end(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
