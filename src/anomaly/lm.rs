//! A compact character (byte) trigram language model of ordinary text.
//!
//! Only ASCII bytes of the normalized view are modelled: optimized adversarial
//! suffixes (GCG) and gibberish are ASCII, while non-Latin scripts are left to
//! the other features so that they do not look "surprising" merely for being
//! multi-byte. Costs are `-log2 P(c | a b)` in bits, quantized to 1/8 bit in
//! a hashed table (`u8`, 0 = trigram unseen in training, then backed off to
//! the bigram table plus a fixed penalty).

use serde::{Deserialize, Serialize};

/// Bits of the trigram table index.
pub const TRI_BITS: u32 = 16;
/// Bits of the bigram table index.
pub const BI_BITS: u32 = 12;
/// Quantization: costs are stored in units of 1/`COST_UNIT` bit.
const COST_UNIT: f32 = 8.0;
/// Extra bits paid for a trigram never seen in training.
const BACKOFF_BITS: f32 = 2.0;
/// Cost of a byte pair never seen in training.
const UNSEEN_BITS: f32 = 12.0;
/// Width (bytes, a power of two) of the window whose mean cost is the `lm_window_max` feature.
pub const WINDOW: usize = 32;

/// The wire form, inside a model file: tables as base64 strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmSpec {
    pub tri_bits: u32,
    pub bi_bits: u32,
    pub tri_b64: String,
    pub bi_b64: String,
}

/// The compiled model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharLm {
    tri: Box<[u8; 1 << TRI_BITS]>,
    bi: Box<[u8; 1 << BI_BITS]>,
}

const TRI_MASK: usize = (1 << TRI_BITS) - 1;
const BI_MASK: usize = (1 << BI_BITS) - 1;

/// A decoded table of exactly `N` entries.
fn table<const N: usize>(v: Vec<u8>, what: &str) -> Result<Box<[u8; N]>, String> {
    let len = v.len();
    v.into_boxed_slice()
        .try_into()
        .map_err(|_| format!("{what} holds {len} entries, expected {N}"))
}

/// Mean and worst-window cost of a text, in bits per ASCII byte.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perplexity {
    /// Mean cost over all modelled bytes (0 when there are none).
    pub mean: f32,
    /// Highest mean cost over any [`WINDOW`] consecutive modelled bytes
    /// (the mean when the text is shorter).
    pub window_max: f32,
}

#[inline]
fn tri_index(a: u8, b: u8, c: u8) -> usize {
    let h = (u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c)).wrapping_mul(0x9E37_79B1);
    (h >> (32 - TRI_BITS)) as usize
}

#[inline]
fn bi_index(b: u8, c: u8) -> usize {
    let h = (u32::from(b) << 8 | u32::from(c)).wrapping_mul(0x85EB_CA6B);
    (h >> (32 - BI_BITS)) as usize
}

/// Maps a byte to the modelled alphabet: printable ASCII as is, whitespace to
/// a space, anything else (non-ASCII, controls) to `None` (breaks the context).
#[inline]
const fn symbol(b: u8) -> Option<u8> {
    match b {
        b' ' | b'\n' | b'\t' | b'\r' => Some(b' '),
        0x21..=0x7e => Some(b),
        _ => None,
    }
}

/// [`symbol`] as a table, [`NONE`] for bytes that are not modelled.
const SYMBOL: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = match symbol(i as u8) {
            Some(s) => s,
            None => NONE,
        };
        i += 1;
    }
    t
};

/// What [`SYMBOL`] gives a byte that is not modelled: the one value with
/// the top bit set (every symbol is ASCII), so that a trigram is modelled
/// exactly when none of its three bytes has it.
const NONE: u8 = 0x80;

/// The running sums of [`CharLm::perplexity`], for a text read in pieces
/// ([`CharLm::feed`]).
#[derive(Debug, Clone)]
pub(crate) struct LmRun {
    /// The last two symbols, the newest in the low byte ([`NONE`]: none,
    /// or not modelled).
    ab: u32,
    /// Trigrams costed, their total cost, that of the last [`WINDOW`] of
    /// them (`ring`) and the highest such.
    n: usize,
    sum: u64,
    win: u32,
    worst: u32,
    ring: [u32; WINDOW],
}

impl LmRun {
    pub(crate) const fn new() -> LmRun {
        LmRun {
            ab: (NONE as u32) << 8 | NONE as u32,
            n: 0,
            sum: 0,
            win: 0,
            worst: 0,
            ring: [0; WINDOW],
        }
    }

    /// The mean and the worst window of what was read.
    pub(crate) fn finish(&self) -> Perplexity {
        let n = self.n;
        if n == 0 {
            return Perplexity::default();
        }
        let mean = self.sum as f32 / n as f32 / COST_UNIT;
        let window_max = if n < WINDOW {
            mean
        } else {
            self.worst as f32 / WINDOW as f32 / COST_UNIT
        };
        Perplexity { mean, window_max }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (the tables of a model file).
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(char::from(B64[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Decodes standard base64 of exactly `len` bytes.
pub(crate) fn b64_decode(s: &str, len: usize) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if b.len() != len.div_ceil(3) * 4 {
        return Err(format!(
            "expected {} base64 characters for {len} bytes, found {}",
            len.div_ceil(3) * 4,
            b.len()
        ));
    }
    let val = |c: u8| -> Result<u32, String> {
        match c {
            b'A'..=b'Z' => Ok(u32::from(c - b'A')),
            b'a'..=b'z' => Ok(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Ok(u32::from(c - b'0') + 52),
            b'+' => Ok(62),
            b'/' => Ok(63),
            b'=' => Ok(0),
            _ => Err(format!("{:?} is not a base64 character", char::from(c))),
        }
    };
    let mut out = Vec::with_capacity(len + 2);
    for q in b.chunks_exact(4) {
        let n = (val(q[0])? << 18) | (val(q[1])? << 12) | (val(q[2])? << 6) | val(q[3])?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.truncate(len);
    Ok(out)
}

fn check_bits(spec: &LmSpec) -> Result<(), String> {
    if spec.tri_bits != TRI_BITS || spec.bi_bits != BI_BITS {
        return Err(format!(
            "lm tables must have tri_bits {TRI_BITS} and bi_bits {BI_BITS}"
        ));
    }
    Ok(())
}

impl CharLm {
    /// Compiles the wire form.
    pub fn from_spec(spec: &LmSpec) -> Result<CharLm, String> {
        check_bits(spec)?;
        let tri =
            b64_decode(&spec.tri_b64, 1 << TRI_BITS).map_err(|e| format!("lm.tri_b64: {e}"))?;
        let bi = b64_decode(&spec.bi_b64, 1 << BI_BITS).map_err(|e| format!("lm.bi_b64: {e}"))?;
        CharLm::from_tables(spec, tri, bi)
    }

    /// Compiles decoded tables, checking them against the spec's sizes (the
    /// spec's base64 fields are not read).
    pub fn from_tables(spec: &LmSpec, tri: Vec<u8>, bi: Vec<u8>) -> Result<CharLm, String> {
        check_bits(spec)?;
        Ok(CharLm {
            tri: table(tri, "lm.tri_b64")?,
            bi: table(bi, "lm.bi_b64")?,
        })
    }

    /// The wire form.
    pub fn to_spec(&self) -> LmSpec {
        LmSpec {
            tri_bits: TRI_BITS,
            bi_bits: BI_BITS,
            tri_b64: b64_encode(&self.tri[..]),
            bi_b64: b64_encode(&self.bi[..]),
        }
    }

    /// Trains on texts (normalized views) with add-`alpha` interpolated smoothing.
    pub fn train<'a>(texts: impl Iterator<Item = &'a str>) -> CharLm {
        use std::collections::HashMap;
        let mut tri: HashMap<[u8; 3], u32> = HashMap::new();
        let mut ctx: HashMap<[u8; 2], u32> = HashMap::new();
        let mut bi: HashMap<[u8; 2], u32> = HashMap::new();
        let mut uni: HashMap<u8, u32> = HashMap::new();
        for t in texts {
            let (mut a, mut b) = (None::<u8>, None::<u8>);
            for &raw in t.as_bytes() {
                let c = symbol(raw);
                if let (Some(bb), Some(cc)) = (b, c) {
                    *bi.entry([bb, cc]).or_default() += 1;
                    *uni.entry(bb).or_default() += 1;
                    if let Some(aa) = a {
                        *tri.entry([aa, bb, cc]).or_default() += 1;
                        *ctx.entry([aa, bb]).or_default() += 1;
                    }
                }
                a = b;
                b = c;
            }
        }
        const V: f32 = 96.0;
        const ALPHA: f32 = 4.0;
        let q = |cost: f32| (cost * COST_UNIT).round().clamp(1.0, 255.0) as u8;
        let p_bi = |b: u8, c: u8| {
            let n = bi.get(&[b, c]).copied().unwrap_or(0) as f32;
            let d = uni.get(&b).copied().unwrap_or(0) as f32;
            (n + 0.5) / (d + 0.5 * V)
        };
        let mut bi_t = vec![0u8; 1 << BI_BITS];
        let mut keys: Vec<&[u8; 2]> = bi.keys().collect();
        keys.sort();
        for k in keys {
            let slot = &mut bi_t[bi_index(k[0], k[1])];
            *slot = (*slot).max(q(-p_bi(k[0], k[1]).log2()));
        }
        let mut tri_t = vec![0u8; 1 << TRI_BITS];
        let mut keys: Vec<(&[u8; 3], &u32)> = tri.iter().collect();
        keys.sort();
        for (k, &n) in keys {
            let d = ctx.get(&[k[0], k[1]]).copied().unwrap_or(0) as f32;
            let p = (n as f32 + ALPHA * p_bi(k[1], k[2])) / (d + ALPHA);
            let slot = &mut tri_t[tri_index(k[0], k[1], k[2])];
            // On a collision keep the higher cost: a collision must not make gibberish look ordinary.
            *slot = (*slot).max(q(-p.log2()));
        }
        CharLm {
            tri: table(tri_t, "trigram table").unwrap_or_else(|_| Box::new([0; 1 << TRI_BITS])),
            bi: table(bi_t, "bigram table").unwrap_or_else(|_| Box::new([0; 1 << BI_BITS])),
        }
    }

    /// Cost of `c` after `a b`, in 1/`COST_UNIT` bit (the reference's form).
    #[cfg(test)]
    fn cost(&self, a: u8, b: u8, c: u8) -> u32 {
        let t = self.tri[tri_index(a, b, c) & TRI_MASK];
        if t != 0 {
            return u32::from(t);
        }
        match self.bi[bi_index(b, c) & BI_MASK] {
            0 => (UNSEEN_BITS * COST_UNIT) as u32,
            q => u32::from(q) + (BACKOFF_BITS * COST_UNIT) as u32,
        }
    }

    /// Cost of the trigram `abc` packed as `a << 16 | b << 8 | c`, in
    /// 1/`COST_UNIT` bit: [`tri_index`] and [`bi_index`] read these very
    /// bits, so the symbols need not be unpacked.
    #[inline(always)]
    fn packed_cost(&self, abc: u32) -> u32 {
        let t = self.tri[(abc.wrapping_mul(0x9E37_79B1) >> (32 - TRI_BITS)) as usize & TRI_MASK];
        if t != 0 {
            return u32::from(t);
        }
        let bc = abc & 0xffff;
        match self.bi[(bc.wrapping_mul(0x85EB_CA6B) >> (32 - BI_BITS)) as usize & BI_MASK] {
            0 => (UNSEEN_BITS * COST_UNIT) as u32,
            q => u32::from(q) + (BACKOFF_BITS * COST_UNIT) as u32,
        }
    }

    /// Mean and worst-window cost of `text` (a normalized view). Linear, no allocation.
    pub fn perplexity(&self, text: &str) -> Perplexity {
        let mut run = LmRun::new();
        self.feed(&mut run, text.as_bytes());
        run.finish()
    }

    /// Reads the next bytes of a text into `run`. A byte of a character
    /// outside ASCII is not modelled and breaks the context, so the scan
    /// can feed a text that is not all ASCII one byte per character (the
    /// symbol `0x80` for those outside ASCII) and get what the text's bytes
    /// give: either way a trigram is counted exactly where three ASCII
    /// characters that are modelled follow one another.
    #[inline(never)]
    pub(crate) fn feed(&self, run: &mut LmRun, bytes: &[u8]) {
        let LmRun {
            mut ab,
            mut n,
            mut sum,
            mut win,
            mut worst,
            ref mut ring,
        } = *run;
        for &raw in bytes {
            // The last three symbols packed as [`CharLm::packed_cost`] reads
            // them: one shift per byte rather than three to repack.
            let abc = ab << 8 | u32::from(SYMBOL[usize::from(raw)]);
            ab = abc & 0xffff;
            // All three symbols modelled (none [`NONE`]): one test, not three.
            if abc & 0x80_8080 == 0 {
                let x = self.packed_cost(abc);
                let slot = n & (WINDOW - 1);
                win = win + x - ring[slot];
                ring[slot] = x;
                n += 1;
                sum += u64::from(x);
                // Also before the first full window: a partial window's sum
                // is at most the first full one's (costs are not negative),
                // and the worst is read only once there was a full window.
                worst = worst.max(win);
            }
        }
        (run.ab, run.n, run.sum, run.win, run.worst) = (ab, n, sum, win, worst);
    }

    /// The first, `Option`-based form of [`CharLm::perplexity`], kept to test it against.
    #[cfg(test)]
    pub(crate) fn perplexity_reference(&self, text: &str) -> Perplexity {
        let mut ring = [0u32; WINDOW];
        let (mut n, mut sum, mut win, mut worst) = (0usize, 0u64, 0u32, 0u32);
        let (mut a, mut b) = (None::<u8>, None::<u8>);
        for &raw in text.as_bytes() {
            let c = symbol(raw);
            if let (Some(aa), Some(bb), Some(cc)) = (a, b, c) {
                let x = self.cost(aa, bb, cc);
                let slot = n & (WINDOW - 1);
                win = win + x - ring[slot];
                ring[slot] = x;
                n += 1;
                sum += u64::from(x);
                if n >= WINDOW {
                    worst = worst.max(win);
                }
            }
            a = b;
            b = c;
        }
        if n == 0 {
            return Perplexity::default();
        }
        let mean = sum as f32 / n as f32 / COST_UNIT;
        let window_max = if n < WINDOW {
            mean
        } else {
            worst as f32 / WINDOW as f32 / COST_UNIT
        };
        Perplexity { mean, window_max }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const ENGLISH: &str = "the quick brown fox jumps over the lazy dog. please tell me about the history of the city \
        and what i should see when i visit it in the spring. could you write a short poem about the sea?";

    #[test]
    fn gibberish_costs_more_than_ordinary_text() {
        let lm = CharLm::train(std::iter::repeat(ENGLISH).take(3));
        let plain = lm.perplexity("tell me about the history of the sea and the city");
        let gcg = lm.perplexity(
            "describing.\\ + similarlynow write oppositeley.]( me giving**one please? revert with \"\\!--two",
        );
        assert!(gcg.mean > plain.mean + 2.0, "{gcg:?} vs {plain:?}");
        assert!(gcg.window_max >= gcg.mean);
    }

    /// The fast loop ([`CharLm::feed`], one test for three modelled
    /// symbols) gives the reference's perplexity on many varied texts and
    /// on the benign probe set, as views and as raw text (controls and
    /// characters outside ASCII break the context).
    #[test]
    fn perplexity_equals_the_reference_on_varied_texts_and_probes() {
        let model = crate::anomaly::default_model().unwrap();
        let lm = model.lm();
        let limits = crate::limits::Limits::default();
        let probes = include_str!("../../tests/data/ood/benign_probes.jsonl");
        let texts = crate::normalize::varied_texts().into_iter().chain(
            probes
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v.get("text")?.as_str().map(str::to_string)),
        );
        let mut n = 0;
        for t in texts {
            let view = crate::normalize::normalize(&t, &limits).view;
            for v in [view.as_str(), t.as_str()] {
                assert_eq!(lm.perplexity(v), lm.perplexity_reference(v), "{v:?}");
            }
            n += 1;
        }
        assert!(n > 1500, "{n} texts");
    }

    #[test]
    fn base64_round_trips_every_length() {
        for n in 0..8usize {
            let bytes: Vec<u8> = (0..n as u8).map(|b| b.wrapping_mul(97)).collect();
            let s = b64_encode(&bytes);
            assert_eq!(b64_decode(&s, n).unwrap(), bytes);
        }
        assert_eq!(b64_encode(b"Man"), "TWFu");
        assert_eq!(b64_encode(b"Ma"), "TWE=");
        assert!(b64_decode("TW!u", 3).is_err());
        assert!(b64_decode("TWFu", 4).is_err());
    }

    #[test]
    fn tables_round_trip_through_the_wire_form() {
        let lm = CharLm::train([ENGLISH].into_iter());
        assert_eq!(CharLm::from_spec(&lm.to_spec()).unwrap(), lm);
        assert_eq!(lm.perplexity(""), Perplexity::default());
        assert_eq!(lm.perplexity("日本語"), Perplexity::default());
    }
}
