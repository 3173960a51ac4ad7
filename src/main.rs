//! The `bestofn` binary: parse, run the command, print its outcome, map errors to exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tracing_subscriber::prelude::*;

use bestofn::commands::execute;

/// Labeling allocates and frees many short strings per line; mimalloc halves that cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    bestofn::io::output::note_stdout_state();
    let (cli, resolved) = match bestofn::commands::parse_command_line(std::env::args_os().collect())
    {
        Ok(parsed) => parsed,
        Err(error) => {
            let code = error.exit_code();
            return fail(&anyhow::Error::new(error), code);
        }
    };
    init_logging(cli.verbose);
    bestofn::io::input::set_max_line_bytes(cli.max_line_bytes);
    match execute(cli.command, &resolved) {
        Ok(outcome) => {
            // stderr may be closed or full: a summary that cannot be shown is not a failure.
            if !outcome.summary.is_empty() {
                let _ = writeln!(std::io::stderr(), "{}", outcome.summary);
            }
            match outcome.stdout.map(|data| print_stdout(&data)) {
                Some(Err(error)) => fail(&anyhow::Error::new(error), 74),
                _ => ExitCode::SUCCESS,
            }
        }
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error.exit_code();
            fail(&anyhow::Error::new(error), code)
        }
    }
}

/// Data on stdout; a reader that went away (`| head`) is not an error, a closed stdout is.
fn print_stdout(data: &str) -> Result<(), bestofn::Error> {
    bestofn::io::output::ensure_stdout_open()?;
    let mut out = std::io::stdout().lock();
    match out.write_all(data.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| bestofn::Error::io(std::path::Path::new("-"), e)),
    }
}

fn is_broken_pipe(error: &bestofn::Error) -> bool {
    matches!(error, bestofn::Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Prints the error with its chain of causes and returns `code`.
fn fail(error: &anyhow::Error, code: i32) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {error:#}");
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The HTTP protocol crate's trace level dumps raw request bytes, API keys included: dropped
    // whatever RUST_LOG asks.
    let no_raw_http = tracing_subscriber::filter::filter_fn(|meta| {
        !(*meta.level() == tracing::Level::TRACE && meta.target().starts_with("ureq_proto"))
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_filter(no_raw_http),
        )
        .init();
}
