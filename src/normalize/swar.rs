//! Eight bytes at a time ("SIMD within a register"): filters that let the
//! byte scans skip ordinary text without looking at each byte.
//!
//! Each mask has bit 7 of a byte set where the byte matches. The tests are
//! the classic `haszero` family: exact where they say "no match", and a set
//! bit may be a false positive only above a true one in the same word, so a
//! caller treats a set bit as "look here" and checks the bytes exactly.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The eight bytes at `i` as a little-endian word, if there are eight.
pub(crate) fn load(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Bytes equal to zero.
pub(crate) fn zero(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Bytes equal to `b`.
pub(crate) fn eq(x: u64, b: u8) -> u64 {
    zero(x ^ (ONES * u64::from(b)))
}

/// Bytes below `n` (`n` at most 128); bytes of 128 and more never match.
pub(crate) fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// Bytes from `lo` to `hi` included (`lo` at least 1, `hi` at most 127),
/// exactly: no false positive either, as no byte's sum carries into the next.
pub(crate) fn between(x: u64, lo: u8, hi: u8) -> u64 {
    let low7 = x & (ONES * 0x7F);
    // Per byte: 127 + hi + 1 - b has bit 7 set when b <= hi; b + 127 - lo + 1
    // when b >= lo; `!x` drops bytes of 128 and more.
    (ONES * (128 + u64::from(hi))).wrapping_sub(low7)
        & !x
        & low7.wrapping_add(ONES * (128 - u64::from(lo)))
        & HIGHS
}

/// ASCII letters, either case, exactly.
pub(crate) fn ascii_letters(x: u64) -> u64 {
    // Setting bit 5 lower-cases the capitals and moves no other byte into `a..=z`.
    between(x | (ONES * 0x20), b'a', b'z')
}

/// Bytes of 128 and more: non-ASCII.
pub(crate) fn high(x: u64) -> u64 {
    x & HIGHS
}

/// Bytes of 192 and more: the first byte of a UTF-8 sequence of two or more.
pub(crate) fn lead(x: u64) -> u64 {
    x & (x << 1) & HIGHS
}

/// Whether a mask of an exact test has every byte set: all eight match.
pub(crate) fn every(mask: u64) -> bool {
    mask == HIGHS
}

/// Byte offset of the lowest set byte of a mask.
pub(crate) fn first(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn masks_find_what_they_say_and_never_miss() {
        let x = load(b"ab c\t\x7f\xc3\xa9", 0).unwrap_or(0);
        assert_eq!(first(eq(x, b' ')), 2);
        assert_eq!(first(below(x, 0x20)), 4);
        assert_eq!(first(high(x)), 6);
        assert_eq!(first(lead(x)), 6);
        assert_eq!(eq(x, b'z'), 0);
        assert!(load(b"short", 0).is_none());
        // Exhaustive on one byte in every position: no false negative.
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = [b'x'; 8];
                bytes[pos] = b;
                let x = u64::from_le_bytes(bytes);
                assert_eq!(eq(x, b' ') != 0, b == b' ' || b'x' == b' ');
                assert_eq!(below(x, 0x21) != 0, b < 0x21);
                assert_eq!(high(x) != 0, b >= 0x80);
                assert_eq!(between(x, b'A', b'Z') != 0, b.is_ascii_uppercase());
                let mut dots = [b'.'; 8];
                dots[pos] = b;
                assert_eq!(
                    ascii_letters(u64::from_le_bytes(dots)) != 0,
                    b.is_ascii_alphabetic()
                );
                // Exact: the set bit is the byte's own.
                assert_eq!(
                    between(x, 1, b'w'),
                    (0..8).fold(0, |m, k| {
                        let v = if k == pos { b } else { b'x' };
                        m | u64::from((1..=b'w').contains(&v)) << (8 * k + 7)
                    })
                );
            }
        }
    }
}
