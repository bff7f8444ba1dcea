//! The evasion matrix through the real Envoy (see `tests/evasion.rs` for the
//! native run): every attack under every transform must be answered 403 (or
//! the refusal its transform names) without reaching the upstream; every
//! benign prompt under every transform that applies must reach the upstream
//! byte for byte. Run with `make e2e` (it sets `INFW_ENVOY` and `INFW_WASM`).
//!
//! Two Envoys: the default pack for the attacks, and the default pack's rules
//! and detectors (without its classifier and anomaly features, whose known
//! false positives on benign text in unusual forms are listed in the README)
//! for the benign prompts. Requests go over one kept-alive HTTP/1.1
//! connection per Envoy; a slice of the attacks also goes over h2c and as a
//! chunked body.

#[path = "evasion/transforms.rs"]
mod transforms;

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use support::{curl_post, unique, RawRequest, Stack};
use transforms::{Body, Case, OnAttack, OnBenign, Transform};

/// The embedded default pack.
fn whole_pack() -> &'static Stack {
    static S: OnceLock<Stack> = OnceLock::new();
    S.get_or_init(|| Stack::start("evasion-whole-pack", ""))
}

/// The default pack without its classifier and anomaly features.
fn rules_only() -> &'static Stack {
    static S: OnceLock<Stack> = OnceLock::new();
    S.get_or_init(|| {
        let mut pack: serde_json::Value =
            serde_json::from_str(inference_firewall::default_pack_json()).unwrap();
        let obj = pack.as_object_mut().unwrap();
        obj.remove("classifier");
        obj.remove("anomaly");
        let config = serde_json::json!({ "rules": pack }).to_string();
        Stack::start("evasion-rules-only", &config)
    })
}

/// What a client got: status and the `code` of a block's body, if any.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// One kept-alive HTTP/1.1 connection to an Envoy; reconnects when Envoy
/// closes it.
struct Client {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    fn new(port: u16) -> Client {
        Client { port, conn: None }
    }

    fn post(&mut self, body: &Body, id: &str) -> Answer {
        for _ in 0..3 {
            if let Some(a) = self.try_post(body, id) {
                return a;
            }
            self.conn = None;
        }
        panic!("no answer from Envoy for {} ({id})", body.path);
    }

    fn try_post(&mut self, body: &Body, id: &str) -> Option<Answer> {
        if self.conn.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
            s.set_nodelay(true).ok()?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut()?;
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nx-test-id: {id}\r\ncontent-length: {}\r\n\r\n",
            body.path,
            body.bytes.len()
        );
        let s = conn.get_mut();
        s.write_all(head.as_bytes()).ok()?;
        s.write_all(&body.bytes).ok()?;
        s.flush().ok()?;
        let mut line = String::new();
        if conn.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let (mut len, mut close) = (0usize, false);
        loop {
            let mut h = String::new();
            if conn.read_line(&mut h).ok()? == 0 {
                return None;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':')?;
            match n.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok()?,
                "connection" => close = v.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut out = vec![0; len];
        conn.read_exact(&mut out).ok()?;
        if close {
            self.conn = None;
        }
        Some(Answer { status, body: out })
    }
}

/// The block's code in the API's own error shape: OpenAI `/error/code`, MCP
/// `/error/data/code`; Anthropic and Gemini bodies name none (`None`).
fn code_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    ["/error/code", "/error/data/code"]
        .iter()
        .find_map(|p| v.pointer(p).and_then(|c| c.as_str()))
        .map(str::to_string)
}

fn attack_ok(a: &Answer, expect: OnAttack) -> bool {
    let (status, code) = match expect {
        OnAttack::Blocked => (403, "anomaly_score_exceeded"),
        OnAttack::Refused { status, code } => (status, code),
    };
    a.status == status && code_of(&a.body).map_or(true, |c| c == code)
}

fn run_attacks(stack: &Stack, table: &[Transform], cases: &[Case]) -> (usize, Vec<String>) {
    let mut client = Client::new(stack.envoy.port);
    let (mut runs, mut failures) = (0, Vec::new());
    for t in table {
        for case in cases {
            runs += 1;
            let id = unique("evasion-attack");
            let a = client.post(&t.body(&case.text), &id);
            if !attack_ok(&a, t.on_attack) {
                failures.push(format!(
                    "attack {:?} under {:?}: want {:?}, got {} {}",
                    case.name,
                    t.name,
                    t.on_attack,
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            } else if stack.upstream.saw_headers_with("x-test-id", &id) {
                failures.push(format!(
                    "attack {:?} under {:?} reached the upstream",
                    case.name, t.name
                ));
            }
        }
    }
    (runs, failures)
}

fn run_benign(stack: &Stack, table: &[Transform], cases: &[Case]) -> (usize, Vec<String>) {
    let mut client = Client::new(stack.envoy.port);
    let (mut runs, mut failures) = (0, Vec::new());
    for t in table.iter().filter(|t| t.on_benign == OnBenign::Passes) {
        for case in cases {
            runs += 1;
            let id = unique("evasion-benign");
            let body = t.body(&case.text);
            let a = client.post(&body, &id);
            if a.status != 200 {
                failures.push(format!(
                    "benign {:?} under {:?}: want 200, got {} {}",
                    case.name,
                    t.name,
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
                continue;
            }
            let got = stack.upstream.the_request_with("x-test-id", &id);
            if got.body != body.bytes {
                failures.push(format!(
                    "benign {:?} under {:?}: the upstream got other bytes",
                    case.name, t.name
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
    eprintln!("{what}: {runs} of {runs} as expected through Envoy");
}

fn neutral() -> Vec<Transform> {
    transforms::table()
        .into_iter()
        .filter(Transform::script_neutral)
        .collect()
}

#[test]
#[ignore = "needs the real Envoy and the release wasm: run make e2e"]
fn every_attack_is_refused_by_envoy_under_every_transform() {
    report(
        "attacks",
        run_attacks(whole_pack(), &transforms::table(), &transforms::attacks()),
    );
}

#[test]
#[ignore = "needs the real Envoy and the release wasm: run make e2e"]
fn every_multilingual_attack_is_refused_by_envoy() {
    let (attacks, _) = transforms::multilingual();
    report(
        "multilingual attacks",
        run_attacks(whole_pack(), &neutral(), &attacks),
    );
}

#[test]
#[ignore = "needs the real Envoy and the release wasm: run make e2e"]
fn every_benign_prompt_reaches_the_upstream_unchanged_under_every_transform() {
    report(
        "benign (rules and detectors)",
        run_benign(rules_only(), &transforms::table(), &transforms::benign()),
    );
}

#[test]
#[ignore = "needs the real Envoy and the release wasm: run make e2e"]
fn every_multilingual_benign_text_reaches_the_upstream_unchanged() {
    let (_, benign) = transforms::multilingual();
    report(
        "multilingual benign (rules and detectors)",
        run_benign(rules_only(), &neutral(), &benign),
    );
}

/// Transformed attacks over HTTP/2 (h2c) and as a chunked HTTP/1.1 body
/// split inside the payload.
#[test]
#[ignore = "needs the real Envoy and the release wasm: run make e2e"]
fn transformed_attacks_are_refused_over_h2c_and_chunked() {
    let s = whole_pack();
    let picked = [
        "homoglyphs_mixed_scripts",
        "zero_width_mixed",
        "base64_nested_twice",
        "morse",
        "json_unicode_escapes",
        "tool_result",
    ];
    let table: Vec<Transform> = transforms::table()
        .into_iter()
        .filter(|t| picked.contains(&t.name))
        .collect();
    assert_eq!(table.len(), picked.len());
    let mut runs = 0;
    let mut failures = Vec::new();
    for t in &table {
        for case in transforms::attacks() {
            let body = t.body(&case.text);
            let id = unique("evasion-h2");
            runs += 2;
            let reply = curl_post(
                &s.envoy.url(body.path),
                &[("content-type", "application/json"), ("x-test-id", &id)],
                &body.bytes,
                &["--http2-prior-knowledge"],
            );
            if reply.status != 403 || reply.http_version != "2" {
                failures.push(format!(
                    "h2c: attack {:?} under {:?}: got {} over HTTP/{}",
                    case.name, t.name, reply.status, reply.http_version
                ));
            }
            let id = unique("evasion-chunked");
            let mut req = RawRequest::start(
                s.envoy.port,
                body.path,
                &[("content-type", "application/json"), ("x-test-id", &id)],
            );
            for piece in body.bytes.chunks(body.bytes.len() / 3 + 1) {
                req.chunk(piece);
            }
            let reply = req.finish();
            if reply.status != 403 {
                failures.push(format!(
                    "chunked: attack {:?} under {:?}: got {}",
                    case.name, t.name, reply.status
                ));
            }
            if s.upstream.saw_headers_with("x-test-id", &id) {
                failures.push(format!(
                    "chunked: attack {:?} under {:?} reached the upstream",
                    case.name, t.name
                ));
            }
        }
    }
    report("attacks over h2c and chunked", (runs, failures));
}
