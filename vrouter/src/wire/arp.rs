//! ARP for IPv4 over Ethernet (RFC 826).

use super::{be16, be32, put16, put32, Error, Mac, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// ARP operation codes.
pub mod op {
    /// Request.
    pub const REQUEST: u16 = 1;
    /// Reply.
    pub const REPLY: u16 = 2;
}

/// A view of an ARP packet.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking it holds an Ethernet/IPv4 ARP packet.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4.
        if be16(b, 0) != 1 || be16(b, 2) != 0x0800 || b[4] != 6 || b[5] != 4 {
            return Err(Error::Unsupported);
        }
        Ok(Packet { buf })
    }
    /// Operation.
    #[inline]
    pub fn op(&self) -> u16 {
        be16(self.buf.as_ref(), 6)
    }
    /// Sender hardware address.
    #[inline]
    pub fn sha(&self) -> Mac {
        Mac::from_bytes(&self.buf.as_ref()[8..14])
    }
    /// Sender protocol address (host byte order).
    #[inline]
    pub fn spa(&self) -> u32 {
        be32(self.buf.as_ref(), 14)
    }
    /// Target hardware address.
    #[inline]
    pub fn tha(&self) -> Mac {
        Mac::from_bytes(&self.buf.as_ref()[18..24])
    }
    /// Target protocol address (host byte order).
    #[inline]
    pub fn tpa(&self) -> u32 {
        be32(self.buf.as_ref(), 24)
    }
}

/// The fields of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Operation ([`op::REQUEST`] or [`op::REPLY`]).
    pub op: u16,
    /// Sender hardware address.
    pub sha: Mac,
    /// Sender protocol address (host byte order).
    pub spa: u32,
    /// Target hardware address.
    pub tha: Mac,
    /// Target protocol address (host byte order).
    pub tpa: u32,
}

impl Repr {
    /// Parses a request or reply; other operations are unsupported.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        if p.op() != op::REQUEST && p.op() != op::REPLY {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            op: p.op(),
            sha: p.sha(),
            spa: p.spa(),
            tha: p.tha(),
            tpa: p.tpa(),
        })
    }
    /// Writes the packet into the first [`PACKET_LEN`] bytes of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, 1);
        put16(buf, 2, 0x0800);
        buf[4] = 6;
        buf[5] = 4;
        put16(buf, 6, self.op);
        buf[8..14].copy_from_slice(&self.sha.0);
        put32(buf, 14, self.spa);
        buf[18..24].copy_from_slice(&self.tha.0);
        put32(buf, 24, self.tpa);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // who-has 10.0.1.21 tell 10.0.1.31, from 52:54:00:00:01:31.
    const REQ: [u8; 28] = [
        0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0, 1, 0x31, 10, 0, 1, 31, 0, 0, 0, 0, 0, 0, 10, 0,
        1, 21,
    ];

    #[test]
    fn parse_emit_round_trip() {
        let r = Repr::parse(&Packet::new_checked(&REQ[..]).unwrap()).unwrap();
        assert_eq!(r.op, op::REQUEST);
        assert_eq!(r.sha, Mac([0x52, 0x54, 0, 0, 1, 0x31]));
        assert_eq!(r.spa, u32::from_be_bytes([10, 0, 1, 31]));
        assert_eq!(r.tpa, u32::from_be_bytes([10, 0, 1, 21]));
        let mut out = [0u8; 28];
        r.emit(&mut out);
        assert_eq!(out, REQ);
    }

    #[test]
    fn bad_input_rejected() {
        assert_eq!(
            Packet::new_checked(&REQ[..27]).unwrap_err(),
            Error::Truncated
        );
        let mut b = REQ;
        b[5] = 16; // IPv6-sized protocol address
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Unsupported);
        let mut b = REQ;
        b[7] = 3; // RARP request
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Repr::parse(&p).unwrap_err(), Error::Unsupported);
    }
}
