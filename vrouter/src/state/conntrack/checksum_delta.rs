//! What a session's translation adds to the checksums of every packet it rewrites,
//! computed once when the session is created (RFC 1624 eqn. 3: the terms of the changed
//! fields add up, and the sum applies to a checksum in one step).

use super::FlowKey;
use crate::wire::checksum::{delta16, delta32};
use crate::wire::ipv4;

/// The checksum terms of rewriting a packet from one tuple to another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumDelta {
    /// What the changed addresses add to the IPv4 header checksum.
    pub ip: u32,
    /// What the changed addresses (through the pseudo-header; not for ICMP, which has
    /// none) and ports or echo id add to the TCP, UDP or ICMP checksum.
    pub l4: u32,
}

impl ChecksumDelta {
    /// The terms of rewriting a packet of tuple `from` to tuple `to`; a field that does not
    /// change adds nothing.
    #[inline]
    pub fn between(from: &FlowKey, to: &FlowKey) -> ChecksumDelta {
        let changed32 = |old: u32, new: u32| if old != new { delta32(old, new) } else { 0 };
        let changed16 = |old: u16, new: u16| if old != new { delta16(old, new) } else { 0 };
        let ip = changed32(from.src, to.src) + changed32(from.dst, to.dst);
        let l4 = if from.proto == ipv4::proto::ICMP {
            changed16(from.sport, to.sport)
        } else {
            ip + changed16(from.sport, to.sport) + changed16(from.dport, to.dport)
        };
        ChecksumDelta { ip, l4 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    fn key(proto: u8, src: u32, dst: u32, ports: (u16, u16)) -> FlowKey {
        FlowKey {
            zone: 1,
            proto,
            src,
            dst,
            sport: ports.0,
            dport: ports.1,
        }
    }

    #[test]
    fn an_unchanged_tuple_adds_nothing() {
        let k = key(6, 0x0a00_000a, 0xc633_6407, (40000, 80));
        assert_eq!(ChecksumDelta::between(&k, &k), ChecksumDelta::default());
    }

    #[test]
    fn the_header_delta_gives_the_checksum_computed_from_scratch() {
        // An IPv4 header whose source moves from 10.0.0.10 to 198.51.100.5.
        let mut h = [
            0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 10, 203, 0, 113, 7,
        ];
        let c = checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        let from = key(6, 0x0a00_000a, 0xcb00_7107, (40000, 80));
        let to = FlowKey {
            src: 0xc633_6405,
            sport: 1025,
            ..from
        };
        let d = ChecksumDelta::between(&from, &to);
        h[12..16].copy_from_slice(&to.src.to_be_bytes());
        let adjusted = crate::wire::checksum::adjust(c, d.ip);
        h[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(adjusted, checksum(&h));
        // TCP: the pseudo-header's address and the port both count.
        let ports = delta16(40000, 1025);
        assert_eq!(d.l4, d.ip + ports);
    }

    #[test]
    fn icmp_counts_only_its_echo_id() {
        let from = key(1, 0x0a00_000a, 0xcb00_7107, (7, 7));
        let to = FlowKey {
            src: 0xc633_6405,
            sport: 9,
            ..from
        };
        let d = ChecksumDelta::between(&from, &to);
        assert_ne!(d.ip, 0);
        assert_eq!(d.l4, delta16(7, 9));
    }
}
