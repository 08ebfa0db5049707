//! The identification of the outer IPv4 headers a worker emits (GRE towards tunnel
//! peers, ICMP errors).

/// The identification of the outer IPv4 headers a worker emits.
#[derive(Debug)]
pub(super) struct IpIdent(pub u16);

impl IpIdent {
    /// The next identification (RFC 6864: any value for atomic datagrams).
    #[inline]
    pub fn next(&mut self) -> u16 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}
