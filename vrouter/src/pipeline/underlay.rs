//! The geometry of frames on the underlay: the GRE encapsulation's outer headers, the
//! underlay's MTU and the minimum Ethernet frame.

use crate::wire::{ethernet, ipv4};

/// Outer headers the `tunnel-encap` node puts in front of a tunnelled frame: Ethernet, IPv4, GRE with key.
pub const ENCAP_LEN: usize = ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN + 8;
/// MTU of the underlay (the outer IPv4 packet at most).
pub const UNDERLAY_MTU: usize = 1500;
/// Minimum Ethernet frame without FCS; shorter frames the appliance originates are padded.
pub const MIN_FRAME: usize = 60;
