//! The daemon's logs: `tracing` events (and `log` records, bridged) go to the journal
//! with their fields when systemd connected stderr to it, else as text lines on stderr.
//! `RUST_LOG` filters as `env_logger` did (`info` when unset, e.g. `RUST_LOG=debug` or
//! `RUST_LOG=warn,audit=info`).
//!
//! systemd sets `JOURNAL_STREAM=<device>:<inode>` for a service whose stderr is the
//! journal (systemd.exec(5)); it is trusted only while stderr still is that stream (a
//! child whose stderr was redirected inherits the variable) and the journal's socket is
//! there.

use std::path::Path;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// The journal's native protocol socket.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// Events at this level and above are logged when `RUST_LOG` says nothing.
const DEFAULT_FILTER: &str = "info";

/// Where the logs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// The systemd journal, with structured fields.
    Journal,
    /// Text lines on stderr.
    Stderr,
}

/// True if `journal_stream` (`JOURNAL_STREAM`'s value) names the file that stderr is.
fn stderr_is(journal_stream: &str) -> bool {
    let Some((dev, ino)) = journal_stream.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    // SAFETY: fstat writes into a zeroed stat buffer of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(libc::STDERR_FILENO, &mut st) } != 0 {
        return false;
    }
    st.st_dev == dev && st.st_ino == ino
}

/// Where the logs go in this process's environment.
pub fn sink() -> Sink {
    let journal = std::env::var("JOURNAL_STREAM").is_ok_and(|s| stderr_is(&s))
        && Path::new(JOURNAL_SOCKET).exists();
    if journal {
        Sink::Journal
    } else {
        Sink::Stderr
    }
}

/// Installs the subscriber (and the `log` bridge) for the rest of the process; returns
/// where the logs go. A journal that cannot be opened falls back to stderr.
pub fn init() -> Sink {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let registry = tracing_subscriber::registry().with(filter);
    if sink() == Sink::Journal {
        match tracing_journald::layer() {
            Ok(layer) => {
                let _ = registry.with(layer).try_init();
                return Sink::Journal;
            }
            Err(e) => eprintln!("vrouter: the journal cannot be opened ({e}); logging to stderr"),
        }
    }
    let text = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = registry.with(text).try_init();
    Sink::Stderr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_stderr_itself() {
        // SAFETY: as in stderr_is.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(libc::STDERR_FILENO, &mut st) }, 0);
        assert!(stderr_is(&format!("{}:{}", st.st_dev, st.st_ino)));
        assert!(!stderr_is(&format!("{}:{}", st.st_dev, st.st_ino + 1)));
        assert!(!stderr_is("not-a-stream"));
        assert!(!stderr_is("1:x"));
    }
}
