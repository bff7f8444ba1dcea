//! The compact learned classifier: logistic regression over hashed n-grams of
//! the normalized view plus the standardized, binned [`Features`].
//!
//! Hashed part: word unigrams and bigrams (runs of alphanumeric characters)
//! and byte 3-, 4- and 5-grams of the view, each hashed into a table of
//! 2^[`BUCKET_BITS`] `i8` weights sharing one scale; a segment's hashed sum is
//! divided by the square root of the number of n-grams, so long texts do not
//! saturate. Numeric part: each feature standardized with the training mean
//! and deviation, clipped to +-4, with one linear weight and one weight per bin
//! of half a deviation (a step function, so "much higher than usual" can weigh
//! differently from "a little higher"). Hashing is incremental over the bytes:
//! no allocation per n-gram.

use super::lm::{b64_decode, b64_encode, CharLm, LmSpec};
use super::{ClassCache, Features, ALNUM, N_FEATURES};
use serde::{Deserialize, Serialize};

/// Bits of the hashed weight table index.
pub const BUCKET_BITS: u32 = 16;
/// Bins per numeric feature.
pub const N_BINS: usize = 12;
/// Shortest and longest byte n-gram.
const CHAR_MIN: usize = 3;
const CHAR_MAX: usize = 5;

/// The wire form (`filters/anomaly/model.json`, or inline in a rule file's `classifier.model`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Only `1` exists.
    pub version: u32,
    /// Must be [`BUCKET_BITS`].
    pub bucket_bits: u32,
    pub bias: f32,
    /// The weight of one quantized step.
    pub scale: f32,
    /// 2^bucket_bits `i8` weights (two's complement), base64.
    pub weights_b64: String,
    pub feature_mean: Vec<f32>,
    pub feature_std: Vec<f32>,
    pub linear: Vec<f32>,
    /// `N_FEATURES * N_BINS` weights, feature-major.
    pub bins: Vec<f32>,
    pub lm: LmSpec,
    /// How it was trained (corpus, seed, cross-validated figures); not read.
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// A compiled model. Compile once (in `Policy::compile`), share.
#[derive(Debug, Clone)]
pub struct Model {
    bias: f32,
    scale: f32,
    /// 2^[`BUCKET_BITS`] weights: a bucket index always falls inside.
    weights: Box<[i8; 1 << BUCKET_BITS]>,
    mean: [f32; N_FEATURES],
    std: [f32; N_FEATURES],
    linear: [f32; N_FEATURES],
    bins: Vec<f32>,
    lm: CharLm,
}

const BUCKET_MASK: usize = (1 << BUCKET_BITS) - 1;

/// A decoded table of exactly 2^[`BUCKET_BITS`] weights.
fn to_table(v: Vec<i8>) -> Result<Box<[i8; 1 << BUCKET_BITS]>, String> {
    let len = v.len();
    v.into_boxed_slice()
        .try_into()
        .map_err(|_| format!("weights hold {len} values, expected {}", 1 << BUCKET_BITS))
}

#[inline]
fn finish(h: u64) -> usize {
    ((h ^ (h >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKET_BITS)) as usize
}

const FNV: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn word_grams<F: FnMut(usize)>(h: u64, prev: &mut u64, emit: &mut F) {
    emit(finish(h ^ 0x0001));
    emit(finish(
        prev.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ h ^ 0x0002,
    ));
    *prev = h;
}

/// The byte n-grams ending at byte `i` (`b`), `win` holding the bytes before it.
#[inline(always)]
fn byte_grams<F: FnMut(usize)>(i: usize, b: u8, win: &mut u64, emit: &mut F) {
    const M3: u64 = 0xff_ffff;
    const M4: u64 = 0xffff_ffff;
    const M5: u64 = 0xff_ffff_ffff;
    *win = (*win << 8 | u64::from(b)) & M5;
    let w = *win;
    if i >= 4 {
        emit(finish((w & M3) ^ 3 << 56));
        emit(finish((w & M4) ^ 4 << 56));
        emit(finish(w ^ 5 << 56));
    } else {
        if i >= 2 {
            emit(finish((w & M3) ^ 3 << 56));
        }
        if i >= 3 {
            emit(finish((w & M4) ^ 4 << 56));
        }
    }
}

/// Calls `emit` with the bucket of every hashed n-gram of `view`; returns how many.
///
/// One pass over the bytes for the byte n-grams, one for the words; ASCII
/// bytes take a table lookup, other characters are decoded. (The order and
/// values of the buckets are part of the model format: `train` uses this too.)
#[inline]
pub fn hashed(view: &str, mut emit: impl FnMut(usize)) -> usize {
    let bytes = view.as_bytes();
    let len = bytes.len();
    // Byte n-grams: the last five bytes packed into one word (the newest in
    // the low byte), masked to 3, 4 and 5 bytes, tagged with their length, mixed.
    let mut win: u64 = 0;
    let mut n = (CHAR_MIN..=CHAR_MAX)
        .map(|k| (len + 1).saturating_sub(k))
        .sum::<usize>();
    // Word unigrams and bigrams: runs of alphanumeric characters, in the
    // same pass; ASCII by table, other characters decoded.
    let mut prev: u64 = 0x5bd1_e995;
    let mut h: u64 = 0x1234_5678_9abc_def1;
    let mut in_word = false;
    let mut cache = ClassCache::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (c, alnum, width) = if b < 0x80 {
            byte_grams(i, b, &mut win, &mut emit);
            (u32::from(b), b.is_ascii_alphanumeric(), 1)
        } else {
            let (c, alnum, width) = match view.get(i..).and_then(|s| s.chars().next()) {
                Some(c) => (u32::from(c), cache.class(c) & ALNUM != 0, c.len_utf8()),
                None => (u32::from(b), false, 1),
            };
            for (k, &cb) in bytes.iter().enumerate().skip(i).take(width) {
                byte_grams(k, cb, &mut win, &mut emit);
            }
            (c, alnum, width)
        };
        i += width;
        if alnum {
            in_word = true;
            h = (h ^ u64::from(c)).wrapping_mul(FNV);
        } else if in_word {
            in_word = false;
            word_grams(h, &mut prev, &mut emit);
            n += 2;
            h = 0x1234_5678_9abc_def1;
        }
    }
    if in_word {
        word_grams(h, &mut prev, &mut emit);
        n += 2;
    }
    n
}

/// Standardized, clipped value of each feature and its bin.
pub fn numeric(
    features: &Features,
    mean: &[f32; N_FEATURES],
    std: &[f32; N_FEATURES],
) -> [(f32, usize); N_FEATURES] {
    let mut out = [(0f32, 0usize); N_FEATURES];
    for (i, o) in out.iter_mut().enumerate() {
        let s = if std[i] > 1e-6 { std[i] } else { 1.0 };
        let z = ((features.values[i] - mean[i]) / s).clamp(-4.0, 4.0);
        let bin =
            ((z * 1.5).floor() + (N_BINS / 2) as f32).clamp(0.0, (N_BINS - 1) as f32) as usize;
        *o = (z, bin);
    }
    out
}

fn array(v: &[f32], what: &str) -> Result<[f32; N_FEATURES], String> {
    let a: [f32; N_FEATURES] = v
        .try_into()
        .map_err(|_| format!("{what} holds {} values, expected {N_FEATURES}", v.len()))?;
    if a.iter().any(|x| !x.is_finite()) {
        return Err(format!("{what} holds a value that is not a finite number"));
    }
    Ok(a)
}

/// The checks of a model file's own numbers, before any table is decoded.
fn check(spec: &ModelSpec) -> Result<(), String> {
    if spec.version != 1 {
        return Err(format!(
            "model version {} is not supported: this build reads version 1",
            spec.version
        ));
    }
    if spec.bucket_bits != BUCKET_BITS {
        return Err(format!("bucket_bits must be {BUCKET_BITS}"));
    }
    if !spec.bias.is_finite() || !spec.scale.is_finite() {
        return Err("bias and scale must be finite numbers".into());
    }
    if spec.bins.len() != N_FEATURES * N_BINS || spec.bins.iter().any(|x| !x.is_finite()) {
        return Err(format!(
            "bins must hold {} finite numbers",
            N_FEATURES * N_BINS
        ));
    }
    Ok(())
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// Compiles (decodes and checks) the wire form.
    pub fn from_spec(spec: &ModelSpec) -> Result<Model, String> {
        check(spec)?;
        let weights = b64_decode(&spec.weights_b64, 1 << BUCKET_BITS)
            .map_err(|e| format!("weights_b64: {e}"))?;
        Model::from_parts(spec, weights, CharLm::from_spec(&spec.lm)?)
    }

    /// Compiles a spec whose three tables come as raw bytes instead of base64
    /// (the embedded default model, see `build.rs`): `tables` holds the
    /// 2^[`BUCKET_BITS`] weights, then the language model's trigram and bigram
    /// tables. The spec's base64 fields are not read.
    pub fn from_spec_and_tables(spec: &ModelSpec, tables: &[u8]) -> Result<Model, String> {
        check(spec)?;
        let (weights, lm) = tables
            .split_at_checked(1 << BUCKET_BITS)
            .ok_or("the model's tables are shorter than its weights")?;
        let (tri, bi) = lm
            .split_at_checked(1 << super::lm::TRI_BITS)
            .ok_or("the model's tables are shorter than its trigram table")?;
        let lm = CharLm::from_tables(&spec.lm, tri.to_vec(), bi.to_vec())?;
        Model::from_parts(spec, weights.to_vec(), lm)
    }

    /// Assembles the model from a [`check`]ed spec and decoded tables.
    fn from_parts(spec: &ModelSpec, weights: Vec<u8>, lm: CharLm) -> Result<Model, String> {
        Ok(Model {
            bias: spec.bias,
            scale: spec.scale,
            weights: to_table(weights.into_iter().map(|b| b as i8).collect())?,
            mean: array(&spec.feature_mean, "feature_mean")?,
            std: array(&spec.feature_std, "feature_std")?,
            linear: array(&spec.linear, "linear")?,
            bins: spec.bins.clone(),
            lm,
        })
    }

    /// Builds a model from trained float parameters, quantizing the hashed
    /// weights to `i8` (clipped at the 99.9th percentile of their magnitude).
    pub fn quantize(
        bias: f32,
        weights: &[f32],
        mean: [f32; N_FEATURES],
        std: [f32; N_FEATURES],
        linear: [f32; N_FEATURES],
        bins: Vec<f32>,
        lm: CharLm,
    ) -> Model {
        let mut mags: Vec<f32> = weights
            .iter()
            .map(|w| w.abs())
            .filter(|w| *w > 0.0)
            .collect();
        mags.sort_by(f32::total_cmp);
        let clip = mags
            .get(mags.len().saturating_sub(1 + mags.len() / 1000))
            .copied()
            .unwrap_or(1.0)
            .max(1e-6);
        let scale = clip / 127.0;
        let mut q = Box::new([0i8; 1 << BUCKET_BITS]);
        for (slot, w) in q.iter_mut().zip(weights) {
            *slot = (w / scale).round().clamp(-127.0, 127.0) as i8;
        }
        Model {
            bias,
            scale,
            weights: q,
            mean,
            std,
            linear,
            bins,
            lm,
        }
    }

    /// The wire form.
    pub fn to_spec(&self, meta: serde_json::Value) -> ModelSpec {
        let bytes: Vec<u8> = self.weights.iter().map(|w| *w as u8).collect();
        ModelSpec {
            version: 1,
            bucket_bits: BUCKET_BITS,
            bias: self.bias,
            scale: self.scale,
            weights_b64: b64_encode(&bytes),
            feature_mean: self.mean.to_vec(),
            feature_std: self.std.to_vec(),
            linear: self.linear.to_vec(),
            bins: self.bins.clone(),
            lm: self.lm.to_spec(),
            meta,
        }
    }

    /// The language model the perplexity features use.
    pub fn lm(&self) -> &CharLm {
        &self.lm
    }

    /// The probability that a segment is an attack, from its view and features.
    pub fn probability(&self, view: &str, features: &Features) -> f32 {
        let mut sum: i32 = 0;
        let w = &*self.weights;
        let n = hashed(view, |i| sum += i32::from(w[i & BUCKET_MASK]));
        let mut logit = self.bias + self.scale * sum as f32 / (n.max(1) as f32).sqrt();
        for (i, (z, bin)) in numeric(features, &self.mean, &self.std).iter().enumerate() {
            logit += self.linear[i] * z + self.bins.get(i * N_BINS + bin).copied().unwrap_or(0.0);
        }
        sigmoid(logit)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// The first form of [`hashed`] (two loops, Unicode-aware words):
    /// the fused pass must emit the same buckets.
    fn reference_hashed(view: &str, mut emit: impl FnMut(usize)) -> usize {
        let bytes = view.as_bytes();
        let mut n = 0usize;
        // Byte n-grams: the bytes at i.. packed into one word, masked to 3, 4 and 5
        // bytes, tagged with their length, mixed.
        let mut win: u64 = 0;
        for (i, &b) in bytes.iter().enumerate() {
            // `win` holds the last five bytes, the newest in the low byte.
            win = (win << 8 | u64::from(b)) & 0xff_ffff_ffff;
            for len in CHAR_MIN..=CHAR_MAX {
                if i + 1 >= len {
                    let mask = (1u64 << (8 * len)) - 1;
                    emit(finish((win & mask) ^ (len as u64) << 56));
                    n += 1;
                }
            }
        }
        // Word unigrams and bigrams.
        let mut prev: u64 = 0x5bd1_e995;
        let mut h: u64 = 0x1234_5678_9abc_def1;
        let mut in_word = false;
        for c in view.chars() {
            if c.is_alphanumeric() {
                in_word = true;
                h = (h ^ u64::from(u32::from(c))).wrapping_mul(FNV);
            } else if in_word {
                in_word = false;
                word_grams(h, &mut prev, &mut emit);
                n += 2;
                h = 0x1234_5678_9abc_def1;
            }
        }
        if in_word {
            word_grams(h, &mut prev, &mut emit);
            n += 2;
        }
        n
    }

    #[test]
    fn fused_hashing_emits_what_the_reference_does() {
        for t in [
            "",
            "a",
            "ab",
            "abcd",
            "hello world, ignore previous instructions",
            "привет мир 你好 émigré — x",
            "a\u{1F600}b c",
            "tab\tnew\nline 123 x_y",
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            let nf = hashed(t, |i| fast.push(i));
            let ns = reference_hashed(t, |i| slow.push(i));
            fast.sort_unstable();
            slow.sort_unstable();
            assert_eq!((nf, fast), (ns, slow), "{t:?}");
        }
    }

    #[test]
    fn hashing_is_deterministic_and_counts_every_ngram() {
        let mut a = Vec::new();
        let n = hashed("ab cd", |i| a.push(i));
        // bytes: 5 bytes -> 3+2+1 = 6 byte n-grams; 2 words -> 4.
        assert_eq!(n, 10);
        assert_eq!(a.len(), 10);
        let mut b = Vec::new();
        hashed("ab cd", |i| b.push(i));
        assert_eq!(a, b);
        assert!(a.iter().all(|i| *i < 1 << BUCKET_BITS));
        assert_eq!(hashed("", |_| {}), 0);
    }

    #[test]
    fn quantized_model_round_trips_and_scores() {
        let mut w = vec![0f32; 1 << BUCKET_BITS];
        hashed("ignore previous", |i| w[i] = 1.0);
        let lm = CharLm::train(["hello there"].into_iter());
        let m = Model::quantize(
            -1.0,
            &w,
            [0.0; N_FEATURES],
            [1.0; N_FEATURES],
            [0.0; N_FEATURES],
            vec![0.0; N_FEATURES * N_BINS],
            lm,
        );
        let spec = m.to_spec(serde_json::Value::Null);
        let back = Model::from_spec(&spec).unwrap();
        let f = Features {
            values: [0.0; N_FEATURES],
        };
        let hit = back.probability("ignore previous", &f);
        let miss = back.probability("what a day", &f);
        assert!(hit > 0.8 && miss < 0.3, "{hit} {miss}");
        assert_eq!(hit, m.probability("ignore previous", &f));
        let mut bad = spec.clone();
        bad.linear.pop();
        assert!(Model::from_spec(&bad).is_err());
    }
}
