//! Cache prefetch hints: a vector's table entries are asked for ahead of the packets that
//! need them, so that their memory accesses overlap instead of waiting one after another.
#![allow(unsafe_code)]

/// Cache line size of the machines the appliance runs on.
const LINE: usize = 64;

/// Asks the CPU to bring the cache lines of `len` bytes at `p` into all cache levels.
/// Only a hint: it never faults, whatever the address, and does nothing where the target
/// has no such instruction.
#[inline(always)]
pub fn prefetch<T>(p: *const T, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // Every line the bytes touch, from the line `p` is in to the one of its last byte.
        let p = p.cast::<i8>();
        let first = (p as usize) & (LINE - 1);
        let mut off = 0;
        while off < first + len {
            // SAFETY: PREFETCHT0 is part of SSE (baseline on x86_64), reads nothing
            // architecturally and cannot fault, so any address is sound.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_sub(first).wrapping_add(off)) };
            off += LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}
