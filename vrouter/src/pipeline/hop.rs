//! Where a routed packet came in and where it goes out.

use crate::tables::router::{RouterConf, RouterPortIdx};
use crate::tables::{NetConf, PortIdx};

/// Where a routed packet came in: what the router's answers and errors about it need.
#[derive(Clone, Copy)]
pub(super) struct Arrival<'a> {
    /// The device it was received on.
    pub in_port: PortIdx,
    /// The network of the router port it came in on.
    pub net: &'a NetConf,
    /// The router.
    pub r: &'a RouterConf,
    /// The router port it came in on.
    pub in_rp: RouterPortIdx,
}

/// Where a routed packet goes out: a router port and the next hop on its network.
#[derive(Clone, Copy)]
pub(super) struct NextHop<'a> {
    /// The router.
    pub r: &'a RouterConf,
    /// The router port it leaves by.
    pub out_rp: RouterPortIdx,
    /// The next hop's address (the destination itself when on-link).
    pub ip: u32,
}
