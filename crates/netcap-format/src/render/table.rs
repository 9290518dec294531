//! Aligned columns for reading in a terminal.

use std::io::{self, Write};

use prost_reflect::DynamicMessage;

use super::value::cell_text;
use super::{RenderOptions, Renderer, Selection};

/// Rows per block: column widths are computed per block so memory stays bounded.
const BLOCK: usize = 1000;

/// Space-aligned columns with a header line, repeated every block of rows.
pub struct TableRenderer<W: Write> {
    out: W,
    selection: Selection,
    opts: RenderOptions,
    rows: Vec<Vec<String>>,
}

impl<W: Write> TableRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W, selection: Selection, opts: RenderOptions) -> Self {
        TableRenderer {
            out,
            selection,
            opts,
            rows: Vec::new(),
        }
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self
            .selection
            .names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
        for row in &self.rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        write_row(&mut self.out, &names, &widths)?;
        for row in std::mem::take(&mut self.rows) {
            write_row(&mut self.out, &row, &widths)?;
        }
        Ok(())
    }
}

fn write_row(out: &mut impl Write, cells: &[String], widths: &[usize]) -> io::Result<()> {
    let mut line = String::new();
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(c);
        if i + 1 < cells.len() {
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(c.chars().count()),
            ));
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

impl<W: Write> Renderer for TableRenderer<W> {
    fn begin(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn record(&mut self, msg: &DynamicMessage) -> io::Result<()> {
        let row = self
            .selection
            .fields()
            .iter()
            .map(|f| cell_text(msg, f, &self.opts))
            .collect();
        self.rows.push(row);
        if self.rows.len() >= BLOCK {
            self.flush_block()?;
        }
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        self.flush_block()?;
        self.out.flush()
    }
}
