//! Router sessions whose translation a new snapshot no longer makes: when a floating IP is
//! disassociated or moved to another fixed IP, or a router's SNAT (gateway) address changes
//! or goes, the sessions of that router translating with the old addresses are removed, so
//! that the next packet of the connection is translated as the new snapshot says (a fresh
//! gateway SNAT with a port of its own, or no longer to the old fixed IP).
//!
//! Linux binds a connection's NAT at its first packet for the life of its conntrack entry
//! (nf_nat), so the old translation would go on; Neutron's L3 agent therefore deletes the
//! conntrack state of a floating IP it removes (`delete_addr_and_conntrack_state`, i.e.
//! `conntrack -D -d <fip>` and `conntrack -D -q <fip>`). The same is done here for the
//! gateway address. Only routers whose floating-IP map or SNAT address changed are looked
//! at, and only when one did: an unrelated change costs a comparison of the maps, no scan.

use super::Dataplane;
use crate::state::Session;
use crate::tables::RouterConf;
use hashbrown::HashMap;

/// The addresses one router translated with, as the last snapshot applied gave them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RouterNat {
    /// SNAT (gateway) address.
    snat_ip: Option<u32>,
    /// Floating IP → fixed IP.
    fixed_of: HashMap<u32, u32>,
    /// Fixed IP → floating IP.
    floating_of: HashMap<u32, u32>,
}

impl RouterNat {
    /// The NAT addresses of `r`.
    fn of(r: &RouterConf) -> RouterNat {
        RouterNat {
            snat_ip: r.snat_ip,
            fixed_of: r.fixed_of.clone(),
            floating_of: r.floating_of.clone(),
        }
    }

    /// True if this router's translation of session `s` is still one it makes: its DNAT
    /// is to the fixed IP the floating IP maps to, its SNAT to the floating IP of the
    /// source or to the gateway address.
    fn holds(&self, s: &Session) -> bool {
        let (o, t) = (s.orig, s.reply.reverse());
        let dnat = t.dst == o.dst || self.fixed_of.get(&o.dst) == Some(&t.dst);
        let snat = t.src == o.src
            || self.floating_of.get(&o.src) == Some(&t.src)
            || self.snat_ip == Some(t.src);
        dnat && snat
    }
}

/// True if a router translates anything.
fn translates(r: &RouterConf) -> bool {
    r.snat_ip.is_some() || !r.fixed_of.is_empty() || !r.floating_of.is_empty()
}

/// True if router `new` (`None`: no router at that index) translates otherwise than `old`
/// (`None`: nothing recorded).
fn differs(old: Option<&RouterNat>, new: Option<&RouterConf>) -> bool {
    match (old, new) {
        (Some(o), Some(r)) => {
            o.snat_ip != r.snat_ip || o.fixed_of != r.fixed_of || o.floating_of != r.floating_of
        }
        (Some(o), None) => *o != RouterNat::default(),
        (None, Some(r)) => translates(r),
        (None, None) => false,
    }
}

/// The NAT addresses of every router (by index, the conntrack zone of its sessions) as of
/// the last snapshot applied.
#[derive(Debug, Default)]
pub(super) struct NatAddresses {
    routers: Vec<RouterNat>,
}

impl NatAddresses {
    /// Records the NAT addresses of `routers`; returns the zones of the routers whose
    /// addresses changed since the last call.
    fn update(&mut self, routers: &[RouterConf]) -> Vec<u16> {
        let n = self.routers.len().max(routers.len());
        let changed: Vec<u16> = (0..n)
            .filter(|&i| differs(self.routers.get(i), routers.get(i)))
            .map(|i| i as u16)
            .collect();
        self.routers.resize_with(routers.len(), RouterNat::default);
        for &z in &changed {
            if let Some(r) = routers.get(usize::from(z)) {
                self.routers[usize::from(z)] = RouterNat::of(r);
            }
        }
        changed
    }

    /// True if the session `s` of router zone `zone` still translates as its router does.
    fn holds(&self, zone: u16, s: &Session) -> bool {
        match self.routers.get(usize::from(zone)) {
            Some(r) => r.holds(s),
            None => !s.is_nat(),
        }
    }
}

/// Removes the sessions of the routers in `routers` whose NAT addresses changed since the
/// last call and whose translation the router no longer makes; counts them in
/// `nat_flushed`.
pub(super) fn apply<F>(dp: &mut Dataplane<F>, routers: &[RouterConf]) {
    let changed = dp.nat_addresses.update(routers);
    if changed.is_empty() {
        return;
    }
    let doomed: Vec<u32> = dp
        .conntrack
        .iter()
        .filter(|(_, s)| s.orig.zone & super::acl::PORT_ZONE == 0)
        .filter(|(_, s)| changed.contains(&s.orig.zone))
        .filter(|(_, s)| !dp.nat_addresses.holds(s.orig.zone, s))
        .map(|(i, _)| i)
        .collect();
    for i in doomed {
        if dp.conntrack.remove(i).is_some() {
            dp.stats.router.nat_flushed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::router_tests::{ip, snapshot, FIP, GW_IP, REMOTE, UP_IP, VM1_IP, VM2_IP};
    use super::super::Dataplane;
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
}
