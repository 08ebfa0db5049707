//! An owned mbuf: the packet buffer of the appliance, implementing [`vrouter::Frame`].

use std::ptr::NonNull;

use vrouter::Frame;

use super::ffi;
use super::mempool::Mempool;

/// An owned `rte_mbuf`, freed (back to its pool) on drop.
///
/// The [`Frame`] methods work on the first segment only, so an `Mbuf` is meant to be a
/// single segment: [`Mbuf::alloc`] gives one, and `RxQueue::rx_burst` linearizes chained
/// mbufs (dropping those that do not fit). A chain from elsewhere needs
/// [`Mbuf::linearize`] first; on an unlinearized chain the Frame methods stay memory-safe
/// but see only the first segment.
///
/// An `Mbuf` must be dropped (or handed to DPDK) before its pool is destroyed; `Mempool`'s
/// drop refuses to free a pool with mbufs out.
#[derive(Debug)]
#[repr(transparent)] // Same layout as `*mut rte_mbuf`: slices of Mbuf are burst arrays.
pub struct Mbuf {
    raw: NonNull<ffi::rte_mbuf>,
}

// SAFETY: the mbuf is exclusively owned; freeing it from another thread is allowed (the
// pool is multi-producer). Not Sync: there is no shared access to its fields.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// A fresh single-segment, empty mbuf with the default headroom; `None` if the pool
    /// is empty.
    pub fn alloc(pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: the pool is valid while borrowed; the result is an exclusively owned,
        // reset mbuf or NULL.
        NonNull::new(unsafe { ffi::vr_pktmbuf_alloc(pool.as_ptr()) }).map(|raw| Mbuf { raw })
    }

    /// A fresh mbuf holding a copy of `bytes`; `None` if the pool is empty or the bytes do
    /// not fit in the tailroom.
    pub fn from_slice(pool: &Mempool, bytes: &[u8]) -> Option<Mbuf> {
        let mut m = Mbuf::alloc(pool)?;
        m.append(bytes.len())?.copy_from_slice(bytes);
        Some(m)
    }

    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nothing else owns or frees afterwards.
    pub unsafe fn from_raw(raw: NonNull<ffi::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    /// Gives up ownership without freeing: the caller (or DPDK) must free the mbuf.
    pub fn into_raw(self) -> NonNull<ffi::rte_mbuf> {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    /// Bytes free in front of the data.
    pub fn headroom(&self) -> usize {
        usize::from(self.mbuf().data_off)
    }

    /// Bytes free after the data, in the first segment.
    pub fn tailroom(&self) -> usize {
        let m = self.mbuf();
        usize::from(m.buf_len) - usize::from(m.data_off) - usize::from(m.data_len)
    }

    /// Number of segments (1 unless it is a chain, see the type's documentation).
    pub fn nb_segs(&self) -> u16 {
        self.mbuf().nb_segs
    }

    /// Turns a chain into a single segment by copying into the first one's tailroom;
    /// false (chain unchanged) if it does not fit. Does nothing on a single segment.
    pub fn linearize(&mut self) -> bool {
        // SAFETY: the mbuf is valid and exclusively ours; linearize frees the copied
        // segments, which belong to the chain we own.
        self.nb_segs() == 1 || unsafe { ffi::vr_pktmbuf_linearize(self.raw.as_ptr()) } == 0
    }

    fn mbuf(&self) -> &ffi::rte_mbuf {
        // SAFETY: self owns a valid mbuf; &self gives shared access to its fields.
        unsafe { self.raw.as_ref() }
    }

    fn mbuf_mut(&mut self) -> &mut ffi::rte_mbuf {
        // SAFETY: self owns a valid mbuf exclusively; &mut self makes the access unique.
        unsafe { self.raw.as_mut() }
    }

    /// Applies a change of the first segment's bounds to data_off, data_len and pkt_len,
    /// then returns the data. Callers have checked it stays inside the buffer.
    fn set_bounds(&mut self, data_off: usize, data_len: usize) -> &mut [u8] {
        let m = self.mbuf_mut();
        debug_assert!(data_off + data_len <= usize::from(m.buf_len));
        let old_len = m.data_len;
        // Both fit in u16: data_off + data_len <= buf_len, a u16.
        m.data_off = data_off as u16;
        m.data_len = data_len as u16;
        m.pkt_len = m.pkt_len - u32::from(old_len) + data_len as u32;
        self.data_mut()
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: the mbuf (chain) is owned by self and freed exactly once, here.
        unsafe { ffi::vr_pktmbuf_free(self.raw.as_ptr()) }
    }
}

impl Frame for Mbuf {
    fn data(&self) -> &[u8] {
        let m = self.mbuf();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer (an mbuf
        // invariant every method here keeps); the bytes are ours while self is borrowed.
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    fn data_mut(&mut self) -> &mut [u8] {
        let m = self.mbuf_mut();
        // SAFETY: as in data, and &mut self makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    fn pull(&mut self, n: usize) -> bool {
        let (off, len) = (self.headroom(), self.len());
        if n > len {
            return false;
        }
        self.set_bounds(off + n, len - n);
        true
    }

    fn push(&mut self, n: usize) -> Option<&mut [u8]> {
        let (off, len) = (self.headroom(), self.len());
        if n > off {
            return None;
        }
        Some(self.set_bounds(off - n, len + n))
    }

    fn truncate(&mut self, len: usize) -> bool {
        if len > self.len() {
            return false;
        }
        let off = self.headroom();
        self.set_bounds(off, len);
        true
    }

    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.tailroom() {
            return None;
        }
        let (off, len) = (self.headroom(), self.len());
        Some(self.set_bounds(off, len + n))
    }

    /// A single-segment copy from the same pool, with the same headroom.
    fn try_clone(&self) -> Option<Mbuf> {
        let pool = self.mbuf().pool;
        // SAFETY: a valid mbuf's pool is a valid pktmbuf pool, alive while its mbufs are.
        let raw = NonNull::new(unsafe { ffi::vr_pktmbuf_alloc(pool) })?;
        // SAFETY: a freshly allocated mbuf, exclusively ours.
        let mut copy = unsafe { Mbuf::from_raw(raw) };
        let (off, len) = (self.headroom(), self.len());
        if off + len > usize::from(copy.mbuf().buf_len) {
            return None;
        }
        copy.set_bounds(off, len).copy_from_slice(self.data());
        Some(copy)
    }

    fn len(&self) -> usize {
        usize::from(self.mbuf().data_len)
    }
}
