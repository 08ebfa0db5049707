//! The appliance under systemd's notify protocol, without systemd: the test owns the
//! datagram socket of `NOTIFY_SOCKET` and asks for a watchdog (`WATCHDOG_USEC`). It sees
//! `READY=1` once the devices are up, `WATCHDOG=1` pings with a `STATUS=` line, no ping
//! while the worker thread is stopped (ptrace interrupt of that one thread) and pings again
//! once it runs; SIGHUP prints a counter line and re-reads nothing; `STOPPING=1` at the end.

mod common;

use common::{require_prereqs, unique, Vrouter};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

/// The watchdog period asked for: pings are due every half of it.
const WATCHDOG_USEC: u64 = 400_000;

/// The notify socket the test owns, removed on drop.
struct NotifySocket {
    sock: UnixDatagram,
    path: String,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let path = format!("/tmp/vrouter-notify-{}.sock", std::process::id());
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket { sock, path }
    }

    /// The next message within `timeout`, or None.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Messages until one contains `want` (returned) or `timeout` passes (None).
    fn until(&self, want: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.recv(left) {
                Some(m) if m.lines().any(|l| l == want) => return Some(m),
                Some(_) => {}
                None => return None,
            }
        }
    }

    /// Every message that arrives within `window`.
    fn collect(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut all = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left.max(Duration::from_millis(1))) {
                Some(m) => all.push(m),
                None => break,
            }
        }
        all
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One thread of another process stopped by ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT: only
/// that thread stops, no signal is sent); it runs again on drop.
struct StoppedThread(libc::pid_t);

impl StoppedThread {
    fn stop(tid: libc::pid_t) -> StoppedThread {
        // SAFETY: ptrace and waitpid on a thread id, with null address and data.
        unsafe {
            let seized = libc::ptrace(libc::PTRACE_SEIZE, tid, 0, 0);
            assert_eq!(
                seized,
                0,
                "PTRACE_SEIZE {tid}: {}",
                std::io::Error::last_os_error()
            );
            let interrupted = libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0);
            assert_eq!(interrupted, 0, "PTRACE_INTERRUPT {tid}");
            let mut status = 0;
            let waited = libc::waitpid(tid, &mut status, libc::__WALL);
            assert_eq!(
                waited,
                tid,
                "waitpid {tid}: {}",
                std::io::Error::last_os_error()
            );
            assert!(
                libc::WIFSTOPPED(status),
                "thread {tid} stopped: {status:#x}"
            );
        }
        StoppedThread(tid)
    }
}

impl Drop for StoppedThread {
    fn drop(&mut self) {
        // SAFETY: detaching a tracee this process seized.
        unsafe { libc::ptrace(libc::PTRACE_DETACH, self.0, 0, 0) };
    }
}

/// The thread id of the thread of `pid` named `name`.
fn thread_named(pid: i32, name: &str) -> libc::pid_t {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the appliance's threads");
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return task.file_name().to_string_lossy().parse().unwrap();
        }
    }
    panic!("the appliance has no thread named {name}");
}

fn pings(messages: &[String]) -> usize {
    let pings = messages
        .iter()
        .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"));
    pings.count()
}

#[test]
fn notify_ready_watchdog_pings_only_while_the_worker_runs() {
    require_prereqs();
    let notify = NotifySocket::bind();
    std::env::set_var("NOTIFY_SOCKET", &notify.path);
    std::env::set_var("WATCHDOG_USEC", WATCHDOG_USEC.to_string());
    let (t1, t2) = (unique("ns1"), unique("ns2"));
    let mut vr = Vrouter::spawn(&[
        "--metrics",
        "none",
        "--devargs",
        &format!("eth1=net_tap0,iface={t1}"),
        "--devargs",
        &format!("eth2=net_tap1,iface={t2}"),
    ]);

    // READY=1 with a status line, once the devices are up.
    let ready = notify
        .until("READY=1", Duration::from_secs(30))
        .expect("READY=1 within 30 s");
    for tap in [&t1, &t2] {
        assert!(
            Path::new("/sys/class/net").join(tap).exists(),
            "device {tap} is up when READY=1 arrives"
        );
    }
    assert!(
        ready
            .lines()
            .any(|l| l.starts_with("STATUS=ready: 2 device(s), 1 worker(s)")),
        "{ready}"
    );
    let stats = common::ctl(&vr.socket(), &["stats"]);
    assert!(
        stats.contains("eth1"),
        "the control socket serves at READY=1: {stats}"
    );

    // Pings every half period, each with a status line.
    let running = notify.collect(Duration::from_millis(1500));
    assert!(pings(&running) >= 4, "WATCHDOG=1 every 200 ms: {running:?}");
    assert!(
        running
            .iter()
            .any(|m| m.contains("STATUS=forwarding: 1 worker(s)")),
        "{running:?}"
    );

    // The worker stops: no ping, a status that says so.
    let pid = vr.proc().pid();
    let stopped = StoppedThread::stop(thread_named(pid, "vrouter-worker0"));
    let _ = notify.collect(Duration::from_millis(300));
    let stalled = notify.collect(Duration::from_millis(2000));
    assert_eq!(
        pings(&stalled),
        0,
        "no ping while the worker is stopped: {stalled:?}"
    );
    assert!(
        stalled.iter().any(|m| m.contains("STATUS=stalled")),
        "the status names the stall: {stalled:?}"
    );

    // It runs again: so do the pings.
    drop(stopped);
    assert!(
        notify.until("WATCHDOG=1", Duration::from_secs(2)).is_some(),
        "pings resume once the worker runs"
    );

    // SIGHUP re-reads nothing and says so, with the counters; the appliance goes on.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    vr.proc()
        .wait_line("SIGHUP: nothing is re-read", Duration::from_secs(5));
    assert!(
        notify.until("WATCHDOG=1", Duration::from_secs(2)).is_some(),
        "still pinging after SIGHUP"
    );

    // SIGTERM: STOPPING=1, and a clean exit.
    let done = vr.stop();
    assert!(
        notify.until("STOPPING=1", Duration::from_secs(1)).is_some(),
        "STOPPING=1 on SIGTERM"
    );
    common::assert_clean_exit(&done, "vrouter under a notify socket");
}
