//! Evaluates one benchmark body many times, for `perf record`, and prints
//! wall and CPU time per request (CPU time is steadier on a busy machine).
//! `cargo run --release --example evalloop -- english|mixed|big|short|near|near64|compile|model|model-mixed|BODY.json N`
//!
//! `INFW_PACK=PACK.json` evaluates with that pack instead of the default one
//! (a rules-only copy shows the share of the rules, without the classifier).
//!
//! `INFW_EVICT=BYTES` writes that many bytes of another buffer before each
//! evaluation and times the evaluations alone: a proxy worker handles other
//! connections between two requests and the engine's tables are no longer in
//! the cache. Envoy's per-request figure sits nearer this than a hot loop.
//!
//! `INFW_CACHE=1` evaluates with a segment cache, as the plugin does, on a
//! conversation whose last turn is new in every request (the history is
//! resent): what a chat client's traffic costs.
use inference_firewall::{Engine, Policy, Request};
use std::hint::black_box;

#[path = "../benches/bodies/mod.rs"]
mod bodies;
use bodies::{chat_body, near_miss_body, short_turns_body, CODE, MIXED, PROSE};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let case = args.get(1).map_or("english", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    if case == "compile" {
        return compile_loop(n);
    }
    let engine = match std::env::var("INFW_PACK") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).expect("a readable pack");
            Engine::new(Policy::from_json(&text, &path).expect("the pack compiles"))
        }
        Err(_) => Engine::default_pack().expect("default pack compiles"),
    };
    let body = match case {
        "mixed" => chat_body(4096, true),
        "big" => chat_body(65536, true),
        "short" => short_turns_body(4096),
        "near" => near_miss_body(4096),
        "near64" => near_miss_body(65536),
        path if path.ends_with(".json") => std::fs::read(path).expect("a readable body file"),
        _ => chat_body(4096, false),
    };
    let req = Request::post("/v1/chat/completions", "application/json", &body);
    if case.starts_with("model") {
        return model_loop(case, n);
    }
    if std::env::var("INFW_CACHE").is_ok_and(|v| v == "1") {
        // (INFW_EVICT applies here too.)
        return conversation_loop(case, &engine, &body, n);
    }
    if let Some(bytes) = std::env::var("INFW_EVICT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return cold_loop(case, &engine, &req, n, bytes);
    }
    let cpu0 = cpu_ticks();
    let t = std::time::Instant::now();
    for _ in 0..n {
        black_box(engine.evaluate(black_box(&req)));
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    let cpu = (cpu_ticks() - cpu0) as f64 / 100.0 / n as f64;
    eprintln!(
        "{case}: {} bytes, {:.1} us wall, {:.1} us cpu per request",
        body.len(),
        per * 1e6,
        cpu * 1e6
    );
}

/// Evaluates `n` times with `evict` bytes written between evaluations;
/// prints the median and the mean of the evaluations alone.
fn cold_loop(case: &str, engine: &Engine, req: &Request<'_>, n: usize, evict: usize) {
    let t = timed(n, evict, |_| {
        let t = std::time::Instant::now();
        black_box(engine.evaluate(black_box(req)));
        t.elapsed().as_secs_f64()
    });
    eprintln!(
        "{case}: cold ({evict} bytes written between requests): {:.1} us median, {:.1} us mean per request",
        t.quantile(0.5),
        t.mean
    );
}

/// Evaluates `n` requests through a segment cache, each `body` with a
/// different last turn (a counter appended to the last string of the body);
/// prints the median and mean of the evaluations alone.
fn conversation_loop(case: &str, engine: &Engine, body: &[u8], n: usize) {
    use inference_firewall::cache::SegmentCache;
    let mut cache = SegmentCache::new(4 << 20);
    let scope = cache.scope(b"Bearer sk-bench");
    // The last message's text ends where the body's last `"}` begins.
    let cut = body
        .windows(2)
        .rposition(|w| w == b"\"}")
        .expect("a body whose last message is a JSON object ending in a string");
    let evict: usize = std::env::var("INFW_EVICT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let t = timed(n, evict, |i| {
        let mut b = body[..cut].to_vec();
        b.extend_from_slice(format!(" (request {i})").as_bytes());
        b.extend_from_slice(&body[cut..]);
        let req = Request::post("/v1/chat/completions", "application/json", &b);
        let t = std::time::Instant::now();
        black_box(engine.evaluate_cached(black_box(&req), &mut cache, Some(scope)));
        t.elapsed().as_secs_f64()
    });
    let s = cache.stats();
    eprintln!(
        "{case}: conversation (last turn new, history cached): {:.1} us median, {:.1} us mean per request (p90 {:.1}, p99 {:.1}); {} segment hits, {} misses",
        t.quantile(0.5),
        t.mean,
        t.quantile(0.9),
        t.quantile(0.99),
        s.hits,
        s.misses
    );
}

/// Times of `n` runs, in microseconds.
struct Timings {
    sorted: Vec<f64>,
    mean: f64,
}

impl Timings {
    fn quantile(&self, q: f64) -> f64 {
        let i = ((self.sorted.len() as f64 * q) as usize).min(self.sorted.len().saturating_sub(1));
        self.sorted.get(i).copied().unwrap_or(0.0)
    }
}

/// Runs `run(i)` `n` times, writing `evict` bytes of another buffer (one
/// byte per cache line, a different value each round) before each; `run`
/// returns the seconds it timed itself.
fn timed(n: usize, evict: usize, mut run: impl FnMut(usize) -> f64) -> Timings {
    let mut other = vec![0u8; evict];
    let mut sorted = Vec::with_capacity(n);
    for i in 0..n {
        for b in other.iter_mut().step_by(64) {
            *b = b.wrapping_add(i as u8 | 1);
        }
        black_box(&other);
        sorted.push(run(i) * 1e6);
    }
    let mean = sorted.iter().sum::<f64>() / n.max(1) as f64;
    sorted.sort_by(f64::total_cmp);
    Timings { sorted, mean }
}

/// Compiles the default pack `n` times.
fn compile_loop(n: usize) {
    let cpu0 = cpu_ticks();
    for _ in 0..n {
        black_box(Engine::default_pack().expect("default pack compiles"));
    }
    let cpu = (cpu_ticks() - cpu0) as f64 / 100.0 / n as f64;
    eprintln!("compile: {:.2} ms cpu per pack", cpu * 1e3);
}

/// User plus system CPU time of this process in clock ticks (1/100 s), from
/// /proc: on a shared machine CPU time is steadier than wall time.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// The classifier alone (features, language model, hashed n-grams) on one
/// 4 KiB segment: `model` English prose, `model-mixed` with code and non-Latin text.
fn model_loop(case: &str, n: usize) {
    use inference_firewall::anomaly::{default_model, Features};
    let model = default_model().expect("embedded model parses");
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4096 {
        let part = if case == "model-mixed" {
            [PROSE, CODE, MIXED][i % 3]
        } else {
            PROSE
        };
        text.push_str(part);
        i += 1;
    }
    let limits = inference_firewall::limits::Limits::default();
    let norm = inference_firewall::normalize::normalize(&text, &limits);
    let cpu0 = cpu_ticks();
    let mut sum = 0f32;
    for _ in 0..n {
        sum += model.score(black_box(&norm.view), &norm.findings).0;
    }
    let cpu = (cpu_ticks() - cpu0) as f64 / 100.0 / n as f64;
    eprintln!(
        "{case}: {} bytes, {:.1} us cpu per segment (p={:.3})",
        text.len(),
        cpu * 1e6,
        sum / n as f32
    );
    let part = |name: &str, f: &dyn Fn() -> f32| {
        let c0 = cpu_ticks();
        let mut acc = 0f32;
        for _ in 0..n {
            acc += f();
        }
        let cpu = (cpu_ticks() - c0) as f64 / 100.0 / n as f64;
        eprintln!("  {name}: {:.1} us ({acc})", cpu * 1e6);
    };
    part("features without lm", &|| {
        Features::compute(black_box(&norm.view), &norm.findings, None).values[1]
    });
    part("lm perplexity", &|| {
        model.lm().perplexity(black_box(&norm.view)).mean
    });
    part("hashed n-grams", &|| {
        inference_firewall::anomaly::model::hashed(black_box(&norm.view), |i| {
            black_box(i);
        }) as f32
    });
}
