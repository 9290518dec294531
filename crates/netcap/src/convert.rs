//! `netcap convert`: record files to Parquet (or CSV, JSON) files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use netcap_format::{FileReader, OutputFormat, RecordWriter, WriterOptions};
use netcap_schema::put_varint;

use crate::cli::ConvertArgs;

/// A converted file and its record count, or why it failed.
type Converted = Result<(PathBuf, u64)>;

/// Bytes of length-delimited records handed to a writer at a time.
const BATCH: usize = 1 << 20;

/// Whether a file name is that of a record file.
fn is_record_file(name: &str) -> bool {
    name.ends_with(".ncap") || name.ends_with(".ncap.gz") || name.ends_with(".ncap.zst")
}

/// The record files to convert: the file given, or every record file of the
/// folder given, sorted by name.
fn inputs(input: &Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(input).with_context(|| format!("{}", input.display()))? {
        let path = entry
            .with_context(|| format!("{}", input.display()))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() && is_record_file(name) {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!(
            "{}: no record files (.ncap, .ncap.gz, .ncap.zst) in this folder",
            input.display()
        );
    }
    Ok(files)
}

/// Converts one record file; returns the file written and its record count.
/// Records read before damage are written (and the file finished) before
/// the damage is reported.
fn convert_file(input: &Path, out: &Path, format: OutputFormat, opts: &WriterOptions) -> Converted {
    let mut reader = FileReader::open(input)?;
    let header = reader.header().clone();
    let mut writer = RecordWriter::create(out, &header, format, opts).with_context(|| {
        format!(
            "cannot create {}",
            out.join(RecordWriter::file_name(reader.record_type(), format, opts))
                .display()
        )
    })?;
    let mut buf = Vec::with_capacity(BATCH + 4096);
    let mut count = 0u64;
    let mut read_error = None;
    let mut write_error = None;
    loop {
        match reader.next_raw() {
            Ok(Some(rec)) => {
                put_varint(&mut buf, rec.len() as u64);
                buf.extend_from_slice(rec);
                count += 1;
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        if buf.len() >= BATCH {
            if let Err(e) = writer.write_encoded(&buf, count) {
                write_error = Some(e);
                break;
            }
            buf.clear();
            count = 0;
        }
    }
    if write_error.is_none() && count > 0 {
        write_error = writer.write_encoded(&buf, count).err();
    }
    let path = writer.path().to_path_buf();
    let records = writer.records();
    let finished = writer.finish();
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    finished.with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(e) = read_error {
        return Err(e).with_context(|| {
            format!(
                "{} holds the {} records read before the damage",
                path.display(),
                reader.records_read()
            )
        });
    }
    Ok((path, records))
}

pub fn run(args: &ConvertArgs) -> Result<ExitCode> {
    let format = args.format.output();
    anyhow::ensure!(
        format.available(),
        "this netcap was built without Parquet support: build it with the `parquet` cargo feature (on by default)"
    );
    if let Some(l) = args.compression_level {
        anyhow::ensure!(
            format == OutputFormat::Parquet,
            "--compression-level applies to Parquet only"
        );
        anyhow::ensure!(
            (1..=22).contains(&l),
            "parquet's zstd level must be 1 to 22, got {l}"
        );
    }
    let files = inputs(&args.input)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let opts = WriterOptions {
        level: args.compression_level,
        ..WriterOptions::default()
    };

    // Two inputs of one record type (TCP.ncap.gz and TCP.ncap.zst) would
    // write the same file: refuse before writing anything.
    let mut targets: BTreeMap<String, &Path> = BTreeMap::new();
    for f in &files {
        let reader = FileReader::open(f)?;
        let name = RecordWriter::file_name(reader.record_type(), format, &opts);
        if let Some(other) = targets.insert(name.clone(), f) {
            bail!(
                "{} and {} would both be written to {name}",
                other.display(),
                f.display()
            );
        }
    }

    // Files are independent: convert several at once.
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, files.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Converted>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(input) = files.get(i) else { break };
                let r = convert_file(input, &args.out, format, &opts);
                if let Ok(mut v) = results.lock() {
                    if let Some(slot) = v.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a conversion thread panicked"))?;

    let mut failed = 0;
    let mut total = 0u64;
    for (input, r) in files.iter().zip(results) {
        match r {
            Some(Ok((path, n))) => {
                total += n;
                if !args.quiet {
                    eprintln!("{} -> {}: {n} records", input.display(), path.display());
                }
            }
            Some(Err(e)) => {
                failed += 1;
                eprintln!("netcap: error: {e:#}");
            }
            None => {
                failed += 1;
                eprintln!("netcap: error: {}: not converted", input.display());
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files failed to convert", files.len());
    }
    if !args.quiet {
        eprintln!("{total} records in {} files converted", files.len());
    }
    Ok(ExitCode::SUCCESS)
}
