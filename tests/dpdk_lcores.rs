//! Runs real DPDK with a worker lcore: remote launch and wait, busy lcores, the TSC, and
//! an mbuf moved to the worker and freed there. One test per file: EAL initialises once.

use std::path::Path;
use std::sync::mpsc;

use vrouter::Frame;
use vrouter_appliance::dpdk::{ffi, lcore_id, tsc_cycles, tsc_hz, Eal, Mbuf, Mempool};

#[test]
fn worker_lcore_runs_closures() {
    let prefix = format!("vrouter-test-{}", std::process::id());
    // Both lcores on CPU 0, so that the test runs on a single-CPU machine too.
    let args: Vec<String> = [
        "dpdk_lcores",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        &prefix,
        "--lcores",
        "0@0,1@0",
        "--log-level=warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    assert_eq!(eal.worker_lcores(), vec![1]);
    assert_eq!(
        lcore_id(),
        0,
        "the thread that ran EAL init is the main lcore"
    );
    assert!(tsc_hz() > 0);
    let t0 = tsc_cycles();
    assert!(tsc_cycles() >= t0);

    eal.remote_launch(1, || lcore_id() as i32).unwrap();
    assert_eq!(eal.wait_lcore(1), 1);

    // A busy lcore refuses a second launch; the refused closure is dropped, not leaked.
    let pool = Mempool::new("lcores_pool", 511, 0, ffi::SOCKET_ID_ANY).unwrap();
    let m = Mbuf::from_slice(&pool, b"moved to the worker").unwrap();
    let (go, wait) = mpsc::channel::<()>();
    eal.remote_launch(1, move || {
        wait.recv().unwrap();
        let len = m.len() as i32;
        drop(m); // Freed on the worker lcore.
        len
    })
    .unwrap();
    let refused = Mbuf::alloc(&pool).unwrap();
    let err = eal
        .remote_launch(1, move || refused.len() as i32)
        .unwrap_err();
    assert_eq!(err.errno, libc::EBUSY, "{err}");
    go.send(()).unwrap();
    assert_eq!(eal.wait_lcore(1), 19);
    assert_eq!(pool.in_use(), 0);

    drop(pool);
    eal.cleanup().expect("EAL cleanup");
    let runtime_dir = format!("/var/run/dpdk/{prefix}");
    assert!(
        !Path::new(&runtime_dir).exists(),
        "{runtime_dir} left behind"
    );
}
