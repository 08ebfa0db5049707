//! A later fragment held at the router until its first fragment decides.

use crate::tables::{NetIdx, PortIdx};

/// A later fragment waiting at the router for its first, with where it came from.
#[derive(Debug)]
pub struct HeldFragment<F> {
    /// The device it was received on.
    pub port: PortIdx,
    /// The network it came in on.
    pub net: NetIdx,
    /// The router it is addressed to.
    pub router: u16,
    /// The fragment.
    pub frame: F,
}
