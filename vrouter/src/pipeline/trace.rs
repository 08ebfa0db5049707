//! Packet trace (as VPP's `trace add`): the next N frames received (on one device, or any)
//! are marked, and the dispatcher records each step of their way through the nodes: the
//! node, the edge it gave them, the frame as the node got it in one line, and the sessions
//! the node created. A frame that is not traced costs one branch per node.

use super::node::Node;
use crate::stats::DropReason;
use crate::tables::PortIdx;
use crate::wire::{be16, be32, ethernet, ipv4, Mac};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// Steps kept at most per worker; later steps of traced frames are not recorded.
pub const STEPS_MAX: usize = 4096;

/// Where a node sent a traced frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceEdge {
    /// To this node.
    To(Node),
    /// Nowhere further: sent, held or consumed.
    Done,
    /// Dropped, for this reason.
    Drop(DropReason),
}

/// One step of a traced frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The traced frame's number on this worker, from 1; flood copies keep their frame's.
    pub packet: u32,
    /// The node that took it.
    pub node: Node,
    /// Where the node sent it.
    pub edge: TraceEdge,
    /// Sessions the node created for it.
    pub sessions_created: u8,
    /// The frame as the node got it, in one line.
    pub decode: String,
}

/// What a worker traces, and what it recorded.
#[derive(Debug, Default)]
pub struct Trace {
    remaining: u32,
    device: Option<PortIdx>,
    marked: u32,
    /// The steps recorded since the trace was started, in order.
    pub steps: Vec<TraceStep>,
}

impl Trace {
    /// Starts tracing the next `count` frames received on `device` (any device if `None`);
    /// forgets what was recorded before.
    pub fn start(&mut self, count: u32, device: Option<PortIdx>) {
        self.remaining = count;
        self.device = device;
        self.marked = 0;
        self.steps.clear();
    }

    /// The trace number for a frame received on `port`: 0 if it is not traced.
    #[inline]
    pub(super) fn mark(&mut self, port: PortIdx) -> u32 {
        if self.remaining == 0 || self.device.is_some_and(|d| d != port) {
            return 0;
        }
        self.remaining -= 1;
        self.marked += 1;
        self.marked
    }

    /// Records a step of traced frame `packet`.
    pub(super) fn record(&mut self, step: TraceStep) {
        if self.steps.len() < STEPS_MAX {
            self.steps.push(step);
        }
    }
}

/// The frame `d` in one line: Ethernet addresses and type, then ARP, IPv4 with its
/// protocol's ports or type, or GRE's key.
pub fn decode(d: &[u8]) -> String {
    let mut s = String::new();
    if d.len() < ethernet::HEADER_LEN {
        let _ = write!(s, "{} bytes, truncated", d.len());
        return s;
    }
    let (dst, src) = (Mac::from_bytes(&d[0..6]), Mac::from_bytes(&d[6..12]));
    let _ = write!(s, "{src} > {dst}");
    let mut at = ethernet::HEADER_LEN;
    let mut ethertype = be16(d, 12);
    if ethertype == ethernet::ethertype::VLAN && d.len() >= at + 4 {
        let _ = write!(s, " vlan {}", be16(d, at) & 0x0fff);
        ethertype = be16(d, at + 2);
        at += 4;
    }
    match ethertype {
        ethernet::ethertype::ARP if d.len() >= at + 28 => {
            let op = if be16(d, at + 6) == 1 {
                "request"
            } else {
                "reply"
            };
            let (spa, tpa) = (ip(be32(d, at + 14)), ip(be32(d, at + 24)));
            let _ = write!(s, " arp {op} {spa} > {tpa}");
        }
        ethernet::ethertype::IPV4 => ipv4_line(&mut s, &d[at..]),
        t => {
            let _ = write!(s, " ethertype {t:#06x}");
        }
    }
    let _ = write!(s, " len {}", d.len());
    s
}

/// Appends the IPv4 packet `p` to `s`.
fn ipv4_line(s: &mut String, p: &[u8]) {
    if p.len() < ipv4::MIN_HEADER_LEN {
        s.push_str(" ipv4 truncated");
        return;
    }
    let hl = usize::from(p[0] & 0x0f) * 4;
    let (src, dst) = (ip(be32(p, 12)), ip(be32(p, 16)));
    let (proto, ttl, frag) = (p[9], p[8], be16(p, 6));
    let l4 = p.get(hl..).unwrap_or_default();
    let _ = write!(s, " ipv4 {src} > {dst} ttl {ttl}");
    if frag & 0x3fff != 0 {
        let _ = write!(s, " frag off {} mf {}", (frag & 0x1fff) * 8, frag >> 13 & 1);
    }
    match proto {
        ipv4::proto::TCP | ipv4::proto::UDP if l4.len() >= 4 && frag & 0x1fff == 0 => {
            let name = if proto == ipv4::proto::TCP {
                "tcp"
            } else {
                "udp"
            };
            let _ = write!(s, " {name} {} > {}", be16(l4, 0), be16(l4, 2));
            if proto == ipv4::proto::TCP && l4.len() >= 14 {
                let _ = write!(s, " flags {:#04x}", l4[13]);
            }
        }
        ipv4::proto::ICMP if l4.len() >= 8 && frag & 0x1fff == 0 => {
            let _ = write!(s, " icmp type {} code {} id {}", l4[0], l4[1], be16(l4, 4));
        }
        ipv4::proto::GRE if l4.len() >= 8 && l4[0] & 0x20 != 0 => {
            let key_at = if l4[0] & 0x80 != 0 { 8 } else { 4 };
            if l4.len() >= key_at + 4 {
                let _ = write!(s, " gre key {:#x}", be32(l4, key_at));
            }
        }
        p => {
            let _ = write!(s, " proto {p}");
        }
    }
}

/// An address for printing.
fn ip(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_decoded_in_one_line() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x52, 0x54, 0, 0, 1, 0x21, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 10, 10, 0, 0, 1, 0, 68, 0, 67, 0, 8, 0, 0]);
        assert_eq!(
            decode(&f),
            "52:54:00:00:01:21 > ff:ff:ff:ff:ff:ff ipv4 10.0.0.10 > 10.0.0.1 ttl 64 \
             udp 68 > 67 len 42"
        );
        assert_eq!(decode(&f[..10]), "10 bytes, truncated");
        assert!(decode(&f[..20]).ends_with("ipv4 truncated len 20"));
    }

    #[test]
    fn only_the_next_frames_of_the_device_are_marked() {
        let mut t = Trace::default();
        assert_eq!(t.mark(1), 0, "nothing traced before a start");
        t.start(2, Some(1));
        assert_eq!(t.mark(2), 0, "another device");
        assert_eq!((t.mark(1), t.mark(1), t.mark(1)), (1, 2, 0));
        t.start(1, None);
        assert_eq!((t.mark(5), t.mark(6)), (1, 0));
    }
}
