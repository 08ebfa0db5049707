//! Zero-copy views of protocol headers: each module has a `Packet` view over a byte slice
//! whose accessors read fields in place, a `check` that validates lengths before any field is
//! read, and a `Repr` that parses into and emits from plain values.

pub mod arp;
pub mod checksum;
pub mod dhcp;
pub mod ethernet;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod udp;
pub mod vlan;

use core::fmt;

/// Why a header could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the header (or the length it declares) needs.
    Truncated,
    /// A field has a value the protocol does not allow.
    Malformed,
    /// A valid header of a kind this implementation does not handle.
    Unsupported,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::Malformed => "malformed",
            Error::Unsupported => "unsupported",
        })
    }
}

/// Result of parsing a header.
pub type Result<T> = core::result::Result<T, Error>;

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// 00:00:00:00:00:00.
    pub const ZERO: Mac = Mac([0; 6]);

    /// Reads a MAC from the first six bytes of `b` (which must hold them).
    #[inline]
    pub fn from_bytes(b: &[u8]) -> Mac {
        let mut m = [0; 6];
        m.copy_from_slice(&b[..6]);
        Mac(m)
    }
    /// True for group (multicast and broadcast) addresses: the I/G bit is set.
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
    /// True for a unicast address other than all zeroes.
    #[inline]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Mac::ZERO
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for Mac {
    type Err = Error;
    /// Parses `aa:bb:cc:dd:ee:ff` (hex, either case).
    fn from_str(s: &str) -> Result<Mac> {
        let mut m = [0u8; 6];
        let mut parts = s.split(':');
        for b in m.iter_mut() {
            let p = parts.next().ok_or(Error::Malformed)?;
            if p.len() != 2 {
                return Err(Error::Malformed);
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| Error::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed);
        }
        Ok(Mac(m))
    }
}

/// Reads a big-endian u16 at `at` (caller checked the length).
#[inline]
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at` (caller checked the length).
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian u16 at `at` (caller checked the length).
#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian u32 at `at` (caller checked the length).
#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_prints_and_classifies() {
        let m: Mac = "fa:16:3e:75:E0:5a".parse().unwrap();
        assert_eq!(m.to_string(), "fa:16:3e:75:e0:5a");
        assert!(m.is_unicast());
        assert!(Mac::BROADCAST.is_multicast());
        assert!(!Mac::ZERO.is_unicast());
        assert!("fa:16:3e:75:e0".parse::<Mac>().is_err());
        assert!("fa:16:3e:75:e0:5a:00".parse::<Mac>().is_err());
        assert!("fa:16:3e:75:e0:zz".parse::<Mac>().is_err());
    }
}
