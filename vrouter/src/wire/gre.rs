//! GRE (RFC 2784) with the key and sequence number extensions (RFC 2890).

use super::checksum;
use super::{be16, be32, put16, put32, Error, Result};

/// Checksum Present bit (RFC 2784 §2.1).
pub const FLAG_C: u16 = 0x8000;
/// Routing Present bit of RFC 1701, which RFC 2784 reserves.
pub const FLAG_R: u16 = 0x4000;
/// Key Present bit (RFC 2890 §2).
pub const FLAG_K: u16 = 0x2000;
/// Sequence Number Present bit (RFC 2890 §2).
pub const FLAG_S: u16 = 0x1000;
/// Reserved0 bits 1-5 that RFC 2784 §2.3 requires a receiver to discard on (C stays bit 0;
/// RFC 2890 takes bits 2 and 3 for K and S).
const RESERVED0_MUST_BE_ZERO: u16 = FLAG_R | 0x0800 | 0x0400;
/// Version field mask (RFC 2784 §2.3.1: must be 0).
const VERSION_MASK: u16 = 0x0007;

/// Length of the base header (flags, version, protocol).
pub const BASE_LEN: usize = 4;

/// A view of a GRE header.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking that the optional fields its flags announce are present.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < BASE_LEN {
            return Err(Error::Truncated);
        }
        let p = Packet { buf };
        if p.buf.as_ref().len() < p.header_len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }
    /// Flags and version word.
    #[inline]
    pub fn flags(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }
    /// Protocol type of the payload (an EtherType).
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    /// Header length including the optional fields.
    #[inline]
    pub fn header_len(&self) -> usize {
        let f = self.flags();
        BASE_LEN
            + if f & FLAG_C != 0 { 4 } else { 0 }
            + if f & FLAG_K != 0 { 4 } else { 0 }
            + if f & FLAG_S != 0 { 4 } else { 0 }
    }
    /// The checksum field, if present.
    #[inline]
    pub fn checksum(&self) -> Option<u16> {
        (self.flags() & FLAG_C != 0).then(|| be16(self.buf.as_ref(), 4))
    }
    /// The key, if present (it follows the checksum field when both are there).
    #[inline]
    pub fn key(&self) -> Option<u32> {
        let f = self.flags();
        (f & FLAG_K != 0).then(|| be32(self.buf.as_ref(), if f & FLAG_C != 0 { 8 } else { 4 }))
    }
    /// The sequence number, if present (it follows checksum and key).
    #[inline]
    pub fn sequence(&self) -> Option<u32> {
        let f = self.flags();
        (f & FLAG_S != 0)
            .then(|| self.header_len() - 4)
            .map(|at| be32(self.buf.as_ref(), at))
    }
    /// True if there is no checksum, or the checksum over header and payload verifies
    /// (RFC 2784 §2.5).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        self.checksum().is_none() || checksum::fold(checksum::add(0, self.buf.as_ref())) == 0xffff
    }
    /// The bytes after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }
}

/// The fields of a GRE header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Payload protocol (an EtherType).
    pub protocol: u16,
    /// Whether a checksum is carried.
    pub checksum: bool,
    /// The key, if carried.
    pub key: Option<u32>,
    /// The sequence number, if carried.
    pub sequence: Option<u32>,
}

impl Repr {
    /// Parses a header; RFC 1701 routing, other reserved bits and versions other than 0 are
    /// rejected as RFC 2784 §2.3 requires.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        let f = p.flags();
        if f & RESERVED0_MUST_BE_ZERO != 0 || f & VERSION_MASK != 0 {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            protocol: p.protocol(),
            checksum: f & FLAG_C != 0,
            key: p.key(),
            sequence: p.sequence(),
        })
    }
    /// Header length this representation emits.
    #[inline]
    pub fn header_len(&self) -> usize {
        BASE_LEN
            + if self.checksum { 4 } else { 0 }
            + if self.key.is_some() { 4 } else { 0 }
            + if self.sequence.is_some() { 4 } else { 0 }
    }
    /// Writes the header into the start of `packet`, which holds the header followed by the
    /// payload; the checksum, when carried, covers both.
    #[inline]
    pub fn emit(&self, packet: &mut [u8]) {
        let mut flags = 0;
        let mut at = BASE_LEN;
        if self.checksum {
            flags |= FLAG_C;
            put32(packet, at, 0);
            at += 4;
        }
        if let Some(k) = self.key {
            flags |= FLAG_K;
            put32(packet, at, k);
            at += 4;
        }
        if let Some(s) = self.sequence {
            flags |= FLAG_S;
            put32(packet, at, s);
        }
        put16(packet, 0, flags);
        put16(packet, 2, self.protocol);
        if self.checksum {
            let c = checksum::checksum(packet);
            put16(packet, 4, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_only_round_trip() {
        let b = [0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2, 0xaa];
        let p = Packet::new_checked(&b[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            r,
            Repr {
                protocol: 0x6558,
                checksum: false,
                key: Some(2),
                sequence: None
            }
        );
        assert_eq!(p.payload(), &[0xaa]);
        let mut out = b;
        out[..8].fill(0);
        r.emit(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn checksum_key_sequence_all_parsed_in_order() {
        let r = Repr {
            protocol: 0x6558,
            checksum: true,
            key: Some(0x0102_0304),
            sequence: Some(7),
        };
        let mut b = vec![0u8; r.header_len() + 3];
        b[16..].copy_from_slice(&[1, 2, 3]);
        r.emit(&mut b);
        assert_eq!(&b[..4], &[0xb0, 0x00, 0x65, 0x58]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 16);
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p).unwrap(), r);
        assert_eq!(p.payload(), &[1, 2, 3]);
        b[18] ^= 0xff;
        assert!(!Packet::new_checked(&b[..]).unwrap().verify_checksum());
    }

    #[test]
    fn truncated_routing_and_version_rejected() {
        assert_eq!(
            Packet::new_checked(&[0x20, 0, 0x65][..]).unwrap_err(),
            Error::Truncated
        );
        // K announced but the key is missing.
        let b = [0x20, 0x00, 0x65, 0x58, 0, 0];
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
        let b = [0x40, 0x00, 0x65, 0x58, 0, 0, 0, 0];
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::Unsupported
        );
        let b = [0x00, 0x01, 0x88, 0x0b];
        assert_eq!(
            Repr::parse(&Packet::new_checked(&b[..]).unwrap()).unwrap_err(),
            Error::Unsupported
        );
    }
}
