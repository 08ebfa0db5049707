//! Session lookups issued a vector ahead: when a worker's sessions outgrow the caches, a
//! node that looks up a session per frame first asks for the key index's buckets of its
//! whole vector, then for the sessions they name, so that the vector's misses overlap.

use super::ip4::{parse, L3};
use super::meta::Meta;
use crate::frame::Frame;
use crate::state::conntrack::WARM_MAX;
use crate::state::{Conntrack, FlowKey};
use crate::wire::{be16, ethernet};

/// Warms the sessions of the IPv4 frames of `batch` that `zone_of` gives a conntrack zone
/// (the zone of the router or port whose session the node will look up).
#[inline]
pub(super) fn sessions<F: Frame>(
    conntrack: &Conntrack,
    batch: &[(Meta, F)],
    zone_of: impl Fn(&Meta) -> Option<u16>,
) {
    if !conntrack.exceeds_cache() {
        return;
    }
    for chunk in batch.chunks(WARM_MAX) {
        let mut keys = [FlowKey::default(); WARM_MAX];
        let mut n = 0;
        for (meta, frame) in chunk {
            let d = frame.data();
            let Some(zone) = zone_of(meta) else {
                continue;
            };
            if d.len() > L3 && be16(d, 12) == ethernet::ethertype::IPV4 {
                if let Ok(m) = parse(d, zone) {
                    keys[n] = m.key;
                    n += 1;
                }
            }
        }
        conntrack.warm(&keys[..n]);
    }
}
