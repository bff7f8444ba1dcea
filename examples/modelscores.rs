//! The classifier's probability on every text of a labelled corpus (JSON
//! Lines with `text`, `label`, `category`), summarized per category: the
//! distribution of the model's own score, apart from the rules.
//!
//! `cargo run --release --example modelscores -- CORPUS.jsonl [MODEL.json] [--explain N]`
//!
//! The probability is that of `infw train`'s cross-validation (the highest
//! over the main view and every decoded view; the pack's `min_chars` guard
//! is not applied). `--explain N` prints the N highest-scoring texts with
//! the logit split into the hashed n-grams and each numeric feature.
use inference_firewall::anomaly::model::{numeric, N_BINS};
use inference_firewall::anomaly::train::{predict, Prepared};
use inference_firewall::anomaly::{default_model, parse_model, FEATURE_NAMES, MODEL_FEATURES};
use inference_firewall::limits::Limits;
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = args
        .first()
        .expect("usage: modelscores CORPUS.jsonl [MODEL.json]");
    let mut explain = 0usize;
    let mut model_path = None;
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        if a == "--explain" {
            explain = rest.next().and_then(|n| n.parse().ok()).unwrap_or(10);
        } else {
            model_path = Some(a.clone());
        }
    }
    let model = match &model_path {
        Some(p) => parse_model(&std::fs::read_to_string(p).expect("a readable model")),
        None => default_model(),
    }
    .expect("the model compiles");
    let spec = model.to_spec(serde_json::Value::Null);
    let limits = Limits::default();
    let text = std::fs::read_to_string(corpus).expect("a readable corpus");
    let mut per: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    let mut all: Vec<(f32, String, String)> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let t = r["text"].as_str().unwrap_or_default().to_string();
        let cat = r["category"]
            .as_str()
            .or(r["label"].as_str())
            .unwrap_or("?")
            .to_string();
        let p = predict(&model, &Prepared::new(&t, &limits));
        per.entry(cat.clone()).or_default().push(p);
        per.entry("(all)".into()).or_default().push(p);
        all.push((p, cat, t));
    }
    println!(
        "{:<22} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "category", "n", "mean", "p50", "p90", "p99", "max", ">=0.5", ">=0.7"
    );
    for (cat, mut v) in per {
        v.sort_by(f32::total_cmp);
        let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
        let share = |t: f32| v.iter().filter(|p| **p >= t).count() as f64 / v.len() as f64;
        println!(
            "{:<22} {:>5} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.3}",
            cat,
            v.len(),
            v.iter().sum::<f32>() / v.len() as f32,
            q(0.5),
            q(0.9),
            q(0.99),
            q(1.0),
            share(0.5),
            share(0.7)
        );
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (p, cat, t) in all.iter().take(explain) {
        let n = inference_firewall::normalize::normalize(t, &limits);
        let f =
            inference_firewall::anomaly::Features::compute(&n.view, &n.findings, Some(model.lm()));
        let mean: [f32; 9] = spec.feature_mean.clone().try_into().expect("9 features");
        let std: [f32; 9] = spec.feature_std.clone().try_into().expect("9 features");
        let main = model.probability(&n.view, &f);
        let logit = (main / (1.0 - main)).ln();
        let mut parts = Vec::new();
        let mut num = 0.0;
        for (i, (z, bin)) in numeric(&f, &mean, &std).iter().enumerate() {
            let c = spec.linear[i] * z + spec.bins[i * N_BINS + bin];
            num += c;
            parts.push(format!("{}={:+.2}", FEATURE_NAMES[MODEL_FEATURES[i]], c));
        }
        println!(
            "\n{p:.3} [{cat}] {:?}\n  main view {main:.3}: logit {logit:+.2} = bias {:+.2} + hashed {:+.2} + numeric {num:+.2} ({})",
            t.chars().take(160).collect::<String>(),
            spec.bias,
            logit - spec.bias - num,
            parts.join(" ")
        );
    }
}
