//! `netcap`: the command-line front end. All the work happens in the library
//! crates; this file parses arguments and reports results and errors.
#![forbid(unsafe_code)]

mod capture;
mod cli;
mod convert;
mod dump;
mod label;
#[cfg(feature = "nats")]
mod sensor;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let cli::Command::Capture(args) = &cli.command {
        check_capture_args(args);
    }
    let result = match cli.command {
        cli::Command::Capture(args) => capture::run(&args),
        cli::Command::Dump(args) => dump::run(&args),
        cli::Command::Convert(args) => convert::run(&args),
        cli::Command::Label(args) => label::run(&args),
        cli::Command::Types => dump::list_types(),
        cli::Command::Interfaces => capture::list_interfaces(),
        #[cfg(feature = "nats")]
        cli::Command::Agent(args) => sensor::agent(&args),
        #[cfg(feature = "nats")]
        cli::Command::Collect(args) => sensor::collect(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("netcap: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Checks what clap cannot check alone: the level's range depends on the
/// codec (or format), and --compression applies to record files only. These
/// are usage errors (exit status 2), as clap's own are.
fn check_capture_args(args: &cli::CaptureArgs) {
    use netcap_format::OutputFormat;
    let format = args.output_format();
    let problem = match format {
        OutputFormat::Ncap => args
            .codec()
            .check_level(args.compression_level)
            .err()
            .map(|e| level_message(args.compression_level, &e)),
        _ if args.no_compress || args.compression != cli::Compression::Gzip => Some(
            "--compression and --no-compress apply to record files (--format ncap) only"
                .to_string(),
        ),
        OutputFormat::Parquet => match args.compression_level {
            Some(l) if !(1..=22).contains(&l) => Some(level_message(
                Some(l),
                &"parquet's zstd level must be 1 to 22",
            )),
            _ => None,
        },
        _ if args.compression_level.is_some() => {
            Some("--compression-level applies to record files and Parquet only".to_string())
        }
        _ => None,
    };
    if let Some(msg) = problem {
        let mut cmd = cli::Cli::command();
        cmd.build();
        match cmd.find_subcommand_mut("capture") {
            Some(capture) => capture.error(clap::error::ErrorKind::ValueValidation, msg),
            None => cmd.error(clap::error::ErrorKind::ValueValidation, msg),
        }
        .exit();
    }
}

fn level_message(level: Option<i32>, e: &dyn std::fmt::Display) -> String {
    format!(
        "invalid value '{}' for '--compression-level <LEVEL>': {e}",
        level.unwrap_or_default()
    )
}

/// `netcap dump ... | head` closes the pipe early: that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
