//! End-to-end test of `vrouterctl capture`: a VM's ping seen on its port and on the
//! external uplink, written as pcapng that tshark reads (addresses, the device name as the
//! interface name, the direction), streamed into `tshark -r -`; a capture whose reader
//! never reads costs the ping nothing (no loss, no slowdown) and its copies are dropped
//! and counted instead; bad filters and devices are refused.
//!
//! ```text
//!   vm2 (vm002 10.0.0.9) ──tap1653ec91-ad── vrouter ──eth2── up (10.1.101.254)
//!                                              └──eth1── c1 (underlay, idle)
//! ```

mod common;

use common::{
    move_tap, require_prereqs, stats_json, unique, vrouterctl, Netns, Proc, TempDir, Vrouter,
    TENANT_A, VROUTERCTL,
};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const VM_PORT: &str = "tap1653ec91-ad";

/// The appliance with vm002's port, both uplinks, and the namespaces behind them.
struct Rig {
    vr: Vrouter,
    vm: Netns,
    _up: Netns,
    _c1: Netns,
}

/// The tests of this file one at a time: the slowdown check times the ping on a machine
/// that runs no other appliance of this file.
static SERIAL: Mutex<()> = Mutex::new(());

/// Builds the rig; `tag` (one letter) keeps interface names apart from other runs.
fn rig(tag: &str) -> Rig {
    require_prereqs();
    for tool in ["tshark", "ping"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "{tool} is missing: scripts/install-deps.sh installs it"
        );
    }
    let vm = Netns::new(&unique(&format!("cvm{tag}")));
    let up = Netns::new(&unique(&format!("cup{tag}")));
    let c1 = Netns::new(&unique(&format!("cc1{tag}")));
    let t_vm = unique(&format!("tcv{tag}"));
    let (t_up, t_c1) = (unique(&format!("tcu{tag}")), unique(&format!("tcc{tag}")));
    let args = [
        format!("eth1=net_tap0,iface={t_c1}"),
        format!("eth2=net_tap1,iface={t_up}"),
        format!("{VM_PORT}=net_tap2,iface={t_vm}"),
    ];
    let mut argv = vec!["--config", TENANT_A];
    for a in &args {
        argv.extend(["--devargs", a]);
    }
    let vr = Vrouter::start(&argv);
    move_tap(&t_vm, &vm, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    move_tap(&t_c1, &c1, "52:54:00:00:01:31", Some("10.0.1.31/24"));
    vm.run("ip route add default via 10.0.0.1");
    // The first ping resolves the neighbours on both sides.
    vm.run("ping -c 1 -W 5 10.1.101.254");
    Rig {
        vr,
        vm,
        _up: up,
        _c1: c1,
    }
}

/// The appliance's capture counters (`stats`): active, copied, dropped.
fn capture_counters(vr: &Vrouter) -> (u64, u64, u64) {
    let s = stats_json(vr);
    let c = &s["capture"];
    let n = |k: &str| {
        c[k].as_u64()
            .unwrap_or_else(|| panic!("no capture.{k} in stats: {s}"))
    };
    (n("active"), n("copied"), n("dropped"))
}

/// Waits (10 s at most) until `active` captures run.
fn wait_active(vr: &Vrouter, active: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while capture_counters(vr).0 != active {
        assert!(
            Instant::now() < deadline,
            "{active} capture(s) must be active within 10 s, stats say {:?}",
            capture_counters(vr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `vrouterctl capture ARGS` in the background.
fn capture(vr: &Vrouter, args: &str) -> Proc {
    let sock = vr.socket().to_string_lossy().into_owned();
    let mut argv = vec![
        VROUTERCTL.to_string(),
        "--socket".into(),
        sock,
        "capture".into(),
    ];
    argv.extend(args.split_whitespace().map(String::from));
    Proc::spawn("vrouterctl capture", &argv)
}

/// The average round trip time of ping's summary, in ms; asserts no loss.
fn ping_avg_ms(out: &str) -> f64 {
    assert!(
        out.contains(" 0% packet loss"),
        "no ping may be lost:\n{out}"
    );
    let stats = out
        .lines()
        .find(|l| l.starts_with("rtt ") || l.starts_with("round-trip"))
        .unwrap_or_else(|| panic!("no rtt line:\n{out}"));
    let values = stats.split('=').nth(1).unwrap_or("").trim();
    values
        .split('/')
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no average in {stats:?}"))
}

#[test]
fn capture_to_pcapng_tshark_reads_addresses_interface_and_direction() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rig = rig("a");
    let dir = TempDir::new("capture");
    let file = dir.path("x.pcapng");
    let mut cap = capture(&rig.vr, &format!("{VM_PORT} --filter icmp -c 5 -w {file}"));
    wait_active(&rig.vr, 1);
    rig.vm.run("ping -c 5 -i 0.2 -W 5 10.1.101.254");
    let done = cap.wait_exit(Duration::from_secs(15));
    assert!(done.status.success(), "capture:\n{}", done.output());
    assert!(
        done.stderr.contains("5 packets captured"),
        "capture must say what it captured:\n{}",
        done.output()
    );
    let out = Command::new("tshark")
        .args(["-r", &file, "-T", "fields", "-e", "ip.src", "-e", "ip.dst"])
        .args(["-e", "frame.interface_name", "-e", "icmp.type"])
        .args(["-e", "frame.packet_flags_direction"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark -r {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let request = format!("10.0.0.9\t10.1.101.254\t{VM_PORT}\t8\t0x00000001");
    let reply = format!("10.1.101.254\t10.0.0.9\t{VM_PORT}\t0\t0x00000002");
    let want = [&request, &reply, &request, &reply, &request];
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(
        got, want,
        "tshark must read 5 ICMP frames of {VM_PORT}: requests received (inbound) from \
         10.0.0.9, replies sent (outbound) to it, in that order"
    );
    wait_active(&rig.vr, 0);
}

#[test]
fn a_reader_that_never_reads_costs_the_ping_nothing_and_its_copies_are_counted_dropped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rig = rig("b");
    let ping = "ping -c 300 -i 0.01 -s 1400 -W 5 10.1.101.254";
    let baseline = ping_avg_ms(&rig.vm.run(ping));
    // A client that asks for every frame of the port and then never reads.
    let mut stuck = UnixStream::connect(rig.vr.socket()).expect("connect to the socket");
    let request = format!(
        "{{\"id\":1,\"op\":\"capture\",\"args\":{{\"devices\":[\"{VM_PORT}\"],\"buffer\":16}}}}\n"
    );
    stuck.write_all(request.as_bytes()).unwrap();
    wait_active(&rig.vr, 1);
    let (_, _, dropped_before) = capture_counters(&rig.vr);
    let started = Instant::now();
    let with_capture = ping_avg_ms(&rig.vm.run(ping));
    let took = started.elapsed();
    let (active, copied, dropped) = capture_counters(&rig.vr);
    assert_eq!(active, 1, "the capture still runs while its reader sleeps");
    assert!(
        dropped - dropped_before > 100,
        "600 frames, 16 buffers and a full socket: copies must be dropped and counted \
         ({copied} copied, {dropped} dropped)"
    );
    assert!(
        with_capture <= baseline * 5.0 + 5.0,
        "the ping must not slow down: {with_capture:.3} ms on average with the stuck \
         capture, {baseline:.3} ms without"
    );
    assert!(took < Duration::from_secs(20), "300 pings took {took:?}");
    drop(stuck);
    wait_active(&rig.vr, 0);
    // The counters stay once the capture is over.
    assert!(capture_counters(&rig.vr).2 >= dropped);
}

#[test]
fn capture_streams_into_tshark_and_refuses_bad_filters_and_devices() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rig = rig("c");
    let sock = rig.vr.socket().to_string_lossy().into_owned();
    // eth2: the external uplink, where vm002's ping leaves with the router's SNAT address.
    let pipe = format!(
        "{VROUTERCTL} --socket {sock} capture eth2 --filter 'icmp' -c 2 -w - | \
         tshark -r - -T fields -e ip.src -e ip.dst -e frame.interface_name"
    );
    let argv: Vec<String> = ["sh", "-c", &pipe].map(String::from).to_vec();
    let mut tshark = Proc::spawn("vrouterctl capture | tshark -r -", &argv);
    wait_active(&rig.vr, 1);
    rig.vm.run("ping -c 2 -i 0.2 -W 5 10.1.101.254");
    let done = tshark.wait_exit(Duration::from_secs(20));
    assert!(done.status.success(), "{}", done.output());
    assert_eq!(
        done.stdout.lines().collect::<Vec<_>>(),
        [
            "10.1.101.80\t10.1.101.254\teth2",
            "10.1.101.254\t10.1.101.80\teth2"
        ],
        "tshark must read the SNAT'd request and its reply on eth2:\n{}",
        done.output()
    );

    let bad = vrouterctl(
        &rig.vr.socket(),
        &["capture", VM_PORT, "--filter", "icmp and"],
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("invalid") && err.contains("syntax error"),
        "a bad filter is refused with libpcap's reason: {err}"
    );
    let unknown = vrouterctl(&rig.vr.socket(), &["capture", "tap00000000-00"]);
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success() && err.contains("not_found") && err.contains(VM_PORT),
        "an unknown device is refused, naming the attached ones: {err}"
    );
    wait_active(&rig.vr, 0);
}
