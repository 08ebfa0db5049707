//! `vrouterctl`: the neutron-style command line client of the vrouter control socket.
//! Each command is one request; the answer is printed as a table for people (`-c` picks
//! columns) or as JSON for scripts (`-f json`). On error it prints the daemon's message
//! and exits non-zero.

#[path = "ctl/capture.rs"]
mod capture;
#[path = "ctl/cmd.rs"]
mod cmd;
#[path = "ctl/conntrack.rs"]
mod conntrack;
#[path = "ctl/kv.rs"]
mod kv;
#[path = "ctl/print.rs"]
mod print;
#[path = "ctl/request.rs"]
mod request;
#[path = "ctl/trace.rs"]
mod trace;

use clap::{Parser, ValueEnum};
use control::client::Client;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command line of the client.
#[derive(Parser, Debug)]
#[command(
    name = "vrouterctl",
    version,
    about = "Drive a running vrouter: networks, subnets, ports, routers, floating IPs, \
             security groups, tunnel peers, and the views show, netns, dump-flows, stats"
)]
struct Cli {
    /// The daemon's control socket.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "/run/vrouter/vrouter.sock"
    )]
    socket: PathBuf,
    /// Output format: tables for people, JSON for scripts.
    #[arg(short = 'f', long, global = true, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Only these columns (lists) or fields (shows); repeatable.
    #[arg(
        short = 'c',
        long = "column",
        visible_alias = "field",
        global = true,
        value_name = "NAME"
    )]
    columns: Vec<String>,
    #[command(subcommand)]
    command: cmd::Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Boxed tables, as the neutron CLI prints them.
    Table,
    /// The daemon's answer, as JSON.
    Json,
}

fn main() -> ExitCode {
    if vrouter_appliance::docs::write_if_asked(<Cli as clap::CommandFactory>::command()) {
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    if let cmd::Command::Capture(args) = &cli.command {
        return capture::run(&cli.socket, args, &cli.columns);
    }
    let (op, how) = match cli.command.into_request() {
        Ok(request) => request,
        Err(e) => {
            eprintln!("vrouterctl: {e}");
            return ExitCode::from(2);
        }
    };
    let answer = Client::connect(&cli.socket).and_then(|mut c| c.call(op));
    match answer {
        Ok(value) => {
            let columns: Vec<&str> = cli.columns.iter().map(String::as_str).collect();
            match cli.format {
                Format::Json => println!("{value:#}"),
                Format::Table => print!("{}", print::render(&how, &value, &columns)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vrouterctl: {e}");
            ExitCode::FAILURE
        }
    }
}
