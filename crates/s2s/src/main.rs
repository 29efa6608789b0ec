//! `s2s`: the one binary of the project.
//!
//! It holds no logic of its own: it parses the command line (every flag also reads an
//! `S2S_…` environment variable), reads secrets from files, sets up logging and metrics,
//! binds sockets, wires the library crates together and owns the exit code.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error (bad flags or arguments,
//! reported by clap).

// A command-line tool: printing results to stdout and errors to stderr is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod cli;
mod inspect;
mod keys;
mod limits;
mod lock;
mod malloc;
mod output_files;
mod provision;
mod provision_at_start;
mod runtime;
mod sdk;
mod secret_source;
mod secrets;
mod serve;
mod shutdown;
mod stack;
mod telemetry;
mod terminal;
mod token;
mod traces;
mod up;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let server = matches!(cli.command, Command::Up(_) | Command::Serve(_));
    if server {
        // Long-running servers: one malloc arena (see malloc.rs). May re-execute the
        // process; returns if it does not.
        malloc::limit_arenas();
    }
    let default_level = match cli.command {
        Command::Up(_) | Command::Serve(_) => "info",
        Command::Provision(_)
        | Command::Token(_)
        | Command::Inspect(_)
        | Command::Keys(_)
        | Command::Secrets(_)
        | Command::Audit(_) => "warn",
    };
    // Before the runtime, and dropped after it (the end of `main`): the exporter's HTTP
    // client blocks on a thread of its own.
    let traces = match cli.command.traces() {
        Some((args, service)) => match traces::Traces::start(args, service) {
            Ok(traces) => traces,
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    if let Err(err) = telemetry::init(cli.log_format, default_level, traces.as_ref()) {
        eprintln!("error: {err:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match runtime::build(server) {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command));
    // The servers' tasks end with the runtime, before the last spans are flushed.
    drop(runtime);
    drop(traces);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line: what failed and why.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Up(args) => up::run(args).await,
        Command::Serve(role) => serve::run(role).await,
        Command::Provision(args) => provision::run(args).await,
        Command::Token(args) => token::run(args).await,
        Command::Inspect(args) => inspect::run(args).await,
        Command::Keys(command) => keys::run(command).await,
        Command::Secrets(command) => secrets::run(&command).await,
        Command::Audit(args) => audit::run(args).await,
    }
}
