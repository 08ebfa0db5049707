//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

/// Adds the 16-bit big-endian words of `data` (a trailing odd byte padded with zero) to `sum`.
/// The result is congruent to the plain sum modulo 0xffff (what [`fold`] keeps) and at most
/// `sum` + 0x10001, so callers may keep adding to it.
#[inline]
pub fn add(sum: u32, data: &[u8]) -> u32 {
    // 32-bit words into a 64-bit accumulator: 2^16 ≡ 1 (mod 0xffff), so the carries of the
    // low halves are the end-around carries RFC 1071 §2(B) defers to the end.
    let mut acc = 0u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a, b, c] => acc += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a] => acc += u64::from(a) << 8,
        _ => {}
    }
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    sum + acc as u32
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

/// What a 16-bit field changing from `old` to `new` adds to a checksum: ~m + m' of RFC 1624
/// eqn. 3. The terms of several changed fields add up and apply once with [`adjust`].
#[inline]
pub fn delta16(old: u16, new: u16) -> u32 {
    u32::from(!old) + u32::from(new)
}

/// [`delta16`] of both halves of a 32-bit field.
#[inline]
pub fn delta32(old: u32, new: u32) -> u32 {
    delta16((old >> 16) as u16, (new >> 16) as u16) + delta16(old as u16, new as u16)
}

/// Checksum `hc` after fields changed by the sum `delta` of their [`delta16`] terms:
/// HC' = ~(~HC + Σ(~m + m')) (RFC 1624 eqn. 3).
#[inline]
pub fn adjust(hc: u16, delta: u32) -> u16 {
    !fold(u32::from(!hc) + delta)
}

/// Updates checksum `hc` after a 16-bit field changed from `old` to `new` (RFC 1624).
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    adjust(hc, delta16(old, new))
}

/// Updates checksum `hc` after a 32-bit field changed from `old` to `new` (RFC 1624).
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    adjust(hc, delta32(old, new))
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
    fn word_sum_matches_the_plain_16_bit_sum() {
        let data: Vec<u8> = (0..71u32).map(|i| (i * 37 + 200) as u8).collect();
        for len in 0..data.len() {
            let d = &data[..len];
            let plain = d.chunks(2).fold(0xfffe_u32, |s, c| {
                s + (u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
            });
            assert_eq!(fold(add(0xfffe, d)), fold(plain), "length {len}");
        }
        assert_eq!(fold(add(0, &[0xff; 40])), 0xffff);
        assert_eq!(fold(add(0, &[0; 40])), 0);
    }

    #[test]
    fn summed_deltas_match_updates_one_by_one() {
        for (hc, a, b) in [
            (0x1234, 0xdead_beef, 0x0a01_6550),
            (0xffff, u32::MAX, 0),
            (0, 0, 1),
        ] {
            let hi = update16(hc, (a >> 16) as u16, (b >> 16) as u16);
            let one_by_one = update16(update16(hi, a as u16, b as u16), 0x1388, 0x0400);
            let at_once = adjust(hc, delta32(a, b) + delta16(0x1388, 0x0400));
            assert_eq!(one_by_one, at_once);
        }
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
