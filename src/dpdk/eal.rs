//! The Environment Abstraction Layer: init and cleanup, lcores, TSC, and the error type.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::ffi;

/// Set once `rte_eal_init` has been called: EAL can be initialised once per process.
static INITIALISED: AtomicBool = AtomicBool::new(false);
/// Ports and pools alive; [`Eal::cleanup`] refuses to unmap their memory under them.
static LIVE_OBJECTS: AtomicUsize = AtomicUsize::new(0);

/// Counts one more live port or pool (paired with [`object_dropped`]).
pub(super) fn object_created() {
    LIVE_OBJECTS.fetch_add(1, Ordering::SeqCst);
}

/// Counts one live port or pool less.
pub(super) fn object_dropped() {
    LIVE_OBJECTS.fetch_sub(1, Ordering::SeqCst);
}

/// A failed DPDK call: what was attempted, the errno and DPDK's text for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpdkError {
    /// What failed, e.g. "probing device 'net_bogus0'".
    pub context: String,
    /// The (positive) errno, from `rte_errno` or a negative return value.
    pub errno: i32,
    /// `rte_strerror(errno)`, which also knows DPDK's own error numbers.
    pub message: String,
}

impl DpdkError {
    /// An error with `errno` (sign ignored) and its `rte_strerror` text.
    pub fn new(context: impl Into<String>, errno: i32) -> DpdkError {
        let errno = errno.saturating_abs();
        // SAFETY: rte_strerror accepts any number and returns a pointer to a static or
        // thread-local NUL-terminated string, copied before this thread calls it again.
        let message = unsafe { CStr::from_ptr(ffi::rte_strerror(errno)) }
            .to_string_lossy()
            .into_owned();
        DpdkError {
            context: context.into(),
            errno,
            message,
        }
    }

    /// An error carrying the calling thread's current `rte_errno`.
    pub fn last(context: impl Into<String>) -> DpdkError {
        // SAFETY: reads a thread-local integer, no preconditions.
        DpdkError::new(context, unsafe { ffi::vr_rte_errno() })
    }

    /// `Ok(ret)` for `ret >= 0`, else the error `-ret` (DPDK's negative-errno convention).
    pub(super) fn check(ret: c_int, context: impl FnOnce() -> String) -> Result<c_int, DpdkError> {
        if ret < 0 {
            Err(DpdkError::new(context(), ret))
        } else {
            Ok(ret)
        }
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (errno {})",
            self.context, self.message, self.errno
        )
    }
}

impl std::error::Error for DpdkError {}

/// The initialised EAL of this process; dropping it (or [`Eal::cleanup`]) releases DPDK.
#[derive(Debug)]
pub struct Eal {
    /// The argv handed to `rte_eal_init`, kept alive since EAL may keep pointers into it.
    _args: Vec<CString>,
    /// `rte_eal_get_runtime_dir()` of a primary process (removed at cleanup), else `None`.
    runtime_dir: Option<PathBuf>,
    cleaned: bool,
}

impl Eal {
    /// Runs `rte_eal_init` on a C-style argv (`args[0]` is the program name). The calling
    /// thread becomes the main lcore. Fails with EALREADY on a second call in one process.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::new("EAL init", libc::EALREADY));
        }
        let cargs = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| DpdkError::new("EAL init: argument with a NUL byte", libc::EINVAL))?;
        // getopt permutes argv, so EAL gets its own pointer array over the kept strings.
        let mut argv: Vec<*mut c_char> = cargs.iter().map(|a| a.as_ptr().cast_mut()).collect();
        let argc = c_int::try_from(argv.len())
            .map_err(|_| DpdkError::new("EAL init: too many arguments", libc::E2BIG))?;
        // SAFETY: argv holds argc valid NUL-terminated strings that live as long as the Eal
        // (EAL only reorders the pointer array, never writes into the strings); the
        // INITIALISED flag makes this the only call in the process.
        let ret = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::last(format!("EAL init with {args:?}")));
        }
        // SAFETY: EAL is initialised; both functions only read its configuration.
        let runtime_dir = unsafe {
            (ffi::rte_eal_process_type() == ffi::RTE_PROC_PRIMARY).then(|| {
                let dir = CStr::from_ptr(ffi::rte_eal_get_runtime_dir());
                PathBuf::from(dir.to_string_lossy().into_owned())
            })
        };
        Ok(Eal {
            _args: cargs,
            runtime_dir,
            cleaned: false,
        })
    }

    /// Lcore ids of the worker lcores (all enabled lcores except the main one), ascending.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut lcores = Vec::new();
        // SAFETY: EAL is initialised (self exists); rte_get_next_lcore only reads its config.
        // Starting at u32::MAX (-1) and stopping at RTE_MAX_LCORE is RTE_LCORE_FOREACH_WORKER.
        unsafe {
            let mut i = ffi::rte_get_next_lcore(u32::MAX, 1, 0);
            while i < ffi::RTE_MAX_LCORE {
                lcores.push(i);
                i = ffi::rte_get_next_lcore(i, 1, 0);
            }
        }
        lcores
    }

    /// Runs `f` on the worker `lcore` (rte_eal_remote_launch); its return value is what
    /// [`Eal::wait_lcore`] gives. Fails (EBUSY) if the lcore is still running something.
    pub fn remote_launch<F>(&self, lcore: u32, f: F) -> Result<(), DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        /// Runs the boxed closure `arg` on the lcore and frees it.
        extern "C" fn trampoline(arg: *mut c_void) -> c_int {
            // SAFETY: arg is the Box<Box<dyn FnOnce>> leaked by remote_launch below, handed
            // to exactly one successful launch, so it is reclaimed exactly once.
            let f = unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() -> i32 + Send>>()) };
            // A panic cannot unwind into C: extern "C" aborts on it, as panic=abort does.
            f()
        }
        let boxed: Box<Box<dyn FnOnce() -> i32 + Send>> = Box::new(Box::new(f));
        let arg = Box::into_raw(boxed).cast::<c_void>();
        // SAFETY: trampoline has the lcore_function_t ABI and arg is a valid leaked box.
        let ret = unsafe { ffi::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so the trampoline never runs and arg is still ours.
            drop(unsafe { Box::from_raw(arg.cast::<Box<dyn FnOnce() -> i32 + Send>>()) });
            return Err(DpdkError::new(format!("launching on lcore {lcore}"), ret));
        }
        Ok(())
    }

    /// Waits until `lcore` has finished its launched function and returns that function's
    /// value (0 if nothing was launched).
    pub fn wait_lcore(&self, lcore: u32) -> i32 {
        // SAFETY: EAL is initialised; an id that is not a worker lcore returns at once.
        unsafe { ffi::rte_eal_wait_lcore(lcore) }
    }

    /// Waits for every worker lcore, then `rte_eal_cleanup`, then removes the runtime
    /// directory (`/var/run/dpdk/<file-prefix>` for root), which DPDK 22.11 leaves behind.
    /// Fails (EBUSY, nothing released) while ports or pools are still alive.
    pub fn cleanup(mut self) -> Result<(), DpdkError> {
        self.do_cleanup()
    }

    fn do_cleanup(&mut self) -> Result<(), DpdkError> {
        // One attempt only: after a refusal, the drop must not release them after all.
        self.cleaned = true;
        let live = LIVE_OBJECTS.load(Ordering::SeqCst);
        if live > 0 {
            return Err(DpdkError::new(
                format!("EAL cleanup: {live} ports/pools are still alive"),
                libc::EBUSY,
            ));
        }
        // SAFETY: no port or pool is alive; after waiting for the workers nothing in this
        // crate uses DPDK any more (mbufs must not outlive their pools, see Mempool).
        let ret = unsafe {
            ffi::rte_eal_mp_wait_lcore();
            ffi::rte_eal_cleanup()
        };
        DpdkError::check(ret, || "EAL cleanup".into())?;
        if let Some(dir) = &self.runtime_dir {
            match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    return Err(DpdkError::new(
                        format!("removing the EAL runtime dir {}", dir.display()),
                        errno,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        if !self.cleaned {
            if let Err(e) = self.do_cleanup() {
                log::warn!("{e}");
            }
        }
    }
}

/// The calling thread's lcore id; `LCORE_ID_ANY` (u32::MAX) on a thread EAL did not create.
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local variable, valid on any thread.
    unsafe { ffi::vr_lcore_id() }
}

/// The TSC counter (rte_get_tsc_cycles): cheap timestamps for the poll loop.
pub fn tsc_cycles() -> u64 {
    // SAFETY: rdtsc, no preconditions.
    unsafe { ffi::vr_get_tsc_cycles() }
}

/// TSC ticks per second, as measured by EAL at init (0 before EAL init).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a global set by EAL init; 0 if unset.
    unsafe { ffi::rte_get_tsc_hz() }
}
