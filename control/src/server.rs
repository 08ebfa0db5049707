//! The control socket: a Unix stream socket, one JSON request per line and one JSON
//! response per line, a thread per client up to a limit. A client that is slow, silent or
//! gone never holds up another: reads and writes time out, and the state lock is taken
//! only while a change is applied. A line over the size limit is answered with
//! `too_large` as soon as it passes the limit and the rest of it is skipped unread; the
//! connection stays usable after any error.

use crate::api::{ApiError, ErrorCode, Response, MAX_REQUEST};
use crate::service::Service;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Limits of the server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Clients served at once; more are told to come back later.
    pub max_clients: usize,
    /// A client that sends nothing for this long is disconnected.
    pub idle_timeout: Duration,
    /// A response the client does not take within this long ends the connection.
    pub write_timeout: Duration,
    /// Longest request line, in bytes.
    pub max_request: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_clients: 64,
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(10),
            max_request: MAX_REQUEST,
        }
    }
}

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Creating the directory, binding or setting the mode failed.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// Another process answers on the socket.
    #[error("control socket {0}: another vrouter is listening on it")]
    InUse(String),
}

/// The running server; dropping it stops accepting and removes the socket.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Opens the socket at `path` (mode 0660, its directory created if missing; a stale
    /// socket file is replaced) and serves `service` on it.
    pub fn start(
        path: &Path,
        service: Arc<Service>,
        opts: ServerOptions,
    ) -> Result<Server, ServerError> {
        let shown = path.display().to_string();
        let io_err = |source| ServerError::Io {
            path: shown.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(ServerError::InUse(shown));
            }
            std::fs::remove_file(path).map_err(io_err)?;
        }
        let listener = UnixListener::bind(path).map_err(io_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let acceptor = std::thread::Builder::new()
            .name("vrouter-ctl".into())
            .spawn(move || accept(listener, service, opts, flag))
            .map_err(io_err)?;
        Ok(Server {
            path: path.to_owned(),
            stop,
            acceptor: Some(acceptor),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees the flag; if it cannot be woken (the socket
        // file is gone), it is left to end with the process.
        if UnixStream::connect(&self.path).is_ok() {
            if let Some(t) = self.acceptor.take() {
                let _ = t.join();
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Decrements the client count when a client's thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accepts clients until `stop` is set, each on a thread of its own.
fn accept(
    listener: UnixListener,
    service: Arc<Service>,
    opts: ServerOptions,
    stop: Arc<AtomicBool>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else { continue };
        if active.fetch_add(1, Ordering::SeqCst) >= opts.max_clients {
            active.fetch_sub(1, Ordering::SeqCst);
            let msg = format!("too many clients ({}); try again later", opts.max_clients);
            let busy = Response::new(Value::Null, Err(ApiError::internal(msg)));
            let _ = stream.set_write_timeout(Some(opts.write_timeout));
            let _ = stream.write_all(&busy.to_line());
            continue;
        }
        let slot = Slot(Arc::clone(&active));
        let (service, opts) = (Arc::clone(&service), opts.clone());
        let spawned = std::thread::Builder::new()
            .name("vrouter-ctl-client".into())
            .spawn(move || {
                let _slot = slot;
                // The connection ends on any I/O error: nothing else to do with it.
                let _ = serve(stream, &service, &opts);
            });
        if let Err(e) = spawned {
            log_line(&format!(
                "control socket: cannot start a client thread: {e}"
            ));
        }
    }
}

/// Writes a line to stderr (the server has no other channel to the operator).
fn log_line(msg: &str) {
    eprintln!("vrouter: {msg}");
}

/// Serves one client until it disconnects, goes idle or fails.
fn serve(stream: UnixStream, service: &Service, opts: &ServerOptions) -> io::Result<()> {
    stream.set_read_timeout(Some(opts.idle_timeout))?;
    stream.set_write_timeout(Some(opts.write_timeout))?;
    let mut writer = stream.try_clone()?;
    let mut lines = LineReader::new(stream, opts.max_request);
    let mut line = Vec::new();
    loop {
        let reply = match lines.next(&mut line)? {
            Next::Eof => return Ok(()),
            Next::Line if line.iter().all(u8::is_ascii_whitespace) => continue,
            Next::Line => service.handle_line(&line),
            Next::TooLarge => {
                let msg = format!("request over {} bytes", opts.max_request);
                let e = ApiError::new(ErrorCode::TooLarge, msg);
                Response::new(Value::Null, Err(e)).to_line()
            }
        };
        writer.write_all(&reply)?;
    }
}

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// A line (without its newline) is in the buffer.
    Line,
    /// A line passed the limit; the rest of it will be skipped.
    TooLarge,
    /// The client closed the connection.
    Eof,
}

/// Reads lines of at most `max` bytes without ever buffering more.
struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
    skipping: bool,
}

impl<R: io::Read> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
            skipping: false,
        }
    }

    /// Reads the next line into `buf`.
    fn next(&mut self, buf: &mut Vec<u8>) -> io::Result<Next> {
        buf.clear();
        loop {
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                let partial = !self.skipping && !buf.is_empty();
                self.skipping = false;
                return Ok(if partial { Next::Line } else { Next::Eof });
            }
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            let used = newline.map_or(chunk.len(), |i| i + 1);
            if self.skipping {
                self.skipping = newline.is_none();
                self.inner.consume(used);
                continue;
            }
            if buf.len() + part.len() > self.max {
                self.skipping = newline.is_none();
                self.inner.consume(used);
                buf.clear();
                return Ok(Next::TooLarge);
            }
            buf.extend_from_slice(part);
            self.inner.consume(used);
            if newline.is_some() {
                return Ok(Next::Line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], max: usize) -> Vec<(Next, Vec<u8>)> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let next = r.next(&mut buf).unwrap();
            if next == Next::Eof {
                return out;
            }
            out.push((next, buf.clone()));
        }
    }

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut input = b"ab\n".to_vec();
        input.extend(vec![b'x'; 100]);
        input.extend(b"\ncd\nlast");
        let got = read_all(&input, 10);
        assert_eq!(
            got,
            vec![
                (Next::Line, b"ab".to_vec()),
                (Next::TooLarge, vec![]),
                (Next::Line, b"cd".to_vec()),
                (Next::Line, b"last".to_vec()),
            ]
        );
        let exact = read_all(b"0123456789\n", 10);
        assert_eq!(exact, vec![(Next::Line, b"0123456789".to_vec())]);
    }
}
