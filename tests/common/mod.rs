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

/// A query of a DPDK process's telemetry socket (`/var/run/dpdk/<prefix>/
/// dpdk_telemetry.v2`), the way `dpdk-telemetry.py` asks: PMD counters the appliance
/// does not show itself (rx_nombuf, imissed, per-queue packets).
pub fn telemetry(prefix: &str, cmd: &str) -> serde_json::Value {
    let script = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n\
                  s.connect(sys.argv[1])\n\
                  s.recv(16384)\n\
                  s.send(sys.argv[2].encode())\n\
                  print(s.recv(1 << 20).decode())\n";
    let sock = format!("/var/run/dpdk/{prefix}/dpdk_telemetry.v2");
    let out = Command::new(PYTHON)
        .args(["-c", script, &sock, cmd])
        .output()
        .expect("run the telemetry client");
    assert!(
        out.status.success(),
        "telemetry {cmd} on {sock}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("telemetry answers JSON")
}

/// `rte_eth_stats` of the ethdev whose name is `dev` (e.g. `net_tap0`) in the DPDK process
/// with EAL prefix `prefix`, via telemetry (`q_ipackets`/`q_opackets`: per queue).
pub fn ethdev_stats(prefix: &str, dev: &str) -> serde_json::Value {
    let list = telemetry(prefix, "/ethdev/list");
    for id in list["/ethdev/list"].as_array().expect("ethdev list") {
        let info = telemetry(prefix, &format!("/ethdev/info,{id}"));
        if info["/ethdev/info"]["name"] == dev {
            return telemetry(prefix, &format!("/ethdev/stats,{id}"))["/ethdev/stats"].clone();
        }
    }
    panic!("no ethdev named {dev}: {list}");
}

/// A vhost-user guest: dpdk-testpmd with net_virtio_user on a vhost-user socket,
/// forwarding (io) to a net_tap whose kernel side is the VM's interface (move it into a
/// namespace with [`attach_guest`]). Stopped by SIGKILL (and its EAL directory removed)
/// on drop.
pub struct Guest {
    child: Child,
    /// The guest's EAL `--file-prefix` (for [`telemetry`]).
    pub prefix: String,
    log: String,
    _stdin: std::process::ChildStdin,
}

impl Guest {
    /// One queue pair; the guest connects to the appliance's vhost-user server at `sock`.
    pub fn start(sock: &str, tap: &str, log: &str) -> Guest {
        Guest::spawn(sock, tap, log, 1, false)
    }

    /// `queues` queue pairs on both of the guest's ports (virtio-user and tap, testpmd
    /// `--rxq/--txq`); `server`: the guest creates `sock` and waits for the appliance to
    /// connect (virtio-user `server=1`, for a vhost-user client). A server guest stays in
    /// its device probe until the client comes, so its tap appears only after that.
    pub fn spawn(sock: &str, tap: &str, log: &str, queues: u16, server: bool) -> Guest {
        let prefix = format!("guest-{}", file_prefix());
        let server = if server { ",server=1" } else { "" };
        let mbufs = 4096 * u32::from(queues);
        let eal = format!(
            "--no-huge -m 256 --no-pci --file-prefix {prefix} -l 0,1 --log-level=*:warning \
             --vdev net_virtio_user0,path={sock},queues={queues},queue_size=1024{server} \
             --vdev net_tap0,iface={tap} -- --forward-mode=io --auto-start --nb-cores=1 \
             --rxq={queues} --txq={queues} --total-num-mbufs={mbufs}"
        );
        let out = std::fs::File::create(log).expect("guest log");
        let mut child = Command::new("dpdk-testpmd")
            .args(eal.split_whitespace())
            .stdin(Stdio::piped()) // testpmd runs until its stdin gives a line or EOF
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start dpdk-testpmd (apt-get install dpdk)");
        let stdin = child.stdin.take().unwrap();
        Guest {
            child,
            prefix,
            log: log.to_owned(),
            _stdin: stdin,
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signals the child this test started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// What testpmd printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
    }
}

/// Puts a guest's tap into `ns` as the VM's interface (see [`move_tap`]), once testpmd
/// has started it (the PMD sets the interface up when the port starts; it opens its
/// queues by name in its own namespace, so the interface may move only after that).
pub fn attach_guest(tap: &str, ns: &Netns, mac: &str, addr: Option<&str>) {
    let flags = format!("/sys/class/net/{tap}/flags");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = std::fs::read_to_string(&flags)
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|f| f & 1 == 1);
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guest did not start {tap} within 15 s"
        );
        thread::sleep(Duration::from_millis(50));
    }
    move_tap(tap, ns, mac, addr);
}

/// A directory of the test's own (`<tmp>/vrouter-<name>-<pid>`), removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vrouter-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's temp dir");
        TempDir(dir)
    }

    /// The path of `name` inside the directory.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Captures ICMP on `iface` in `ns` with tcpdump until `count` packets (or 15 s).
pub fn capture(ns: &Netns, iface: &str, count: u32) -> Proc {
    let cmd = format!("timeout 15 tcpdump -n -l -i {iface} -c {count} icmp 2>&1");
    let argv: Vec<String> = ["ip", "netns", "exec", &ns.name, "sh", "-c", &cmd]
        .map(String::from)
        .to_vec();
    let mut p = Proc::spawn("tcpdump", &argv);
    p.wait_line("listening on", Duration::from_secs(10));
    p
}

/// Asserts a clean stop: exit 0, and no mbuf left outside the pool (the pool logs
/// "mbuf pool dropped with N mbufs in use" when it is freed with mbufs out).
pub fn assert_clean_exit(done: &Finished, what: &str) {
    assert!(
        done.status.success(),
        "{what}: exit 0 on SIGTERM\n{}",
        done.output()
    );
    assert!(
        !done.stderr.contains("mbufs in use"),
        "{what}: every mbuf must be back in the pool when the appliance stops\n{}",
        done.output()
    );
}

/// `vrouterctl stats -f json` of the appliance `vr`.
pub fn stats_json(vr: &Vrouter) -> serde_json::Value {
    serde_json::from_str(&ctl(&vr.socket(), &["stats", "-f", "json"])).expect("stats JSON")
}

/// A counter of device `name` in a stats answer.
pub fn port_counter(stats: &serde_json::Value, name: &str, key: &str) -> u64 {
    stats["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p[key].as_u64())
        .unwrap_or_else(|| panic!("no counter {key} of {name} in {stats}"))
}
