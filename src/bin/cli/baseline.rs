//! `infw baseline`: the distribution of each anomaly feature over the benign
//! lines of a corpus (or every line when none is labelled), written as a
//! profile that rule files' `anomaly` thresholds refer to.

use super::Fatal;
use inference_firewall::anomaly::{Features, Model, ModelSpec, Profile};
use inference_firewall::limits::Limits;
use inference_firewall::normalize::normalize;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Corpus, JSON Lines with `text` and optionally `label`.
    corpus: PathBuf,
    /// Where to write the profile (standard output when absent).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Model whose language model computes the perplexity features (default: the embedded one).
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Record {
    text: String,
    #[serde(default)]
    label: Option<String>,
}

pub fn run(args: Args) -> Result<u8, Fatal> {
    let name = args.corpus.display().to_string();
    let model = match &args.model {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Fatal(format!("{}: cannot read: {e}", p.display())))?;
            let spec: ModelSpec =
                serde_json::from_str(&text).map_err(|e| Fatal(format!("model: {e}")))?;
            Model::from_spec(&spec).map_err(|e| Fatal(format!("model: {e}")))?
        }
        None => inference_firewall::anomaly::default_model()
            .map_err(|e| Fatal(format!("model: {e}")))?,
    };
    let text = std::fs::read_to_string(&args.corpus)
        .map_err(|e| Fatal(format!("{name}: cannot read: {e}")))?;
    let limits = Limits::default();
    let mut samples = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Record = serde_json::from_str(line)
            .map_err(|e| Fatal(format!("{name}: line {}: {e}", i + 1)))?;
        if r.label.as_deref().is_some_and(|l| l != "benign") {
            continue;
        }
        let n = normalize(&r.text, &limits);
        samples.push(Features::compute(&n.view, &n.findings, Some(model.lm())));
    }
    if samples.is_empty() {
        return Err(Fatal(format!("{name}: no benign lines")));
    }
    let profile = Profile::build(&samples, Some(name));
    let json = serde_json::to_string_pretty(&profile)? + "\n";
    match &args.out {
        Some(p) => std::fs::write(p, json)
            .map_err(|e| Fatal(format!("{}: cannot write: {e}", p.display())))?,
        None => out!("{json}"),
    }
    eprintln!("infw baseline: {} benign segments", samples.len());
    Ok(0)
}
