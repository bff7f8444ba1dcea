//! A baseline profile: the distribution of each feature over benign traffic
//! (`infw baseline`), so rule files can set thresholds as deviations from it
//! (`above_quantile: 0.999`, `above_z: 4`) and a team can refit them to its own
//! traffic without touching the rules.

use super::{Features, FEATURE_NAMES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The quantiles a profile stores.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

/// One feature's distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub mean: f64,
    pub std: f64,
    /// Values at [`QUANTILES`] (p50, p90, p99, p99.9, max).
    pub quantiles: Vec<f64>,
}

/// A whole profile (`filters/anomaly/profile.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub version: u32,
    /// Benign segments it was built from.
    pub samples: usize,
    /// Where it came from.
    #[serde(default)]
    pub source: Option<String>,
    /// The stored quantile levels, for people reading the file.
    pub quantile_levels: Vec<f64>,
    pub features: BTreeMap<String, Distribution>,
}

impl Profile {
    /// Builds a profile from the features of benign segments.
    pub fn build(samples: &[Features], source: Option<String>) -> Profile {
        let mut features = BTreeMap::new();
        for (i, name) in FEATURE_NAMES.iter().enumerate() {
            let mut v: Vec<f64> = samples.iter().map(|f| f64::from(f.get(i))).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len().max(1) as f64;
            let mean = v.iter().sum::<f64>() / n;
            let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
            let quantiles = QUANTILES
                .iter()
                .map(|q| {
                    let idx = ((q * (v.len() as f64 - 1.0)).round().max(0.0)) as usize;
                    v.get(idx).copied().unwrap_or(0.0)
                })
                .collect();
            features.insert(
                name.to_string(),
                Distribution {
                    mean,
                    std,
                    quantiles,
                },
            );
        }
        Profile {
            version: 1,
            samples: samples.len(),
            source,
            quantile_levels: QUANTILES.to_vec(),
            features,
        }
    }

    /// The value past which a feature counts as anomalous: at quantile `q`
    /// (one of the stored levels) or `z` deviations above the mean.
    pub fn threshold(
        &self,
        feature: &str,
        quantile: Option<f64>,
        z: Option<f64>,
    ) -> Result<f64, String> {
        let d = self
            .features
            .get(feature)
            .ok_or_else(|| format!("the profile has no feature {feature:?}"))?;
        match (quantile, z) {
            (Some(q), None) => {
                let i = self
                    .quantile_levels
                    .iter()
                    .position(|l| (l - q).abs() < 1e-9)
                    .ok_or_else(|| {
                        let levels: Vec<String> =
                            self.quantile_levels.iter().map(|l| l.to_string()).collect();
                        format!(
                            "quantile {q} is not stored in the profile: use one of {}",
                            levels.join(", ")
                        )
                    })?;
                d.quantiles
                    .get(i)
                    .copied()
                    .ok_or_else(|| format!("the profile lacks quantile {q} of {feature:?}"))
            }
            (None, Some(z)) => Ok(d.mean + z * d.std),
            _ => Err("give exactly one of above_quantile or above_z".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::anomaly::N_FEATURES;

    #[test]
    fn thresholds_come_from_quantiles_or_z_scores() {
        let samples: Vec<Features> = (0..1000)
            .map(|i| Features {
                values: [i as f32; N_FEATURES],
            })
            .collect();
        let p = Profile::build(&samples, None);
        assert_eq!(p.threshold("length", Some(0.5), None).unwrap(), 500.0);
        assert_eq!(p.threshold("length", Some(0.999), None).unwrap(), 998.0);
        let z = p.threshold("entropy", None, Some(2.0)).unwrap();
        assert!((z - (499.5 + 2.0 * 288.675)).abs() < 0.1, "{z}");
        assert!(p.threshold("length", Some(0.95), None).is_err());
        assert!(p.threshold("nope", Some(0.5), None).is_err());
        assert!(p.threshold("length", Some(0.5), Some(1.0)).is_err());
    }
}
