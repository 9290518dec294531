//! `netcap capture`: run the pipeline with progress and a summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use netcap_decode::DecodeOptions;
use netcap_format::WriterOptions;
use netcap_pipeline::{run_capture, CaptureConfig, Progress, Summary};

use crate::cli::CaptureArgs;

/// Creation time for file headers: `SOURCE_DATE_EPOCH` (seconds) when set, so
/// that builds of the same input are reproducible; otherwise now.
fn created_ns() -> Result<i64> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?;
        return Ok(secs.saturating_mul(1_000_000_000));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(i64::try_from(now.as_nanos()).unwrap_or(i64::MAX))
}

pub fn run(args: &CaptureArgs) -> Result<ExitCode> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let cfg = CaptureConfig {
        input: args.input.clone(),
        out_dir: args.out.clone(),
        workers,
        decode: DecodeOptions {
            entropy: args.entropy,
        },
        writer: WriterOptions {
            compress: !args.no_compress,
            level: args.compression_level,
            ..WriterOptions::default()
        },
        created_ns: created_ns()?,
    };
    let progress = Progress::default();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();

    let done = std::sync::atomic::AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let bar = show_progress.then(|| s.spawn(|| show(&progress, &done)));
        let result = run_capture(&cfg, &progress);
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        result
    })?;

    if let Some(w) = &summary.input_warning {
        eprintln!("netcap: warning: {w}; the packets before were processed");
    }
    if !args.quiet {
        print_summary(&summary, workers);
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on stderr: percentage of the file, packets/s and time left.
fn show(progress: &Progress, done: &std::sync::atomic::AtomicBool) {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:30}] {percent:>3}% {msg} (ETA {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    let start = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        bar.set_length(progress.total_bytes.load(Ordering::Relaxed));
        bar.set_position(progress.bytes.load(Ordering::Relaxed));
        let packets = progress.packets.load(Ordering::Relaxed);
        let rate = packets as f64 / start.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{packets} packets, {rate:.0} pkt/s"));
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn print_summary(s: &Summary, workers: usize) {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        s.packets as f64 / secs
    } else {
        0.0
    };
    let unknown: u64 = s.unknown.values().sum();
    let errors: u64 = s.errors.values().sum();
    eprintln!(
        "{} packets in {secs:.2}s ({rate:.0} packets/s, {workers} worker{})",
        s.packets,
        if workers == 1 { "" } else { "s" }
    );
    eprintln!("  decoded  {:>10}", s.decoded);
    eprintln!("  unknown  {unknown:>10}");
    for (k, v) in &s.unknown {
        eprintln!("    {k:<40} {v:>10}");
    }
    eprintln!("  errors   {errors:>10}");
    for (k, v) in &s.errors {
        eprintln!("    {k:<40} {v:>10}");
    }
    eprintln!("records written:");
    for (k, v) in &s.records {
        eprintln!("  {k:<20} {v:>12}");
    }
}
