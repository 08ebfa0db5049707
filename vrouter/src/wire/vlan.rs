//! IEEE 802.1Q VLAN tags: the 4 bytes after the source MAC of a tagged frame.

use super::{be16, put16, Error, Result};

/// Length of the tag (TCI + inner EtherType).
pub const HEADER_LEN: usize = 4;

/// A view of a VLAN tag: the TCI and the EtherType that follows it.
#[derive(Debug)]
pub struct Tag<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Wraps `buf` (the bytes after the outer EtherType 0x8100) after checking its length.
    #[inline]
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Tag { buf })
    }
    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        self.buf.as_ref()[0] >> 5
    }
    /// VLAN identifier (12 bits).
    #[inline]
    pub fn vid(&self) -> u16 {
        be16(self.buf.as_ref(), 0) & 0x0fff
    }
    /// EtherType of the payload.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
}

/// The fields of a VLAN tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Priority code point.
    pub pcp: u8,
    /// VLAN identifier, 0..=4095 (0 = priority tag only, 4095 reserved).
    pub vid: u16,
    /// EtherType of the payload.
    pub ethertype: u16,
}

impl Repr {
    /// Parses a tag; a VID of 4095 is reserved (IEEE 802.1Q Table 9-2) and rejected.
    #[inline]
    pub fn parse<T: AsRef<[u8]>>(t: &Tag<T>) -> Result<Repr> {
        if t.vid() == 0x0fff {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            pcp: t.pcp(),
            vid: t.vid(),
            ethertype: t.ethertype(),
        })
    }
    /// Writes the tag into the first [`HEADER_LEN`] bytes of `buf`.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        put16(buf, 0, ((self.pcp as u16 & 7) << 13) | (self.vid & 0x0fff));
        put16(buf, 2, self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_emit_round_trip() {
        let b = [0xa0, 0x0a, 0x08, 0x00];
        let r = Repr::parse(&Tag::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(
            r,
            Repr {
                pcp: 5,
                vid: 10,
                ethertype: 0x0800
            }
        );
        let mut out = [0u8; 4];
        r.emit(&mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn truncated_and_reserved_rejected() {
        assert_eq!(
            Tag::new_checked(&[0u8; 3][..]).unwrap_err(),
            Error::Truncated
        );
        let t = Tag::new_checked(&[0x0f, 0xff, 8, 0][..]).unwrap();
        assert_eq!(Repr::parse(&t).unwrap_err(), Error::Malformed);
    }
}
