//! The packet buffer abstraction the pipeline works on, and a heap-backed one for tests.

/// A packet buffer with headroom in front of the data, so that headers can be pushed and
/// pulled in place. DPDK's mbuf implements it in the appliance; [`VecFrame`] in tests.
pub trait Frame: Sized {
    /// The packet bytes.
    fn data(&self) -> &[u8];
    /// The packet bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Removes `n` bytes from the front; false (and unchanged) if the packet is shorter.
    fn pull(&mut self, n: usize) -> bool;
    /// Grows the packet by `n` bytes at the front and returns the whole packet; `None`
    /// (and unchanged) if the headroom is too small.
    fn push(&mut self, n: usize) -> Option<&mut [u8]>;
    /// Cuts the packet to `len` bytes; false (and unchanged) if it is shorter.
    fn truncate(&mut self, len: usize) -> bool;
    /// Grows the packet by `n` bytes at the end and returns the whole packet; `None` (and
    /// unchanged) if the tailroom is too small.
    fn append(&mut self, n: usize) -> Option<&mut [u8]>;
    /// A deep copy with the same headroom, for flooding; `None` when no buffer is free.
    fn try_clone(&self) -> Option<Self>;

    /// Length of the packet in bytes.
    fn len(&self) -> usize {
        self.data().len()
    }
    /// True if the packet holds no bytes.
    fn is_empty(&self) -> bool {
        self.data().is_empty()
    }
}

/// Headroom a [`VecFrame`] starts with, as much as an mbuf has (RTE_PKTMBUF_HEADROOM).
pub const VEC_FRAME_HEADROOM: usize = 128;
/// Size of a [`VecFrame`]'s buffer, as a default mbuf data room.
pub const VEC_FRAME_ROOM: usize = 2048 + VEC_FRAME_HEADROOM;

/// A [`Frame`] on a `Vec<u8>` with mbuf-like headroom and tailroom, for tests and benches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecFrame {
    // A thin pointer and two u32: 16 bytes, moved in two registers from stage to stage like
    // an mbuf pointer, so that benches on VecFrames do not time memcpys mbufs never see.
    buf: Box<[u8; VEC_FRAME_ROOM]>,
    start: u32,
    end: u32,
}

impl VecFrame {
    /// A frame holding a copy of `bytes`, with the default headroom; panics if it cannot fit
    /// (test helper only).
    pub fn new(bytes: &[u8]) -> Self {
        assert!(bytes.len() <= VEC_FRAME_ROOM - VEC_FRAME_HEADROOM);
        let mut buf = Box::new([0; VEC_FRAME_ROOM]);
        buf[VEC_FRAME_HEADROOM..VEC_FRAME_HEADROOM + bytes.len()].copy_from_slice(bytes);
        VecFrame {
            buf,
            start: VEC_FRAME_HEADROOM as u32,
            end: (VEC_FRAME_HEADROOM + bytes.len()) as u32,
        }
    }

    /// The packet bytes as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.data().to_vec()
    }

    /// Where the packet lies in the buffer.
    #[inline]
    fn range(&self) -> core::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

// Bounds stay within the buffer (at most VEC_FRAME_ROOM, which fits u32): every method
// checks before it moves them.
impl Frame for VecFrame {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.range()]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let r = self.range();
        &mut self.buf[r]
    }
    #[inline]
    fn pull(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n as u32;
        true
    }
    #[inline]
    fn push(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.start as usize {
            return None;
        }
        self.start -= n as u32;
        Some(self.data_mut())
    }
    #[inline]
    fn truncate(&mut self, len: usize) -> bool {
        if len > self.len() {
            return false;
        }
        self.end = self.start + len as u32;
        true
    }
    #[inline]
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > VEC_FRAME_ROOM - self.end as usize {
            return None;
        }
        self.end += n as u32;
        Some(self.data_mut())
    }
    #[inline]
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
    #[inline]
    fn len(&self) -> usize {
        (self.end - self.start) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_truncate_append_respect_bounds() {
        let mut f = VecFrame::new(&[1, 2, 3, 4]);
        assert!(f.pull(2));
        assert_eq!(f.data(), &[3, 4]);
        assert!(!f.pull(3));
        let d = f.push(4).unwrap();
        assert_eq!(d.len(), 6);
        assert!(f.push(VEC_FRAME_HEADROOM).is_none());
        assert!(f.truncate(1));
        assert!(!f.truncate(2));
        assert_eq!(f.append(3).unwrap().len(), 4);
        assert!(f.append(VEC_FRAME_ROOM).is_none());
    }
}
