//! Packet capture over the control socket: the `capture` request, what the data plane
//! hands back for it (a [`CaptureFeed`]) and the records streamed to the client.
//!
//! After `{"id":1,"op":"capture","args":{"devices":["tap1653ec91-ad"],…}}` is accepted
//! the server answers `{"id":1,"ok":{"devices":[…],"linktype":1,"snaplen":…}}` and then
//! streams records on that connection, each a JSON line; a [`Record::Frame`] line is
//! followed by `caplen` raw bytes of the frame. The stream ends with a [`Record::End`]
//! line once `count` frames were sent, or when the client sends anything (the counts are
//! then written if it still reads) or closes the connection. A client that does not read makes the appliance drop copies (counted
//! in [`Record::End`] and in `stats`), never traffic.

pub mod stream;

use crate::api::{ApiError, Op, Request};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, BufRead};

/// Longest part of a frame copied, by default (as tcpdump's default snapshot length).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Copies the appliance holds for a capture's reader, by default; beyond it copies are
/// dropped and counted.
pub const DEFAULT_BUFFER: u32 = 1024;
/// Most copies a capture may ask to be held for its reader.
pub const MAX_BUFFER: u32 = 65_536;

/// Which frames of a device are copied: received, sent, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Frames the device received, as they come off its rx queue.
    Rx,
    /// Frames the appliance sends on the device, just before they are handed to it.
    Tx,
    /// Both.
    #[default]
    Both,
}

impl Direction {
    /// True if frames received are copied.
    pub fn rx(self) -> bool {
        self != Direction::Tx
    }

    /// True if frames sent are copied.
    pub fn tx(self) -> bool {
        self != Direction::Rx
    }
}

/// `capture`: the frames of `devices` that match `filter`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureArgs {
    /// Device names (`tap1653ec91-ad`, `eth1`); one pcapng interface each, in this order.
    pub devices: Vec<String>,
    /// Received, sent or both (the default).
    #[serde(default)]
    pub direction: Direction,
    /// A filter in tcpdump (pcap-filter(7)) syntax; every frame when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Stop after this many frames; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Bytes of each frame copied at most ([`DEFAULT_SNAPLEN`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snaplen: Option<u32>,
    /// Copies held for the reader at most ([`DEFAULT_BUFFER`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<u32>,
}

impl CaptureArgs {
    /// The snapshot length in force.
    pub fn snaplen(&self) -> u32 {
        self.snaplen.unwrap_or(DEFAULT_SNAPLEN)
    }

    /// The number of copies held for the reader, or why the request asks for too many.
    pub fn buffer(&self) -> Result<usize, ApiError> {
        match self.buffer.unwrap_or(DEFAULT_BUFFER) {
            0 => Err(ApiError::invalid(
                "capture: buffer must hold at least 1 frame",
            )),
            n if n > MAX_BUFFER => Err(ApiError::invalid(format!(
                "capture: buffer of {n} frames is over the limit of {MAX_BUFFER}"
            ))),
            n => Ok(n as usize),
        }
    }
}

/// The metadata of one copied frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameInfo {
    /// Position of the device in the request's `devices` (the pcapng interface id).
    pub interface: u32,
    /// Whether the frame was received or sent.
    pub direction: Direction,
    /// When it was copied, in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length of the frame on the wire.
    pub len: u32,
    /// Bytes of it that follow the record line.
    pub caplen: u32,
}

/// Frames copied and dropped for a capture, per device (request order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureCounts {
    /// Frames that matched and were handed to the reader.
    pub copied: Vec<u64>,
    /// Frames that matched but were dropped because the reader's buffer was full.
    pub dropped: Vec<u64>,
}

/// Why a capture stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `count` frames were sent.
    Count,
    /// The client closed its side (or sent something).
    Closed,
}

/// One streamed record line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A frame; its `caplen` bytes follow the line.
    Frame(FrameInfo),
    /// The last record.
    End {
        /// Frames sent on this stream.
        sent: u64,
        /// Copied and dropped frames per device.
        counts: CaptureCounts,
        /// Why it ended.
        reason: EndReason,
    },
}

/// The answer that starts a capture stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureStarted {
    /// The devices, in interface order.
    pub devices: Vec<String>,
    /// The link type of every interface (1: Ethernet).
    pub linktype: u16,
    /// Bytes of each frame copied at most.
    pub snaplen: u32,
}

/// A running capture, as the data plane hands it to the control socket; the capture
/// stops when it is dropped.
pub trait CaptureFeed: Send {
    /// Takes the next copied frame, if one is waiting: its bytes replace `out`'s.
    fn next(&mut self, out: &mut Vec<u8>) -> Option<FrameInfo>;
    /// Frames copied and dropped so far.
    fn counts(&self) -> CaptureCounts;
}

/// The capture request in `line`, if it is one (any other line is left to the service).
pub fn capture_request(line: &[u8]) -> Option<(Value, CaptureArgs)> {
    // A cheap look first: most lines are other operations.
    if !line.windows(9).any(|w| w == b"\"capture\"") {
        return None;
    }
    match crate::api::parse_request(line) {
        Ok(Request {
            id,
            op: Op::Capture(args),
            ..
        }) => Some((id, args)),
        _ => None,
    }
}

/// Reads the next record of a capture stream; a frame's bytes replace `data`'s.
/// `Ok(None)` when the stream ends without its end record (the daemon went away).
pub fn read_record(r: &mut impl BufRead, data: &mut Vec<u8>) -> io::Result<Option<Record>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let record: Record = serde_json::from_str(&line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad capture record {line:?}: {e}"),
        )
    })?;
    if let Record::Frame(info) = &record {
        data.resize(info.caplen as usize, 0);
        r.read_exact(data)?;
    }
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_request_is_recognised_and_others_are_not() {
        let line =
            br#"{"id":7,"op":"capture","args":{"devices":["tap1"],"filter":"icmp","count":5}}"#;
        let (id, args) = capture_request(line).expect("a capture request");
        assert_eq!(id, Value::from(7));
        assert_eq!(args.devices, vec!["tap1".to_string()]);
        assert_eq!(args.direction, Direction::Both);
        assert_eq!(args.filter.as_deref(), Some("icmp"));
        assert_eq!(args.count, Some(5));
        assert!(capture_request(br#"{"id":1,"op":"stats","args":{}}"#).is_none());
        // A name that merely contains the word is no capture request.
        let other = br#"{"id":1,"op":"network.create","args":{"name":"capture"}}"#;
        assert!(capture_request(other).is_none());
        // A bad capture request goes to the service, which answers the error.
        assert!(capture_request(br#"{"id":1,"op":"capture","args":{"x":1}}"#).is_none());
    }

    #[test]
    fn records_read_back_with_their_bytes() {
        let info = FrameInfo {
            interface: 1,
            direction: Direction::Tx,
            ts_ns: 1_700_000_000_123_456_789,
            len: 60,
            caplen: 4,
        };
        let mut wire = serde_json::to_vec(&Record::Frame(info)).unwrap();
        wire.push(b'\n');
        wire.extend_from_slice(&[1, 2, 3, 4]);
        let end = Record::End {
            sent: 1,
            counts: CaptureCounts {
                copied: vec![0, 1],
                dropped: vec![0, 3],
            },
            reason: EndReason::Count,
        };
        wire.extend(serde_json::to_vec(&end).unwrap());
        wire.push(b'\n');
        let mut r = io::BufReader::new(&wire[..]);
        let mut data = Vec::new();
        assert_eq!(
            read_record(&mut r, &mut data).unwrap(),
            Some(Record::Frame(info))
        );
        assert_eq!(data, [1, 2, 3, 4]);
        assert_eq!(read_record(&mut r, &mut data).unwrap(), Some(end));
        assert_eq!(read_record(&mut r, &mut data).unwrap(), None);
    }

    #[test]
    fn the_buffer_is_bounded() {
        let args = |buffer| CaptureArgs {
            buffer,
            ..CaptureArgs::default()
        };
        assert_eq!(args(None).buffer().unwrap(), DEFAULT_BUFFER as usize);
        assert_eq!(args(Some(16)).buffer().unwrap(), 16);
        assert!(args(Some(0)).buffer().is_err());
        assert!(args(Some(MAX_BUFFER + 1)).buffer().is_err());
    }
}
