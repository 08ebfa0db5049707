//! The server side of a capture stream: once the data plane accepted the capture, the
//! copies it collects are written to the client's connection until `count` frames were
//! sent or the client closes. A slow client only makes the data plane drop copies; a
//! client that takes nothing for the server's write timeout ends the stream.

use super::{CaptureArgs, CaptureFeed, CaptureStarted, EndReason, Record};
use crate::api::{ApiError, Response};
use crate::plane::DataPlane;
use serde_json::Value;
use std::io::{self, BufWriter, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;

/// How long the stream waits for copies (watching the client) before it looks again.
const POLL_MS: i32 = 5;
/// Frames written before the stream looks at the client's side again.
const FRAMES_PER_LOOK: usize = 256;

/// Starts the capture `args` of request `id` on `plane` and streams it to `conn` until it
/// ends; a refused capture is answered with its error and the connection stays usable.
/// Returns the refusal to answer, or `None` once a stream ran (the connection then ends).
pub fn serve(
    id: Value,
    args: &CaptureArgs,
    plane: &dyn DataPlane,
    conn: &UnixStream,
) -> io::Result<Option<Vec<u8>>> {
    let mut feed = match args.buffer().and_then(|_| plane.capture(args)) {
        Ok(feed) => feed,
        Err(e) => return Ok(Some(Response::new(id, Err(e)).to_line())),
    };
    let started = CaptureStarted {
        devices: args.devices.clone(),
        linktype: 1,
        snaplen: args.snaplen(),
    };
    let ok = serde_json::to_value(started).map_err(|e| ApiError::internal(e.to_string()));
    (&*conn).write_all(&Response::new(id, ok).to_line())?;
    let mut out = BufWriter::with_capacity(64 * 1024, conn);
    let (reason, sent) = pump(feed.as_mut(), args.count, &mut out, conn)?;
    let counts = feed.counts();
    let end = write_record(
        &mut out,
        &Record::End {
            sent,
            counts,
            reason,
        },
        &[],
    )
    .and_then(|()| out.flush());
    // A client that stopped the capture may wait for the counts, or be gone already.
    if reason == EndReason::Count {
        end?;
    }
    Ok(None)
}

/// True while fewer than `count` (if any) frames were sent.
fn room(count: Option<u64>, sent: u64) -> bool {
    match count {
        Some(n) => sent < n,
        None => true,
    }
}

/// Writes frames from `feed` until `count` were written (`Count`) or the client closed
/// (`Closed`); returns why, and the frames written.
fn pump(
    feed: &mut dyn CaptureFeed,
    count: Option<u64>,
    out: &mut impl Write,
    conn: &UnixStream,
) -> io::Result<(EndReason, u64)> {
    let mut data = Vec::new();
    let mut sent = 0u64;
    loop {
        if !room(count, sent) {
            return Ok((EndReason::Count, sent));
        }
        let mut written = 0;
        while written < FRAMES_PER_LOOK && room(count, sent) {
            let Some(info) = feed.next(&mut data) else {
                break;
            };
            write_record(out, &Record::Frame(info), &data)?;
            sent += 1;
            written += 1;
        }
        out.flush()?;
        let wait = if written == 0 { POLL_MS } else { 0 };
        if client_spoke(conn, wait)? {
            return Ok((EndReason::Closed, sent));
        }
    }
}

/// Writes one record line and the bytes that follow it.
fn write_record(out: &mut impl Write, record: &Record, data: &[u8]) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    out.write_all(data)
}

/// Waits up to `ms` for the client to close its side or send anything.
fn client_spoke(conn: &UnixStream, ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd on a socket this frame borrows.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        // A signal for another part of the process: look again on the next round.
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(n > 0 && pfd.revents != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{read_record, CaptureCounts, Direction, FrameInfo};
    use std::io::BufReader;

    /// A feed with a fixed list of frames.
    struct Frames(Vec<Vec<u8>>, u64);

    impl CaptureFeed for Frames {
        fn next(&mut self, out: &mut Vec<u8>) -> Option<FrameInfo> {
            let frame = self.0.pop()?;
            self.1 += 1;
            *out = frame;
            Some(FrameInfo {
                interface: 0,
                direction: Direction::Rx,
                ts_ns: self.1,
                len: out.len() as u32,
                caplen: out.len() as u32,
            })
        }
        fn counts(&self) -> CaptureCounts {
            CaptureCounts {
                copied: vec![self.1],
                dropped: vec![0],
            }
        }
    }

    #[test]
    fn pump_stops_at_the_count_and_when_the_client_closes() {
        let (server, client) = UnixStream::pair().unwrap();
        let mut feed = Frames(vec![vec![3; 3], vec![2; 2], vec![1; 1]], 0);
        let mut out = Vec::new();
        let ended = pump(&mut feed, Some(2), &mut out, &server).unwrap();
        assert_eq!(ended, (EndReason::Count, 2));
        let mut r = BufReader::new(&out[..]);
        let mut data = Vec::new();
        for want in [vec![1u8], vec![2, 2]] {
            match read_record(&mut r, &mut data).unwrap() {
                Some(Record::Frame(info)) => assert_eq!(info.caplen as usize, want.len()),
                other => panic!("expected a frame, got {other:?}"),
            }
            assert_eq!(data, want);
        }
        assert_eq!(read_record(&mut r, &mut data).unwrap(), None);
        drop(client);
        let ended = pump(&mut feed, None, &mut Vec::new(), &server).unwrap();
        assert_eq!(ended, (EndReason::Closed, 1));
    }
}
