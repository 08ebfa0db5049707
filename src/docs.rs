//! Man pages (clap_mangen) and bash/zsh completions (clap_complete) generated from a
//! binary's command line: `VROUTER_WRITE_DOCS=DIR vrouter` (or `vrouterctl`) writes
//! `DIR/NAME.8`, `DIR/NAME.bash` and `DIR/_NAME` and exits; `make deb` packages them.

use std::path::Path;

/// The environment variable that asks a binary to write its docs instead of running.
pub const WRITE_DOCS: &str = "VROUTER_WRITE_DOCS";

/// Writes the man page (section 8: a system administration command) and the bash and zsh
/// completions of `cmd` into `dir`.
pub fn write(mut cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = cmd.get_name().to_string();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section("8")
        .render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.8")), page)?;
    let shells = [
        (clap_complete::Shell::Bash, format!("{name}.bash")),
        (clap_complete::Shell::Zsh, format!("_{name}")),
    ];
    for (shell, file) in shells {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd, name.clone(), &mut out);
        std::fs::write(dir.join(file), out)?;
    }
    Ok(())
}

/// If [`WRITE_DOCS`] names a directory, writes `cmd`'s docs there and returns true (the
/// binary then exits); false otherwise.
pub fn write_if_asked(cmd: clap::Command) -> bool {
    let Some(dir) = std::env::var_os(WRITE_DOCS) else {
        return false;
    };
    if let Err(e) = write(cmd, Path::new(&dir)) {
        eprintln!("{WRITE_DOCS}={}: {e}", Path::new(&dir).display());
        std::process::exit(1);
    }
    true
}
