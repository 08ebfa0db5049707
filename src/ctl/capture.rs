//! `vrouterctl capture`: the frames of devices of the appliance, as tcpdump would show
//! them: written as pcapng (`-w FILE`, `-w -` for a pipe into `tshark -r -`) or printed
//! one line per frame. Stops after `-c N` frames or on SIGINT/SIGTERM, then says how many
//! frames were captured and how many the appliance dropped because they were not read in
//! time.

use clap::{Args, ValueEnum};
use control::api::Response;
use control::capture::{read_record, CaptureArgs, CaptureStarted, Direction, FrameInfo, Record};
use serde_json::json;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::Ipv4Addr;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vrouter_appliance::capture::pcapng::{Packet, Way, Writer};

/// Set by SIGINT/SIGTERM: the capture ends and its counts are printed.
static STOP: AtomicBool = AtomicBool::new(false);
/// How long the end of a stopped capture is waited for.
const END_TIMEOUT: Duration = Duration::from_secs(3);

/// Options of capture.
#[derive(Args, Debug)]
pub struct CaptureCmd {
    /// Devices to capture on (tap1653ec91-ad, eth1, eth2), one pcapng interface each.
    #[arg(required = true, value_name = "DEVICE")]
    devices: Vec<String>,
    /// Frames received (rx), sent (tx) or both.
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    direction: DirectionArg,
    /// Only frames matching this filter, in tcpdump syntax (pcap-filter(7)): 'icmp',
    /// 'tcp port 22', 'host 10.0.0.9'.
    #[arg(long, value_name = "BPF")]
    filter: Option<String>,
    /// Stop after N frames (`-c N` as tcpdump's works too).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Write pcapng to FILE, or to standard output with `-`; else print a line per frame.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<String>,
    /// Bytes of each frame kept (default 262144; 0: all of it).
    #[arg(short = 's', long, value_name = "BYTES")]
    snaplen: Option<u32>,
    /// Frames the appliance holds for this capture while they are not read; beyond it
    /// copies are dropped (and counted), never traffic (default 1024).
    #[arg(long, value_name = "FRAMES")]
    buffer: Option<u32>,
}

/// `--direction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DirectionArg {
    /// Received by the device.
    Rx,
    /// Sent on the device.
    Tx,
    /// Both.
    Both,
}

/// Runs the capture against the daemon at `socket`. `columns` are the global `-c`
/// values, which for capture are tcpdump's `-c N`.
pub fn run(socket: &Path, cmd: &CaptureCmd, columns: &[String]) -> ExitCode {
    match capture(socket, cmd, columns) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vrouterctl: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The frame count from `--count` or `-c N`.
fn count(cmd: &CaptureCmd, columns: &[String]) -> Result<Option<u64>, String> {
    match (cmd.count, columns) {
        (n, []) => Ok(n),
        (None, [c]) => c
            .parse()
            .map(Some)
            .map_err(|_| format!("capture: -c takes a frame count, not {c:?}")),
        _ => Err("capture: give the frame count once (-c N or --count N)".into()),
    }
}

/// Where frames go.
enum Sink {
    /// A pcapng section.
    Pcapng(Writer<Box<dyn Write>>),
    /// A line per frame on standard output.
    Lines(io::Stdout),
}

fn capture(socket: &Path, cmd: &CaptureCmd, columns: &[String]) -> Result<ExitCode, String> {
    let args = CaptureArgs {
        devices: cmd.devices.clone(),
        direction: match cmd.direction {
            DirectionArg::Rx => Direction::Rx,
            DirectionArg::Tx => Direction::Tx,
            DirectionArg::Both => Direction::Both,
        },
        filter: cmd.filter.clone(),
        count: count(cmd, columns)?,
        snaplen: cmd.snaplen,
        buffer: cmd.buffer,
    };
    let conn = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot connect to {} ({e}): is vrouter running, with --socket {0}?",
            socket.display()
        )
    })?;
    let io_err = |e: io::Error| format!("control socket: {e}");
    let mut request = serde_json::to_vec(&json!({"id": 1, "op": "capture", "args": args}))
        .map_err(|e| e.to_string())?;
    request.push(b'\n');
    (&conn).write_all(&request).map_err(io_err)?;
    let mut reader = BufReader::new(conn.try_clone().map_err(io_err)?);
    let started = started(&mut reader)?;
    let sink = match cmd.write.as_deref() {
        None => Sink::Lines(io::stdout()),
        Some(path) => {
            let out: Box<dyn Write> = match path {
                "-" => Box::new(BufWriter::new(io::stdout())),
                file => Box::new(BufWriter::new(
                    File::create(file).map_err(|e| format!("{file}: {e}"))?,
                )),
            };
            let w = Writer::new(out, "vrouterctl", &started.devices, started.snaplen);
            Sink::Pcapng(w.map_err(|e| format!("{path}: {e}"))?)
        }
    };
    install_stop_handlers();
    let (captured, counts) = pump(&mut reader, &conn, sink, &started.devices)?;
    let dropped: u64 = counts.iter().map(|c| c.1).sum();
    eprintln!("{captured} packets captured");
    eprintln!("{dropped} packets dropped by the capture buffer (not read in time)");
    Ok(ExitCode::SUCCESS)
}

/// The daemon's answer to the request: the capture runs, or why not.
fn started(reader: &mut impl BufRead) -> Result<CaptureStarted, String> {
    let mut line = String::new();
    let n = reader
        .read_line(&mut line)
        .map_err(|e| format!("control socket: {e}"))?;
    if n == 0 {
        return Err("the daemon closed the connection".into());
    }
    let response: Response =
        serde_json::from_str(&line).map_err(|e| format!("bad response from the daemon: {e}"))?;
    if response.id != json!(1) {
        return Err(format!(
            "the daemon answered request {} instead of 1",
            response.id
        ));
    }
    if let Some(e) = response.error {
        return Err(format!("{}: {}", e.code, e.message));
    }
    let ok = response.ok.unwrap_or_default();
    serde_json::from_value(ok).map_err(|e| format!("bad capture answer from the daemon: {e}"))
}

/// Writes records to `sink` until the stream ends (the count reached, the daemon gone)
/// or a signal stops it; returns the frames written and (copied, dropped) per device.
fn pump(
    reader: &mut BufReader<UnixStream>,
    conn: &UnixStream,
    mut sink: Sink,
    devices: &[String],
) -> Result<(u64, Vec<(u64, u64)>), String> {
    let mut data = Vec::new();
    let mut captured = 0u64;
    let mut stop_sent: Option<Instant> = None;
    let out_err = |e: io::Error| format!("writing the capture: {e}");
    loop {
        if reader.buffer().is_empty() {
            sink.flush().map_err(out_err)?;
            if STOP.load(Ordering::Relaxed) && stop_sent.is_none() {
                // Anything the client sends ends the capture; the daemon answers with the
                // counts.
                let _ = (&*conn).write_all(b"stop\n");
                stop_sent = Some(Instant::now());
            }
            if stop_sent.is_some_and(|at| at.elapsed() > END_TIMEOUT) {
                return Ok((captured, Vec::new()));
            }
            if !readable(conn, 200) {
                continue;
            }
        }
        let record = read_record(reader, &mut data).map_err(|e| format!("control socket: {e}"))?;
        match record {
            Some(Record::Frame(info)) => {
                sink.frame(&info, &data, devices).map_err(out_err)?;
                captured += 1;
            }
            Some(Record::End { counts, .. }) => {
                let per_device: Vec<(u64, u64)> = counts
                    .copied
                    .iter()
                    .zip(&counts.dropped)
                    .map(|(&c, &d)| (c, d))
                    .collect();
                sink.end(&per_device).map_err(out_err)?;
                return Ok((captured, per_device));
            }
            None if stop_sent.is_some() => {
                sink.flush().map_err(out_err)?;
                return Ok((captured, Vec::new()));
            }
            None => {
                sink.flush().map_err(out_err)?;
                return Err(format!(
                    "the daemon ended the capture after {captured} packets"
                ));
            }
        }
    }
}

impl Sink {
    fn frame(&mut self, info: &FrameInfo, data: &[u8], devices: &[String]) -> io::Result<()> {
        match self {
            Sink::Pcapng(w) => w.packet(&Packet {
                interface: info.interface,
                ts_ns: info.ts_ns,
                len: info.len,
                way: match info.direction {
                    Direction::Tx => Way::Outbound,
                    _ => Way::Inbound,
                },
                data,
            }),
            Sink::Lines(out) => {
                let device = devices
                    .get(info.interface as usize)
                    .map_or("?", |d| d.as_str());
                writeln!(out, "{}", line(info, device, data))
            }
        }
    }

    /// Records the per-device counts at the end of a pcapng section.
    fn end(&mut self, counts: &[(u64, u64)]) -> io::Result<()> {
        if let Sink::Pcapng(w) = self {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            for (i, (copied, dropped)) in counts.iter().enumerate() {
                w.statistics(i as u32, now, *copied, *dropped)?;
            }
        }
        self.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Pcapng(w) => w.flush(),
            Sink::Lines(out) => out.flush(),
        }
    }
}

/// One line for a frame, as tcpdump -e prints its gist: time (UTC), device, direction,
/// length, addresses.
fn line(info: &FrameInfo, device: &str, f: &[u8]) -> String {
    let secs = info.ts_ns / 1_000_000_000;
    let micros = (info.ts_ns % 1_000_000_000) / 1000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let dir = match info.direction {
        Direction::Tx => "Out",
        _ => "In",
    };
    let mac = |b: &[u8]| {
        let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
        hex.join(":")
    };
    let what = match (f.get(0..6), f.get(6..12), f.get(12..14)) {
        (Some(dst), Some(src), Some(&[0x08, 0x00])) => match f.get(14..34) {
            Some(ip) => format!(
                "{} > {}, IPv4 {} > {} proto {}",
                mac(src),
                mac(dst),
                Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
                Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
                ip[9]
            ),
            None => format!("{} > {}, IPv4 (truncated)", mac(src), mac(dst)),
        },
        (Some(dst), Some(src), Some(&[0x08, 0x06])) => format!("{} > {}, ARP", mac(src), mac(dst)),
        (Some(dst), Some(src), Some(t)) => format!(
            "{} > {}, ethertype {:#06x}",
            mac(src),
            mac(dst),
            u16::from_be_bytes([t[0], t[1]])
        ),
        _ => "truncated".to_string(),
    };
    format!(
        "{h:02}:{m:02}:{s:02}.{micros:06} {device} {dir} length {}: {what}",
        info.len
    )
}

/// Waits up to `ms` for data (or the end) on the socket.
fn readable(conn: &UnixStream, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd on a socket this frame borrows.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// SIGINT and SIGTERM end the capture cleanly (the file complete, the counts printed).
fn install_stop_handlers() {
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::Relaxed);
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_line_names_time_device_direction_and_addresses() {
        let mut f = vec![0u8; 34];
        f[0..6].copy_from_slice(&[0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c]);
        f[6..12].copy_from_slice(&[0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[23] = 1;
        f[26..30].copy_from_slice(&[10, 0, 0, 9]);
        f[30..34].copy_from_slice(&[8, 8, 8, 8]);
        let info = FrameInfo {
            interface: 0,
            direction: Direction::Rx,
            ts_ns: 3_723_000_004_000,
            len: 98,
            caplen: 34,
        };
        assert_eq!(
            line(&info, "tap1653ec91-ad", &f),
            "01:02:03.000004 tap1653ec91-ad In length 98: fa:16:3e:51:a2:97 > \
             fa:16:3e:f7:e6:9c, IPv4 10.0.0.9 > 8.8.8.8 proto 1"
        );
        assert!(line(&info, "x", &f[..5]).ends_with("truncated"));
    }

    #[test]
    fn the_count_comes_from_count_or_dash_c() {
        let cmd = |count| CaptureCmd {
            devices: vec!["eth1".into()],
            direction: DirectionArg::Both,
            filter: None,
            count,
            write: None,
            snaplen: None,
            buffer: None,
        };
        assert_eq!(count(&cmd(None), &["5".into()]), Ok(Some(5)));
        assert_eq!(count(&cmd(Some(3)), &[]), Ok(Some(3)));
        assert_eq!(count(&cmd(None), &[]), Ok(None));
        assert!(count(&cmd(None), &["x".into()]).is_err());
        assert!(count(&cmd(Some(3)), &["5".into()]).is_err());
    }
}
