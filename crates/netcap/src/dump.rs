//! `netcap dump` and `netcap types`.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use netcap_format::render::{
    CsvRenderer, JsonRenderer, RenderOptions, Renderer, Selection, StructRenderer, TableRenderer,
};
use netcap_format::FileReader;
use netcap_schema::{message_descriptor, time, ALL_TYPES};
use prost_reflect::Kind;

use crate::cli::DumpArgs;

pub fn run(args: &DumpArgs) -> Result<ExitCode> {
    let mut reader = FileReader::open(&args.input)?;
    let opts = RenderOptions { utc: args.utc };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());

    if args.header {
        let h = reader.header();
        let created = if args.utc {
            time::format_rfc3339(h.created)
        } else {
            time::format_epoch_micros(h.created)
        };
        writeln!(
            out,
            "Type:             {}",
            reader.record_type().record_name()
        )?;
        writeln!(out, "Version:          {}", h.version)?;
        writeln!(out, "InputSource:      {}", h.input_source)?;
        writeln!(out, "Created:          {created}")?;
        writeln!(out, "ContainsPayloads: {}", h.contains_payloads)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let desc = reader.descriptor()?;
    if args.fields {
        for f in desc.fields() {
            writeln!(out, "{}\t{}", f.name(), kind_name(&f))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    let selection = if args.select.is_empty() {
        Selection::all(&desc)
    } else {
        Selection::named(&desc, &args.select)?
    };
    let mut renderer: Box<dyn Renderer> = if args.json {
        Box::new(JsonRenderer::new(out, selection, opts))
    } else if args.r#struct {
        Box::new(StructRenderer::new(out, selection, opts))
    } else if args.table {
        Box::new(TableRenderer::new(out, selection, opts))
    } else {
        let sep = if args.tsv {
            b'\t'
        } else {
            separator(&args.sep)?
        };
        Box::new(CsvRenderer::new(out, sep, selection, opts))
    };

    renderer.begin()?;
    let result = loop {
        match reader.next_dynamic(&desc) {
            Ok(Some(msg)) => renderer.record(&msg)?,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // Whatever was read before any damage is printed before the error.
    renderer.end()?;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn separator(sep: &str) -> Result<u8> {
    let sep = match sep {
        "\\t" | "tab" => "\t",
        s => s,
    };
    match sep.as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && *b != b'\n' => Ok(*b),
        _ => bail!("--sep must be one ASCII character other than a quote or newline, got {sep:?}"),
    }
}

fn kind_name(f: &prost_reflect::FieldDescriptor) -> String {
    let base = match f.kind() {
        Kind::Message(m) => m.name().to_string(),
        Kind::Enum(e) => e.name().to_string(),
        k => format!("{k:?}").to_lowercase(),
    };
    let base = if netcap_schema::is_timestamp_field(f.name()) {
        "timestamp (int64 ns)".to_string()
    } else {
        base
    };
    if f.is_list() {
        format!("repeated {base}")
    } else {
        base
    }
}

pub fn list_types() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    let width = ALL_TYPES
        .iter()
        .map(|t| t.record_name().len())
        .max()
        .unwrap_or(4);
    writeln!(out, "{:<width$}  {:>6}  DESCRIPTION", "TYPE", "FIELDS")?;
    for &t in ALL_TYPES {
        let desc = message_descriptor(t).context("schema lacks a record type")?;
        writeln!(
            out,
            "{:<width$}  {:>6}  {}",
            t.record_name(),
            desc.fields().count(),
            t.description()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
