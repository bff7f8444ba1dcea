//! `infw train`: trains the compact classifier on a labelled corpus, reports
//! k-fold cross-validated figures (never training-set figures), then trains
//! the final model on all of it and writes `filters/anomaly/model.json`.
//!
//! With `--cv-pack`, each fold's model is also put into the rule pack
//! (`--rules`, default the embedded pack) in place of its `classifier.model`,
//! and the whole pack (rules, detectors, model, anomaly thresholds) is
//! evaluated on the held-out fold, so the pack's figures are cross-validated
//! for the model too (the rules themselves were tuned on the whole corpus).

use super::{augment, chat_request, context, plot, Fatal};
use inference_firewall::anomaly::train::{
    fit_with_lm, folds, group_folds, predict, Options, Prepared, Rng,
};
use inference_firewall::limits::Limits;
use inference_firewall::policy::RuleFile;
use inference_firewall::{Action, Engine, Policy, Request};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Labelled corpus, JSON Lines (`text`, `label`, `category`, `subcategory`).
    #[arg(long)]
    corpus: PathBuf,
    /// Where to write the final model (skipped when absent).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folds of the cross-validation (0 or 1: none).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the fold assignment and the shuffles.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Training epochs.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// L2 regularization per update.
    #[arg(long, default_value_t = 1e-5)]
    l2: f32,
    /// AdaGrad learning rate.
    #[arg(long, default_value_t = 0.2)]
    learning_rate: f32,
    /// Minimum number of training texts a hashed n-gram must occur in to get a weight.
    #[arg(long, default_value_t = 3)]
    min_df: u32,
    /// Form augmentation: copies per training text, each in one form picked
    /// at random (fullwidth, look-alikes, invisible characters, spelled out,
    /// leetspeak, encoded inside the text...), for attacks and benign texts
    /// alike; a fraction is a chance (0.5: half the texts get one copy); 0: none.
    /// Held-out folds are never augmented. The shipped model uses 1 with the
    /// forms spelled_out, leetspeak, fullwidth, lookalikes, invisible and
    /// encoded_inside (see the README).
    #[arg(long, default_value_t = 0.0)]
    augment: f64,
    /// The forms --augment draws from, comma-separated (default: all of them).
    #[arg(long, value_delimiter = ',')]
    augment_forms: Vec<String>,
    /// Context augmentation: copies per training text put among
    /// identifiers and machine-made text (an order number, UUID, hash,
    /// timestamp, IP or URL beside it; inside JSON, a log line, a table, code,
    /// after a stack trace), for attacks and benign texts alike, on top of
    /// --augment; a fraction is a chance; 0: none. The shipped model uses 1.
    #[arg(long, default_value_t = 0.0)]
    augment_context: f64,
    /// Keep the texts that share this record field in one fold: `source`
    /// (the dataset, the part of the field before its first `:`),
    /// `subcategory`, `category` or `lang`. A random split (the default) puts
    /// near-copies of one template on both sides and overstates how the
    /// model does on traffic from elsewhere; `--cv-group source` tests each
    /// source with a model that never saw it.
    #[arg(long, value_parser = ["source", "subcategory", "category", "lang"])]
    cv_group: Option<String>,
    /// Also cross-validate the whole rule pack with each fold's model.
    #[arg(long)]
    cv_pack: bool,
    /// The rule pack for --cv-pack (default: the embedded pack).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Write an SVG of the out-of-fold score distributions and ROC curves.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Write every corpus text's out-of-fold result as JSON Lines (`line`,
    /// `id`, `label`, `category`, `source`, the fold model's probability and,
    /// with --cv-pack, the pack's score and whether it blocked), to read
    /// which of your prompts a model that never saw them gets wrong. Holds
    /// no text: join on `line` or `id`.
    #[arg(long)]
    cv_scores: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Record {
    /// Any JSON value: only copied to --cv-scores.
    #[serde(default)]
    id: serde_json::Value,
    /// Its line in the corpus file (1-based), for --cv-scores.
    #[serde(skip)]
    line: usize,
    text: String,
    label: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    subcategory: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// Out-of-fold scores of one detector, with labels and groups.
pub struct Scores<'a> {
    pub attack: &'a [bool],
    pub category: &'a [String],
    pub sub: &'a [String],
    pub score: Vec<f64>,
}

/// Threshold for a target FPR: items with score strictly above it are flagged.
pub fn threshold_at(benign: &mut [f64], fpr: f64) -> f64 {
    benign.sort_by(|a, b| b.total_cmp(a));
    let k = (fpr * benign.len() as f64).floor() as usize;
    benign.get(k).copied().unwrap_or(f64::NEG_INFINITY)
}

impl Scores<'_> {
    fn benign(&self) -> Vec<f64> {
        self.score
            .iter()
            .zip(self.attack)
            .filter(|(_, a)| !**a)
            .map(|(s, _)| *s)
            .collect()
    }

    fn rate(&self, t: f64, pick: impl Fn(usize) -> bool) -> (usize, usize) {
        let idx: Vec<usize> = (0..self.score.len()).filter(|&i| pick(i)).collect();
        (
            idx.iter().filter(|&&i| self.score[i] > t).count(),
            idx.len(),
        )
    }

    /// Prints TPR per category and FPR per benign group at FPR 1% and 2%; returns the thresholds.
    fn report(&self, title: &str) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        outln!("\n{title}");
        let targets = [0.01, 0.02];
        let ts: Vec<f64> = targets
            .iter()
            .map(|f| threshold_at(&mut self.benign(), *f))
            .collect();
        out!("  {:<34}", "target FPR");
        for f in targets {
            out!("  {:>14}", format!("{:.0}%", f * 100.0));
        }
        outln!();
        out!("  {:<34}", "threshold (score >)");
        for t in &ts {
            out!("  {t:>14.4}");
        }
        outln!();
        let mut cats: Vec<&String> = self
            .category
            .iter()
            .zip(self.attack)
            .filter(|(_, a)| **a)
            .map(|(c, _)| c)
            .collect();
        cats.sort();
        cats.dedup();
        let row = |name: &str, pick: &dyn Fn(usize) -> bool| {
            out!("  {name:<34}");
            for t in &ts {
                let (k, n) = self.rate(*t, pick);
                out!(
                    "  {:>14}",
                    format!("{:.3} ({k}/{n})", k as f64 / n.max(1) as f64)
                );
            }
            outln!();
        };
        row("TPR all attacks", &|i| self.attack[i]);
        for c in &cats {
            row(&format!("  TPR {c}"), &|i| {
                self.attack[i] && &self.category[i] == *c
            });
        }
        row("FPR all benign", &|i| !self.attack[i]);
        row("  FPR non_english benign", &|i| {
            !self.attack[i] && self.sub[i].contains("non_english")
        });
        row("  FPR code benign", &|i| {
            !self.attack[i] && self.sub[i].split(',').any(|s| s == "code")
        });
        row("  FPR benign_tricky", &|i| {
            !self.attack[i] && self.category[i] == "benign_tricky"
        });
        for (f, t) in targets.iter().zip(&ts) {
            out.push((*f, *t));
        }
        out
    }
}

pub fn run(args: Args) -> Result<u8, Fatal> {
    if args.folds < 2 && (args.cv_scores.is_some() || args.cv_pack || args.plot.is_some()) {
        return Err(Fatal(
            "--cv-scores, --cv-pack and --plot report the cross-validation: give --folds 2 or more"
                .into(),
        ));
    }
    let name = args.corpus.display().to_string();
    let text = std::fs::read_to_string(&args.corpus)
        .map_err(|e| Fatal(format!("{name}: cannot read: {e}")))?;
    let mut records = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut r: Record = serde_json::from_str(line)
            .map_err(|e| Fatal(format!("{name}: line {}: not a corpus record: {e}", i + 1)))?;
        if r.label != "attack" && r.label != "benign" {
            return Err(Fatal(format!(
                "{name}: line {}: label must be \"attack\" or \"benign\"",
                i + 1
            )));
        }
        r.line = i + 1;
        records.push(r);
    }
    let attack: Vec<bool> = records.iter().map(|r| r.label == "attack").collect();
    let category: Vec<String> = records
        .iter()
        .map(|r| r.category.clone().unwrap_or_else(|| r.label.clone()))
        .collect();
    let sub: Vec<String> = records
        .iter()
        .map(|r| r.subcategory.clone().unwrap_or_default())
        .collect();
    let t0 = Instant::now();
    let limits = Limits::default();
    let data: Vec<Prepared> = records
        .iter()
        .map(|r| Prepared::new(&r.text, &limits))
        .collect();
    if !(0.0..=8.0).contains(&args.augment) {
        return Err(Fatal("--augment: give a share from 0 to 8".into()));
    }
    // Augmented copies go after the corpus texts; `source[j]` is the corpus
    // text copy `n + j` was made from, so a fold leaves out its copies too.
    let n = data.len();
    let mut rng = Rng::new(args.seed ^ 0xA06);
    let mut source = Vec::new();
    let mut data = data;
    let mut attack = attack;
    let mut per_form = vec![0usize; augment::FORMS.len()];
    let mut forms: Vec<usize> = Vec::new();
    for f in &args.augment_forms {
        let Some(i) = augment::FORMS.iter().position(|k| k == f) else {
            return Err(Fatal(format!(
                "--augment-forms: unknown form {f:?}; the forms are {}",
                augment::FORMS.join(", ")
            )));
        };
        forms.push(i);
    }
    if forms.is_empty() {
        forms = (0..augment::FORMS.len()).collect();
    }
    for (i, r) in records.iter().enumerate() {
        for _ in 0..copies(args.augment, &mut rng) {
            for _ in 0..4 {
                let form = forms[(rng.next_u64() % forms.len() as u64) as usize];
                if let Some(t) = augment::apply(&r.text, form, attack[i], &mut rng) {
                    data.push(Prepared::new(&t, &limits));
                    attack.push(attack[i]);
                    source.push(i);
                    per_form[form] += 1;
                    break;
                }
            }
        }
    }
    if !(0.0..=8.0).contains(&args.augment_context) {
        return Err(Fatal("--augment-context: give a share from 0 to 8".into()));
    }
    // Its own generator, so the form copies stay those of the same seed
    // without it.
    let mut crng = Rng::new(args.seed ^ 0xC0_47E7);
    let mut in_context = 0usize;
    for (i, r) in records.iter().enumerate() {
        for _ in 0..copies(args.augment_context, &mut crng) {
            let t = context::apply(&r.text, &mut crng);
            data.push(Prepared::new(&t, &limits));
            attack.push(attack[i]);
            source.push(i);
            in_context += 1;
        }
    }
    let origin = |j: usize| if j < n { j } else { source[j - n] };
    eprintln!(
        "infw train: {n} texts and {} augmented copies prepared in {:.1}s",
        data.len() - n,
        t0.elapsed().as_secs_f64()
    );
    let opts = Options {
        epochs: args.epochs,
        seed: args.seed,
        l2: args.l2,
        learning_rate: args.learning_rate,
        min_df: args.min_df,
    };
    let pack_text = match &args.rules {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Fatal(format!("{}: cannot read: {e}", p.display())))?,
        None => inference_firewall::default_pack_json().to_string(),
    };

    let mut meta = serde_json::json!({
        "corpus": name, "examples": data.len(), "seed": args.seed, "epochs": opts.epochs,
        "learning_rate": opts.learning_rate, "l2": opts.l2, "min_df": opts.min_df, "folds": args.folds, "cv_group": args.cv_group,
        "augment": args.augment,
        "augment_context": args.augment_context, "in_context": in_context,
        "augmented": augment::FORMS.iter().zip(&per_form).map(|(f, k)| (f.to_string(), serde_json::json!(k))).collect::<serde_json::Map<_, _>>(),
    });
    // The record field --cv-group keeps in one fold, per record.
    let group_keys: Option<Vec<&str>> = args.cv_group.as_deref().map(|field| {
        records
            .iter()
            .map(|r| match field {
                "source" => r.source.as_deref().and_then(|s| s.split(':').next()),
                "subcategory" => r.subcategory.as_deref(),
                "lang" => r.lang.as_deref(),
                _ => r.category.as_deref(),
            })
            .map(|k| k.unwrap_or(""))
            .collect()
    });
    let mut model_oof = vec![0f64; n];
    let mut pack_oof = vec![0f64; n];
    let mut pack_blocked = vec![false; n];
    if args.folds >= 2 {
        let fold = match &group_keys {
            None => folds(&attack[..n], args.folds, args.seed),
            Some(keys) => group_folds(keys, args.folds),
        };
        for f in 0..args.folds {
            let t = Instant::now();
            let train: Vec<usize> = (0..data.len()).filter(|&i| fold[origin(i)] != f).collect();
            let lm_train: Vec<usize> = (0..n).filter(|&i| fold[i] != f).collect();
            let model = fit_with_lm(&data, &attack, &train, &lm_train, &opts);
            let test: Vec<usize> = (0..n).filter(|&i| fold[i] == f).collect();
            for &i in &test {
                model_oof[i] = f64::from(predict(&model, &data[i]));
            }
            if args.cv_pack {
                let mut file = RuleFile::parse(&pack_text, "pack")?;
                let Some(c) = file.classifier.as_mut() else {
                    return Err(Fatal(
                        "--cv-pack: the rule pack has no classifier section".into(),
                    ));
                };
                c.model = serde_json::to_value(model.to_spec(serde_json::Value::Null))?;
                let engine = Engine::new(Policy::compile(file, "pack", "")?);
                for &i in &test {
                    let body = chat_request(&records[i].text);
                    let v = engine.evaluate(&Request::post(
                        "/v1/chat/completions",
                        "application/json",
                        &body,
                    ));
                    pack_oof[i] = f64::from(v.score);
                    pack_blocked[i] = matches!(v.would, Action::Block { .. });
                }
            }
            eprintln!(
                "infw train: fold {}/{} in {:.1}s",
                f + 1,
                args.folds,
                t.elapsed().as_secs_f64()
            );
        }
        let attack = &attack[..n];
        let m = Scores {
            attack,
            category: &category,
            sub: &sub,
            score: model_oof.clone(),
        };
        let split = match &args.cv_group {
            Some(field) => format!(", folds grouped by {field}"),
            None => String::new(),
        };
        let title = format!(
            "model alone: {}-fold cross-validated{split} (pooled out-of-fold probabilities)",
            args.folds
        );
        let ts = m.report(&title);
        meta["cv"] = serde_json::json!(ts
            .iter()
            .map(|(f, t)| {
                let (k, n) = m.rate(*t, |i| attack[i]);
                serde_json::json!({"fpr": f, "threshold": t, "tpr": k as f64 / n.max(1) as f64})
            })
            .collect::<Vec<_>>());
        if args.cv_pack {
            let p = Scores {
                attack,
                category: &category,
                sub: &sub,
                score: pack_oof.clone(),
            };
            p.report(&format!(
                "full pack (rules + detectors + fold model): {}-fold cross-validated{split} total scores",
                args.folds
            ));
            let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for i in 0..n {
                let key = if attack[i] {
                    category[i].as_str()
                } else {
                    "benign (FPR)"
                };
                let e = per.entry(key).or_default();
                e.0 += usize::from(pack_blocked[i]);
                e.1 += 1;
            }
            // The whole and the benign groups of the report above.
            let mut group = |key: &'static str, pick: &dyn Fn(usize) -> bool| {
                let idx = (0..n).filter(|&i| pick(i));
                let e = per.entry(key).or_default();
                for i in idx {
                    e.0 += usize::from(pack_blocked[i]);
                    e.1 += 1;
                }
            };
            group("all attacks", &|i| attack[i]);
            group("  benign non_english (FPR)", &|i| {
                !attack[i] && sub[i].contains("non_english")
            });
            group("  benign code (FPR)", &|i| {
                !attack[i] && sub[i].split(',').any(|s| s == "code")
            });
            group("  benign_tricky (FPR)", &|i| {
                !attack[i] && category[i] == "benign_tricky"
            });
            outln!("  at the pack's block_at (blocked share):");
            for (k, (b, n)) in per {
                outln!("    {k:<32} {:.3} ({b}/{n})", b as f64 / n.max(1) as f64);
            }
            // Which held-out groups the pack fails on, when folds are grouped.
            if let Some(keys) = &group_keys {
                let mut by: BTreeMap<(bool, &str), (usize, usize)> = BTreeMap::new();
                for i in 0..n {
                    let e = by.entry((!attack[i], keys[i])).or_default();
                    e.0 += usize::from(pack_blocked[i]);
                    e.1 += 1;
                }
                outln!("  per held-out group at the pack's block_at (blocked share):");
                for ((benign, k), (b, n)) in by {
                    let label = if benign { "benign" } else { "attack" };
                    outln!(
                        "    {label} {k:<42} {:.3} ({b}/{n})",
                        b as f64 / n.max(1) as f64
                    );
                }
            }
        }
        if let Some(path) = &args.cv_scores {
            write_cv_scores(
                path,
                &records,
                &model_oof,
                args.cv_pack.then_some((&pack_oof[..], &pack_blocked[..])),
            )?;
        }
        if let Some(path) = &args.plot {
            let att: Vec<f64> = (0..n)
                .filter(|&i| attack[i])
                .map(|i| model_oof[i])
                .collect();
            let ben: Vec<f64> = (0..n)
                .filter(|&i| !attack[i])
                .map(|i| model_oof[i])
                .collect();
            let marks: Vec<(String, f64)> = ts
                .iter()
                .map(|(f, t)| (format!("FPR {:.0}%", f * 100.0), *t))
                .collect();
            let svg = plot::svg(
                "model alone, out-of-fold probability",
                &att,
                &ben,
                &marks,
                (0.0, 1.0),
            );
            std::fs::write(path, svg)
                .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))?;
        }
    }

    if let Some(out) = &args.out {
        let t = Instant::now();
        let all: Vec<usize> = (0..data.len()).collect();
        let originals: Vec<usize> = (0..n).collect();
        let model = fit_with_lm(&data, &attack, &all, &originals, &opts);
        let spec = model.to_spec(meta);
        let json = serde_json::to_string(&spec)?;
        std::fs::write(out, json + "\n")
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", out.display())))?;
        eprintln!(
            "infw train: final model on {} texts ({n} of the corpus) in {:.1}s -> {}",
            data.len(),
            t.elapsed().as_secs_f64(),
            out.display()
        );
    }
    Ok(0)
}

/// One JSON line per corpus text: where it is, what it is and how its
/// out-of-fold model (and pack, when given) scored it; never the text.
fn write_cv_scores(
    path: &std::path::Path,
    records: &[Record],
    model: &[f64],
    pack: Option<(&[f64], &[bool])>,
) -> Result<(), Fatal> {
    let mut out = String::new();
    for (i, r) in records.iter().enumerate() {
        let mut row = serde_json::json!({
            "line": r.line, "id": r.id, "label": r.label, "category": r.category,
            "source": r.source, "model": model[i],
        });
        if let Some((score, blocked)) = pack {
            row["pack_score"] = serde_json::json!(score[i]);
            row["blocked"] = serde_json::json!(blocked[i]);
        }
        out.push_str(&row.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))
}

/// How many augmented copies of one text a share gives: its whole part,
/// plus one with the probability of its fraction (one draw of `rng` either
/// way, so the copies of the other texts do not depend on the share).
fn copies(share: f64, rng: &mut Rng) -> usize {
    let whole = share.floor() as usize;
    let frac = share - share.floor();
    whole + usize::from((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= frac && frac > 0.0)
}
