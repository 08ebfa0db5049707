//! IPv4 fragmentation of routed packets larger than the egress MTU without DF (RFC 791
//! §3.2, RFC 1812 §5.2.6). The first fragment keeps the options; later ones carry a plain
//! 20-byte header.

use super::arp_resolve;
use super::hop::NextHop;
use super::io::Io;
use super::ip4::L3;
use super::meta::Meta;
use super::node::{Ctx, Edge};
use super::node_state::RouterState;
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::PortIdx;
use crate::wire::{be16, checksum, ipv4, put16};

/// Splits `frame` (received on `in_port`) into fragments that fit the MTU of `hop`'s router
/// port and sends each to the next hop; the original frame is consumed.
pub(super) fn output<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    in_port: PortIdx,
    hop: &NextHop<'_>,
    frame: F,
) -> Result<(), DropReason> {
    let mtu = usize::from(hop.r.ports[hop.out_rp].mtu);
    let d = frame.data();
    let hl = usize::from(d[L3] & 0x0f) * 4;
    let total = usize::from(be16(d, L3 + 2));
    let word = be16(d, L3 + 6);
    let (base, more) = (word & 0x1fff, word & ipv4::FLAG_MF);
    let payload = total - hl;
    let mut offset = 0;
    while offset < payload {
        let fhl = if offset == 0 {
            hl
        } else {
            ipv4::MIN_HEADER_LEN
        };
        let room = (mtu - fhl) & !7;
        if room == 0 {
            return Err(DropReason::FragNeeded);
        }
        let size = room.min(payload - offset);
        let last = offset + size == payload;
        let Some(mut f) = cx.io.alloc() else {
            return Err(DropReason::NoBuffer);
        };
        let Some(b) = f.append(L3 + fhl + size) else {
            return Err(DropReason::NoBuffer);
        };
        b[..L3 + ipv4::MIN_HEADER_LEN].copy_from_slice(&d[..L3 + ipv4::MIN_HEADER_LEN]);
        b[L3 + ipv4::MIN_HEADER_LEN..L3 + fhl]
            .copy_from_slice(&d[L3 + ipv4::MIN_HEADER_LEN..L3 + fhl]);
        b[L3] = 0x40 | (fhl / 4) as u8;
        b[L3 + fhl..].copy_from_slice(&d[L3 + hl + offset..L3 + hl + offset + size]);
        put16(b, L3 + 2, (fhl + size) as u16);
        let mf = if last { more } else { ipv4::FLAG_MF };
        put16(b, L3 + 6, mf | (base + (offset / 8) as u16));
        put16(b, L3 + 10, 0);
        let c = checksum::checksum(&b[L3..L3 + fhl]);
        put16(b, L3 + 10, c);
        st.fx.stats.router.fragments += 1;
        let mut meta = Meta::local(in_port, 0);
        match arp_resolve::output(st, cx, &mut meta, hop, f) {
            Ok(Edge::To(node, f)) => st.fx.queues.push(node, meta, f),
            Ok(Edge::Done) => {}
            Err(reason) => st.fx.stats.drop(in_port, reason),
        }
        offset += size;
    }
    Ok(())
}
