//! Sessions flushed when a snapshot changes a router's NAT addresses (nat_flush.rs).

use super::router_tests::{ip, snapshot, FIP, GW_IP, REMOTE, UP_IP, VM1_IP, VM2_IP};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::FlowKey;
use crate::tables::Snapshot;

const OTHER_FIP: [u8; 4] = [10, 1, 101, 90];
const VM3_IP: [u8; 4] = [10, 0, 0, 11];

fn key(zone: u16, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> FlowKey {
    FlowKey {
        zone,
        proto: 17,
        src: ip(src),
        dst: ip(dst),
        sport,
        dport,
    }
}

/// The sessions router 0 of [`snapshot`] (with a second floating IP, 10.1.101.90 for
/// 10.0.0.11) makes: one per kind of translation, and one of a VM port's zone.
struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
}

impl Rig {
    fn new() -> Rig {
        let mut snap = snapshot();
        snap.conntrack.capacity = 64;
        let r = &mut snap.routers[0];
        r.fixed_of.insert(ip(OTHER_FIP), ip(VM3_IP));
        r.floating_of.insert(ip(VM3_IP), ip(OTHER_FIP));
        let mut dp = Dataplane::new(&snap, 0);
        let sessions = [
            // Inbound to vm2's floating IP (DNAT).
            (
                key(0, UP_IP, 40000, FIP, 22),
                key(0, UP_IP, 40000, VM2_IP, 22),
            ),
            // vm2 out by its floating IP (SNAT 1:1).
            (
                key(0, VM2_IP, 5000, REMOTE, 53),
                key(0, FIP, 5000, REMOTE, 53),
            ),
            // vm1 out by the gateway address, port translated.
            (
                key(0, VM1_IP, 5000, REMOTE, 53),
                key(0, GW_IP, 1999, REMOTE, 53),
            ),
            // Inbound to vm3's floating IP, and vm3 out by it.
            (
                key(0, UP_IP, 40001, OTHER_FIP, 22),
                key(0, UP_IP, 40001, VM3_IP, 22),
            ),
            (
                key(0, VM3_IP, 6000, REMOTE, 53),
                key(0, OTHER_FIP, 6000, REMOTE, 53),
            ),
            // vm1 to vm2's floating IP (hairpin: DNAT and gateway SNAT).
            (key(0, VM1_IP, 7000, FIP, 7), key(0, GW_IP, 7000, VM2_IP, 7)),
            // A VM port's security group session (no NAT).
            (
                key(0x8000, VM2_IP, 5000, REMOTE, 53),
                key(0x8000, VM2_IP, 5000, REMOTE, 53),
            ),
        ];
        for (orig, translated) in sessions {
            dp.conntrack.create(orig, translated, 0).unwrap();
        }
        Rig { snap, dp }
    }

    /// Publishes the rig's snapshot again; returns the original keys still tracked.
    fn publish(&mut self) -> Vec<FlowKey> {
        self.snap.generation += 1;
        self.dp.apply(&self.snap, 0);
        let mut left: Vec<FlowKey> = self.dp.conntrack.iter().map(|(_, s)| s.orig).collect();
        left.sort();
        left
    }

    fn flushed(&self) -> u64 {
        self.dp.stats.router.nat_flushed
    }
}

fn sorted(mut keys: Vec<FlowKey>) -> Vec<FlowKey> {
    keys.sort();
    keys
}

#[test]
fn a_publish_that_changes_no_nat_address_removes_nothing() {
    let mut r = Rig::new();
    r.snap.routers[0].routes.clear();
    r.snap.routers[0].sort_routes();
    assert_eq!(r.publish().len(), 7);
    assert_eq!(r.flushed(), 0);
    // Nothing recorded changed: the sessions are not even looked at.
    assert!(r.dp.nat_addresses.update(&r.snap.routers).is_empty());
}

#[test]
fn a_disassociated_floating_ip_loses_its_sessions_both_ways_and_its_hairpin() {
    let mut r = Rig::new();
    let rt = &mut r.snap.routers[0];
    rt.fixed_of.remove(&ip(FIP));
    rt.floating_of.remove(&ip(VM2_IP));
    let left = r.publish();
    assert_eq!(
        left,
        sorted(vec![
            key(0, VM1_IP, 5000, REMOTE, 53),
            key(0, UP_IP, 40001, OTHER_FIP, 22),
            key(0, VM3_IP, 6000, REMOTE, 53),
            key(0x8000, VM2_IP, 5000, REMOTE, 53),
        ])
    );
    assert_eq!(r.flushed(), 3);
    assert_eq!(r.dp.conntrack.stats.removed, 3);
}

#[test]
fn a_floating_ip_moved_to_another_fixed_ip_loses_the_old_fixed_ips_sessions() {
    let mut r = Rig::new();
    let rt = &mut r.snap.routers[0];
    rt.fixed_of.insert(ip(FIP), ip(VM1_IP));
    rt.floating_of.remove(&ip(VM2_IP));
    rt.floating_of.insert(ip(VM1_IP), ip(FIP));
    let left = r.publish();
    // vm1's gateway SNAT stays (the gateway is still the router's, as on Linux a new
    // floating IP does not end a connection already translated).
    assert_eq!(
        left,
        sorted(vec![
            key(0, VM1_IP, 5000, REMOTE, 53),
            key(0, UP_IP, 40001, OTHER_FIP, 22),
            key(0, VM3_IP, 6000, REMOTE, 53),
            key(0x8000, VM2_IP, 5000, REMOTE, 53),
        ])
    );
    assert_eq!(r.flushed(), 3);
}

#[test]
fn a_new_gateway_address_ends_the_gateway_snat_sessions_only() {
    let mut r = Rig::new();
    r.snap.routers[0].snat_ip = Some(ip([10, 1, 101, 81]));
    let left = r.publish();
    assert_eq!(
        left,
        sorted(vec![
            key(0, UP_IP, 40000, FIP, 22),
            key(0, VM2_IP, 5000, REMOTE, 53),
            key(0, UP_IP, 40001, OTHER_FIP, 22),
            key(0, VM3_IP, 6000, REMOTE, 53),
            key(0x8000, VM2_IP, 5000, REMOTE, 53),
        ])
    );
    assert_eq!(r.flushed(), 2);
    // Cleared (router-gateway-clear without floating IPs left): the rest goes too.
    let rt = &mut r.snap.routers[0];
    rt.snat_ip = None;
    rt.fixed_of.clear();
    rt.floating_of.clear();
    assert_eq!(r.publish(), vec![key(0x8000, VM2_IP, 5000, REMOTE, 53)]);
    assert_eq!(r.flushed(), 6);
}

#[test]
fn a_removed_router_loses_its_nat_sessions() {
    let mut r = Rig::new();
    r.snap.routers.clear();
    assert_eq!(r.publish(), vec![key(0x8000, VM2_IP, 5000, REMOTE, 53)]);
    assert_eq!(r.flushed(), 6);
    // Recorded as gone: publishing again finds nothing changed.
    assert!(r.dp.nat_addresses.update(&r.snap.routers).is_empty());
}
