//! The data path: a graph of nodes over vectors of frames ([`graph`]).
//!
//! `classify` reads the frame's device role and picks the network (access, trunk tag or GRE
//! key); `tunnel` terminates GRE and ARP on the underlay and encapsulates towards peers;
//! `l2` learns and looks up MAC addresses and floods; `local` takes what is addressed to the
//! appliance's own ports (ARP, and the router and DHCP nodes); `output` applies the egress
//! tag and hands the frame to the device. A node gives each frame an edge (the next node,
//! done, or a drop reason); the dispatcher counts a drop against the ingress device.

mod acl;
mod arp_frames;
mod arp_guard;
mod arp_resolve;
mod classify;
mod dataplane;
mod dhcp;
mod dhcp_frame;
mod egress;
mod entry;
mod fragment;
mod fragment_steer;
mod fragments;
mod graph;
mod held_fragment;
mod hop;
mod icmp;
mod ignored;
mod io;
mod ip4;
mod ip_ident;
mod ipv6_guard;
mod l2;
mod l3;
mod last_tunnel;
mod local;
mod martian;
mod meta;
mod nat;
mod nat_exhausted;
mod nat_flush;
mod node;
mod node_state;
mod output;
mod queues;
pub mod steer;
mod sync;
mod sync_event;
pub mod trace;
mod tunnel;
mod underlay;
mod vlan_tag;
mod warm;
mod zone;

pub use dataplane::{Dataplane, RuleHits};
pub use io::Io;
pub use node::Node;
pub use sync_event::SyncEvent;

#[cfg(test)]
mod acl_tests;
#[cfg(test)]
mod conntrack_tests;
#[cfg(test)]
mod egress_tests;
#[cfg(test)]
mod fragment_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod multicore_tests;
#[cfg(test)]
mod nat_flush_tests;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod test_frames;
#[cfg(test)]
mod tests;
