//! Any request the proxy can hand over -- path, content type, content
//! encoding, body bytes -- evaluated by the default pack: never a panic.
#![no_main]

use inference_firewall::{Engine, Request};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PATHS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/messages",
    "/v1beta/models/g:generateContent",
    "/mcp",
    "/v1/fine_tuning/jobs",
    "/anything",
];
const TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-16",
    "application/jsonl",
    "text/plain",
    "application/x-ndjson",
    "",
];
const CODINGS: &[&str] = &[
    "",
    "gzip",
    "deflate",
    "zstd",
    "br",
    "gzip, zstd",
    "identity",
];

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::default_pack().expect("the default pack compiles"))
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(3));
    let pick = |i: usize, table: &[&'static str]| -> &'static str {
        let n = head.get(i).copied().unwrap_or(0) as usize;
        table[n % table.len()]
    };
    let coding = pick(2, CODINGS);
    let req = Request {
        method: "POST",
        path: pick(0, PATHS),
        content_type: Some(pick(1, TYPES)).filter(|t| !t.is_empty()),
        content_encoding: Some(coding).filter(|c| !c.is_empty()),
        body,
    };
    let _ = engine().evaluate(&req);
});
