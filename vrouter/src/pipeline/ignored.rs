//! Broadcasts the appliance does not want: consumed and counted apart, not dropped.

use super::node::{Edge, Step};
use crate::stats::{DropReason, Stats};

/// A broadcast (`multicast`) that none of the appliance's ports wants is consumed and
/// counted as ignored, not as a drop.
pub(super) fn ignore_broadcast<F>(stats: &mut Stats, multicast: bool, step: Step<F>) -> Step<F> {
    match step {
        Err(DropReason::NotForUs) if multicast => {
            stats.local_ignored += 1;
            Ok(Edge::Done)
        }
        step => step,
    }
}
