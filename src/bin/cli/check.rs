//! `infw check FILE...`: validate rule files and run their examples.

use super::Fatal;
use inference_firewall::Policy;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule files (filters/*.json).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print only failures.
    #[arg(short, long)]
    quiet: bool,
}

/// 0: every file valid and every example right; 1: some example wrong; 2: some file invalid.
pub fn run(args: Args) -> Result<u8, Fatal> {
    let mut worst = 0u8;
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("infw: {name}: cannot read: {e}");
                worst = 2;
                continue;
            }
        };
        let policy = match Policy::from_json(&text, &name) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("infw: {e}");
                worst = 2;
                continue;
            }
        };
        let failures = policy.check_examples();
        let examples: usize = policy
            .rules
            .iter()
            .map(|r| r.examples.must_match.len() + r.examples.no_match.len())
            .sum::<usize>()
            + policy.classifier.as_ref().map_or(0, |c| {
                c.examples.must_match.len() + c.examples.no_match.len()
            });
        for f in &failures {
            let what = if f.expected_match {
                "should match but does not"
            } else {
                "should not match but does"
            };
            eprintln!(
                "infw: {name}: rule {:?} at {}: example {what}: {:?}",
                f.rule_id, f.pointer, f.text
            );
        }
        let unfiltered = policy.unfiltered_rules();
        if !unfiltered.is_empty() && !args.quiet {
            outln!(
                "{name}: note: {} rule(s) have a regex branch without a literal of 3+ letters to wait for, so it runs on every request: {}",
                unfiltered.len(),
                unfiltered.join(", ")
            );
        }
        if failures.is_empty() {
            if !args.quiet {
                outln!(
                    "{name}: ok: {} rules, {examples} examples pass",
                    policy.rules.len()
                );
            }
        } else {
            outln!("{name}: {} of {examples} examples fail", failures.len());
            worst = worst.max(1);
        }
    }
    Ok(worst)
}
