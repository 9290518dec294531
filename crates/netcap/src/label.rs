//! `netcap label`: records labelled from Suricata alerts or ground truth.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use netcap_format::WriterOptions;
use netcap_label::{read_alerts, read_ground_truth, time::parse_offset, Inputs, Options};

use crate::cli::LabelArgs;

/// At most this many unmatched line numbers are listed in the summary.
const LIST_UNMATCHED: usize = 20;

pub fn run(args: &LabelArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let format = args.format.output();
    anyhow::ensure!(
        format.available(),
        "this netcap was built without Parquet support: build it with the `parquet` cargo feature (on by default)"
    );
    anyhow::ensure!(
        format == netcap_format::OutputFormat::Ncap
            || args.compression == crate::cli::Compression::Gzip,
        "--compression applies to record files (--format ncap) only"
    );
    anyhow::ensure!(
        args.tolerance.is_finite() && args.tolerance >= 0.0,
        "--tolerance must be a number of seconds, 0 or more"
    );
    let offset = parse_offset(&args.tz_offset).with_context(|| {
        format!(
            "--tz-offset {:?}: expected +HH:MM, -HHMM, +H or UTC",
            args.tz_offset
        )
    })?;
    let inputs = Inputs::find(&args.input)?;
    if let (Some(dir), Ok(out)) = (
        inputs.to_label.first().and_then(|f| f.parent()),
        args.out.canonicalize(),
    ) {
        if dir.canonicalize().is_ok_and(|d| d == out) {
            bail!("--out must not be the folder of the input records (they would be overwritten)");
        }
    }

    // Ground-truth rows first: their indices are 0..rows in the summary.
    let mut attacks = Vec::new();
    if let Some(p) = &args.ground_truth {
        attacks = read_ground_truth(p, offset)?;
    }
    let rows = attacks.len();
    let mut other_events = 0;
    if let Some(p) = &args.alerts {
        let a = read_alerts(p, offset)?;
        other_events = a.other_events;
        attacks.extend(a.attacks);
    }

    let opts = Options {
        tolerance_ns: (args.tolerance * 1e9).round() as i64,
        attack_label: args.attack_label.clone(),
        normal_label: args.normal_label.clone(),
        format,
        writer: WriterOptions {
            codec: args.compression.codec(),
            ..WriterOptions::default()
        },
        workers: args
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let summary = netcap_label::label(&inputs, &attacks, &args.out, &opts)?;
    if summary.no_packet_keys {
        eprintln!(
            "netcap: warning: no IPv4 or IPv6 record file: packets cannot be related to their \
             connections, so per-packet records are all labelled {}",
            opts.normal_label
        );
    }
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }

    let mut err = std::io::stderr().lock();
    let mut source = |name: &str, what: &str, range: std::ops::Range<usize>, extra: &str| {
        let n = range.len();
        let matched = summary.matched.get(range.clone()).unwrap_or_default();
        let conflicting = summary.conflicting.get(range.clone()).unwrap_or_default();
        let unmatched: Vec<String> = attacks
            .get(range.clone())
            .unwrap_or_default()
            .iter()
            .zip(matched)
            .filter(|(_, m)| !**m)
            .map(|(a, _)| a.line.to_string())
            .collect();
        let mut line = format!(
            "{name}: {n} {what}{extra}: {} matched, {} conflicting, {} unmatched",
            matched.iter().filter(|m| **m).count(),
            conflicting.iter().filter(|c| **c).count(),
            unmatched.len(),
        );
        if !unmatched.is_empty() {
            let more = if unmatched.len() > LIST_UNMATCHED {
                ", ..."
            } else {
                ""
            };
            let shown = unmatched.get(..LIST_UNMATCHED).unwrap_or(&unmatched);
            line.push_str(&format!(" (lines {}{more})", shown.join(", ")));
        }
        writeln!(err, "{line}")
    };
    if let Some(p) = &args.ground_truth {
        source(&p.display().to_string(), "rows", 0..rows, "")?;
    }
    if let Some(p) = &args.alerts {
        let extra = format!(" ({other_events} other events skipped)");
        source(
            &p.display().to_string(),
            "alerts",
            rows..attacks.len(),
            &extra,
        )?;
    }
    writeln!(
        err,
        "connections: {} read, {} labelled ({} by conflicting attacks); packets labelled: {}",
        summary.connections,
        summary.connections_labelled,
        summary.connections_conflicting,
        summary.packets_labelled
    )?;
    writeln!(err, "records labelled {}:", opts.attack_label)?;
    let width = summary
        .files
        .iter()
        .map(|f| f.record_type.record_name().len())
        .max()
        .unwrap_or(4);
    let mut total = (0, 0);
    for f in &summary.files {
        total.0 += f.labelled;
        total.1 += f.records;
        writeln!(
            err,
            "  {:<width$}  {:>10} of {:>10}  -> {}",
            f.record_type.record_name(),
            f.labelled,
            f.records,
            f.output.display()
        )?;
    }
    writeln!(
        err,
        "{} of {} records labelled {} in {} files, {:.2} s",
        total.0,
        total.1,
        opts.attack_label,
        summary.files.len(),
        started.elapsed().as_secs_f64()
    )?;
    Ok(ExitCode::SUCCESS)
}
