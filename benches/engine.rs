//! Engine benchmark: evaluate OpenAI chat requests of 4 KiB and 64 KiB with the
//! default pack, natively. The floors: 4 KiB <= 50 us; 64 KiB <= 20x that.
//!
//! Bodies are benign (the common case, where every rule must be tried and none
//! fires) and built from ordinary English, a little code and some non-Latin
//! text, so the normalizer's slow paths are exercised too.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use inference_firewall::{Engine, Request};
use std::hint::black_box;

#[path = "bodies/mod.rs"]
mod bodies;
use bodies::{chat_body, near_miss_body, short_turns_body, CODE, MIXED, PROSE};

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
    use inference_firewall::anomaly::default_model;
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
        b.iter(|| black_box(model.score(black_box(&n.view), &n.findings).0))
    });
    group.finish();
}

criterion_group!(benches, bench, bench_model);
criterion_main!(benches);
