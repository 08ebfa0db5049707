//! Helpers for the integration tests that drive the real `vrouter` binary: network
//! namespaces, commands with clear failures, background processes and the appliance
//! itself, each behind a guard that cleans up on drop, also when the test panics.
//!
//! Nothing is skipped: a missing prerequisite (root, `ip`, scapy) fails the test with a
//! message that says what to install.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The appliance binary under test.
pub const VROUTER: &str = env!("CARGO_BIN_EXE_vrouter");
/// The control client under test.
pub const VROUTERCTL: &str = env!("CARGO_BIN_EXE_vrouterctl");
/// The python with scapy (not the one that may come first on PATH).
pub const PYTHON: &str = "/usr/bin/python3";
/// The scapy GRE peer tool.
pub const GRE_PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/gre_peer.py");
/// The reference topology.
pub const TENANT_A: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/tenant-a.toml");

/// Fails the test with a clear message unless it runs as root with `ip` and scapy.
pub fn require_prereqs() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests create network namespaces and DPDK tap devices: run them as root"
    );
    let ip = Command::new("ip").arg("-V").output();
    assert!(
        ip.is_ok_and(|o| o.status.success()),
        "`ip` is missing: apt-get install -y iproute2"
    );
    let scapy = Command::new(PYTHON)
        .args(["-c", "import scapy.all"])
        .output();
    assert!(
        scapy.is_ok_and(|o| o.status.success()),
        "{PYTHON} cannot import scapy: apt-get install -y python3-scapy"
    );
}

/// A short name unique to this test process: `vt` + 4 hex digits of the pid + `suffix`.
/// Interface names must stay within 15 characters, so keep `suffix` at most 9.
pub fn unique(suffix: &str) -> String {
    let name = format!("vt{:04x}{suffix}", std::process::id() & 0xffff);
    assert!(
        name.len() <= 15,
        "interface name {name} is over 15 characters"
    );
    name
}

/// A unique EAL `--file-prefix` for one appliance run of this process.
pub fn file_prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "vrt-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// EAL arguments for tests: no hugepages, no PCI, one core, quiet, own prefix.
pub fn eal_args(prefix: &str) -> String {
    format!("--no-huge -m 512 --no-pci --file-prefix {prefix} -l 0 --log-level=*:warning")
}

fn render(cmd: &[&str], out: &Output) -> String {
    format!(
        "`{}` exited with {}\n--- stdout ---\n{}--- stderr ---\n{}",
        cmd.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` (split on whitespace); returns its output whatever the status.
pub fn try_run(cmd: &str) -> Output {
    let argv: Vec<&str> = cmd.split_whitespace().collect();
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{cmd}`: {e}"))
}

/// Runs `cmd` (split on whitespace); returns its stdout, panics with stdout and stderr
/// if it fails.
pub fn run(cmd: &str) -> String {
    let out = try_run(cmd);
    let argv: Vec<&str> = cmd.split_whitespace().collect();
    assert!(out.status.success(), "{}", render(&argv, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cmd` inside network namespace `ns`.
pub fn run_in(ns: &str, cmd: &str) -> String {
    run(&format!("ip netns exec {ns} {cmd}"))
}

/// A network namespace, deleted (with every interface in it) on drop. Its loopback is up
/// and IPv6 is off, so that no router solicitations or MLD reports add noise.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        // A namespace left by a killed earlier run of the same pid would make `add` fail.
        let _ = try_run(&format!("ip netns del {name}"));
        run(&format!("ip netns add {name}"));
        let ns = Netns {
            name: name.to_owned(),
        };
        ns.run("ip link set lo up");
        ns.run("sysctl -qw net.ipv6.conf.all.disable_ipv6=1");
        ns.run("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
        ns
    }

    /// Runs `cmd` inside this namespace; see [`run`].
    pub fn run(&self, cmd: &str) -> String {
        run_in(&self.name, cmd)
    }

    /// Like [`try_run`], inside this namespace.
    pub fn try_run(&self, cmd: &str) -> Output {
        try_run(&format!("ip netns exec {} {cmd}", self.name))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let out = try_run(&format!("ip netns del {}", self.name));
        if !out.status.success() {
            eprintln!(
                "warning: {}",
                render(&["ip", "netns", "del", &self.name], &out)
            );
        }
    }
}

/// Waits (up to 10 s) until interface `tap` exists in the current namespace, then moves
/// it into `ns`, gives it `mac` and `addr` (e.g. `10.0.0.10/24`, or none) and sets it up.
pub fn move_tap(tap: &str, ns: &Netns, mac: &str, addr: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new("/sys/class/net").join(tap).exists() {
        assert!(
            Instant::now() < deadline,
            "interface {tap} did not appear within 10 s (is the appliance's net_tap port up?)"
        );
        thread::sleep(Duration::from_millis(50));
    }
    run(&format!("ip link set {tap} netns {}", ns.name));
    ns.run(&format!("ip link set {tap} address {mac}"));
    if let Some(addr) = addr {
        ns.run(&format!("ip addr add {addr} dev {tap}"));
    }
    ns.run(&format!("ip link set {tap} up"));
}

/// A background process whose stdout and stderr are collected by threads; SIGTERM on
/// drop, then SIGKILL if it has not exited within 10 s.
pub struct Proc {
    what: String,
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    lines: Receiver<String>,
    readers: Vec<JoinHandle<()>>,
}

/// What a finished [`Proc`] left.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Both streams, for assertion messages.
    pub fn output(&self) -> String {
        format!(
            "exit status {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl Proc {
    /// Starts `argv`; `what` names it in messages.
    pub fn spawn(what: &str, argv: &[String]) -> Proc {
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({}): {e}", argv.join(" ")));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let buf = stdout.clone();
        let out_reader = thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                buf.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let buf = stderr.clone();
        let err_reader = thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut chunk) {
                buf.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        Proc {
            what: what.to_owned(),
            child: Some(child),
            stdout,
            stderr,
            lines,
            readers: vec![out_reader, err_reader],
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Waits up to `timeout` for a stdout line containing `pattern`; panics with all
    /// output so far if the process exits or the time runs out first.
    pub fn wait_line(&mut self, pattern: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(pattern) => return,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{} printed no line containing {pattern:?} within {timeout:?}\n{}",
                        self.what,
                        self.collected()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let done = self.wait_exit(Duration::from_secs(5));
                    panic!(
                        "{} exited before printing {pattern:?}\n{}",
                        self.what,
                        done.output()
                    );
                }
            }
        }
    }

    fn collected(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    /// Waits up to `timeout` for the process to exit by itself (SIGKILL after that), and
    /// returns its status and all its output.
    pub fn wait_exit(&mut self, timeout: Duration) -> Finished {
        let mut child = self.child.take().expect("process already waited for");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                eprintln!("{} did not exit within {timeout:?}: SIGKILL", self.what);
                let _ = child.kill();
                break child.wait().expect("wait");
            }
            thread::sleep(Duration::from_millis(20));
        };
        // The readers end at EOF, right after the exit (unless a child of the process
        // keeps the pipes open: then take what they have after 2 s).
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !self.readers.iter().all(|r| r.is_finished()) {
            thread::sleep(Duration::from_millis(10));
        }
        Finished {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }

    /// Sends SIGTERM, then waits as [`Proc::wait_exit`].
    pub fn terminate(&mut self, timeout: Duration) -> Finished {
        if let Some(child) = &self.child {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        self.wait_exit(timeout)
    }
}

impl Drop for Proc {
    /// Stops the process if it still runs; shows its output if the test is failing.
    fn drop(&mut self) {
        if self.child.is_some() {
            let done = self.terminate(Duration::from_secs(10));
            if thread::panicking() {
                eprintln!("--- {} (stopped) ---\n{}", self.what, done.output());
            }
        }
    }
}

/// The appliance, started with `args` plus test EAL arguments (own `--file-prefix`), and
/// ready: it has printed `vrouter: ready`, so its net_tap interfaces exist. Unless `args`
/// name them, its `--state-dir` and `--socket` are in a directory of its own under the
/// temp dir, so that no persisted state of another run leaks in. On drop it gets SIGTERM
/// (SIGKILL after 10 s); then that directory and `/var/run/dpdk/<prefix>` are removed.
pub struct Vrouter {
    proc: Option<Proc>,
    pub prefix: String,
    /// Holds the state directory and the control socket when `args` did not name them.
    pub run_dir: PathBuf,
}

impl Vrouter {
    /// Starts the appliance and waits (30 s at most) until it is ready.
    pub fn start(args: &[&str]) -> Vrouter {
        let mut vr = Vrouter::spawn(args);
        vr.proc()
            .wait_line("vrouter: ready", Duration::from_secs(30));
        vr
    }

    /// Starts the appliance without waiting for it: for runs that must fail.
    pub fn spawn(args: &[&str]) -> Vrouter {
        let prefix = file_prefix();
        let mut argv: Vec<String> = vec![VROUTER.to_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        argv.extend(["--eal".to_owned(), eal_args(&prefix)]);
        let run_dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&run_dir).expect("create the appliance's run directory");
        for (option, name) in [("--state-dir", "state"), ("--socket", "vrouter.sock")] {
            if !args.contains(&option) {
                let path = run_dir.join(name).to_string_lossy().into_owned();
                argv.extend([option.to_owned(), path]);
            }
        }
        Vrouter {
            proc: Some(Proc::spawn("vrouter", &argv)),
            prefix,
            run_dir,
        }
    }

    pub fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("vrouter process")
    }

    /// Stops the appliance with SIGTERM and returns what it printed (final counters).
    pub fn stop(mut self) -> Finished {
        self.proc().terminate(Duration::from_secs(15))
    }
}

impl Drop for Vrouter {
    fn drop(&mut self) {
        // The process first, then its runtime directory.
        drop(self.proc.take());
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Runs the scapy GRE peer tool in `ns` with `args`, in the background; waits for it to
/// print READY (capturing) when `wait_ready`.
pub fn gre_peer(ns: &Netns, args: &str, wait_ready: bool) -> Proc {
    let mut argv: Vec<String> = ["ip", "netns", "exec", &ns.name, PYTHON, GRE_PEER]
        .iter()
        .map(|s| s.to_string())
        .collect();
    argv.extend(args.split_whitespace().map(str::to_owned));
    let mut p = Proc::spawn(&format!("gre_peer.py in {}", ns.name), &argv);
    if wait_ready {
        p.wait_line("READY", Duration::from_secs(20));
    }
    p
}

impl Vrouter {
    /// The control socket in `run_dir` (when `args` did not name another).
    pub fn socket(&self) -> PathBuf {
        self.run_dir.join("vrouter.sock")
    }

    /// Kills the appliance with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill(&mut self) -> Finished {
        let pid = self.proc().pid();
        unsafe { libc::kill(pid, libc::SIGKILL) };
        self.proc().wait_exit(Duration::from_secs(10))
    }
}

/// Runs `vrouterctl --socket SOCKET ARGS…`; returns its output whatever the status.
pub fn vrouterctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(VROUTERCTL)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {VROUTERCTL}: {e}"))
}

/// Runs `vrouterctl`; returns its stdout, panics with both streams if it fails.
pub fn ctl(socket: &Path, args: &[&str]) -> String {
    let out = vrouterctl(socket, args);
    let mut argv = vec!["vrouterctl"];
    argv.extend(args);
    assert!(out.status.success(), "{}", render(&argv, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
