//! `netcap`: the command-line front end. All the work happens in the library
//! crates; this file parses arguments and reports results and errors.
#![forbid(unsafe_code)]

mod capture;
mod cli;
mod dump;

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
        cli::Command::Types => dump::list_types(),
        cli::Command::Interfaces => capture::list_interfaces(),
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
/// codec. A bad level is a usage error (exit status 2), as clap's own are.
fn check_capture_args(args: &cli::CaptureArgs) {
    if let Err(e) = args.codec().check_level(args.compression_level) {
        let mut cmd = cli::Cli::command();
        cmd.build();
        let msg = format!(
            "invalid value '{}' for '--compression-level <LEVEL>': {e}",
            args.compression_level.unwrap_or_default()
        );
        match cmd.find_subcommand_mut("capture") {
            Some(capture) => capture.error(clap::error::ErrorKind::ValueValidation, msg),
            None => cmd.error(clap::error::ErrorKind::ValueValidation, msg),
        }
        .exit();
    }
}

/// `netcap dump ... | head` closes the pipe early: that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
