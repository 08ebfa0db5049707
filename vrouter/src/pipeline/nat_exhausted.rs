//! Destinations whose SNAT port space ran out recently.

use crate::state::{FlowKey, Millis};

/// Destinations whose SNAT ports ran out: a new flow to one of them is refused at once for
/// [`Exhausted::HOLD`] instead of probing for a port again, so that exhaustion costs a
/// lookup per packet, not a search (a direct-mapped table, allocated once).
#[derive(Debug)]
pub(super) struct Exhausted {
    slots: Box<[(u128, Millis)]>,
}

impl Exhausted {
    /// Destinations remembered at most (one per slot).
    const SLOTS: usize = 1024;
    /// How long a destination stays refused after the ports ran out.
    const HOLD: Millis = 1000;

    /// An empty table.
    pub(super) fn new() -> Exhausted {
        Exhausted {
            slots: vec![(0, 0); Self::SLOTS].into_boxed_slice(),
        }
    }

    /// The translated tuple without its source port: what shares the SNAT port space.
    /// Never 0, so that an empty slot matches nothing.
    fn key(t: &FlowKey) -> u128 {
        1 << 127
            | u128::from(t.zone) << 96
            | u128::from(t.proto) << 80
            | u128::from(t.dport) << 64
            | u128::from(t.src) << 32
            | u128::from(t.dst)
    }

    fn slot(k: u128) -> usize {
        let h = (k as u64 ^ (k >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 54) as usize % Self::SLOTS
    }

    /// True if the port space of `t`'s destination ran out less than `HOLD` ago.
    #[inline]
    pub(super) fn refuses(&self, t: &FlowKey, now: Millis) -> bool {
        let k = Self::key(t);
        let (key, until) = self.slots[Self::slot(k)];
        key == k && now < until
    }

    /// Records that no port was found for `t` at `now`.
    pub(super) fn remember(&mut self, t: &FlowKey, now: Millis) {
        let k = Self::key(t);
        self.slots[Self::slot(k)] = (k, now + Self::HOLD);
    }
}
