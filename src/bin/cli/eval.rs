//! `infw eval`: detection and false-positive rates of a rule file on a labelled corpus.
//!
//! Each line `{"text", "label": "attack"|"benign", "category"}` is wrapped as
//! an OpenAI chat request with one user message and evaluated by the same
//! engine the proxy runs. A request counts as detected when enforce mode
//! would block it.

use super::{chat_request, load_engine, Fatal};
use inference_firewall::{Action, Request};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule file (default: the embedded default pack).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Labelled corpus, JSON Lines.
    corpus: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
    /// How many misses and false positives to list.
    #[arg(long, default_value_t = 10)]
    worst: usize,
    /// Write an SVG of the score distributions (thresholds marked) and the ROC curve.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    id: Option<String>,
    text: String,
    label: String,
    #[serde(default)]
    category: Option<String>,
}

struct Scored {
    id: String,
    attack: bool,
    category: String,
    text: String,
    score: u32,
    blocked: bool,
    rules: String,
}

#[derive(Default)]
struct Rate {
    total: usize,
    blocked: usize,
}

impl Rate {
    fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.blocked as f64 / self.total as f64
        }
    }
}

pub fn run(args: Args) -> Result<u8, Fatal> {
    let engine = load_engine(args.rules.as_deref())?;
    let name = args.corpus.display().to_string();
    let text = std::fs::read_to_string(&args.corpus)
        .map_err(|e| Fatal(format!("{name}: cannot read: {e}")))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let progress = std::io::stderr().is_terminal() && !args.json;
    let mut scored = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let r: Record = serde_json::from_str(line)
            .map_err(|e| Fatal(format!("{name}: line {}: not a corpus record: {e}", i + 1)))?;
        let attack = match r.label.as_str() {
            "attack" => true,
            "benign" => false,
            other => {
                return Err(Fatal(format!(
                    "{name}: line {}: label {other:?} must be \"attack\" or \"benign\"",
                    i + 1
                )))
            }
        };
        let body = chat_request(&r.text);
        let v = engine.evaluate(&Request::post(
            "/v1/chat/completions",
            "application/json",
            &body,
        ));
        scored.push(Scored {
            id: r.id.unwrap_or_else(|| format!("line {}", i + 1)),
            attack,
            category: r.category.unwrap_or_else(|| r.label.clone()),
            text: r.text,
            score: v.score,
            blocked: matches!(v.would, Action::Block { .. }),
            rules: v.rule_ids(),
        });
        if progress && (i % 50 == 0 || i + 1 == lines.len()) {
            let done = (i + 1) * 40 / lines.len().max(1);
            eprint!(
                "\r[{}{}] {}/{}",
                "#".repeat(done),
                " ".repeat(40 - done),
                i + 1,
                lines.len()
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprintln!();
    }

    let mut attacks = Rate::default();
    let mut benign = Rate::default();
    let mut per_cat: BTreeMap<(bool, String), Rate> = BTreeMap::new();
    for s in &scored {
        let r = if s.attack { &mut attacks } else { &mut benign };
        r.total += 1;
        r.blocked += usize::from(s.blocked);
        let c = per_cat.entry((s.attack, s.category.clone())).or_default();
        c.total += 1;
        c.blocked += usize::from(s.blocked);
    }
    let block_at = engine.policy().block_at;
    let max_score = scored
        .iter()
        .map(|s| s.score)
        .max()
        .unwrap_or(0)
        .clamp(1, 60);
    let sweep: Vec<(u32, f64, f64)> = (1..=max_score)
        .map(|t| {
            let tp = scored.iter().filter(|s| s.attack && s.score >= t).count();
            let fp = scored.iter().filter(|s| !s.attack && s.score >= t).count();
            (
                t,
                tp as f64 / attacks.total.max(1) as f64,
                fp as f64 / benign.total.max(1) as f64,
            )
        })
        .collect();
    let mut misses: Vec<&Scored> = scored.iter().filter(|s| s.attack && !s.blocked).collect();
    misses.sort_by_key(|s| s.score);
    let mut fps: Vec<&Scored> = scored.iter().filter(|s| !s.attack && s.blocked).collect();
    fps.sort_by_key(|s| std::cmp::Reverse(s.score));

    if let Some(path) = &args.plot {
        let att: Vec<f64> = scored
            .iter()
            .filter(|s| s.attack)
            .map(|s| f64::from(s.score))
            .collect();
        let ben: Vec<f64> = scored
            .iter()
            .filter(|s| !s.attack)
            .map(|s| f64::from(s.score))
            .collect();
        let p = engine.policy();
        // Scores are integers: a threshold t blocks score >= t, i.e. score > t - 0.5.
        let marks = vec![
            (format!("flag_at {}", p.flag_at), f64::from(p.flag_at) - 0.5),
            (
                format!("block_at {}", p.block_at),
                f64::from(p.block_at) - 0.5,
            ),
        ];
        let hi = f64::from(max_score.max(p.block_at + 1)).min(30.0);
        let title = format!("{name}: total score, policy {}", p.name);
        let svg = super::plot::svg(&title, &att, &ben, &marks, (0.0, hi));
        std::fs::write(path, svg)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))?;
    }

    if args.json {
        let cats: serde_json::Map<String, serde_json::Value> = per_cat
            .iter()
            .map(|((attack, c), r)| {
                (
                    c.clone(),
                    serde_json::json!({"label": if *attack {"attack"} else {"benign"}, "total": r.total, "blocked": r.blocked, "rate": r.rate()}),
                )
            })
            .collect();
        let out = serde_json::json!({
            "corpus": name,
            "block_at": block_at,
            "attacks": attacks.total,
            "benign": benign.total,
            "tpr": attacks.rate(),
            "fpr": benign.rate(),
            "per_category": cats,
            "sweep": sweep.iter().map(|(t, tpr, fpr)| serde_json::json!({"block_at": t, "tpr": tpr, "fpr": fpr})).collect::<Vec<_>>(),
            "misses": misses.iter().take(args.worst).map(|s| serde_json::json!({"id": s.id, "category": s.category, "score": s.score})).collect::<Vec<_>>(),
            "false_positives": fps.iter().take(args.worst).map(|s| serde_json::json!({"id": s.id, "category": s.category, "score": s.score, "rules": s.rules})).collect::<Vec<_>>(),
        });
        outln!("{out}");
        return Ok(0);
    }

    outln!(
        "{name}: {} attacks, {} benign; policy {}",
        attacks.total,
        benign.total,
        engine.policy().name
    );
    outln!(
        "at block_at {block_at}: TPR {:.3} ({}/{})  FPR {:.4} ({}/{})",
        attacks.rate(),
        attacks.blocked,
        attacks.total,
        benign.rate(),
        benign.blocked,
        benign.total
    );
    outln!("\nper category (share blocked):");
    for ((attack, c), r) in &per_cat {
        outln!(
            "  {:<7} {:<22} {:>5}  {:.3}",
            if *attack { "attack" } else { "benign" },
            c,
            r.total,
            r.rate()
        );
    }
    outln!("\nthreshold sweep:\n  block_at    TPR     FPR");
    for (t, tpr, fpr) in &sweep {
        let mark = if *t == block_at { "  <- current" } else { "" };
        outln!("  {t:>8}  {tpr:.3}  {fpr:.4}{mark}");
    }
    outln!("\nworst misses (attacks not blocked, lowest score first):");
    for s in misses.iter().take(args.worst) {
        outln!(
            "  {:>3}  {:<20} {:<18} {}",
            s.score,
            s.category,
            s.id,
            snippet(&s.text)
        );
    }
    outln!("\nfalse positives (benign blocked, highest score first):");
    for s in fps.iter().take(args.worst) {
        outln!(
            "  {:>3}  {:<20} {:<18} [{}] {}",
            s.score,
            s.category,
            s.id,
            s.rules,
            snippet(&s.text)
        );
    }
    Ok(0)
}

fn snippet(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &flat[..i]),
        None => flat,
    }
}
