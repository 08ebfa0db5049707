//! UDP datagrams (RFC 768).

use super::checksum;
use super::ipv4::proto;
use super::{be16, put16, Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking the header is whole and its length field is at least the
    /// header and within the buffer (bytes after it, e.g. IP padding, are ignored).
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = be16(b, 4) as usize;
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > b.len() {
            return Err(Error::Truncated);
        }
        Ok(Packet { buf })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    /// Length field: header and payload in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    /// Checksum field (0: the sender computed none).
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    /// The payload, as the length field bounds it.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.len() as usize]
    }
    /// True if the checksum is absent (0) or verifies over the IPv4 pseudo-header, header and
    /// payload (RFC 768); `src` and `dst` are the IPv4 addresses in host byte order.
    pub fn verify_checksum(&self, src: u32, dst: u32) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let sum = checksum::pseudo_header_sum(src, dst, proto::UDP, self.len());
        checksum::fold(checksum::add(
            sum,
            &self.buf.as_ref()[..self.len() as usize],
        )) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port (the checksum is left to the caller).
    pub fn set_src_port(&mut self, port: u16) {
        put16(self.buf.as_mut(), 0, port);
    }
    /// Sets the destination port (the checksum is left to the caller).
    pub fn set_dst_port(&mut self, port: u16) {
        put16(self.buf.as_mut(), 2, port);
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.buf.as_mut(), 6, c);
    }
    /// Computes and stores the checksum over the pseudo-header, header and payload; a
    /// computed 0 is sent as 0xffff (RFC 768).
    pub fn fill_checksum(&mut self, src: u32, dst: u32) {
        let len = self.len();
        self.set_checksum(0);
        let sum = checksum::pseudo_header_sum(src, dst, proto::UDP, len);
        let c = !checksum::fold(checksum::add(sum, &self.buf.as_ref()[..len as usize]));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// The fields of a UDP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload length in bytes.
    pub payload_len: u16,
}

impl Repr {
    /// Parses the header of `p`.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.len() - HEADER_LEN as u16,
        }
    }
    /// Length of header and payload.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }
    /// Writes the header into `buf[..8]` and fills the checksum over the pseudo-header
    /// (`src`, `dst` in host byte order) and `buf[..total_len()]`: the payload must already
    /// sit at `buf[8..]`, so a datagram is built in place without a copy. `buf` must hold
    /// [`Repr::total_len`] bytes.
    pub fn emit(&self, buf: &mut [u8], src: u32, dst: u32) {
        put16(buf, 0, self.src_port);
        put16(buf, 2, self.dst_port);
        put16(buf, 4, self.total_len() as u16);
        let mut p = Packet {
            buf: &mut buf[..self.total_len()],
        };
        p.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: u32 = u32::from_be_bytes([10, 0, 0, 10]);
    const DST: u32 = u32::from_be_bytes([10, 0, 0, 3]);

    // 10.0.0.10:5353 -> 10.0.0.3:53, payload "abc"; checksum computed by hand:
    // pseudo 0a00+000a+0a00+0003+0011+000b, header 14e9+0035+000b, data 6162+6300.
    const DGRAM: [u8; 11] = [
        0x14, 0xe9, 0x00, 0x35, 0x00, 0x0b, 0x12, 0x4b, b'a', b'b', b'c',
    ];

    #[test]
    fn hand_computed_checksum() {
        let sum: u32 = 0x0a00
            + 0x000a
            + 0x0a00
            + 0x0003
            + 0x0011
            + 0x000b
            + 0x14e9
            + 0x0035
            + 0x000b
            + 0x6162
            + 0x6300;
        assert_eq!(!checksum::fold(sum), be16(&DGRAM, 6));
    }

    #[test]
    fn parse_emit_round_trip() {
        let p = Packet::new_checked(&DGRAM[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, DST + 1));
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (5353, 53, 11));
        assert_eq!(p.payload(), b"abc");
        let r = Repr::parse(&p);
        assert_eq!(
            r,
            Repr {
                src_port: 5353,
                dst_port: 53,
                payload_len: 3
            }
        );
        let mut out = [0u8; 11];
        out[8..].copy_from_slice(b"abc");
        r.emit(&mut out, SRC, DST);
        assert_eq!(out, DGRAM);
    }

    #[test]
    fn setters_and_fill_checksum() {
        let mut b = DGRAM;
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_src_port(68);
        p.set_dst_port(67);
        p.fill_checksum(SRC, DST);
        assert!(p.verify_checksum(SRC, DST));
        p.set_checksum(0);
        assert!(p.verify_checksum(SRC, DST + 7), "no checksum: accepted");
    }

    #[test]
    fn zero_checksum_is_sent_as_all_ones() {
        // Find a payload word that makes the computed checksum zero.
        let mut b = [0u8; 10];
        let r = Repr {
            src_port: 1,
            dst_port: 2,
            payload_len: 2,
        };
        r.emit(&mut b, 0, 0);
        let c = be16(&b, 6);
        // Adding the old checksum to the payload word drives the sum to 0xffff.
        put16(&mut b, 8, c);
        r.emit(&mut b, 0, 0);
        assert_eq!(be16(&b, 6), 0xffff);
        assert!(Packet::new_checked(&b[..]).unwrap().verify_checksum(0, 0));
    }

    #[test]
    fn bad_lengths_rejected() {
        assert_eq!(
            Packet::new_checked(&DGRAM[..7]).unwrap_err(),
            Error::Truncated
        );
        assert_eq!(
            Packet::new_checked(&DGRAM[..10]).unwrap_err(),
            Error::Truncated
        );
        let mut b = DGRAM;
        b[5] = 7;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Malformed);
        let mut b = DGRAM.to_vec();
        b.extend_from_slice(&[0; 4]);
        assert_eq!(Packet::new_checked(&b[..]).unwrap().payload(), b"abc");
    }
}
