//! IPv4 headers (RFC 791).

use super::checksum;
use super::{be16, be32, put16, put32, Error, Result};

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// IP protocol numbers this node handles.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// GRE.
    pub const GRE: u8 = 47;
}

/// Don't Fragment flag in the flags/fragment-offset word.
pub const FLAG_DF: u16 = 0x4000;
/// More Fragments flag in the flags/fragment-offset word.
pub const FLAG_MF: u16 = 0x2000;

/// A view of an IPv4 packet.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after RFC 1812 §5.2.2 checks that need no checksum: length at least 20,
    /// version 4, IHL at least 5 and within the buffer, total length at least the header and
    /// within the buffer (trailing link-layer padding is allowed).
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(Error::Malformed);
        }
        let hl = ((b[0] & 0x0f) as usize) * 4;
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed);
        }
        let total = be16(b, 2) as usize;
        if total < hl {
            return Err(Error::Malformed);
        }
        if hl > b.len() || total > b.len() {
            return Err(Error::Truncated);
        }
        Ok(Packet { buf })
    }
    /// Header length in bytes.
    #[inline]
    pub fn header_len(&self) -> usize {
        ((self.buf.as_ref()[0] & 0x0f) as usize) * 4
    }
    /// DSCP and ECN byte.
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    /// Total length (header and payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    /// Identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    /// Flags and fragment offset word.
    #[inline]
    pub fn frag_word(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    /// True for a fragment (MF set or a non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.frag_word() & (FLAG_MF | 0x1fff) != 0
    }
    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[8]
    }
    /// Protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[9]
    }
    /// Header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 10)
    }
    /// Source address (host byte order).
    #[inline]
    pub fn src(&self) -> u32 {
        be32(self.buf.as_ref(), 12)
    }
    /// Destination address (host byte order).
    #[inline]
    pub fn dst(&self) -> u32 {
        be32(self.buf.as_ref(), 16)
    }
    /// True if the header checksum verifies.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::add(0, &self.buf.as_ref()[..self.header_len()])) == 0xffff
    }
    /// The payload, as the total length bounds it.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len() as usize]
    }
}

/// The fields of an option-less IPv4 header that this node emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// DSCP and ECN.
    pub tos: u8,
    /// Payload length in bytes.
    pub payload_len: u16,
    /// Identification.
    pub ident: u16,
    /// Flags and fragment offset word.
    pub frag_word: u16,
    /// Time to live.
    pub ttl: u8,
    /// Payload protocol.
    pub protocol: u8,
    /// Source (host byte order).
    pub src: u32,
    /// Destination (host byte order).
    pub dst: u32,
}

impl Repr {
    /// Parses the header fields of `p`; options are not carried over.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            tos: p.tos(),
            payload_len: p.total_len() - p.header_len() as u16,
            ident: p.ident(),
            frag_word: p.frag_word(),
            ttl: p.ttl(),
            protocol: p.protocol(),
            src: p.src(),
            dst: p.dst(),
        }
    }
    /// Writes a 20-byte header with a correct checksum into the start of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = 0x45;
        buf[1] = self.tos;
        put16(buf, 2, MIN_HEADER_LEN as u16 + self.payload_len);
        put16(buf, 4, self.ident);
        put16(buf, 6, self.frag_word);
        buf[8] = self.ttl;
        buf[9] = self.protocol;
        put16(buf, 10, 0);
        put32(buf, 12, self.src);
        put32(buf, 16, self.dst);
        let c = checksum::checksum(&buf[..MIN_HEADER_LEN]);
        put16(buf, 10, c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 10.0.1.31 -> 10.0.1.21, GRE, DF, TTL 64, total length 88.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x58, 0x00, 0x01, 0x40, 0x00, 0x40, 0x2f, 0x24, 0x43, 10, 0, 1, 31, 10,
        0, 1, 21,
    ];

    fn packet() -> Vec<u8> {
        let mut v = HDR.to_vec();
        v.resize(0x58, 0);
        v
    }

    #[test]
    fn parse_emit_round_trip() {
        let b = packet();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Repr::parse(&p);
        assert_eq!(r.protocol, proto::GRE);
        assert_eq!(r.src, u32::from_be_bytes([10, 0, 1, 31]));
        assert_eq!(r.payload_len, 68);
        assert_eq!(r.frag_word, FLAG_DF);
        assert!(!p.is_fragment());
        let mut out = [0u8; 20];
        r.emit(&mut out);
        assert_eq!(out, HDR);
    }

    #[test]
    fn malformed_and_truncated_rejected() {
        let b = packet();
        assert_eq!(Packet::new_checked(&b[..19]).unwrap_err(), Error::Truncated);
        assert_eq!(
            Packet::new_checked(&b[..0x57]).unwrap_err(),
            Error::Truncated
        );
        let mut v = b.clone();
        v[0] = 0x65;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::Malformed);
        let mut v = b.clone();
        v[0] = 0x44;
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::Malformed);
        let mut v = b.clone();
        v[3] = 10; // total length below the header length
        assert_eq!(Packet::new_checked(&v[..]).unwrap_err(), Error::Malformed);
        let mut v = b;
        v[11] ^= 1;
        assert!(!Packet::new_checked(&v[..]).unwrap().verify_checksum());
    }

    #[test]
    fn padding_after_total_length_is_ignored() {
        let mut b = packet();
        b.extend_from_slice(&[0xee; 6]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 68);
    }
}
