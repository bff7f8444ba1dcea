//! Table-driven engine cases: `tests/data/cases/*.json`, one request each
//! with the decision the default pack must reach, run natively against the
//! same engine the plugin embeds.

use inference_firewall::{Action, Engine, Request};
use serde_json::Value;
use std::path::Path;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_case_reaches_its_expected_decision() {
    let engine = Engine::default_pack().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases");
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in cases {
            count += 1;
            let name = format!(
                "{}: {}",
                path.file_name().unwrap().to_string_lossy(),
                case["name"].as_str().unwrap()
            );
            let body: Vec<u8> = if let Some(b) = case.get("body") {
                b.to_string().into_bytes()
            } else if let Some(t) = case.get("body_text") {
                t.as_str().unwrap().as_bytes().to_vec()
            } else {
                hex(case["body_hex"].as_str().unwrap())
            };
            let req = Request {
                method: case.get("method").and_then(Value::as_str).unwrap_or("POST"),
                path: case["path"].as_str().unwrap(),
                content_type: Some(
                    case.get("content_type")
                        .and_then(Value::as_str)
                        .unwrap_or("application/json"),
                ),
                content_encoding: case.get("content_encoding").and_then(Value::as_str),
                body: &body,
            };
            let v = engine.evaluate(&req);
            let mut check = |ok: bool, what: String| {
                if !ok {
                    failures.push(format!("{name}: {what}; got {v}, hits {:?}", v.hits));
                }
            };
            if let Some(not) = case.get("expect_not").and_then(Value::as_str) {
                check(
                    v.action.name() != not,
                    format!("decision must not be {not}"),
                );
            }
            let Some(e) = case.get("expect") else {
                continue;
            };
            if let Some(d) = e.get("decision").and_then(Value::as_str) {
                check(v.action.name() == d, format!("decision {d}"));
            }
            if let Some(s) = e.get("status").and_then(Value::as_u64) {
                check(
                    matches!(v.action, Action::Block { status, .. } if u64::from(status) == s),
                    format!("status {s}"),
                );
            }
            if let Some(c) = e.get("code").and_then(Value::as_str) {
                check(
                    matches!(v.action, Action::Block { code, .. } if code == c),
                    format!("code {c}"),
                );
            }
            if let Some(rules) = e.get("rules").and_then(Value::as_array) {
                for r in rules {
                    let r = r.as_str().unwrap();
                    check(
                        v.hits.iter().any(|h| h.rule_id == r),
                        format!("rule {r} fires"),
                    );
                }
            }
            if let Some(p) = e.get("pointer").and_then(Value::as_str) {
                check(
                    v.hits.iter().any(|h| h.pointer == p),
                    format!("a hit at {p}"),
                );
            }
            if let Some(role) = e.get("role").and_then(Value::as_str) {
                check(
                    v.hits.iter().any(|h| h.role.as_str() == role),
                    format!("a hit in role {role}"),
                );
            }
            if let Some(max) = e.get("max_score").and_then(Value::as_u64) {
                check(u64::from(v.score) <= max, format!("score at most {max}"));
            }
        }
    }
    assert!(count >= 20, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
