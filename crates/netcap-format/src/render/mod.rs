//! Renderers that turn records into text, generically through the schema.
//!
//! Every renderer works on [`prost_reflect::DynamicMessage`] and a [`Selection`]
//! of top-level fields, so a new record type needs no code here.

mod csv;
mod json;
mod table;
mod text;
mod value;

pub use self::csv::CsvRenderer;
pub use self::json::JsonRenderer;
pub use self::table::TableRenderer;
pub use self::text::StructRenderer;
pub use self::value::{cell_text, json_value};

use std::io;

use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor};

/// Options shared by every renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// Show timestamps as RFC 3339 in UTC instead of `seconds.microseconds`.
    pub utc: bool,
}

/// The top-level fields to render, in order.
#[derive(Debug, Clone)]
pub struct Selection {
    fields: Vec<FieldDescriptor>,
}

/// A `--select` name that the record type does not have.
#[derive(Debug, thiserror::Error)]
#[error("{record} has no field {name:?}; valid fields: {}", valid.join(", "))]
pub struct UnknownField {
    /// The record type.
    pub record: String,
    /// The name asked for.
    pub name: String,
    /// Every valid field name.
    pub valid: Vec<String>,
}

impl Selection {
    /// Every field, in schema order.
    pub fn all(desc: &MessageDescriptor) -> Self {
        Selection {
            fields: desc.fields().collect(),
        }
    }

    /// The named fields in the given order.
    pub fn named<S: AsRef<str>>(
        desc: &MessageDescriptor,
        names: &[S],
    ) -> Result<Self, UnknownField> {
        let fields = names
            .iter()
            .map(|n| {
                let n = n.as_ref().trim();
                desc.get_field_by_name(n).ok_or_else(|| UnknownField {
                    record: desc.name().to_string(),
                    name: n.to_string(),
                    valid: desc.fields().map(|f| f.name().to_string()).collect(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Selection { fields })
    }

    /// The selected fields.
    pub fn fields(&self) -> &[FieldDescriptor] {
        &self.fields
    }

    /// The selected field names.
    pub fn names(&self) -> Vec<&str> {
        self.fields.iter().map(|f| f.name()).collect()
    }
}

/// A renderer of a stream of records of one type.
pub trait Renderer {
    /// Writes whatever precedes the first record (a header line).
    fn begin(&mut self) -> io::Result<()>;
    /// Writes one record.
    fn record(&mut self, msg: &DynamicMessage) -> io::Result<()>;
    /// Writes whatever follows the last record and flushes.
    fn end(&mut self) -> io::Result<()>;
}
