//! Writes the seeds of every fuzz target into `<dir>/<target>/seed-<n>`, the corpus folders
//! `make fuzz` starts from: `cargo run --no-default-features --example write_seeds -- DIR`.

use std::path::PathBuf;
use vrouter_fuzz::{control, pipeline, wire};

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let mut targets: Vec<(&str, Vec<Vec<u8>>)> = wire::Parser::ALL
        .iter()
        .map(|p| (p.target(), p.seeds()))
        .collect();
    targets.push(("pipeline", pipeline::seeds()));
    targets.push(("control_request", control::request_seeds()));
    targets.push(("config_load", control::config_seeds()));
    for (target, seeds) in targets {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i}")), seed)?;
        }
    }
    Ok(())
}
