//! Engine benchmark: evaluate OpenAI chat requests of 4 KiB and 64 KiB with the
//! default pack, natively. The floors: 4 KiB <= 50 us; 64 KiB <= 20x that.
//!
//! Bodies are benign (the common case, where every rule must be tried and none
//! fires) and built from ordinary English, a little code and some non-Latin
//! text, so the normalizer's slow paths are exercised too.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use inference_firewall::{Engine, Request};
use std::hint::black_box;

const PROSE: &str = "Could you help me plan a three-day trip to Lisbon in spring? I like museums, \
long walks by the river and small restaurants. My budget is moderate, and I would rather take \
trams than taxis. Please suggest a day-by-day outline with a few alternatives for rainy days. ";
const CODE: &str = "def mean(xs: list[float]) -> float:\n    \"\"\"Return the arithmetic mean.\"\"\"\n    return sum(xs) / len(xs)\n";
const MIXED: &str =
    "Объясните, пожалуйста, разницу между двумя подходами. 请简要说明这两种方法的区别。 ";

/// A chat request with a system message and alternating turns, padded to `size` bytes.
fn chat_body(size: usize, mix: bool) -> Vec<u8> {
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a helpful travel assistant."}),
    ];
    let mut len = 200;
    let mut turn = 0;
    while len < size {
        let mut text = String::new();
        while text.len() < 900 {
            text.push_str(PROSE);
            if mix && turn % 3 == 1 {
                text.push_str(CODE);
            }
            if mix && turn % 3 == 2 {
                text.push_str(MIXED);
            }
        }
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        len += text.len() + 40;
        messages.push(serde_json::json!({"role": role, "content": text}));
        turn += 1;
    }
    // Trim the last message so the body is exactly `size` bytes (or just under,
    // when a multi-byte character straddles the edge).
    loop {
        let body = serde_json::json!({"model": "bench", "messages": messages}).to_string();
        let over = body.len().saturating_sub(size);
        let last = messages
            .last_mut()
            .and_then(|m| m.get_mut("content"))
            .and_then(|c| c.as_str().map(str::to_owned).zip(Some(c)));
        match (over, last) {
            (0, _) | (_, None) => return body.into_bytes(),
            (over, Some((text, slot))) => {
                let keep = text.chars().count().saturating_sub(over.max(1));
                *slot = serde_json::Value::String(text.chars().take(keep).collect());
            }
        }
    }
}

/// A conversation of many short turns, as `scripts/bench-proxy.sh` sends:
/// per byte it costs more than a few long turns (every segment is
/// normalized and scored on its own).
fn short_turns_body(size: usize) -> Vec<u8> {
    const TURNS: [(&str, &str); 6] = [
        ("user", "Could you suggest a three-day walking itinerary for Lisbon, with a cafe for each morning?"),
        ("assistant", "Day one: Alfama and the castle, then a tram ride to Baixa. Day two: Belem, the monastery and the riverside. Day three: Chiado, Bairro Alto and a sunset viewpoint."),
        ("user", "How should I store fresh basil so that it lasts for a week in a small kitchen?"),
        ("assistant", "Trim the stems, stand them in a glass of water like flowers, keep the glass on the counter away from direct sun, and change the water every other day."),
        ("user", "Summarize the water cycle for a ten-year-old in a short paragraph with simple words."),
        ("assistant", "Water warms up in the sun and rises as vapour, cools into clouds, falls back as rain or snow, and flows through rivers to the sea, where it starts again."),
    ];
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a helpful assistant for travel, cooking and science questions."}),
    ];
    let mut i = 0;
    loop {
        let (role, text) = TURNS[i % TURNS.len()];
        messages.push(serde_json::json!({"role": role, "content": format!("{text} (note {i})")}));
        let body = serde_json::json!({"model": "bench", "messages": messages}).to_string();
        if body.len() > size {
            messages.pop();
            return serde_json::json!({"model": "bench", "messages": messages})
                .to_string()
                .into_bytes();
        }
        i += 1;
    }
}

/// One user message of the pack's `no_match` examples, repeated up to `size` bytes.
fn near_miss_body(size: usize) -> Vec<u8> {
    let pack: serde_json::Value =
        serde_json::from_str(include_str!("../filters/default.json")).expect("pack is JSON");
    let examples: Vec<&str> = pack["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["examples"]["no_match"].as_array().into_iter().flatten())
        .filter_map(|e| e.as_str())
        .collect();
    let mut text = String::new();
    for e in examples.iter().cycle().take(100_000) {
        if text.len() + e.len() + 80 > size {
            break;
        }
        text.push_str(e);
        text.push_str(". ");
    }
    serde_json::json!({"model": "bench", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

fn bench(c: &mut Criterion) {
    let engine = Engine::default_pack().expect("default pack compiles");
    let mut group = c.benchmark_group("evaluate");
    for (name, size, mix) in [
        ("4KiB-english", 4096, false),
        ("4KiB-mixed", 4096, true),
        ("64KiB-mixed", 65536, true),
    ] {
        let body = chat_body(size, mix);
        let req = Request::post("/v1/chat/completions", "application/json", &body);
        assert!(
            engine.evaluate(&req).is_allow(),
            "benchmark body must be benign: {}",
            engine.evaluate(&req)
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &req, |b, req| {
            b.iter(|| black_box(engine.evaluate(black_box(req))))
        });
    }
    let body = short_turns_body(4096);
    let req = Request::post("/v1/chat/completions", "application/json", &body);
    assert!(
        engine.evaluate(&req).is_allow(),
        "short turns must be benign"
    );
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_with_input(
        BenchmarkId::from_parameter("4KiB-short-turns"),
        &req,
        |b, req| b.iter(|| black_box(engine.evaluate(black_box(req)))),
    );
    // The worst case we know for the matcher: text made only of the rules'
    // own near misses (every `no_match` example of the pack), so that nearly
    // every rule's literals appear and its regex must run. Whatever the block
    // decision, the time must stay linear in the size.
    for (name, size) in [("4KiB-near-misses", 4096), ("64KiB-near-misses", 65536)] {
        let body = near_miss_body(size);
        let req = Request::post("/v1/chat/completions", "application/json", &body);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &req, |b, req| {
            b.iter(|| black_box(engine.evaluate(black_box(req))))
        });
    }
    group.finish();
    c.bench_function("compile-default-pack", |b| {
        b.iter(|| black_box(Engine::default_pack().expect("compiles")))
    });
}

/// The compact classifier alone on one 4 KiB segment: features (with the
/// language model) and the hashed logistic regression, on a view normalized
/// beforehand. The floor: <= 30 us.
fn bench_model(c: &mut Criterion) {
    use inference_firewall::anomaly::{default_model, Features};
    let Ok(model) = default_model() else {
        return; // no trained model embedded yet
    };
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4096 {
        text.push_str([PROSE, CODE, MIXED][i % 3]);
        i += 1;
    }
    let limits = inference_firewall::limits::Limits::default();
    let n = inference_firewall::normalize::normalize(&text, &limits);
    let mut group = c.benchmark_group("classifier");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("4KiB-segment", |b| {
        b.iter(|| {
            let f = Features::compute(
                black_box(&text),
                black_box(&n.view),
                &n.findings,
                Some(model.lm()),
            );
            black_box(model.probability(&n.view, &f))
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_model);
criterion_main!(benches);
