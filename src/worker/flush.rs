//! Flushing a worker's learned state on the operator's request: connection tracking
//! sessions (`conntrack -F`) and learned neighbour entries (`ip neigh flush`). Every worker
//! applies the request to its own tables between two bursts, so no lock is taken.
//!
//! What a flush leaves working: a TCP connection whose session went is picked up again by
//! its next mid-stream segment (Linux `nf_conntrack_tcp_loose`), and SNAT keeps its source
//! port while that port is free, so the peer sees the same tuple; a flushed neighbour is
//! resolved again by ARP when a frame needs it (RFC 826), the frame held meanwhile.

use vrouter::pipeline::Dataplane;

/// What a flush removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlushRequest {
    /// Connection tracking sessions: of every zone, or of this one.
    Conntrack {
        /// Only this zone's sessions.
        zone: Option<u16>,
    },
    /// Learned, resolved neighbour entries (static ones from the model stay).
    Neighbours {
        /// Only routers' neighbours inside these subnets (address, prefix length, host
        /// byte order); `None`: every learned entry, the underlay's too.
        subnets: Option<Vec<(u32, u8)>>,
    },
}

/// True if `ip` is inside `net`/`len`.
fn inside(ip: u32, (net, len): (u32, u8)) -> bool {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    ip & mask == net & mask
}

/// Removes from `dp` what `req` names; returns how many entries went.
pub fn flush<F>(dp: &mut Dataplane<F>, req: &FlushRequest) -> u64 {
    match req {
        FlushRequest::Conntrack { zone } => {
            let doomed: Vec<u32> = dp
                .conntrack
                .iter()
                .filter(|(_, s)| zone.is_none_or(|z| s.orig.zone == z))
                .map(|(i, _)| i)
                .collect();
            let gone = doomed
                .into_iter()
                .filter(|&i| dp.conntrack.remove(i).is_some())
                .count();
            gone as u64
        }
        FlushRequest::Neighbours { subnets: None } => {
            let routers = dp.router_neigh.flush_learned(|_| true);
            let underlay = dp.underlay_neigh.flush_learned(|_| true);
            (routers + underlay) as u64
        }
        FlushRequest::Neighbours {
            subnets: Some(subnets),
        } => {
            let doomed = |ip: u32| subnets.iter().any(|&s| inside(ip, s));
            dp.router_neigh.flush_learned(doomed) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter::state::FlowKey;
    use vrouter::{Mac, VecFrame};

    /// A data plane on the reference topology.
    fn dataplane() -> Dataplane<VecFrame> {
        let topo = control::load_str(
            include_str!("../../configs/tenant-a.toml"),
            "configs/tenant-a.toml",
        )
        .expect("reference topology");
        let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
        let snap = control::compile(&topo, &names, 1).expect("compiles");
        Dataplane::new(&snap, 0)
    }

    fn key(zone: u16, sport: u16) -> FlowKey {
        FlowKey {
            zone,
            proto: 6,
            src: 0x0a00_0009,
            dst: 0x0a01_6501,
            sport,
            dport: 80,
        }
    }

    #[test]
    fn a_conntrack_flush_removes_every_session_or_one_zones() {
        let mut dp = dataplane();
        for (zone, sport) in [(0, 40000), (0, 40001), (1, 40002), (0x8003, 40003)] {
            dp.conntrack
                .create(key(zone, sport), key(zone, sport), 5)
                .expect("room");
        }
        let req = FlushRequest::Conntrack { zone: Some(0) };
        assert_eq!(flush(&mut dp, &req), 2);
        let zones: Vec<u16> = dp.conntrack.iter().map(|(_, s)| s.orig.zone).collect();
        assert_eq!(zones.len(), 2);
        assert!(zones.iter().all(|&z| z != 0), "zone 0 left: {zones:?}");
        assert!(
            !dp.conntrack.contains(&key(0, 40000).reverse()),
            "reply key gone too"
        );
        assert_eq!(flush(&mut dp, &FlushRequest::Conntrack { zone: None }), 2);
        assert!(dp.conntrack.is_empty());
        // The tuples are free again: the same connection may be picked up anew.
        assert!(dp.conntrack.create(key(0, 40000), key(0, 40000), 6).is_ok());
    }

    #[test]
    fn a_neighbour_flush_drops_learned_entries_and_keeps_static_ones() {
        let mut dp = dataplane();
        let statics: Vec<u32> = dp
            .router_neigh
            .iter()
            .filter(|(_, n)| n.is_static)
            .map(|(ip, _)| ip)
            .collect();
        assert!(
            !statics.is_empty(),
            "the reference topology knows its ports"
        );
        let mac = Mac([0xfa, 0x16, 0x3e, 0, 0, 1]);
        let (inside_ip, outside_ip) = (0xc0a8_0105, 0xac10_0007);
        for ip in [inside_ip, outside_ip] {
            dp.router_neigh.confirm(ip, mac, 1, true);
        }
        dp.underlay_neigh.confirm(0x0a00_011f, mac, 1, true);
        let only = FlushRequest::Neighbours {
            subnets: Some(vec![(0xc0a8_0100, 24)]),
        };
        assert_eq!(flush(&mut dp, &only), 1);
        assert_eq!(dp.router_neigh.lookup(inside_ip), None);
        assert_eq!(dp.router_neigh.lookup(outside_ip), Some(mac));
        assert_eq!(dp.underlay_neigh.lookup(0x0a00_011f), Some(mac));
        let all = FlushRequest::Neighbours { subnets: None };
        assert_eq!(flush(&mut dp, &all), 2);
        assert_eq!(dp.router_neigh.lookup(outside_ip), None);
        assert_eq!(dp.underlay_neigh.lookup(0x0a00_011f), None);
        for ip in statics {
            assert!(
                dp.router_neigh.static_mac(ip).is_some(),
                "static {ip:#x} kept"
            );
        }
    }

    #[test]
    fn subnet_membership_follows_the_prefix_length() {
        assert!(inside(0x0a00_0009, (0x0a00_0000, 24)));
        assert!(!inside(0x0a00_0109, (0x0a00_0000, 24)));
        assert!(inside(0x0102_0304, (0, 0)));
        assert!(inside(0x0102_0304, (0x0102_0304, 32)));
        assert!(!inside(0x0102_0305, (0x0102_0304, 32)));
    }
}
