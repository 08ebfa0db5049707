//! Runs real DPDK (no hugepages, no PCI): EAL, a mempool, a `net_ring` port looping frames
//! back, Mbuf as a Frame, no mbuf leak, a bad devargs error, and a clean EAL cleanup.
//! One test per file: EAL initialises once per process.

use std::path::Path;
use std::sync::Arc;

use vrouter::Frame;
use vrouter_appliance::dpdk::{ffi, Eal, Mbuf, Mempool, Port};

/// Exercises the Frame trait generically, as the pipeline does: push a 4-byte header in
/// front, check it, pull it off again, grow and cut the tail.
fn push_pull<F: Frame>(f: &mut F) {
    let len = f.len();
    let original = f.data().to_vec();
    f.push(4).unwrap()[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(f.len(), len + 4);
    assert_eq!(&f.data()[..4], &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(&f.data()[4..], &original[..]);
    assert!(f.pull(4));
    assert_eq!(f.data(), &original[..]);
    assert_eq!(f.append(2).unwrap().len(), len + 2);
    assert!(f.truncate(len));
    assert_eq!(f.data(), &original[..]);
    assert!(!f.pull(len + 1));
    assert!(!f.truncate(len + 1));
}

/// Chains `tail` behind `head` by hand, as a scattering PMD would (rte_pktmbuf_chain is
/// inline, so it has no symbol).
fn chain(head: Mbuf, tail: Mbuf) -> Mbuf {
    let (h, t) = (head.into_raw(), tail.into_raw());
    // SAFETY: both are valid mbufs owned here; the head takes ownership of the tail, and the
    // returned Mbuf owns (and frees) the whole chain.
    unsafe {
        let (hm, tm) = (&mut *h.as_ptr(), &*t.as_ptr());
        hm.next = t.as_ptr();
        hm.nb_segs += tm.nb_segs;
        hm.pkt_len += tm.pkt_len;
        Mbuf::from_raw(h)
    }
}

fn frame(i: u8) -> Vec<u8> {
    (0..60 + usize::from(i))
        .map(|b| (b as u8).wrapping_mul(i | 1))
        .collect()
}

#[test]
fn ring_port_loops_frames_back_without_leaks() {
    let prefix = format!("vrouter-test-{}", std::process::id());
    let args: Vec<String> = [
        "dpdk_smoke",
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--file-prefix",
        &prefix,
        "-l",
        "0",
        "--log-level=warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    let runtime_dir = format!("/var/run/dpdk/{prefix}");
    assert!(
        Path::new(&runtime_dir).is_dir(),
        "{runtime_dir} while running"
    );
    assert_eq!(Eal::init(&args).unwrap_err().errno, libc::EALREADY);
    assert!(eal.worker_lcores().is_empty());

    let pool = Arc::new(Mempool::new("smoke_pool", 4095, 32, ffi::SOCKET_ID_ANY).unwrap());
    assert_eq!(pool.in_use(), 0);
    assert_eq!(pool.avail(), 4095);

    // A bad device names the devargs and carries EAL's error text.
    let err = Port::probe("net_bogus0").unwrap_err();
    assert!(err.to_string().contains("'net_bogus0'"), "{err}");
    assert!(err.errno != 0 && !err.message.is_empty(), "{err:?}");

    // net_ring0 without arguments: rx queue i and tx queue i are the same ring.
    let mut port = Port::probe("net_ring0").expect("probe net_ring0");
    assert_eq!(port.name(), "net_ring0");
    port.configure(1, 1, 256, 256, &pool).unwrap();
    port.set_promiscuous(true).unwrap();
    port.start().unwrap();
    assert!(port.link().unwrap().up);
    port.mac_addr().unwrap();

    let mut rxq = port.rx_queue(0).unwrap();
    let mut txq = port.tx_queue(0).unwrap();
    assert_eq!(port.rx_queue(0).unwrap_err().errno, libc::EBUSY);
    assert_eq!(port.tx_queue(1).unwrap_err().errno, libc::EINVAL);
    assert_eq!(port.stop().unwrap_err().errno, libc::EBUSY);

    // Mbuf is a Frame; try_clone is a deep copy with the same headroom.
    let mut m = Mbuf::from_slice(&pool, &frame(1)).unwrap();
    assert_eq!(m.headroom(), 128);
    push_pull(&mut m);
    assert!(m.pull(10));
    let mut copy = m.try_clone().unwrap();
    assert_eq!(copy.headroom(), m.headroom());
    assert_eq!(copy.data(), m.data());
    copy.data_mut()[0] ^= 0xff;
    assert_ne!(copy.data()[0], m.data()[0]);
    assert!(m.push(200).is_none() && m.append(4096).is_none());
    assert_eq!(pool.in_use(), 2);
    drop((m, copy));
    assert_eq!(pool.in_use(), 0);

    // A burst goes out on tx and comes back on rx, bytes and order intact.
    let mut batch: Vec<Mbuf> = (1..=8)
        .map(|i| Mbuf::from_slice(&pool, &frame(i)).unwrap())
        .collect();
    assert_eq!(txq.tx_burst(&mut batch), 8);
    assert!(batch.is_empty());
    let mut rx = Vec::with_capacity(32);
    assert_eq!(rxq.rx_burst(&mut rx), 8);
    for (i, m) in (1..=8).zip(&rx) {
        assert_eq!(m.data(), &frame(i)[..]);
        assert_eq!(m.nb_segs(), 1);
    }
    let stats = port.stats().unwrap();
    assert_eq!((stats.ipackets, stats.opackets), (8, 8));
    rx.clear();
    assert_eq!(pool.in_use(), 0);

    // Chains: linearized in place, on rx too; one too long for a segment is dropped.
    let a = frame(3);
    let b = frame(4);
    let ab = [&a[..], &b[..]].concat();
    let mut c = chain(
        Mbuf::from_slice(&pool, &a).unwrap(),
        Mbuf::from_slice(&pool, &b).unwrap(),
    );
    assert_eq!((c.nb_segs(), c.len(), pool.in_use()), (2, a.len(), 2));
    assert!(c.linearize());
    assert_eq!((c.nb_segs(), c.data(), pool.in_use()), (1, &ab[..], 1));
    drop(c);
    let long = vec![7u8; 2000];
    let too_long = chain(
        Mbuf::from_slice(&pool, &long).unwrap(),
        Mbuf::from_slice(&pool, &a).unwrap(),
    );
    let short = chain(
        Mbuf::from_slice(&pool, &a).unwrap(),
        Mbuf::from_slice(&pool, &b).unwrap(),
    );
    let single = Mbuf::from_slice(&pool, &b).unwrap();
    let mut batch = vec![short, too_long, single];
    assert_eq!(txq.tx_burst(&mut batch), 3);
    assert_eq!(rxq.rx_burst(&mut rx), 2);
    assert_eq!(rx[0].data(), &ab[..]);
    assert_eq!(rx[1].data(), &b[..]);
    assert_eq!(port.stats().unwrap().rx_chained_dropped, 1);
    rx.clear();
    assert_eq!(pool.in_use(), 0);

    // Overfill the ring: the unsent stay with the caller, in order.
    let mut batch: Vec<Mbuf> = (0..1100)
        .map(|i| Mbuf::from_slice(&pool, &frame((i % 200) as u8)).unwrap())
        .collect();
    let sent = txq.tx_burst(&mut batch);
    assert!(sent > 0 && sent < 1100, "sent {sent}");
    assert_eq!(batch.len(), 1100 - sent);
    assert_eq!(batch[0].data(), &frame((sent % 200) as u8)[..]);
    drop(batch);
    let mut received = 0;
    loop {
        let n = rxq.rx_burst(&mut rx);
        if n == 0 {
            break;
        }
        received += n;
        rx.clear();
    }
    assert_eq!(received, sent);
    assert_eq!(pool.in_use(), 0, "no mbuf leaked");

    // Shutdown: handles, port, pool, EAL; nothing stays in the runtime directory.
    drop((rxq, txq));
    port.close().unwrap();
    let pool = Arc::try_unwrap(pool).unwrap();
    assert_eq!(pool.in_use(), 0);
    drop(pool);
    eal.cleanup().expect("EAL cleanup");
    assert!(
        !Path::new(&runtime_dir).exists(),
        "{runtime_dir} left behind"
    );
}
