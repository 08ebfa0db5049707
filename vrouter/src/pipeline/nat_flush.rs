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

use super::zone::PORT_ZONE;
use crate::state::{Conntrack, Session};
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
    pub(super) fn update(&mut self, routers: &[RouterConf]) -> Vec<u16> {
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
/// last call (recorded in `nat`) and whose translation the router no longer makes; counts
/// them in `flushed`.
pub(super) fn apply(
    nat: &mut NatAddresses,
    conntrack: &mut Conntrack,
    flushed: &mut u64,
    routers: &[RouterConf],
) {
    let changed = nat.update(routers);
    if changed.is_empty() {
        return;
    }
    let doomed: Vec<u32> = conntrack
        .iter()
        .filter(|(_, s)| s.orig.zone & PORT_ZONE == 0)
        .filter(|(_, s)| changed.contains(&s.orig.zone))
        .filter(|(_, s)| !nat.holds(s.orig.zone, s))
        .map(|(i, _)| i)
        .collect();
    for i in doomed {
        if conntrack.remove(i).is_some() {
            *flushed += 1;
        }
    }
}
