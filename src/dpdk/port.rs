//! Ethdev ports: hot-plugged by devargs, configured, started, and used through per-queue
//! handles owned by one worker each.

use std::cell::Cell;
use std::ffi::CString;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::eal::{object_created, object_dropped, DpdkError};
use super::ffi;
use super::mbuf::Mbuf;
use super::mempool::Mempool;

/// Port counters (rte_eth_stats_get), plus the chained frames the appliance dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets the device dropped because the rx queues were full.
    pub imissed: u64,
    /// Erroneous received packets.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// Receive mbuf allocation failures.
    pub rx_nombuf: u64,
    /// Received chained mbufs too long to linearize, dropped by [`RxQueue::rx_burst`].
    pub rx_chained_dropped: u64,
}

/// The device counters (rte_eth_stats_get) of the port numbered `id`: an error once it
/// is closed. Any thread may ask; the driver's counters are read, not reset.
pub fn eth_stats(id: u16) -> Result<PortStats, DpdkError> {
    // SAFETY: all-zero is a valid rte_eth_stats.
    let mut s: ffi::rte_eth_stats = unsafe { std::mem::zeroed() };
    // SAFETY: an out pointer to a local; an invalid or closed port id is an error return.
    let ret = unsafe { ffi::rte_eth_stats_get(id, &mut s) };
    DpdkError::check(ret, || format!("port {id}: reading stats"))?;
    Ok(PortStats {
        ipackets: s.ipackets,
        opackets: s.opackets,
        ibytes: s.ibytes,
        obytes: s.obytes,
        imissed: s.imissed,
        ierrors: s.ierrors,
        oerrors: s.oerrors,
        rx_nombuf: s.rx_nombuf,
        rx_chained_dropped: 0,
    })
}

/// The link state of the port numbered `id`, without waiting for autonegotiation
/// (rte_eth_link_get_nowait): an error once it is closed. Any thread may ask.
pub fn link_status(id: u16) -> Result<LinkStatus, DpdkError> {
    // SAFETY: all-zero is a valid rte_eth_link.
    let mut link: ffi::rte_eth_link = unsafe { std::mem::zeroed() };
    // SAFETY: an out pointer to a local; an invalid or closed port id is an error return.
    let ret = unsafe { ffi::rte_eth_link_get_nowait(id, &mut link) };
    DpdkError::check(ret, || format!("port {id}: reading the link"))?;
    Ok(LinkStatus {
        up: link.link_status() == ffi::RTE_ETH_LINK_UP as u16,
        speed_mbps: link.link_speed,
        full_duplex: link.link_duplex() == ffi::RTE_ETH_LINK_FULL_DUPLEX as u16,
    })
}

/// Link state (rte_eth_link_get_nowait).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// Link up.
    pub up: bool,
    /// Speed in Mb/s (0 if unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// What ports and their queue handles share; dropping the last reference closes the port.
#[derive(Debug)]
struct PortShared {
    id: u16,
    name: String,
    /// The bus device, removed (hot-unplugged) after the port is closed.
    device: *mut ffi::rte_device,
    started: bool,
    /// The rx pool: it must outlive the mbufs the port keeps in its rx rings.
    pool: Option<Arc<Mempool>>,
    rx_taken: Vec<AtomicBool>,
    tx_taken: Vec<AtomicBool>,
    rx_chained_dropped: AtomicU64,
    limits: QueueLimits,
}

/// How many queues a device offers, and its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Rx queues at most (for vhost-user and pcap: as many as the device was created with).
    pub max_rx: u16,
    /// Tx queues at most.
    pub max_tx: u16,
    /// Driver name, e.g. `net_vhost`.
    pub driver: String,
}

// SAFETY: `device` is only used by the drop, which runs once on whichever thread holds the
// last reference; everything else is plain data or atomics.
unsafe impl Send for PortShared {}
// SAFETY: &PortShared only reads plain data and updates atomics.
unsafe impl Sync for PortShared {}

impl Drop for PortShared {
    fn drop(&mut self) {
        // SAFETY: no queue handle is left (they hold references), so nothing else uses the
        // port; it is stopped, closed and its device removed exactly once, here.
        unsafe {
            if self.started {
                ffi::rte_eth_dev_stop(self.id);
            }
            let ret = ffi::rte_eth_dev_close(self.id);
            if ret < 0 {
                log::warn!(
                    "{}",
                    DpdkError::new(format!("closing port {}", self.name), ret)
                );
            }
            if !self.device.is_null() {
                let ret = ffi::rte_dev_remove(self.device);
                if ret < 0 {
                    log::warn!("{}", DpdkError::new(format!("removing {}", self.name), ret));
                }
            }
        }
        object_dropped();
    }
}

/// An ethdev port. Configure and start it, hand one [`RxQueue`]/[`TxQueue`] to each
/// worker, and drop (or [`Port::close`]) it to stop, close and hot-unplug the device; the
/// device stays open until the last queue handle is gone too.
#[derive(Debug)]
pub struct Port {
    shared: Arc<PortShared>,
}

impl Port {
    /// Hot-plugs the device `devargs` (rte_dev_probe), e.g. `net_ring0`,
    /// `net_tap0,iface=x` or a PCI address in full form `0000:01:00.0`, and finds its port
    /// by name: the devargs up to the first comma. A device probed already (EAL `--vdev`,
    /// `-a`) is accepted.
    pub fn probe(devargs: &str) -> Result<Port, DpdkError> {
        let context = || format!("probing device '{devargs}'");
        let cdevargs =
            CString::new(devargs).map_err(|_| DpdkError::new(context(), libc::EINVAL))?;
        // SAFETY: a valid C string; EAL copies what it keeps.
        let ret = unsafe { ffi::rte_dev_probe(cdevargs.as_ptr()) };
        if ret < 0 && ret != -libc::EEXIST {
            return Err(DpdkError::new(context(), ret));
        }
        let name = devargs.split(',').next().unwrap_or_default();
        let cname = CString::new(name).map_err(|_| DpdkError::new(context(), libc::EINVAL))?;
        let mut id = 0u16;
        // SAFETY: a valid C string and a valid out pointer.
        let ret = unsafe { ffi::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        DpdkError::check(ret, || {
            format!("device '{devargs}': no ethdev port named '{name}'")
        })?;
        let mut info = MaybeUninit::<ffi::rte_eth_dev_info>::zeroed();
        // SAFETY: id is a valid port; info is writable and fully initialised on success.
        let ret = unsafe { ffi::rte_eth_dev_info_get(id, info.as_mut_ptr()) };
        DpdkError::check(ret, || format!("device '{devargs}': reading port info"))?;
        // SAFETY: zeroed is a valid rte_eth_dev_info (plain data, nullable pointers) and
        // rte_eth_dev_info_get filled it in.
        let info = unsafe { info.assume_init() };
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: a NUL-terminated string owned by the driver, which outlives this call.
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let limits = QueueLimits {
            max_rx: info.max_rx_queues,
            max_tx: info.max_tx_queues,
            driver,
        };
        object_created();
        Ok(Port {
            shared: Arc::new(PortShared {
                id,
                name: name.to_owned(),
                device: info.device,
                started: false,
                pool: None,
                rx_taken: Vec::new(),
                tx_taken: Vec::new(),
                rx_chained_dropped: AtomicU64::new(0),
                limits,
            }),
        })
    }

    /// The ethdev port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// Rx queues configured.
    pub fn rx_queues(&self) -> u16 {
        self.shared.rx_taken.len() as u16
    }

    /// The queues the device offers, and its driver.
    pub fn limits(&self) -> &QueueLimits {
        &self.shared.limits
    }

    /// The ethdev (= device) name, e.g. `net_ring0`.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Exclusive access for configuration changes: fails while queue handles exist.
    fn exclusive(&mut self, what: &str) -> Result<&mut PortShared, DpdkError> {
        let name = self.shared.name.clone();
        Arc::get_mut(&mut self.shared).ok_or_else(|| {
            DpdkError::new(
                format!("{what} port {name}: queue handles still in use"),
                libc::EBUSY,
            )
        })
    }

    /// Sets up `n_rxq` rx queues filled from `pool` and `n_txq` tx queues, with rings of
    /// (about, as the device allows) `rx_ring`/`tx_ring` descriptors. Several rx queues
    /// get RSS over every flow type the device can hash. The port must be stopped.
    pub fn configure(
        &mut self,
        n_rxq: u16,
        n_txq: u16,
        rx_ring: u16,
        tx_ring: u16,
        pool: &Arc<Mempool>,
    ) -> Result<(), DpdkError> {
        let port = self.exclusive("configuring")?;
        let (id, name) = (port.id, port.name.clone());
        let mut info = MaybeUninit::<ffi::rte_eth_dev_info>::zeroed();
        // SAFETY: id is a valid port (we hold it open); info is writable.
        let ret = unsafe { ffi::rte_eth_dev_info_get(id, info.as_mut_ptr()) };
        DpdkError::check(ret, || format!("port {name}: reading port info"))?;
        // SAFETY: zeroed plain data, filled in by rte_eth_dev_info_get.
        let info = unsafe { info.assume_init() };
        // SAFETY: all-zero is rte_eth_conf's documented default (no offloads, no RSS).
        let mut conf: ffi::rte_eth_conf = unsafe { std::mem::zeroed() };
        if n_rxq > 1 {
            conf.rxmode.mq_mode = ffi::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads;
        }
        let (mut nb_rxd, mut nb_txd) = (rx_ring, tx_ring);
        // SAFETY: valid port, conf and out pointers; the port is not started by us (else
        // DPDK refuses with an error).
        let socket = unsafe {
            let ret = ffi::rte_eth_dev_configure(id, n_rxq, n_txq, &conf);
            DpdkError::check(ret, || {
                format!("configuring port {name} with {n_rxq} rx / {n_txq} tx queues")
            })?;
            let ret = ffi::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut nb_rxd, &mut nb_txd);
            DpdkError::check(ret, || format!("port {name}: ring sizes"))?;
            // SOCKET_ID_ANY (-1) becomes u32::MAX, which the queue setup reads as "any".
            ffi::rte_eth_dev_socket_id(id) as u32
        };
        for q in 0..n_rxq {
            // SAFETY: valid port and queue index; NULL takes the default rxconf; the pool
            // outlives the port because the port keeps an Arc of it.
            let ret = unsafe {
                ffi::rte_eth_rx_queue_setup(id, q, nb_rxd, socket, std::ptr::null(), pool.as_ptr())
            };
            DpdkError::check(ret, || format!("port {name}: setting up rx queue {q}"))?;
        }
        for q in 0..n_txq {
            // SAFETY: valid port and queue index; NULL takes the default txconf.
            let ret =
                unsafe { ffi::rte_eth_tx_queue_setup(id, q, nb_txd, socket, std::ptr::null()) };
            DpdkError::check(ret, || format!("port {name}: setting up tx queue {q}"))?;
        }
        port.pool = Some(Arc::clone(pool));
        port.rx_taken = (0..n_rxq).map(|_| AtomicBool::new(false)).collect();
        port.tx_taken = (0..n_txq).map(|_| AtomicBool::new(false)).collect();
        Ok(())
    }

    /// Starts the port (rte_eth_dev_start).
    pub fn start(&mut self) -> Result<(), DpdkError> {
        let port = self.exclusive("starting")?;
        // SAFETY: valid port; no queue handle exists, so no burst runs concurrently.
        let ret = unsafe { ffi::rte_eth_dev_start(port.id) };
        DpdkError::check(ret, || format!("starting port {}", port.name))?;
        port.started = true;
        Ok(())
    }

    /// Stops the port (rte_eth_dev_stop); it can be reconfigured and started again.
    pub fn stop(&mut self) -> Result<(), DpdkError> {
        let port = self.exclusive("stopping")?;
        // SAFETY: valid port; no queue handle exists, so no burst runs concurrently.
        let ret = unsafe { ffi::rte_eth_dev_stop(port.id) };
        DpdkError::check(ret, || format!("stopping port {}", port.name))?;
        port.started = false;
        Ok(())
    }

    /// Stops, closes and hot-unplugs the port now; fails (EBUSY) while queue handles
    /// exist, and then the last handle's drop closes it.
    pub fn close(mut self) -> Result<(), DpdkError> {
        self.exclusive("closing")?;
        Ok(()) // Dropping the only reference closes it.
    }

    /// Turns promiscuous mode on or off.
    pub fn set_promiscuous(&mut self, on: bool) -> Result<(), DpdkError> {
        let id = self.shared.id;
        // SAFETY: valid port; &mut self serialises control calls on it.
        let ret = unsafe {
            if on {
                ffi::rte_eth_promiscuous_enable(id)
            } else {
                ffi::rte_eth_promiscuous_disable(id)
            }
        };
        DpdkError::check(ret, || {
            format!("port {}: setting promiscuous {on}", self.name())
        })?;
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac_addr(&self) -> Result<[u8; 6], DpdkError> {
        let mut addr = ffi::rte_ether_addr { addr_bytes: [0; 6] };
        // SAFETY: valid port and out pointer.
        let ret = unsafe { ffi::rte_eth_macaddr_get(self.shared.id, &mut addr) };
        DpdkError::check(ret, || {
            format!("port {}: reading the MAC address", self.name())
        })?;
        Ok(addr.addr_bytes)
    }

    /// The link state, without waiting for autonegotiation.
    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        link_status(self.shared.id)
    }

    /// The port's counters.
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut s = eth_stats(self.shared.id)?;
        s.rx_chained_dropped = self.shared.rx_chained_dropped.load(Ordering::Relaxed);
        Ok(s)
    }

    /// Claims the flag of queue `q` in `taken`, so that each queue has one handle.
    fn take(&self, taken: &[AtomicBool], q: u16, kind: &str) -> Result<(), DpdkError> {
        let flag = taken.get(usize::from(q)).ok_or_else(|| {
            DpdkError::new(
                format!("port {}: no {kind} queue {q}", self.name()),
                libc::EINVAL,
            )
        })?;
        if flag.swap(true, Ordering::AcqRel) {
            return Err(DpdkError::new(
                format!("port {}: {kind} queue {q} is taken", self.name()),
                libc::EBUSY,
            ));
        }
        Ok(())
    }

    /// The handle of rx queue `q`; one at a time per queue (EBUSY while one exists).
    pub fn rx_queue(&self, q: u16) -> Result<RxQueue, DpdkError> {
        self.take(&self.shared.rx_taken, q, "rx")?;
        Ok(RxQueue {
            port: Arc::clone(&self.shared),
            queue: q,
            _not_sync: PhantomData,
        })
    }

    /// The handle of tx queue `q`; one at a time per queue (EBUSY while one exists).
    pub fn tx_queue(&self, q: u16) -> Result<TxQueue, DpdkError> {
        self.take(&self.shared.tx_taken, q, "tx")?;
        Ok(TxQueue {
            port: Arc::clone(&self.shared),
            queue: q,
            _not_sync: PhantomData,
        })
    }
}

/// The receive side of one queue of a port: owned by one thread at a time (Send, !Sync).
#[derive(Debug)]
pub struct RxQueue {
    port: Arc<PortShared>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl RxQueue {
    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to `out`'s spare capacity (never allocates) and appends the frames;
    /// returns how many were appended. Chained mbufs are linearized; those too long for
    /// one segment are dropped and counted (`PortStats::rx_chained_dropped`).
    pub fn rx_burst(&mut self, out: &mut Vec<Mbuf>) -> usize {
        let start = out.len();
        let room = (out.capacity() - start).min(usize::from(u16::MAX)) as u16;
        // SAFETY: the spare capacity holds `room` slots; Mbuf is a transparent non-null
        // mbuf pointer, so the PMD writes valid, owned Mbufs into the first `got` slots,
        // which set_len then adopts. The queue handle is exclusive to this thread.
        let got = unsafe {
            let slots = out.as_mut_ptr().add(start).cast::<*mut ffi::rte_mbuf>();
            let got = ffi::vr_eth_rx_burst(self.port.id, self.queue, slots, room);
            out.set_len(start + usize::from(got));
            usize::from(got)
        };
        if out[start..].iter().any(|m| m.nb_segs() > 1) {
            let before = out.len();
            out.retain_mut(Mbuf::linearize);
            let dropped = (before - out.len()) as u64;
            self.port
                .rx_chained_dropped
                .fetch_add(dropped, Ordering::Relaxed);
            return got - dropped as usize;
        }
        got
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        self.port.rx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}

/// The transmit side of one queue of a port: owned by one thread at a time (Send, !Sync).
#[derive(Debug)]
pub struct TxQueue {
    port: Arc<PortShared>,
    queue: u16,
    _not_sync: PhantomData<Cell<()>>,
}

impl TxQueue {
    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    /// The queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Sends from the front of `pkts` and removes what was sent; the unsent remain in
    /// `pkts`, in order, for the caller to retry or drop (and count). Returns the number sent.
    pub fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = pkts.len().min(usize::from(u16::MAX)) as u16;
        // SAFETY: pkts holds n owned Mbufs, laid out as mbuf pointers; the PMD takes
        // ownership of the first `sent` of them, which are then forgotten below (never
        // freed by us). The queue handle is exclusive to this thread.
        let sent = usize::from(unsafe {
            ffi::vr_eth_tx_burst(self.port.id, self.queue, pkts.as_mut_ptr().cast(), n)
        });
        for m in pkts.drain(..sent) {
            m.into_raw();
        }
        sent
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        self.port.tx_taken[usize::from(self.queue)].store(false, Ordering::Release);
    }
}
