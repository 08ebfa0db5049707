//! The Debian package as `make deb` builds it (cargo-deb on the release binaries, with the
//! man pages and completions they write): its contents and control fields, then on this
//! machine `dpkg -i`, `systemd-analyze verify` of the unit, `man -w` of both pages, and
//! `dpkg -r` leaving no binary, unit or page behind.

use std::path::Path;
use std::process::Command;

/// Runs `argv` (with `env`), panicking with its output unless it succeeds; returns stdout.
fn run(argv: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes the package again, also when the test fails half way.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "vrouter"]).output();
    }
}

#[test]
fn deb_has_binaries_unit_conffile_pages_completions_and_installs_cleanly() {
    let cargo_deb = Command::new("cargo").args(["deb", "--version"]).output();
    assert!(
        cargo_deb.is_ok_and(|o| o.status.success()),
        "cargo-deb is missing: cargo install --locked cargo-deb (scripts/install-deps.sh)"
    );
    // What `make deb` does after building: docs from the binaries, then the package.
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/target/docs");
    let _ = std::fs::remove_dir_all(docs);
    for bin in [
        env!("CARGO_BIN_EXE_vrouter"),
        env!("CARGO_BIN_EXE_vrouterctl"),
    ] {
        run(&[bin], &[("VROUTER_WRITE_DOCS", docs)]);
    }
    run(&["sh", "-c", &format!("gzip -9n {docs}/*.8")], &[]);
    let out = std::env::temp_dir().join(format!("vrouter-deb-{}", std::process::id()));
    let out_s = out.to_string_lossy().into_owned();
    let built = run(
        &[
            "cargo",
            "deb",
            "--no-build",
            "--no-strip",
            "-p",
            "vrouter-appliance",
            "-o",
            &out_s,
        ],
        &[],
    );
    let deb = built
        .lines()
        .last()
        .expect("cargo deb names the package")
        .trim()
        .to_string();
    assert!(Path::new(&deb).exists(), "{deb}");

    let files = run(&["dpkg-deb", "-c", &deb], &[]);
    for f in [
        "./usr/bin/vrouter",
        "./usr/bin/vrouterctl",
        "./lib/systemd/system/vrouter.service",
        "./usr/lib/tmpfiles.d/vrouter.conf",
        "./etc/vrouter/vrouter.toml",
        "./usr/share/man/man8/vrouter.8.gz",
        "./usr/share/man/man8/vrouterctl.8.gz",
        "./usr/share/bash-completion/completions/vrouter",
        "./usr/share/bash-completion/completions/vrouterctl",
        "./usr/share/zsh/vendor-completions/_vrouter",
        "./usr/share/zsh/vendor-completions/_vrouterctl",
    ] {
        assert!(
            files.lines().any(|l| l.ends_with(f)),
            "{f} in the package:\n{files}"
        );
    }
    let info = run(&["dpkg-deb", "-I", &deb], &[]);
    let depends = info
        .lines()
        .find(|l| l.trim_start().starts_with("Depends:"))
        .unwrap_or("");
    for lib in [
        "librte-eal",
        "librte-ethdev",
        "librte-mbuf",
        "librte-mempool",
    ] {
        assert!(depends.contains(lib), "depends on {lib}: {depends}");
    }
    let conffiles = run(&["dpkg-deb", "-I", &deb, "conffiles"], &[]);
    assert_eq!(conffiles.trim(), "/etc/vrouter/vrouter.toml");

    // On this machine: install, verify the unit, find the pages, remove.
    let installed = Installed;
    run(
        &["dpkg", "-i", &deb],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    );
    run(
        &[
            "systemd-analyze",
            "verify",
            "/lib/systemd/system/vrouter.service",
        ],
        &[],
    );
    for page in ["vrouter", "vrouterctl"] {
        let at = run(&["man", "-w", page], &[]);
        assert!(at.contains(&format!("man8/{page}.8")), "{at}");
    }
    let version = run(&["/usr/bin/vrouter", "--version"], &[]);
    assert!(version.starts_with("vrouter "), "{version}");
    run(&["dpkg", "-r", "vrouter"], &[]);
    for gone in [
        "/usr/bin/vrouter",
        "/usr/bin/vrouterctl",
        "/lib/systemd/system/vrouter.service",
        "/usr/share/man/man8/vrouter.8.gz",
        "/usr/share/bash-completion/completions/vrouterctl",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} removed by dpkg -r");
    }
    drop(installed);
    let _ = std::fs::remove_dir_all(&out);
}
