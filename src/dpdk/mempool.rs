//! Pools of packet buffers (rte_pktmbuf_pool_create).

use std::ffi::CString;
use std::ptr::NonNull;

use super::eal::{object_created, object_dropped, DpdkError};
use super::ffi;

/// A pool of mbufs with the default data room (2048 bytes + 128 of headroom).
///
/// Dropping the pool frees it only when all its mbufs are back; otherwise it is left
/// allocated (and logged), because freeing it would pull the memory from under them.
#[derive(Debug)]
pub struct Mempool {
    raw: NonNull<ffi::rte_mempool>,
}

// SAFETY: a pktmbuf pool uses the thread-safe "ring_mp_mc" ops by default: get and put are
// safe from any thread (EAL threads use their per-lcore cache), and the counters only read.
unsafe impl Send for Mempool {}
// SAFETY: as above; the pool has no state that &self methods mutate unsynchronised.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool named `name` (unique in the process) of `n_mbufs` mbufs with a
    /// per-lcore cache of `cache` on NUMA `socket` (`ffi::SOCKET_ID_ANY` for any).
    pub fn new(name: &str, n_mbufs: u32, cache: u32, socket: i32) -> Result<Mempool, DpdkError> {
        let context = || format!("creating mbuf pool '{name}' of {n_mbufs} mbufs");
        let cname = CString::new(name).map_err(|_| DpdkError::new(context(), libc::EINVAL))?;
        // SAFETY: cname is a valid C string; EAL copies the name. The data room constant
        // (2176) fits the u16 parameter.
        let raw = unsafe {
            ffi::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n_mbufs,
                cache,
                0,
                ffi::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                socket,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| DpdkError::last(context()))?;
        object_created();
        Ok(Mempool { raw })
    }

    /// Mbufs free in the pool, including those in the per-lcore caches.
    pub fn avail(&self) -> u32 {
        // SAFETY: the pool is valid while self lives; the call only reads counters.
        unsafe { ffi::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs taken from the pool and not yet returned (held by Mbufs, rings or NIC queues).
    pub fn in_use(&self) -> u32 {
        // SAFETY: as in avail.
        unsafe { ffi::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// The raw pool, for allocating mbufs and setting up rx queues.
    pub fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        let in_use = self.in_use();
        if in_use == 0 {
            // SAFETY: no mbuf of the pool is out, and self was the only handle to it.
            unsafe { ffi::rte_mempool_free(self.raw.as_ptr()) };
            object_dropped();
        } else {
            // Still counted as live: EAL cleanup must not unmap it under its mbufs.
            log::warn!("mbuf pool dropped with {in_use} mbufs in use: left allocated");
        }
    }
}
