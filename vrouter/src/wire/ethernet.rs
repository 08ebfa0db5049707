//! Ethernet II frames (IEEE 802.3 with EtherType).

use super::{be16, put16, Error, Mac, Result};

/// Length of the Ethernet header.
pub const HEADER_LEN: usize = 14;

/// EtherType values this node handles.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IEEE 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// Transparent Ethernet bridging: the payload type of GRE carrying frames.
    pub const TEB: u16 = 0x6558;
}

/// A view of an Ethernet frame.
#[derive(Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buf` after checking it holds a whole header.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Frame { buf })
    }
    /// Destination address.
    #[inline]
    pub fn dst(&self) -> Mac {
        Mac::from_bytes(&self.buf.as_ref()[0..6])
    }
    /// Source address.
    #[inline]
    pub fn src(&self) -> Mac {
        Mac::from_bytes(&self.buf.as_ref()[6..12])
    }
    /// EtherType.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), 12)
    }
    /// The bytes after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst(&mut self, m: Mac) {
        self.buf.as_mut()[0..6].copy_from_slice(&m.0);
    }
    /// Sets the source address.
    #[inline]
    pub fn set_src(&mut self, m: Mac) {
        self.buf.as_mut()[6..12].copy_from_slice(&m.0);
    }
    /// Sets the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, t: u16) {
        put16(self.buf.as_mut(), 12, t);
    }
}

/// The fields of an Ethernet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Destination address.
    pub dst: Mac,
    /// Source address.
    pub src: Mac,
    /// EtherType.
    pub ethertype: u16,
}

impl Repr {
    /// Parses the header of `f`.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Repr {
        Repr {
            dst: f.dst(),
            src: f.src(),
            ethertype: f.ethertype(),
        }
    }
    /// Writes the header into the first [`HEADER_LEN`] bytes of `buf` (which must hold them).
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..6].copy_from_slice(&self.dst.0);
        buf[6..12].copy_from_slice(&self.src.0);
        put16(buf, 12, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a, 0x08, 0x06, 0xaa,
        0xbb,
    ];

    #[test]
    fn parse_emit_round_trip() {
        let f = Frame::new_checked(&BYTES[..]).unwrap();
        let r = Repr::parse(&f);
        assert_eq!(r.dst, Mac::BROADCAST);
        assert_eq!(r.src.to_string(), "fa:16:3e:75:e0:5a");
        assert_eq!(r.ethertype, ethertype::ARP);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
        let mut out = [0u8; 14];
        r.emit(&mut out);
        assert_eq!(out, BYTES[..14]);
    }

    #[test]
    fn setters_write_in_place() {
        let mut b = BYTES;
        let mut f = Frame::new_checked(&mut b[..]).unwrap();
        f.set_dst(Mac([2, 0, 0, 0, 0, 1]));
        f.set_src(Mac([2, 0, 0, 0, 0, 2]));
        f.set_ethertype(ethertype::IPV4);
        assert_eq!(&b[..14], &[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0]);
    }

    #[test]
    fn truncated_is_rejected() {
        assert_eq!(
            Frame::new_checked(&BYTES[..13]).unwrap_err(),
            Error::Truncated
        );
    }
}
