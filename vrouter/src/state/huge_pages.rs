//! An allocator for the big per-worker tables (conntrack, MAC table): each allocation of
//! [`HUGE_PAGE`] bytes or more is an anonymous mapping of its own, backed by 2 MiB pages
//! where the system has them, so that a lookup spread over tens of MiB does not miss the
//! TLB on nearly every packet. Smaller allocations go to the global allocator.
//!
//! A large allocation tries, in order:
//! 1. explicit huge pages (`MAP_HUGETLB | MAP_HUGE_2MB`, Linux
//!    Documentation/admin-guide/mm/hugetlbpage.rst), once [`use_hugetlb`] allowed them
//!    (the daemon does when its EAL runs on huge pages, not `--no-huge`: the pool is
//!    DPDK's memory, this process's and others'), and only while the pool keeps
//!    [`HUGETLB_RESERVE`] pages free after it (the tables are built after the EAL took
//!    its own);
//! 2. a 2 MiB-aligned anonymous mapping advised `MADV_HUGEPAGE` (transparent huge pages,
//!    Documentation/admin-guide/mm/transhuge.rst: used in the `always` and `madvise`
//!    modes), with a `PROT_NONE` guard page on each side so that the kernel merges it with
//!    no neighbour and `/proc/self/smaps` shows it as one area;
//! 3. the same mapping in 4 KiB pages, when transparent huge pages are `never`.
//!
//! Every page is written once when the mapping is made, so that no page fault is left for
//! the packet path, and what the kernel gave (`AnonHugePages` of the area in
//! `/proc/self/smaps`) is recorded: [`regions`] lists each live mapping with the table it
//! serves, [`usage`] sums the bytes per kind, and [`fallback_warning`] says when tables
//! ended up in 4 KiB pages.
#![allow(unsafe_code)]

use allocator_api2::alloc::{AllocError, Allocator, Global};
use core::alloc::Layout;
use core::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Size of a huge page, and the size from which an allocation gets a mapping of its own.
pub const HUGE_PAGE: usize = 2 << 20;
/// Explicit huge pages left free in the pool, at least, for DPDK's later allocations.
pub const HUGETLB_RESERVE: usize = 32;

/// The pool of explicit 2 MiB pages (Linux sysfs).
const HUGETLB_POOL: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB";
/// The transparent huge page mode (`always`, `madvise` or `never`, the chosen in brackets).
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// Whether large allocations may take explicit huge pages from the hugetlb pool.
static HUGETLB: AtomicBool = AtomicBool::new(false);

/// Lets large allocations made from now on take explicit huge pages from the pool (off
/// by default: transparent huge pages take nothing from the pool).
pub fn use_hugetlb(allowed: bool) {
    HUGETLB.store(allowed, Ordering::Relaxed);
}

/// Allocates for the table it names: large allocations in huge pages (see the module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HugePages {
    table: &'static str,
}

impl HugePages {
    /// The allocator of the table called `table` (the name [`regions`] lists).
    pub const fn new(table: &'static str) -> Self {
        HugePages { table }
    }
}

/// The pages a mapping got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Explicit huge pages from the hugetlb pool.
    Hugetlb,
    /// Transparent huge pages (all of the mapping or part of it).
    Transparent,
    /// 4 KiB pages only.
    Small,
}

/// One live mapping of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The table it serves.
    pub table: &'static str,
    /// Its size (the allocation rounded up to [`HUGE_PAGE`]).
    pub bytes: usize,
    /// The part of it in huge pages.
    pub huge_bytes: usize,
    /// The pages it got.
    pub kind: PageKind,
}

/// The tables' mappings, summed per kind of page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageUsage {
    /// Live mappings.
    pub regions: u64,
    /// Bytes in explicit huge pages.
    pub hugetlb_bytes: u64,
    /// Bytes in transparent huge pages.
    pub transparent_bytes: u64,
    /// Bytes in 4 KiB pages.
    pub small_bytes: u64,
}

impl PageUsage {
    /// All bytes mapped for the tables.
    pub fn total_bytes(&self) -> u64 {
        self.hugetlb_bytes + self.transparent_bytes + self.small_bytes
    }
}

/// A live mapping: what to unmap, and what it got.
#[derive(Clone, Copy, Debug)]
struct Mapping {
    /// The address handed out.
    addr: usize,
    /// The whole mapping (guards included) as `mmap` returned it.
    base: usize,
    len: usize,
    region: Region,
}

/// Every live mapping made by [`HugePages`] (few: one per large table allocation).
static MAPPINGS: Mutex<Vec<Mapping>> = Mutex::new(Vec::new());

fn mappings() -> MutexGuard<'static, Vec<Mapping>> {
    MAPPINGS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The live mappings of the tables, oldest first.
pub fn regions() -> Vec<Region> {
    mappings().iter().map(|m| m.region).collect()
}

/// The bytes of the live mappings per kind of page.
pub fn usage() -> PageUsage {
    let mut u = PageUsage::default();
    for m in mappings().iter() {
        let r = m.region;
        u.regions += 1;
        let huge = r.huge_bytes as u64;
        match r.kind {
            PageKind::Hugetlb => u.hugetlb_bytes += huge,
            _ => u.transparent_bytes += huge,
        }
        u.small_bytes += (r.bytes - r.huge_bytes) as u64;
    }
    u
}

/// A warning to log when some table lives in 4 KiB pages, naming the tables and what the
/// system offers; `None` when every mapping is in huge pages.
pub fn fallback_warning() -> Option<String> {
    let u = usage();
    if u.small_bytes == 0 {
        return None;
    }
    let mut tables: Vec<&str> = regions()
        .iter()
        .filter(|r| r.huge_bytes < r.bytes)
        .map(|r| r.table)
        .collect();
    tables.sort_unstable();
    tables.dedup();
    Some(format!(
        "{} MiB of tables ({}) in 4 KiB pages: transparent huge pages are {} ({THP_ENABLED}) \
         and {} explicit 2 MiB pages are free ({HUGETLB_POOL}); lookups will miss the TLB",
        u.small_bytes >> 20,
        tables.join(", "),
        thp_mode().unwrap_or_else(|| "unavailable".to_string()),
        hugetlb_available().unwrap_or(0),
    ))
}

/// The transparent huge page mode in force, if the kernel has them.
pub fn thp_mode() -> Option<String> {
    let text = std::fs::read_to_string(THP_ENABLED).ok()?;
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(text[start..end].to_string())
}

/// Free explicit 2 MiB pages not promised to a mapping yet.
fn hugetlb_available() -> Option<usize> {
    let read = |name: &str| -> Option<usize> {
        std::fs::read_to_string(format!("{HUGETLB_POOL}/{name}"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some(read("free_hugepages")?.saturating_sub(read("resv_hugepages").unwrap_or(0)))
}

/// The huge-page bytes of the area starting at `addr` in `/proc/self/smaps`
/// (`AnonHugePages` plus the hugetlb lines), if the area is found.
pub fn smaps_huge_bytes(addr: usize) -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let header = format!("{addr:08x}-");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&header));
    lines.next()?;
    let mut kib = 0;
    // The area's fields follow its header up to the next header, whose first word (the
    // address range) is the only one not ending in a colon.
    for line in lines.take_while(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.ends_with(':'))
    }) {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or_default();
        if matches!(
            name,
            "AnonHugePages:" | "Private_Hugetlb:" | "Shared_Hugetlb:"
        ) {
            kib += words.next()?.parse::<usize>().ok()?;
        }
    }
    Some(kib * 1024)
}

/// The size of a base page.
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096).max(1)
}

/// Writes a zero (what a fresh mapping holds) into every `step` bytes of `addr..addr+len`.
///
/// # Safety
/// The range must be mapped writable and hold no live data.
unsafe fn prefault(addr: usize, len: usize, step: usize) {
    for off in (0..len).step_by(step) {
        // SAFETY: in the writable mapping (caller), which holds zeroes nobody reads yet.
        unsafe { ((addr + off) as *mut u8).write_volatile(0) };
    }
}

/// Maps `len` bytes (a multiple of [`HUGE_PAGE`]) from the hugetlb pool, if allowed
/// ([`use_hugetlb`]) and it keeps [`HUGETLB_RESERVE`] pages free after.
fn map_hugetlb(len: usize) -> Option<Mapping> {
    if !HUGETLB.load(Ordering::Relaxed) {
        return None;
    }
    let pages = len / HUGE_PAGE;
    if hugetlb_available()? < pages + HUGETLB_RESERVE {
        return None;
    }
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_HUGETLB | libc::MAP_HUGE_2MB;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a new anonymous mapping; no existing memory is touched.
    let p = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return None; // the pool ran short after all (another process took pages)
    }
    let addr = p as usize;
    // SAFETY: just mapped writable, zero-filled; the pages are reserved at mmap.
    unsafe { prefault(addr, len, HUGE_PAGE) };
    Some(Mapping {
        addr,
        base: addr,
        len,
        region: Region {
            table: "",
            bytes: len,
            huge_bytes: len,
            kind: PageKind::Hugetlb,
        },
    })
}

/// Maps `len` bytes (a multiple of [`HUGE_PAGE`]) at a 2 MiB boundary between two guard
/// pages, advised for transparent huge pages, and records what the kernel gave.
fn map_anonymous(len: usize) -> Option<Mapping> {
    let page = page_size();
    let total = len.checked_add(HUGE_PAGE + 2 * page)?;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: a new anonymous mapping, inaccessible until the part handed out is opened.
    let p = unsafe { libc::mmap(core::ptr::null_mut(), total, libc::PROT_NONE, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return None;
    }
    let base = p as usize;
    let addr = (base + page).next_multiple_of(HUGE_PAGE);
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: addr..addr+len lies inside the mapping just made (total leaves room for the
    // alignment and a guard page on each side).
    if unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) } != 0 {
        // SAFETY: the mapping made above, not handed out.
        unsafe { libc::munmap(p, total) };
        return None;
    }
    // Without transparent huge pages the advice fails (EINVAL) and 4 KiB pages serve.
    // SAFETY: advice on our own mapping; it changes no contents.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
    // SAFETY: just made writable, zero-filled, not handed out yet.
    unsafe { prefault(addr, len, page) };
    let huge_bytes = smaps_huge_bytes(addr).unwrap_or(0).min(len);
    Some(Mapping {
        addr,
        base,
        len: total,
        region: Region {
            table: "",
            bytes: len,
            huge_bytes,
            kind: if huge_bytes > 0 {
                PageKind::Transparent
            } else {
                PageKind::Small
            },
        },
    })
}

/// True if `layout` is served by a mapping of its own.
#[inline]
fn is_large(layout: Layout) -> bool {
    layout.size() >= HUGE_PAGE && layout.align() <= HUGE_PAGE
}

// SAFETY: large blocks are mappings of their own, released only by `deallocate` of the
// same address; small ones are the global allocator's. Which of the two served a block
// follows from its layout, which `deallocate` gets as `allocate` did (a block of a size
// in between is never handed out: the size reported is the size asked for).
unsafe impl Allocator for HugePages {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !is_large(layout) {
            return Global.allocate(layout);
        }
        let len = layout
            .size()
            .checked_next_multiple_of(HUGE_PAGE)
            .ok_or(AllocError)?;
        let mut m = map_hugetlb(len)
            .or_else(|| map_anonymous(len))
            .ok_or(AllocError)?;
        m.region.table = self.table;
        let ptr = NonNull::new(m.addr as *mut u8).ok_or(AllocError)?;
        mappings().push(m);
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if !is_large(layout) {
            // SAFETY: a small block comes from the global allocator with this layout.
            return unsafe { Global.deallocate(ptr, layout) };
        }
        let mut all = mappings();
        let Some(at) = all.iter().position(|m| m.addr == ptr.as_ptr() as usize) else {
            debug_assert!(false, "a large block that no mapping holds");
            return;
        };
        let m = all.swap_remove(at);
        drop(all);
        // SAFETY: the whole mapping made for this block, no longer in use (caller).
        unsafe { libc::munmap(m.base as *mut libc::c_void, m.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allocator_api2::vec::Vec as AVec;
    use hashbrown::{DefaultHashBuilder, HashMap};

    const ALLOC: HugePages = HugePages::new("huge_pages tests");

    /// The live mapping handing out `addr`.
    fn region_of(addr: usize) -> Option<Region> {
        mappings().iter().find(|m| m.addr == addr).map(|m| m.region)
    }

    #[test]
    fn small_blocks_come_from_the_global_allocator() {
        let v: AVec<u64, HugePages> = AVec::with_capacity_in(1000, ALLOC);
        assert!(region_of(v.as_ptr() as usize).is_none());
    }

    #[test]
    fn a_large_block_is_aligned_zeroed_writable_and_unmapped_when_freed() {
        let layout = Layout::from_size_align(3 * HUGE_PAGE + 5, 64).unwrap();
        let p = ALLOC.allocate(layout).unwrap();
        let addr = p.as_ptr() as *mut u8 as usize;
        assert_eq!(p.len(), layout.size());
        assert_eq!(addr % HUGE_PAGE, 0, "a 2 MiB boundary");
        let r = region_of(addr).expect("recorded");
        assert_eq!((r.table, r.bytes), ("huge_pages tests", 4 * HUGE_PAGE));
        // SAFETY: the block just allocated, layout.size() bytes.
        let bytes = unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, layout.size()) };
        assert!(bytes.iter().all(|&b| b == 0));
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        assert!(bytes.iter().enumerate().all(|(i, &b)| b == i as u8));
        // SAFETY: allocated above with this layout.
        unsafe { ALLOC.deallocate(p.cast(), layout) };
        assert!(region_of(addr).is_none());
    }

    #[test]
    fn a_vector_keeps_its_contents_growing_into_and_across_mappings() {
        let mut v: AVec<u64, HugePages> = AVec::new_in(ALLOC);
        let n = 3 * HUGE_PAGE / 8;
        for i in 0..n as u64 {
            v.push(i * 7);
        }
        assert!(region_of(v.as_ptr() as usize).is_some(), "large once grown");
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 7));
        v.truncate(10);
        v.shrink_to_fit();
        assert!(region_of(v.as_ptr() as usize).is_none(), "small again");
        assert_eq!(v[..], (0..10).map(|i| i * 7).collect::<Vec<u64>>()[..]);
    }

    #[test]
    fn over_aligned_blocks_are_honoured() {
        let layout = Layout::from_size_align(HUGE_PAGE, 2 * HUGE_PAGE).unwrap();
        let p = ALLOC.allocate(layout).unwrap();
        assert_eq!(p.as_ptr() as *mut u8 as usize % (2 * HUGE_PAGE), 0);
        // SAFETY: allocated above with this layout.
        unsafe { ALLOC.deallocate(p.cast(), layout) };
    }

    #[test]
    fn a_hash_map_built_on_it_works() {
        let n = 200_000u32;
        let mut m: HashMap<u32, u32, DefaultHashBuilder, HugePages> =
            HashMap::with_capacity_and_hasher_in(n as usize, DefaultHashBuilder::default(), ALLOC);
        let before = m.allocation_size();
        assert!(before >= HUGE_PAGE);
        for i in 0..n {
            m.insert(i, !i);
        }
        assert_eq!(m.allocation_size(), before, "preallocated: nothing grew");
        assert!((0..n).all(|i| m.get(&i) == Some(&!i)));
        m.retain(|k, _| k % 2 == 0);
        assert_eq!(m.len(), n as usize / 2);
        assert_eq!(m.get(&7), None);
        assert_eq!(m.get(&8), Some(&!8));
    }

    #[test]
    fn a_large_block_is_backed_by_transparent_huge_pages_when_the_kernel_has_them() {
        let mode = thp_mode();
        if !matches!(mode.as_deref(), Some("always" | "madvise")) {
            eprintln!("skipped: transparent huge pages are {mode:?}");
            return;
        }
        let v: AVec<u8, HugePages> = AVec::with_capacity_in(4 * HUGE_PAGE, ALLOC);
        let addr = v.as_ptr() as usize;
        let r = region_of(addr).expect("recorded");
        let smaps = smaps_huge_bytes(addr).expect("the mapping is in /proc/self/smaps");
        assert_eq!(smaps, 4 * HUGE_PAGE, "every page of {r:?} is a huge page");
        assert_eq!(r.huge_bytes, smaps);
        assert_ne!(r.kind, PageKind::Small);
        let u = usage();
        assert!(u.hugetlb_bytes + u.transparent_bytes >= smaps as u64);
    }

    #[test]
    fn explicit_huge_pages_only_once_allowed_and_while_the_pool_has_spare_pages() {
        let free = hugetlb_available().unwrap_or(0);
        if !HUGETLB.load(Ordering::Relaxed) {
            assert!(map_hugetlb(HUGE_PAGE).is_none(), "not allowed yet");
        }
        if free < 2 + HUGETLB_RESERVE {
            eprintln!("skipped: {free} hugetlb pages free, the reserve is {HUGETLB_RESERVE}");
            return;
        }
        use_hugetlb(true);
        let m = map_hugetlb(2 * HUGE_PAGE);
        use_hugetlb(false);
        let m = m.expect("the pool has room");
        assert_eq!(m.region.kind, PageKind::Hugetlb);
        assert_eq!(m.addr % HUGE_PAGE, 0);
        assert_eq!(
            smaps_huge_bytes(m.addr),
            Some(2 * HUGE_PAGE),
            "Private_Hugetlb"
        );
        // SAFETY: the mapping made above, never handed out.
        unsafe { libc::munmap(m.base as *mut libc::c_void, m.len) };
    }

    #[test]
    fn usage_counts_live_mappings_by_kind() {
        let v: AVec<u8, HugePages> = AVec::with_capacity_in(HUGE_PAGE, ALLOC);
        let r = region_of(v.as_ptr() as usize).expect("recorded");
        let u = usage();
        assert!(u.regions >= 1);
        assert!(u.total_bytes() >= r.bytes as u64);
        match r.kind {
            PageKind::Small => assert!(u.small_bytes >= r.bytes as u64),
            PageKind::Transparent => assert!(u.transparent_bytes >= r.huge_bytes as u64),
            PageKind::Hugetlb => assert!(u.hugetlb_bytes >= r.bytes as u64),
        }
    }
}
