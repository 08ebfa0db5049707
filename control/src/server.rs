//! The control socket: a Unix stream socket, one JSON request per line and one JSON
//! response per line, a thread per client up to a limit. A client that is slow, silent or
//! gone never holds up another: a request line must arrive whole within a short time
//! (`request_timeout`, also from connecting), a client idle between requests is dropped
//! after `idle_timeout`, and when every slot is taken a new client takes the slot of the
//! client idle the longest (only clients whose requests are being answered keep theirs).
//! The state lock is taken only while a change is applied. A line over the size limit is
//! answered with `too_large` as soon as it passes the limit and the rest of it is skipped
//! unread; the connection stays usable after any error.

use crate::api::{ApiError, ErrorCode, Response, MAX_REQUEST};
use crate::credentials::PeerCred;
use crate::service::Service;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Limits of the server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Clients connected at once; beyond it a new client takes the slot of the one idle
    /// the longest, or is told to come back later when all are being answered.
    pub max_clients: usize,
    /// A client that sends nothing for this long after an answer is disconnected.
    pub idle_timeout: Duration,
    /// A request line must be complete this long after its first byte, and the first
    /// request this long after connecting; else the connection ends.
    pub request_timeout: Duration,
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
            request_timeout: Duration::from_secs(5),
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
    /// Something other than a socket is at the path; only a stale socket is replaced.
    #[error("control socket {path}: {kind} is in the way; only a stale socket is replaced (remove it or choose another --socket)")]
    NotSocket {
        /// The socket path.
        path: String,
        /// What is there (`a regular file`, `a directory`, `a symbolic link`, …).
        kind: &'static str,
    },
}

/// The running server; dropping it stops accepting, ends every connection and removes
/// the socket.
pub struct Server {
    path: PathBuf,
    /// Our end of the acceptor's wake-up line: a byte (or closing it) stops the acceptor.
    wake: UnixStream,
    acceptor: Option<JoinHandle<()>>,
    clients: Clients,
}

impl Server {
    /// Opens the socket at `path` (mode 0660, its directory created if missing; a stale
    /// socket is replaced, anything else at the path is refused) and serves `service`.
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
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    return Err(ServerError::InUse(shown));
                }
                std::fs::remove_file(path).map_err(io_err)?;
            }
            Ok(meta) => {
                return Err(ServerError::NotSocket {
                    path: shown,
                    kind: file_kind(meta.file_type()),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let listener = UnixListener::bind(path).map_err(io_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
        listener.set_nonblocking(true).map_err(io_err)?;
        let (wake, woken) = UnixStream::pair().map_err(io_err)?;
        let clients = Clients::default();
        let acceptor = Acceptor {
            listener,
            woken,
            service,
            opts,
            clients: clients.clone(),
        };
        let acceptor = std::thread::Builder::new()
            .name("vrouter-ctl".into())
            .spawn(move || acceptor.run())
            .map_err(io_err)?;
        Ok(Server {
            path: path.to_owned(),
            wake,
            acceptor: Some(acceptor),
            clients,
        })
    }
}

/// What a file type is, in words.
fn file_kind(t: std::fs::FileType) -> &'static str {
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else {
        "a device file"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The acceptor waits on the listener and on this line together, so it wakes now.
        let _ = self.wake.write_all(b"x");
        let _ = self.wake.shutdown(Shutdown::Both);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        self.clients.close_all();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The connected clients: a handle on each connection and whether it is idle (waiting
/// for a request, since when) or being answered.
#[derive(Clone, Default)]
struct Clients(Arc<Mutex<ClientTable>>);

#[derive(Default)]
struct ClientTable {
    next_id: u64,
    conns: HashMap<u64, Client>,
}

struct Client {
    stream: UnixStream,
    idle_since: Option<Instant>,
}

impl Clients {
    fn lock(&self) -> MutexGuard<'_, ClientTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits `stream` as a new client, idle from now: at the limit, the connection of
    /// the client idle the longest ends to make room. `None` when every client is being
    /// answered.
    fn admit(&self, stream: &UnixStream, max: usize) -> io::Result<Option<u64>> {
        let handle = stream.try_clone()?;
        let mut t = self.lock();
        if t.conns.len() >= max {
            let idlest = t
                .conns
                .iter()
                .filter_map(|(id, c)| Some((c.idle_since?, *id)))
                .min();
            let Some((_, id)) = idlest else {
                return Ok(None);
            };
            if let Some(c) = t.conns.remove(&id) {
                // Its thread sees the end of the stream and finishes.
                let _ = c.stream.shutdown(Shutdown::Both);
            }
        }
        let id = t.next_id;
        t.next_id += 1;
        t.conns.insert(
            id,
            Client {
                stream: handle,
                idle_since: Some(Instant::now()),
            },
        );
        Ok(Some(id))
    }

    /// Marks client `id` idle (`true`) or being answered.
    fn set_idle(&self, id: u64, idle: bool) {
        if let Some(c) = self.lock().conns.get_mut(&id) {
            c.idle_since = idle.then(Instant::now);
        }
    }

    /// Forgets client `id` (its thread ends).
    fn remove(&self, id: u64) {
        self.lock().conns.remove(&id);
    }

    /// Ends every connection.
    fn close_all(&self) {
        for (_, c) in self.lock().conns.drain() {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Forgets a client when its thread ends.
struct Slot {
    clients: Clients,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.clients.remove(self.id);
    }
}

/// The accepting thread: the listener, the line that wakes it to stop, and what each
/// client thread needs.
struct Acceptor {
    listener: UnixListener,
    woken: UnixStream,
    service: Arc<Service>,
    opts: ServerOptions,
    clients: Clients,
}

impl Acceptor {
    /// Accepts clients until woken through `woken`, each on a thread of its own.
    fn run(self) {
        loop {
            match self.wait() {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log_line(&format!(
                        "control socket: poll failed, no longer accepting: {e}"
                    ));
                    return;
                }
            }
            // Non-blocking: another wake-up may have taken the connection already.
            let Ok((stream, _)) = self.listener.accept() else {
                continue;
            };
            self.admit(stream);
        }
    }

    /// Waits until a client connects (`false`) or the server stops (`true`).
    fn wait(&self) -> io::Result<bool> {
        let mut fds = [
            libc::pollfd {
                fd: self.listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.woken.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfd entries owned by this frame; no timeout (-1): the wake
        // line ends the wait.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fds[1].revents != 0)
    }

    /// Serves `stream` on a thread of its own, or tells it to come back later.
    fn admit(&self, mut stream: UnixStream) {
        let _ = stream.set_nonblocking(false);
        let admitted = self.clients.admit(&stream, self.opts.max_clients);
        let Ok(Some(id)) = admitted else {
            let msg = format!(
                "too many clients ({}), all being answered; try again later",
                self.opts.max_clients
            );
            let busy = Response::new(Value::Null, Err(ApiError::internal(msg)));
            let _ = stream.set_write_timeout(Some(self.opts.write_timeout));
            let _ = stream.write_all(&busy.to_line());
            return;
        };
        let slot = Slot {
            clients: self.clients.clone(),
            id,
        };
        let (service, opts) = (Arc::clone(&self.service), self.opts.clone());
        let spawned = std::thread::Builder::new()
            .name("vrouter-ctl-client".into())
            .spawn(move || {
                // The connection ends on any I/O error: nothing else to do with it.
                let _ = serve(stream, &service, &opts, &slot);
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

/// Serves one client until it disconnects, goes idle, is too slow or fails.
fn serve(
    stream: UnixStream,
    service: &Service,
    opts: &ServerOptions,
    slot: &Slot,
) -> io::Result<()> {
    stream.set_write_timeout(Some(opts.write_timeout))?;
    // Who connected, for the audit line of each change (unknown if the kernel says no).
    let peer = PeerCred::of(&stream).ok();
    let mut writer = stream.try_clone()?;
    let mut lines = LineReader::new(stream, opts.max_request);
    let mut line = Vec::new();
    // The first request is due soon after connecting; later ones may wait.
    let mut wait = opts.request_timeout;
    loop {
        let next = match lines.next(&mut line, wait, opts.request_timeout) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let msg = if wait == opts.request_timeout {
                    format!(
                        "no complete request within {:?}; closing",
                        opts.request_timeout
                    )
                } else {
                    format!("idle for {:?}; closing", opts.idle_timeout)
                };
                let e = ApiError::new(ErrorCode::BadRequest, msg);
                let _ = writer.write_all(&Response::new(Value::Null, Err(e)).to_line());
                return Ok(());
            }
            next => next?,
        };
        slot.clients.set_idle(slot.id, false);
        let reply = match next {
            Next::Eof => return Ok(()),
            Next::Line if line.iter().all(u8::is_ascii_whitespace) => {
                slot.clients.set_idle(slot.id, true);
                continue;
            }
            Next::Line => match crate::capture::capture_request(&line) {
                Some((id, args)) => {
                    let plane = service.plane();
                    match crate::capture::stream::serve(id, &args, plane, &writer)? {
                        Some(refusal) => refusal,
                        None => return Ok(()),
                    }
                }
                None => service.handle_line_from(&line, peer),
            },
            Next::TooLarge => {
                let msg = format!("request over {} bytes", opts.max_request);
                let e = ApiError::new(ErrorCode::TooLarge, msg);
                Response::new(Value::Null, Err(e)).to_line()
            }
        };
        writer.write_all(&reply)?;
        slot.clients.set_idle(slot.id, true);
        wait = opts.idle_timeout;
    }
}

/// A stream whose reads can be given a timeout.
trait ReadTimeout: Read {
    /// Makes the next reads fail (`WouldBlock`/`TimedOut`) after `timeout`.
    fn set_timeout(&self, timeout: Duration) -> io::Result<()>;
}

impl ReadTimeout for UnixStream {
    fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(timeout))
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

impl<R: ReadTimeout> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
            skipping: false,
        }
    }

    /// Reads the next line into `buf`: its first byte within `wait`, all of it within
    /// `within` of its first byte (and within `wait` too); else a `WouldBlock` or
    /// `TimedOut` error.
    fn next(&mut self, buf: &mut Vec<u8>, wait: Duration, within: Duration) -> io::Result<Next> {
        buf.clear();
        let mut deadline = Instant::now() + wait;
        let mut begun = false;
        loop {
            if self.inner.buffer().is_empty() {
                let left = deadline
                    .checked_duration_since(Instant::now())
                    .filter(|d| !d.is_zero())
                    .ok_or(io::ErrorKind::TimedOut)?;
                self.inner.get_ref().set_timeout(left)?;
            }
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                // A signal handled by another part of the process (DPDK's tap driver takes
                // SIGIO for every frame) ends a read on a socket with a timeout even under
                // SA_RESTART (signal(7)): wait on with the time left.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                let partial = !self.skipping && !buf.is_empty();
                self.skipping = false;
                return Ok(if partial { Next::Line } else { Next::Eof });
            }
            if !begun {
                begun = true;
                deadline = deadline.min(Instant::now() + within);
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

    impl ReadTimeout for &[u8] {
        fn set_timeout(&self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    fn read_all(input: &[u8], max: usize) -> Vec<(Next, Vec<u8>)> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let t = Duration::from_secs(5);
        loop {
            let next = r.next(&mut buf, t, t).unwrap();
            if next == Next::Eof {
                return out;
            }
            out.push((next, buf.clone()));
        }
    }

    /// Reads `data`, failing with `Interrupted` before every byte, as a socket read under a
    /// stream of signals does.
    struct Interrupted<'a> {
        data: &'a [u8],
        signal_due: bool,
    }

    impl Read for Interrupted<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.signal_due = !self.signal_due;
            if !self.signal_due || self.data.is_empty() || out.is_empty() {
                let one = out.len().min(1);
                return self.data.read(&mut out[..one]);
            }
            Err(io::ErrorKind::Interrupted.into())
        }
    }

    impl ReadTimeout for Interrupted<'_> {
        fn set_timeout(&self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_signal_during_a_read_does_not_end_the_line() {
        let input = Interrupted {
            data: b"{\"id\":1}\nnext\n",
            signal_due: false,
        };
        let mut r = LineReader::new(input, 100);
        let mut buf = Vec::new();
        let t = Duration::from_secs(5);
        assert_eq!(r.next(&mut buf, t, t).unwrap(), Next::Line);
        assert_eq!(buf, b"{\"id\":1}");
        assert_eq!(r.next(&mut buf, t, t).unwrap(), Next::Line);
        assert_eq!(buf, b"next");
        assert_eq!(r.next(&mut buf, t, t).unwrap(), Next::Eof);
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
