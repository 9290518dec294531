//! `netcap capture`: run the pipeline with progress and a summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use netcap_decode::defrag::DefragConfig;
use netcap_decode::DecodeOptions;
use netcap_format::OutputFormat;
use netcap_format::WriterOptions;
use netcap_metrics::{MetricsServer, RunInfo};
use netcap_pipeline::{
    run_capture_to, CaptureConfig, FileSink, FlowConfig, Input, LiveOptions, OutputSink,
    OverlapPolicy, Progress, StreamConfig, StreamOptions, Summary,
};
use netcap_schema::{Type, ALL_TYPES};

use crate::cli::{CaptureArgs, Overlap, PipelineArgs};

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

/// The record types to write from --include / --exclude (empty: all).
fn selected_types(include: &[String], exclude: &[String]) -> Result<Vec<Type>> {
    let parse = |names: &[String]| -> Result<Vec<Type>> {
        names
            .iter()
            .map(|n| {
                Type::from_record_name(n.trim()).with_context(|| {
                    let valid: Vec<&str> = ALL_TYPES.iter().map(|t| t.record_name()).collect();
                    format!(
                        "unknown record type {n:?}; valid types: {}",
                        valid.join(", ")
                    )
                })
            })
            .collect()
    };
    if !include.is_empty() {
        return parse(include);
    }
    let excluded = parse(exclude)?;
    if excluded.is_empty() {
        return Ok(Vec::new());
    }
    Ok(ALL_TYPES
        .iter()
        .copied()
        .filter(|t| !excluded.contains(t))
        .collect())
}

/// Connection tracking options (None with --no-flows).
fn flow_config(args: &PipelineArgs) -> Result<Option<FlowConfig>> {
    if args.no_flows {
        return Ok(None);
    }
    let ns = |name: &str, s: f64| -> Result<i64> {
        anyhow::ensure!(
            s.is_finite() && s > 0.0 && s < 1e9,
            "{name} must be a positive number of seconds"
        );
        Ok((s * 1e9) as i64)
    };
    let first_packets = args.first_packets.min(1000);
    Ok(Some(FlowConfig {
        idle_timeout_ns: ns("--flow-timeout", args.flow_timeout)?,
        active_timeout_ns: ns("--flow-active-timeout", args.flow_active_timeout)?,
        max_flows: args
            .max_flows
            .unwrap_or_else(|| FlowConfig::max_flows_for_memory(args.flow_memory, first_packets)),
        // --max-flows caps every table alike; the memory budget gives each
        // layer-flow table a quarter of the connections' cap.
        max_layer_flows: args.max_flows.unwrap_or_else(|| {
            FlowConfig::max_flows_for_memory(args.flow_memory, first_packets) / 4
        }),
        first_packets,
        ..FlowConfig::default()
    }))
}

/// TCP stream options (None with --no-streams).
fn stream_options(args: &PipelineArgs) -> Option<StreamOptions> {
    if args.no_streams || args.no_flows {
        return None;
    }
    Some(StreamOptions {
        cfg: StreamConfig {
            depth: args.stream_depth.saturating_mul(1 << 20),
            policy: match args.overlap_policy {
                Overlap::First => OverlapPolicy::First,
                Overlap::Last => OverlapPolicy::Last,
            },
            ..StreamConfig::default()
        },
        memory: args.stream_memory.saturating_mul(1 << 20),
    })
}

/// IP reassembly options (None with --no-defrag).
fn defrag_config(args: &PipelineArgs) -> Result<Option<DefragConfig>> {
    if args.no_defrag {
        return Ok(None);
    }
    let s = args.frag_timeout;
    anyhow::ensure!(
        s.is_finite() && s > 0.0 && s < 1e9,
        "--frag-timeout must be a positive number of seconds"
    );
    Ok(Some(DefragConfig {
        timeout_ns: (s * 1e9) as i64,
        max_bytes: args.frag_memory.saturating_mul(1 << 20),
        ..DefragConfig::default()
    }))
}

/// The pipeline settings shared by `capture` and `agent`; the output ones
/// are the caller's.
pub fn pipeline_config(args: &PipelineArgs) -> Result<CaptureConfig> {
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let input = match (&args.input, &args.interface) {
        (Some(path), _) => Input::File(path.clone()),
        (None, Some(iface)) => Input::Live(LiveOptions {
            interface: iface.clone(),
            snaplen: args.snaplen,
            promiscuous: !args.no_promisc,
            bpf: args.bpf.clone(),
        }),
        (None, None) => anyhow::bail!("give a capture file (-r) or an interface (-i)"),
    };
    let live = matches!(input, Input::Live(_));
    Ok(CaptureConfig {
        bpf: if live { None } else { args.bpf.clone() },
        input,
        out_dir: ".".into(),
        workers,
        decode: DecodeOptions {
            entropy: args.entropy,
            ..DecodeOptions::default()
        },
        writer: WriterOptions::default(),
        format: OutputFormat::Ncap,
        created_ns: created_ns()?,
        include: selected_types(&args.include, &args.exclude)?,
        side_outputs: false,
        flows: flow_config(args)?,
        defrag: defrag_config(args)?,
        streams: stream_options(args),
        files: args
            .files
            .as_ref()
            .map(|dir| netcap_pipeline::FilesOptions {
                dir: dir.clone(),
                max_file: args.files_max.saturating_mul(1 << 20),
                max_total: args.files_total.saturating_mul(1 << 20),
            }),
    })
}

pub fn run(args: &CaptureArgs) -> Result<ExitCode> {
    let format = args.output_format();
    anyhow::ensure!(
        format.available(),
        "this netcap was built without Parquet support: build it with the `parquet` cargo feature (on by default)"
    );
    let cfg = CaptureConfig {
        out_dir: args.out.clone(),
        writer: WriterOptions {
            codec: args.codec(),
            level: args.compression_level,
            ..WriterOptions::default()
        },
        format,
        side_outputs: !args.no_side_outputs,
        ..pipeline_config(&args.pipe)?
    };
    let summary = run_pipeline(&cfg, &args.pipe, args.quiet, &mut FileSink::new(&cfg))?;
    Ok(exit_status(&cfg, &summary))
}

/// Runs the pipeline into `sink` with a progress bar, Ctrl-C handling and,
/// with `--metrics`, the Prometheus endpoint; prints the summary.
pub fn run_pipeline(
    cfg: &CaptureConfig,
    pipe: &PipelineArgs,
    quiet: bool,
    sink: &mut dyn OutputSink,
) -> Result<Summary> {
    let progress = Progress::default();
    let stop = std::sync::Arc::clone(&progress.stop);
    // First Ctrl-C / SIGTERM: stop reading, write everything, print the summary.
    ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
        .context("cannot install the Ctrl-C handler")?;
    let show_progress = !quiet && std::io::stderr().is_terminal();
    anyhow::ensure!(
        pipe.metrics_linger.is_finite() && (0.0..1e6).contains(&pipe.metrics_linger),
        "--metrics-linger must be a number of seconds (0 or more)"
    );
    // Bound before the capture starts: a busy port is an error up front.
    let server = pipe.metrics.map(MetricsServer::bind).transpose()?;
    if let Some(srv) = &server {
        eprintln!("netcap: metrics at http://{}/metrics", srv.local_addr());
    }
    let info = RunInfo {
        version: env!("CARGO_PKG_VERSION"),
        start_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64(),
        workers: cfg.workers,
    };

    let done = std::sync::atomic::AtomicBool::new(false);
    let summary = std::thread::scope(|s| {
        let bar = show_progress.then(|| s.spawn(|| show(&progress, &done)));
        // The metrics server reads the pipeline's live statistics on each
        // scrape; the capture does not know it is there.
        let metrics = server.as_ref().map(|srv| {
            let stop = srv.stop_handle();
            let thread = std::thread::Builder::new()
                .name("metrics".into())
                .spawn_scoped(s, || {
                    srv.serve(|| netcap_metrics::render(&progress.live, &info))
                });
            (stop, thread)
        });
        let result = run_capture_to(cfg, &progress, sink);
        done.store(true, Ordering::Relaxed);
        if let Some(b) = bar {
            let _ = b.join();
        }
        if let Ok(summary) = &result {
            report(summary, cfg.workers, quiet);
        }
        if let Some((stop, thread)) = metrics {
            if result.is_ok() && pipe.metrics_linger > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(pipe.metrics_linger));
            }
            stop.stop();
            if let Ok(t) = thread {
                let _ = t.join();
            }
        }
        result
    })?;
    Ok(summary)
}

/// The warning about a cut input and the summary, on stderr.
fn report(summary: &Summary, workers: usize, quiet: bool) {
    if let Some(w) = &summary.input_warning {
        eprintln!("netcap: warning: {w}; the packets before were processed");
    }
    if !quiet {
        print_summary(summary, workers);
    }
}

/// The exit status of a finished capture: 130 when reading a file was
/// interrupted.
pub fn exit_status(cfg: &CaptureConfig, summary: &Summary) -> ExitCode {
    let live = matches!(cfg.input, Input::Live(_));
    if summary.interrupted && !live {
        eprintln!("netcap: interrupted: the files hold the packets read before the interruption");
        return ExitCode::from(130);
    }
    ExitCode::SUCCESS
}

/// Progress on stderr: percentage of the file, packets/s and time left.
fn show(progress: &Progress, done: &std::sync::atomic::AtomicBool) {
    let bar = ProgressBar::new(0);
    // Files: share of the file read and time left; live capture: no end to show.
    let template = if progress.total_bytes.load(Ordering::Relaxed) > 0 {
        "{spinner} [{elapsed_precise}] [{bar:30}] {percent:>3}% {msg} (ETA {eta})"
    } else {
        "{spinner} [{elapsed_precise}] {msg} (Ctrl-C to stop)"
    };
    let style = ProgressStyle::with_template(template)
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
    eprintln!(
        "{} packets in {secs:.2}s ({rate:.0} packets/s, {workers} worker{})",
        s.packets,
        if workers == 1 { "" } else { "s" }
    );
    eprintln!(
        "  bytes    {:>10}  captured bytes of the packets read",
        s.bytes
    );
    if s.filtered > 0 {
        eprintln!(
            "  filtered {:>10}  dropped by the BPF filter (not counted below)",
            s.filtered
        );
    }
    if let Some(d) = s.dropped {
        eprintln!("  dropped  {d:>10}  by the kernel or libpcap (not captured)");
    }
    eprintln!("  decoded  {:>10}  every layer decoded", s.decoded);
    let classes = [
        (
            "partial",
            "decoded up to a layer Netcap does not decode (unknown.pcap)",
            &s.partial,
        ),
        ("unknown", "nothing decoded (unknown.pcap)", &s.unknown),
        (
            "errors ",
            "decoding failed (errors.pcap, errors.log)",
            &s.errors,
        ),
    ];
    for (name, what, map) in classes {
        let n: u64 = map.values().sum();
        eprintln!("  {name}  {n:>10}  {what}");
        for (k, v) in map {
            eprintln!("    {k:<40} {v:>10}");
        }
    }
    if s.flows_evicted > 0 {
        eprintln!(
            "  evicted  {:>10}  connections written early: table full (--flow-memory, --max-flows)",
            s.flows_evicted
        );
    }
    if s.layer_flows_evicted > 0 {
        eprintln!(
            "  evicted  {:>10}  link/network/transport flows written early: more than --max-flows open",
            s.layer_flows_evicted
        );
    }
    let d = s.derived_dropped;
    if d.software > 0 || d.services > 0 || d.ftp_channels > 0 || d.ftp_files > 0 {
        eprintln!(
            "  dropped  {:>10}  software strings, {} servers, {} FTP data endpoints and {} names of FTP Files past the derived tables' bounds (docs/derived.md)",
            d.software, d.services, d.ftp_channels, d.ftp_files
        );
    }
    let f = &s.fragments;
    if f.fragments > 0 {
        eprintln!(
            "IP fragments {}: {} datagrams reassembled, {} dropped, {} incomplete at the end",
            f.fragments,
            f.reassembled,
            f.dropped(),
            f.incomplete
        );
        let reasons = [
            ("timeout", f.timeout, "incomplete after --frag-timeout"),
            (
                "overlap",
                f.overlap,
                "fragments overlapping with different bytes",
            ),
            (
                "memory",
                f.cap,
                "oldest dropped: over --frag-memory or 16384 pending",
            ),
            ("too big", f.too_big, "larger than 65,535 bytes"),
            (
                "malformed",
                f.malformed,
                "empty, misaligned or inconsistent fragments",
            ),
        ];
        for (name, n, what) in reasons {
            if n > 0 {
                eprintln!("    {name:<10} {n:>10}  {what}");
            }
        }
    }
    if let Some(t) = &s.streams {
        let b = &t.bytes;
        eprintln!(
            "TCP streams {}: {} bytes delivered, {} gaps ({} bytes missed), overlaps {} bytes same / {} different",
            t.streams, b.delivered, b.gaps, b.missed, b.overlap_same, b.overlap_diff
        );
        let protos: Vec<String> = t
            .protocols
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !protos.is_empty() {
            eprintln!("    protocols  {}", protos.join(", "));
        }
        // The sum of the workers' peaks: at least the peak of all together.
        eprintln!(
            "    buffered   {:>10}  bytes at most in out-of-order queues and retransmission checks (sum of the workers' peaks)",
            t.peak_memory
        );
        let caps = [
            (
                "dropped",
                b.dropped,
                "bytes of segments dropped: queue or --stream-memory full",
            ),
            (
                "depth",
                b.past_depth,
                "bytes past --stream-depth, counted only",
            ),
            (
                "cut",
                t.parser_dropped,
                "bytes of messages longer than the parser buffer",
            ),
            (
                "long lines",
                t.parser_cut,
                "lines longer than the line limit, cut (FTP, SMTP, POP3, IMAP)",
            ),
            (
                "expected",
                t.expected_dropped,
                "FTP data endpoints forgotten: too many announced at once on one worker",
            ),
        ];
        for (name, n, what) in caps {
            if n > 0 {
                eprintln!("    {name:<10} {n:>10}  {what}");
            }
        }
    }
    if let Some(x) = &s.extracted {
        eprintln!(
            "Files extracted: {} written ({} bytes), {} already there",
            x.written, x.bytes, x.duplicates
        );
        if x.over_total > 0 {
            eprintln!(
                "    {:>10}  files not written: --files-total reached (Location empty; which files depends on timing)",
                x.over_total
            );
        }
        if x.errors > 0 {
            eprintln!(
                "    {:>10}  files not written: {}",
                x.errors,
                x.first_error.as_deref().unwrap_or("write error")
            );
        }
    }
    eprintln!("records written:");
    let width = s.records.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in &s.records {
        eprintln!("  {k:<width$} {v:>12}");
    }
    let bytes: u64 = s
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    eprintln!("output: {bytes} bytes in {} files", s.files.len());
}

pub fn list_interfaces() -> Result<ExitCode> {
    let list = netcap_source::interfaces()?;
    if list.is_empty() {
        eprintln!("netcap: no interfaces found (capturing usually needs root or CAP_NET_RAW)");
    }
    for i in list {
        let mut flags = Vec::new();
        if i.up {
            flags.push("up");
        }
        if i.loopback {
            flags.push("loopback");
        }
        println!(
            "{:<16} {:<14} {} {}",
            i.name,
            flags.join(","),
            i.addresses.join(" "),
            i.description
        );
    }
    Ok(ExitCode::SUCCESS)
}
