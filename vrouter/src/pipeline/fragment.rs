//! IPv4 fragmentation of routed packets larger than the egress MTU without DF (RFC 791
//! §3.2, RFC 1812 §5.2.6). The first fragment keeps the options; later ones carry a plain
//! 20-byte header.

use super::l3::{self, L3};
use super::{Dataplane, Io};
use crate::frame::Frame;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::router::{RouterConf, RouterPortIdx};
use crate::tables::{PortIdx, Snapshot};
use crate::wire::{be16, checksum, ipv4, put16};

/// Splits `frame` into fragments that fit router port `out_rp`'s MTU and sends each to
/// `next_hop`; the original frame is consumed.
#[allow(clippy::too_many_arguments)]
pub(super) fn output<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    r: &RouterConf,
    out_rp: RouterPortIdx,
    next_hop: u32,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    let mtu = usize::from(r.ports[out_rp].mtu);
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
        let Some(mut f) = io.alloc() else {
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
        dp.stats.router.fragments += 1;
        if let Err(reason) = l3::output(dp, snap, in_port, r, out_rp, next_hop, f, now, io) {
            dp.stats.drop(in_port, reason);
        }
        offset += size;
    }
    Ok(())
}
