//! Frames for pipeline tests, built from scratch with checksums computed in full, so that
//! comparing against them also checks the stages' incremental updates.

use super::{Io, Node};
use crate::frame::VecFrame;
use crate::tables::PortIdx;
use crate::wire::checksum;

/// Records what the pipeline sends; `alloc` fails when `no_buffers` is set.
#[derive(Default)]
pub struct TestIo {
    /// Every frame sent, with its device, in order.
    pub sent: Vec<(PortIdx, Vec<u8>)>,
    /// Makes `alloc` fail, as an empty mempool does.
    pub no_buffers: bool,
    /// Frames handed to another worker: (worker, device, bytes, node to resume at), in
    /// order.
    pub handed: Vec<(u16, PortIdx, Vec<u8>, Node)>,
}

impl Io<VecFrame> for TestIo {
    fn send(&mut self, port: PortIdx, frame: VecFrame) {
        self.sent.push((port, frame.to_vec()));
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        (!self.no_buffers).then(|| VecFrame::new(&[]))
    }
    fn handoff(&mut self, worker: u16, port: PortIdx, frame: VecFrame, resume: Node) {
        self.handed.push((worker, port, frame.to_vec(), resume));
    }
}

/// An ARP reply from `sha`/`spa` to `tha`/`tpa`.
pub fn arp_reply(sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tha);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa);
    f
}

/// An IPv4 packet in Ethernet with the given header fields and L4 bytes; the IPv4 checksum
/// and, for UDP/TCP/ICMP, the L4 checksum are computed in full.
#[allow(clippy::too_many_arguments)]
pub fn packet(
    dmac: [u8; 6],
    smac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ttl: u8,
    frag: u16,
    proto: u8,
    l4: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    let mut l4 = l4.to_vec();
    let at = match proto {
        17 => Some(6),
        6 => Some(16),
        1 => Some(2),
        _ => None,
    };
    if let Some(at) = at {
        l4[at..at + 2].copy_from_slice(&[0, 0]);
        let mut sum = checksum::add(0, &l4);
        if proto != 1 {
            sum = checksum::add(sum, &src);
            sum = checksum::add(sum, &dst);
            sum += u32::from(proto) + l4.len() as u32;
        }
        let c = !checksum::fold(sum);
        let c = if proto == 17 && c == 0 { 0xffff } else { c };
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    f.extend_from_slice(&l4);
    f
}

/// A UDP header and `data` (checksum filled in by [`packet`]).
pub fn udp(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    u
}

/// A bare TCP header with `flags`.
pub fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    tcp_seg(sport, dport, 1, 0, flags, 0)
}

/// A TCP segment with sequence and acknowledgment numbers and `len` bytes of payload.
pub fn tcp_seg(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, len: usize) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.resize(20 + len, 0x61);
    t
}

/// An ICMP echo message of `kind` with 8 bytes of data.
pub fn echo(kind: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut e = vec![kind, 0, 0, 0];
    e.extend_from_slice(&id.to_be_bytes());
    e.extend_from_slice(&seq.to_be_bytes());
    e.extend_from_slice(b"abcdefgh");
    e
}
