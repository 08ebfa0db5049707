//! Replays the wire parsers' fuzz harnesses (`fuzz/src/wire.rs`, compiled in here) on their
//! seeds and on every reproducer kept in `fuzz/repro/wire_<protocol>/`, so that what the
//! fuzzers found stays fixed and their paths stay exercised on stable Rust.

#[path = "../../fuzz/src/wire.rs"]
mod wire;

use std::path::PathBuf;
use wire::Parser;

/// The files in `fuzz/repro/<target>/`, with their names.
fn reproducers(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/repro")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable repro dir").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable reproducer");
            (p.display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn wire_parsers_hold_on_their_seeds() {
    for p in Parser::ALL {
        let seeds = p.seeds();
        assert!(!seeds.is_empty(), "{} has seeds", p.target());
        for seed in seeds {
            p.run(&seed);
        }
    }
}

#[test]
fn wire_parsers_hold_on_every_prefix_of_their_seeds() {
    // Truncation is the commonest malformation: every cut of a valid message is handled.
    for p in Parser::ALL {
        for seed in p.seeds() {
            for len in 0..seed.len() {
                p.run(&seed[..len]);
            }
        }
    }
}

#[test]
fn wire_parsers_hold_on_their_reproducers() {
    for p in Parser::ALL {
        for (name, bytes) in reproducers(p.target()) {
            eprintln!("replaying {name}");
            p.run(&bytes);
        }
    }
}
