//! The evasion matrix, natively: every attack of `tests/data/evasion` under
//! every transform of `tests/evasion/transforms.rs` must be blocked (or
//! refused as uninspectable, where the transform says so), and every benign
//! prompt under every transform that applies to it must pass. The same
//! matrix goes through the real Envoy in `tests/evasion_e2e.rs`.

#[path = "evasion/transforms.rs"]
mod transforms;

use inference_firewall::{Action, Engine, Policy, Request, Verdict};
use transforms::{Case, OnAttack, OnBenign, Transform};

fn evaluate(engine: &Engine, t: &Transform, case: &Case) -> Verdict {
    let body = t.body(&case.text);
    engine.evaluate(&Request::post(body.path, "application/json", &body.bytes))
}

/// The default pack without its statistical layer (the classifier and the
/// anomaly features): its rules and detectors only.
fn rules_and_detectors() -> Engine {
    let mut pack: serde_json::Value =
        serde_json::from_str(inference_firewall::default_pack_json()).unwrap();
    let obj = pack.as_object_mut().unwrap();
    obj.remove("classifier");
    obj.remove("anomaly");
    Engine::new(Policy::from_json(&pack.to_string(), "default-rules").unwrap())
}

fn describe(v: &Verdict) -> String {
    format!(
        "{} (score {}, rules {})",
        v.action.name(),
        v.score,
        v.rule_ids()
    )
}

/// Whether `v` is what `expect` asks of an attack.
fn attack_outcome_ok(v: &Verdict, expect: OnAttack) -> bool {
    match (expect, &v.action) {
        (OnAttack::Blocked, Action::Block { status, code, .. }) => {
            *status == 403 && *code == "anomaly_score_exceeded"
        }
        (
            OnAttack::Refused { status, code },
            Action::Block {
                status: s, code: c, ..
            },
        ) => *s == status && *c == code,
        _ => false,
    }
}

/// Runs `cases` through `transforms` and returns one line per case whose
/// outcome is wrong, naming the transform and the case.
fn attack_failures(
    engine: &Engine,
    transforms: &[Transform],
    cases: &[Case],
) -> (usize, Vec<String>) {
    let (mut runs, mut failures) = (0, Vec::new());
    for t in transforms {
        for case in cases {
            runs += 1;
            let v = evaluate(engine, t, case);
            if !attack_outcome_ok(&v, t.on_attack) {
                failures.push(format!(
                    "attack {:?} under {:?}: want {:?}, got {}",
                    case.name,
                    t.name,
                    t.on_attack,
                    describe(&v)
                ));
            }
        }
    }
    (runs, failures)
}

fn benign_failures(
    engine: &Engine,
    transforms: &[Transform],
    cases: &[Case],
) -> (usize, Vec<String>) {
    let (mut runs, mut failures) = (0, Vec::new());
    for t in transforms
        .iter()
        .filter(|t| t.on_benign == OnBenign::Passes)
    {
        for case in cases {
            runs += 1;
            let v = evaluate(engine, t, case);
            if v.is_block() {
                failures.push(format!(
                    "benign {:?} under {:?}: want it to pass, got {}",
                    case.name,
                    t.name,
                    describe(&v)
                ));
            }
        }
    }
    (runs, failures)
}

fn report(what: &str, (runs, failures): (usize, Vec<String>)) {
    assert!(runs > 0, "{what}: nothing ran");
    assert!(
        failures.is_empty(),
        "{what}: {} of {runs} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{what}: {runs} of {runs} as expected");
}

#[test]
fn every_attack_is_blocked_under_every_transform() {
    let engine = Engine::default_pack().unwrap();
    let table = transforms::table();
    report(
        "attacks",
        attack_failures(&engine, &table, &transforms::attacks()),
    );
}

#[test]
fn no_rule_or_detector_blocks_a_benign_prompt_under_any_transform_that_applies() {
    let table = transforms::table();
    report(
        "benign (rules and detectors)",
        benign_failures(&rules_and_detectors(), &table, &transforms::benign()),
    );
}

/// The classifier reads the normalized view, not the form (683 of 2280
/// failed when it read the original text's character classes and the form
/// counts). The last 13 were texts the view still misread: spelled-out
/// base64 and digests (their letters and digits now join back into the
/// blob, which decodes in place when it is text), spelled-out or
/// entity-encoded Bengali split from its vowel signs (signs now go back on
/// their letters, and a Brahmic run is no `spaced_words` evidence), and
/// Russian in Morse, only commas and a full stop (a text that is Morse
/// throughout is decoded however short). See the README's evasion section.
#[test]
fn every_benign_prompt_passes_the_whole_pack_under_every_transform_that_applies() {
    let engine = Engine::default_pack().unwrap();
    let table = transforms::table();
    report(
        "benign (whole pack)",
        benign_failures(&engine, &table, &transforms::benign()),
    );
}

#[test]
fn forms_without_a_legitimate_use_are_refused_even_when_benign() {
    let engine = Engine::default_pack().unwrap();
    let benign = transforms::benign();
    let mut runs = 0;
    let mut failures = Vec::new();
    for t in transforms::table() {
        let OnBenign::RefusedForm(why) = t.on_benign else {
            continue;
        };
        for case in &benign {
            runs += 1;
            let v = evaluate(&engine, &t, case);
            if !v.is_block() {
                failures.push(format!(
                    "benign {:?} under {:?} ({why}): want it refused, got {}",
                    case.name,
                    t.name,
                    describe(&v)
                ));
            }
        }
    }
    report("refused forms", (runs, failures));
}

#[test]
fn multilingual_attacks_are_blocked_plain_and_transformed() {
    let engine = Engine::default_pack().unwrap();
    let table: Vec<Transform> = transforms::table()
        .into_iter()
        .filter(Transform::script_neutral)
        .collect();
    let (attacks, _) = transforms::multilingual();
    report(
        "multilingual attacks",
        attack_failures(&engine, &table, &attacks),
    );
}

#[test]
fn multilingual_benign_text_passes_the_rules_plain_and_transformed() {
    let table: Vec<Transform> = transforms::table()
        .into_iter()
        .filter(Transform::script_neutral)
        .collect();
    let (_, benign) = transforms::multilingual();
    report(
        "multilingual benign (rules and detectors)",
        benign_failures(&rules_and_detectors(), &table, &benign),
    );
}

#[test]
fn multilingual_benign_text_passes_the_whole_pack_plain() {
    let table: Vec<Transform> = transforms::table()
        .into_iter()
        .filter(|t| t.name == "plain")
        .collect();
    let (_, benign) = transforms::multilingual();
    report(
        "multilingual benign (whole pack, plain)",
        benign_failures(&Engine::default_pack().unwrap(), &table, &benign),
    );
}

#[test]
fn the_matrix_covers_what_the_issue_lists() {
    let table = transforms::table();
    let names: Vec<&str> = table.iter().map(|t| t.name).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "transform names are unique");
    assert!(table.len() >= 90, "only {} transforms", table.len());
    let attacks = transforms::attacks();
    let benign = transforms::benign();
    assert!(
        (12..=20).contains(&attacks.len()),
        "{} attacks",
        attacks.len()
    );
    assert!((15..=25).contains(&benign.len()), "{} benign", benign.len());
    let (ml_attacks, ml_benign) = transforms::multilingual();
    for lang in ["en", "zh", "hi", "es", "fr", "ar", "bn", "pt", "ru", "ur"] {
        for kind in ["override", "roleplay", "extraction"] {
            assert!(
                ml_attacks
                    .iter()
                    .any(|c| c.name.starts_with(&format!("{lang}/{kind}/"))),
                "no {kind} attack in {lang}"
            );
        }
        assert!(
            ml_benign
                .iter()
                .filter(|c| c.name.starts_with(&format!("{lang}/")))
                .count()
                >= 4,
            "fewer than 4 benign texts in {lang}"
        );
    }
}
