//! ICMP for IPv4 (RFC 792): echo, and the error messages a router sends (RFC 1812 §4.3).

use super::checksum;
use super::{be16, put16, Error, Result};

/// Length of the ICMP header (type, code, checksum, 4 bytes of rest-of-header).
pub const HEADER_LEN: usize = 8;

/// ICMP message types this node handles.
pub mod kind {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
}

/// Destination unreachable codes (RFC 792, RFC 1191).
pub mod unreachable {
    /// Net unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set; the next-hop MTU is in bytes 6-7 (RFC 1191 §4).
    pub const FRAG_NEEDED: u8 = 4;
}

/// A view of an ICMP message.
#[derive(Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` after checking it holds the header.
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Packet { buf })
    }
    /// Message type.
    pub fn kind(&self) -> u8 {
        self.buf.as_ref()[0]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    /// Identifier of an echo message.
    pub fn echo_id(&self) -> u16 {
        be16(self.buf.as_ref(), 4)
    }
    /// True for an error message, which carries an offending datagram.
    pub fn is_error(&self) -> bool {
        matches!(
            self.kind(),
            kind::DEST_UNREACHABLE | kind::TIME_EXCEEDED | kind::PARAM_PROBLEM
        )
    }
    /// True if the checksum over the whole message verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::add(0, self.buf.as_ref())) == 0xffff
    }
    /// The bytes after the header (echo data, or the offending datagram of an error).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

/// Writes an ICMP header into the start of `msg` (header followed by payload) and fills in
/// the checksum over the whole message. `rest` is the 4-byte rest-of-header (echo id and
/// sequence, the next-hop MTU of "fragmentation needed", or zero).
pub fn emit(msg: &mut [u8], kind: u8, code: u8, rest: [u8; 4]) {
    msg[0] = kind;
    msg[1] = code;
    put16(msg, 2, 0);
    msg[4..8].copy_from_slice(&rest);
    let c = checksum::checksum(msg);
    put16(msg, 2, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_parses_and_checksum_verifies() {
        let mut m = [8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b'];
        emit(&mut m, kind::ECHO_REQUEST, 0, [0x12, 0x34, 0, 1]);
        // Independently: 0800 + 1234 + 0001 + 6162 = 7b97, complemented 8468.
        assert_eq!(&m[2..4], &[0x84, 0x68]);
        let p = Packet::new_checked(&m[..]).unwrap();
        assert_eq!((p.kind(), p.code(), p.echo_id()), (8, 0, 0x1234));
        assert!(p.verify_checksum());
        assert!(!p.is_error());
        assert_eq!(p.payload(), b"ab");
    }

    #[test]
    fn truncated_rejected_and_errors_recognised() {
        assert_eq!(
            Packet::new_checked(&[3u8, 4, 0][..]).unwrap_err(),
            Error::Truncated
        );
        let p = Packet::new_checked(&[11u8, 0, 0, 0, 0, 0, 0, 0][..]).unwrap();
        assert!(p.is_error());
    }
}
