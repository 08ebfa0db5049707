//! One capture as the workers see it, and the taps a worker runs its bursts past.
//!
//! A [`Session`] holds a fixed number of copy buffers: a worker takes a free one, copies a
//! matching frame into it and queues it for the reader, who gives it back once written.
//! When none is free (the reader is slow) the copy is dropped and counted, never the
//! frame. Buffers are made when the session starts and reused, so copying allocates
//! only when a frame is longer than any the buffer held before. A worker with no capture
//! pays one branch per burst ([`Taps::is_empty`]).

use super::bpf::Program;
use control::capture::{CaptureCounts, Direction};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use vrouter::tables::PortIdx;
use vrouter::Frame;

/// Bytes a copy buffer is made with (a frame of a standard MTU fits).
const BUFFER_BYTES: usize = 2048;

/// A copied frame.
#[derive(Debug)]
pub struct Copied {
    /// Position of its device in the session's devices.
    pub interface: u32,
    /// Received or sent.
    pub direction: Direction,
    /// When it was copied, in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Its length on the wire.
    pub len: u32,
    /// The bytes kept (at most the snapshot length).
    pub data: Vec<u8>,
}

/// Captures of the appliance, all sessions together: what `stats` shows.
#[derive(Debug, Default)]
pub struct Totals {
    /// Sessions running.
    pub active: AtomicU64,
    /// Frames copied to a reader.
    pub copied: AtomicU64,
    /// Frames that matched but were dropped because a reader's buffer was full.
    pub dropped: AtomicU64,
}

impl Totals {
    /// The counters as (name, value).
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("active", self.active.load(Ordering::Relaxed)),
            ("copied", self.copied.load(Ordering::Relaxed)),
            ("dropped", self.dropped.load(Ordering::Relaxed)),
        ]
    }
}

/// Copied and dropped frames of one device of a session.
#[derive(Debug, Default)]
struct DeviceCounts {
    copied: AtomicU64,
    dropped: AtomicU64,
}

/// What a session copies.
#[derive(Debug)]
pub struct Selection {
    /// The devices, by index; a copy names its device by position in this list.
    pub ports: Vec<PortIdx>,
    /// Received, sent or both.
    pub direction: Direction,
    /// Frames this program rejects are not copied; none: every frame.
    pub filter: Option<Program>,
    /// Bytes of a frame copied at most.
    pub snaplen: u32,
}

/// One capture: what it copies, its copies on their way to the reader and its counters.
#[derive(Debug)]
pub struct Session {
    selection: Selection,
    queued: Sender<Copied>,
    taken: Receiver<Copied>,
    free: Sender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
    counts: Vec<DeviceCounts>,
    totals: Arc<Totals>,
    stopped: AtomicBool,
}

impl Session {
    /// A session for `selection` holding `buffer` copies for its reader, counted also in
    /// `totals`.
    pub fn new(selection: Selection, buffer: usize, totals: Arc<Totals>) -> Session {
        let buffer = buffer.max(1);
        let (queued, taken) = bounded(buffer);
        let (free, spare) = bounded(buffer);
        for _ in 0..buffer {
            // The line has room for every buffer, and both its ends are here.
            let _ = free.try_send(Vec::with_capacity(BUFFER_BYTES));
        }
        totals.active.fetch_add(1, Ordering::Relaxed);
        let counts = selection.ports.iter().map(|_| Default::default()).collect();
        Session {
            selection,
            queued,
            taken,
            free,
            spare,
            counts,
            totals,
            stopped: AtomicBool::new(false),
        }
    }

    /// Ends the session: workers let it go at their next look at it.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// True once [`Session::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The next copy for the reader, if any; its buffer is to be given back with
    /// [`Session::recycle`].
    pub fn take(&self) -> Option<Copied> {
        self.taken.try_recv().ok()
    }

    /// Gives a copy's buffer back for the next frames.
    pub fn recycle(&self, data: Vec<u8>) {
        // There is room: at most `buffer` buffers exist.
        let _ = self.free.try_send(data);
    }

    /// Frames copied and dropped so far, per device.
    pub fn counts(&self) -> CaptureCounts {
        let load = |f: fn(&DeviceCounts) -> &AtomicU64| {
            let all = self.counts.iter().map(|c| f(c).load(Ordering::Relaxed));
            all.collect()
        };
        CaptureCounts {
            copied: load(|c| &c.copied),
            dropped: load(|c| &c.dropped),
        }
    }

    /// Position of `port` among the session's devices if frames of `direction` on it are
    /// copied.
    fn interface(&self, port: PortIdx, direction: Direction) -> Option<usize> {
        let wanted = match direction {
            Direction::Tx => self.selection.direction.tx(),
            _ => self.selection.direction.rx(),
        };
        if !wanted {
            return None;
        }
        self.selection.ports.iter().position(|&p| p == port)
    }

    /// Copies `frame` if it matches; a frame that finds no free buffer is counted dropped.
    fn offer(&self, interface: usize, direction: Direction, frame: &[u8], ts_ns: u64) {
        let keep = match &self.selection.filter {
            Some(p) => p.run(frame),
            None => u32::MAX,
        };
        if keep == 0 {
            return;
        }
        let counts = &self.counts[interface];
        let Ok(mut data) = self.spare.try_recv() else {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            self.totals.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let caplen = frame.len().min(keep.min(self.selection.snaplen) as usize);
        data.clear();
        data.extend_from_slice(&frame[..caplen]);
        let copy = Copied {
            interface: interface as u32,
            direction,
            ts_ns,
            len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            data,
        };
        // Never full: a copy holds one of the `buffer` buffers, and the line has as many
        // places. The reader may be gone, though; then the copy is dropped with the line.
        if self.queued.try_send(copy).is_ok() {
            counts.copied.fetch_add(1, Ordering::Relaxed);
            self.totals.copied.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.totals.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The sessions a worker copies frames for.
#[derive(Debug, Default)]
pub struct Taps {
    sessions: Vec<Arc<Session>>,
}

impl Taps {
    /// True when no capture runs: the one branch a burst pays then.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Starts copying for `session`.
    pub fn add(&mut self, session: Arc<Session>) {
        self.sessions.push(session);
    }

    /// Lets stopped sessions go.
    pub fn prune(&mut self) {
        self.sessions.retain(|s| !s.stopped());
    }

    /// Offers a burst of frames received on (`Rx`) or about to be sent on (`Tx`) `port`
    /// to every session.
    pub fn copy<F: Frame>(&mut self, port: PortIdx, direction: Direction, frames: &[F]) {
        let mut ts_ns = None;
        for s in &self.sessions {
            let Some(interface) = s.interface(port, direction) else {
                continue;
            };
            let ts = *ts_ns.get_or_insert_with(now_ns);
            for f in frames {
                s.offer(interface, direction, f.data(), ts);
            }
        }
        self.prune();
    }
}

/// Nanoseconds since the Unix epoch (vDSO clock_gettime, once per burst copied).
fn now_ns() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter::VecFrame;

    fn frame(bytes: &[u8]) -> VecFrame {
        VecFrame::new(bytes)
    }

    fn session(ports: Vec<PortIdx>, direction: Direction, buffer: usize) -> Arc<Session> {
        let selection = Selection {
            ports,
            direction,
            filter: None,
            snaplen: 4,
        };
        Arc::new(Session::new(selection, buffer, Arc::default()))
    }

    #[test]
    fn frames_of_the_selected_devices_and_direction_are_copied_up_to_the_snaplen() {
        let s = session(vec![3, 1], Direction::Rx, 8);
        let mut taps = Taps::default();
        assert!(taps.is_empty());
        taps.add(Arc::clone(&s));
        taps.copy(1, Direction::Rx, &[frame(&[1, 2, 3, 4, 5, 6]), frame(&[7])]);
        taps.copy(1, Direction::Tx, &[frame(&[9, 9])]);
        taps.copy(2, Direction::Rx, &[frame(&[8, 8])]);
        let a = s.take().expect("a copy");
        assert_eq!((a.interface, a.direction, a.len), (1, Direction::Rx, 6));
        assert_eq!(a.data, [1, 2, 3, 4]);
        let b = s.take().expect("a second copy");
        assert_eq!((b.data.as_slice(), b.len), (&[7u8][..], 1));
        assert!(a.ts_ns > 1_600_000_000_000_000_000 && a.ts_ns == b.ts_ns);
        assert!(s.take().is_none(), "tx and other devices are not copied");
        assert_eq!(s.counts().copied, vec![0, 2]);
    }

    #[test]
    fn a_full_buffer_drops_and_counts_copies_until_the_reader_gives_buffers_back() {
        let s = session(vec![0], Direction::Both, 2);
        let mut taps = Taps::default();
        taps.add(Arc::clone(&s));
        let burst: Vec<VecFrame> = (0..5u8).map(|i| frame(&[i])).collect();
        taps.copy(0, Direction::Tx, &burst);
        assert_eq!(s.counts().copied, vec![2]);
        assert_eq!(s.counts().dropped, vec![3]);
        assert_eq!(s.totals.dropped.load(Ordering::Relaxed), 3);
        let first = s.take().unwrap();
        assert_eq!(first.data, [0]);
        s.recycle(first.data);
        taps.copy(0, Direction::Rx, &burst[4..]);
        assert_eq!(s.take().unwrap().data, [1]);
        assert_eq!(s.take().unwrap().data, [4]);
        assert_eq!(s.counts().copied, vec![3]);
    }

    #[test]
    fn the_filter_decides_and_its_return_value_cuts_the_copy() {
        use super::super::bpf::Insn;
        // ldb [0]; jeq #1, keep 2 bytes, reject
        let keep_two = Program::new(vec![
            Insn::new(0x30, 0, 0, 0),
            Insn::new(0x15, 0, 1, 1),
            Insn::new(0x06, 0, 0, 2),
            Insn::new(0x06, 0, 0, 0),
        ])
        .unwrap();
        let selection = Selection {
            ports: vec![0],
            direction: Direction::Both,
            filter: Some(keep_two),
            snaplen: 100,
        };
        let s = Arc::new(Session::new(selection, 4, Arc::default()));
        let mut taps = Taps::default();
        taps.add(Arc::clone(&s));
        taps.copy(0, Direction::Rx, &[frame(&[2, 2, 2]), frame(&[1, 5, 6])]);
        let c = s.take().unwrap();
        assert_eq!((c.data.as_slice(), c.len), (&[1u8, 5][..], 3));
        assert!(s.take().is_none());
    }

    #[test]
    fn stopped_sessions_are_let_go_and_counted_out() {
        let totals = Arc::new(Totals::default());
        let selection = Selection {
            ports: vec![0],
            direction: Direction::Both,
            filter: None,
            snaplen: 100,
        };
        let s = Arc::new(Session::new(selection, 1, Arc::clone(&totals)));
        assert_eq!(totals.active.load(Ordering::Relaxed), 1);
        let mut taps = Taps::default();
        taps.add(Arc::clone(&s));
        s.stop();
        taps.prune();
        assert!(taps.is_empty());
        drop(s);
        assert_eq!(totals.active.load(Ordering::Relaxed), 0);
    }
}
