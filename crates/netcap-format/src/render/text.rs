//! Readable multi-line output, one block per record.

use std::io::{self, Write};

use prost_reflect::{DynamicMessage, ReflectMessage, Value};

use super::value::cell_text;
use super::{RenderOptions, Renderer, Selection};

/// Each record as an indented block of `Name: value` lines; nested messages
/// and repeated fields are expanded on their own lines.
pub struct StructRenderer<W: Write> {
    out: W,
    selection: Selection,
    opts: RenderOptions,
}

impl<W: Write> StructRenderer<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W, selection: Selection, opts: RenderOptions) -> Self {
        StructRenderer {
            out,
            selection,
            opts,
        }
    }
}

fn write_fields(
    out: &mut String,
    msg: &DynamicMessage,
    fields: &[prost_reflect::FieldDescriptor],
    indent: usize,
    opts: &RenderOptions,
) {
    let pad = "  ".repeat(indent);
    for f in fields {
        let value = msg.get_field(f);
        match value.as_ref() {
            Value::List(items)
                if !items.is_empty() && matches!(items.first(), Some(Value::Message(_))) =>
            {
                out.push_str(&format!("{pad}{}:\n", f.name()));
                for item in items {
                    if let Value::Message(m) = item {
                        out.push_str(&format!("{pad}  -\n"));
                        let sub: Vec<_> = m.descriptor().fields().collect();
                        write_fields(out, m, &sub, indent + 2, opts);
                    }
                }
            }
            Value::Message(m) if msg.has_field(f) => {
                out.push_str(&format!("{pad}{}:\n", f.name()));
                let sub: Vec<_> = m.descriptor().fields().collect();
                write_fields(out, m, &sub, indent + 1, opts);
            }
            _ => out.push_str(&format!("{pad}{}: {}\n", f.name(), cell_text(msg, f, opts))),
        }
    }
}

impl<W: Write> Renderer for StructRenderer<W> {
    fn begin(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn record(&mut self, msg: &DynamicMessage) -> io::Result<()> {
        let mut s = format!("{} {{\n", msg.descriptor().name());
        write_fields(&mut s, msg, self.selection.fields(), 1, &self.opts);
        s.push_str("}\n");
        self.out.write_all(s.as_bytes())
    }

    fn end(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
