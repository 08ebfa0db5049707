//! Conntrack zones: a router's sessions are in the zone of its index, a port's security
//! group sessions in [`PORT_ZONE`] | port.

use crate::tables::PortIdx;

/// Conntrack zones of ports start here (routers use their index below it).
pub(super) const PORT_ZONE: u16 = 0x8000;

/// The zone of port `port`.
#[inline]
pub(super) fn zone(port: PortIdx) -> u16 {
    PORT_ZONE | port
}
