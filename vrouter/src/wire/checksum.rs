//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// Adds the 16-bit big-endian words of `data` (a trailing odd byte padded with zero) to `sum`.
#[inline]
pub fn add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [b] = chunks.remainder() {
        sum += (*b as u32) << 8;
    }
    sum
}

/// Folds a 32-bit sum into 16 bits, end-around carry (RFC 1071 §4.1).
#[inline]
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum of `data`: the ones' complement of its ones' complement sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(add(0, data))
}

/// The ones' complement sum (unfolded) of the IPv4 pseudo-header that TCP and UDP checksums
/// cover: source, destination, zero, protocol and the transport length (RFC 768, RFC 793 §3.1).
#[inline]
pub fn pseudo_header_sum(src: u32, dst: u32, proto: u8, len: u16) -> u32 {
    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto as u32 + len as u32
}

/// Updates checksum `hc` after a 16-bit field changed from `old` to `new`:
/// HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3).
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    !fold(!hc as u32 + !old as u32 + new as u32)
}

/// Updates checksum `hc` after a 32-bit field changed from `old` to `new` (RFC 1624).
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let hc = update16(hc, (old >> 16) as u16, (new >> 16) as u16);
    update16(hc, old as u16, new as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sum() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2 after folding.
        assert_eq!(
            fold(add(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn pseudo_header_sum_adds_the_words() {
        let src = u32::from_be_bytes([10, 0, 0, 3]);
        let dst = u32::from_be_bytes([255, 255, 255, 255]);
        let bytes = [10, 0, 0, 3, 255, 255, 255, 255, 0, 17, 0x01, 0x2c];
        assert_eq!(
            fold(pseudo_header_sum(src, dst, 17, 300)),
            fold(add(0, &bytes))
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(add(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0, 0, 10, 0, 0, 10, 10, 1,
            101, 254,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        // Change TTL 64 -> 63 (word 0x4001 -> 0x3f01) and the source address.
        let new_src = u32::from_be_bytes([10, 1, 101, 80]);
        let hc = update16(c, 0x4001, 0x3f01);
        let hc = update32(hc, u32::from_be_bytes([10, 0, 0, 10]), new_src);
        hdr[8] = 63;
        hdr[12..16].copy_from_slice(&new_src.to_be_bytes());
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(hc, checksum(&hdr));
    }
}
