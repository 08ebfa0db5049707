//! A per-vector cache of the tunnel a GRE packet came by.

use crate::tables::NetIdx;

/// The last (peer, key) a GRE packet came with and the network it maps to: the frames of a
/// vector mostly share them, so both lookups are done once per run of equal tunnels. It
/// holds what the snapshot says and is forgotten when another snapshot applies.
#[derive(Clone, Copy, Debug)]
pub(super) struct LastTunnel {
    /// The outer source address.
    pub peer: u32,
    /// The GRE key.
    pub key: u32,
    /// The network the key maps to.
    pub net: NetIdx,
}
