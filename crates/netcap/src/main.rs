//! `netcap`: the command-line front end. All the work happens in the library
//! crates; this file parses arguments and reports results and errors.
#![forbid(unsafe_code)]

mod capture;
mod cli;
mod dump;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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

/// `netcap dump ... | head` closes the pipe early: that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
