//! The proxy-wasm adapter: the only module that names `proxy-wasm`. Compiled
//! only for `wasm32-wasip1`, loaded by Envoy (`envoy/envoy.yaml`; on Istio
//! `envoy/istio-envoyfilter.yaml`) as an HTTP filter.
//!
//! Input: Envoy's callbacks for one request (headers, body chunks, trailers).
//! Output: the request forwarded unchanged, forwarded with `x-firewall-*`
//! headers, or answered locally with the error [`respond`] builds.
//!
//! Invariants:
//! - The policy is compiled once per root context, in `on_configure`; a bad
//!   configuration is logged in one line and refused, so Envoy rejects it.
//! - An in-scope request is held, headers included, until the whole body has
//!   been seen (end of stream, or trailers): nothing reaches the upstream
//!   before the decision.
//!   This needs `allow_on_headers_stop_iteration: true` on the Wasm
//!   `PluginConfig`; without it Envoy never hands over the body, and the
//!   request is answered 408 after [`BODY_WAIT`] instead of hanging.
//! - Client-supplied `x-firewall-*` headers never reach the upstream.
//! - A request that cannot be inspected is refused (500 `inspection_failed`;
//!   monitor mode forwards it and records the refusal it would have made).
//! - No prompt text is logged: the decision line holds rule ids, categories
//!   and JSON pointers.
//!
//! Host calls go through `proxy_wasm::hostcalls`, whose results are handled,
//! rather than the trait helpers, which unwrap.

use crate::cache::SegmentCache;
use crate::engine::Engine;
use crate::payload::{self, PayloadError};
use crate::policy::Mode;
use crate::request::Request;
use crate::respond::{self, Blocked, Decision};
use crate::score;
use crate::verdict::{Action, Verdict};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action as Flow, BufferType, ContextType, LogLevel, MapType, MetricType};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    // Replaces the SDK's hook: same destination (the proxy log), but says whose panic it is.
    std::panic::set_hook(Box::new(|info| {
        let _ = hostcalls::log(LogLevel::Critical, &format!("inference-firewall: panic: {info}"));
    }));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Prefix of every metric; Envoy files them under `wasmcustom.` and its
/// Prometheus endpoint drops that namespace.
const METRIC_PREFIX: &str = "inference_firewall_";

/// Most lazily defined metrics (per code, category, rule id) kept per VM.
const MAX_LAZY_METRICS: usize = 8192;

/// Metric ids of one VM. Tagged metrics are named `<name>.<tag>.<value>`;
/// `envoy/*.yaml` holds the `stats_tags` that turn the suffix into a label.
struct Metrics {
    decisions: [Option<u32>; 4],
    out_of_scope: Option<u32>,
    score: Option<u32>,
    eval_us: Option<u32>,
    /// Segments found in the segment cache, and inspected in full.
    segments_cached: Option<u32>,
    segments_inspected: Option<u32>,
    lazy: RefCell<HashMap<String, Option<u32>>>,
}

impl Metrics {
    fn define() -> Metrics {
        let d = |d: Decision| {
            define(
                MetricType::Counter,
                &tagged("requests_total", "decision", d.as_str()),
            )
        };
        Metrics {
            decisions: Decision::ALL.map(d),
            out_of_scope: define(
                MetricType::Counter,
                &format!("{METRIC_PREFIX}out_of_scope_total"),
            ),
            score: define(MetricType::Histogram, &format!("{METRIC_PREFIX}score")),
            eval_us: define(MetricType::Histogram, &format!("{METRIC_PREFIX}eval_us")),
            segments_cached: define(
                MetricType::Counter,
                &format!("{METRIC_PREFIX}segments_cached_total"),
            ),
            segments_inspected: define(
                MetricType::Counter,
                &format!("{METRIC_PREFIX}segments_inspected_total"),
            ),
            lazy: RefCell::new(HashMap::new()),
        }
    }

    fn inc(id: Option<u32>) {
        Metrics::add(id, 1);
    }

    fn add(id: Option<u32>, n: u64) {
        if let (Some(id), Ok(n @ 1..)) = (id, i64::try_from(n)) {
            let _ = hostcalls::increment_metric(id, n);
        }
    }

    fn record(id: Option<u32>, value: u64) {
        if let Some(id) = id {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    /// Increments `<name>.<tag>.<value>`, defining it on first use.
    fn inc_tagged(&self, name: &str, tag: &str, value: &str) {
        let full = tagged(name, tag, value);
        let Ok(mut lazy) = self.lazy.try_borrow_mut() else {
            return;
        };
        let id = match lazy.get(&full) {
            Some(id) => *id,
            None if lazy.len() >= MAX_LAZY_METRICS => None,
            None => {
                let id = define(MetricType::Counter, &full);
                lazy.insert(full, id);
                id
            }
        };
        Metrics::inc(id);
    }

    fn count(&self, v: &Verdict, decision: Decision, eval_us: Option<u64>) {
        let i = Decision::ALL
            .iter()
            .position(|d| *d == decision)
            .unwrap_or(0);
        Metrics::inc(self.decisions.get(i).copied().flatten());
        Metrics::record(self.score, u64::from(v.score));
        if let Some(us) = eval_us {
            Metrics::record(self.eval_us, us);
        }
        if let Action::Block { code, .. } = &v.would {
            self.inc_tagged("block_reasons_total", "code", code);
        }
        for c in v.categories() {
            self.inc_tagged("category_hits_total", "category", c);
        }
        for h in &v.hits {
            self.inc_tagged("rule_hits_total", "rule_id", &h.rule_id);
        }
    }
}

fn tagged(name: &str, tag: &str, value: &str) -> String {
    // A '.' would start a new stat-name element; keep values to one element.
    let value: String = value
        .chars()
        .map(|c| {
            if c == '.' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("{METRIC_PREFIX}{name}.{tag}.{value}")
}

fn define(kind: MetricType, name: &str) -> Option<u32> {
    match hostcalls::define_metric(kind, name) {
        Ok(id) => Some(id),
        Err(e) => {
            log(
                LogLevel::Warn,
                &format!("inference-firewall: cannot define metric {name}: {e:?}"),
            );
            None
        }
    }
}

/// What the root context shares with each request.
struct Shared {
    engine: Engine,
    /// What recent requests' segments were found to be, per client.
    cache: RefCell<SegmentCache>,
    metrics: Metrics,
    next_id: Cell<u64>,
    /// Requests held at their headers that have not had a body callback yet:
    /// context id -> (when, path, request id). See [`Root::on_tick`].
    pending: RefCell<HashMap<u32, Pending>>,
    stall_reported: Cell<bool>,
}

struct Pending {
    since: SystemTime,
    path: String,
    request_id: String,
}

/// How long a request may wait for its first body bytes after its headers.
///
/// Envoy delivers body chunks to a filter that paused at the headers only when
/// the Wasm `PluginConfig` sets `allow_on_headers_stop_iteration: true`
/// (Envoy >= 1.35). Without it the request would hang until Envoy's own
/// timeouts; the tick answers 408 instead and logs why, once.
const BODY_WAIT: Duration = Duration::from_secs(15);
const TICK: Duration = Duration::from_secs(1);

impl Shared {
    /// A request id when Envoy gave none: time and a per-VM counter.
    fn fallback_request_id(&self) -> String {
        let n = self.next_id.get().wrapping_add(1);
        self.next_id.set(n);
        let nanos = now()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("infw-{nanos:x}-{n}")
    }
}

#[derive(Default)]
struct Root {
    shared: Option<Rc<Shared>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        // Follow Envoy's level for the `wasm` component (`--component-log-level wasm:debug`).
        if let Ok(level) = hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        true
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let config = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX) {
            Ok(c) => c.unwrap_or_default(),
            Err(e) => {
                log(
                    LogLevel::Error,
                    &format!("inference-firewall: cannot read the plugin configuration: {e:?}"),
                );
                return false;
            }
        };
        match Engine::from_plugin_config(&config) {
            Ok(engine) => {
                let p = engine.policy();
                log(
                    LogLevel::Info,
                    &format!(
                        "inference-firewall: policy {:?} loaded: {} rules, mode {}, paranoia {}, flag_at {}, block_at {}, max_body_bytes {}",
                        p.name,
                        p.rules.len(),
                        if p.mode == Mode::Monitor { "monitor" } else { "enforce" },
                        p.paranoia,
                        p.flag_at,
                        p.block_at,
                        p.limits.max_body_bytes
                    ),
                );
                let metrics = match self.shared.take() {
                    // A reconfiguration of the same root context keeps its metric ids.
                    Some(old) => match Rc::try_unwrap(old) {
                        Ok(s) => s.metrics,
                        Err(_) => Metrics::define(),
                    },
                    None => Metrics::define(),
                };
                let cache =
                    RefCell::new(SegmentCache::new(engine.policy().segment_cache.max_bytes));
                self.shared = Some(Rc::new(Shared {
                    engine,
                    cache,
                    metrics,
                    next_id: Cell::new(0),
                    pending: RefCell::new(HashMap::new()),
                    stall_reported: Cell::new(false),
                }));
                if let Err(e) = hostcalls::set_tick_period(TICK) {
                    log(LogLevel::Warn, &format!("inference-firewall: no tick ({e:?}): stalled requests will wait for Envoy's timeouts"));
                }
                true
            }
            Err(err) => {
                log(
                    LogLevel::Error,
                    &format!("inference-firewall: invalid plugin configuration: {err}"),
                );
                false
            }
        }
    }

    /// Answers 408 to requests that have waited [`BODY_WAIT`] for their first body callback.
    fn on_tick(&mut self) {
        let Some(shared) = &self.shared else { return };
        let Some(now) = now() else { return };
        let stalled: Vec<(u32, Pending)> = {
            let Ok(mut pending) = shared.pending.try_borrow_mut() else {
                return;
            };
            let ids: Vec<u32> = pending
                .iter()
                .filter(|(_, p)| now.duration_since(p.since).is_ok_and(|d| d >= BODY_WAIT))
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        for (id, p) in stalled {
            if !shared.stall_reported.replace(true) {
                log(
                    LogLevel::Error,
                    &format!(
                        "inference-firewall: request {} got no body within {}s of its headers; if every request with a body does this, the Wasm filter's PluginConfig lacks allow_on_headers_stop_iteration: true (Envoy >= 1.35) and Envoy never hands the body to the filter",
                        p.request_id,
                        BODY_WAIT.as_secs()
                    ),
                );
            }
            let would = Action::Block {
                status: 408,
                code: "body_timeout",
                message: format!(
                    "the firewall received no request body within {}s of the headers",
                    BODY_WAIT.as_secs()
                ),
            };
            let v = Verdict {
                action: would.clone(),
                would,
                score: 0,
                api: payload::api_from_path(&p.path),
                hits: Vec::new(),
                segments: 0,
            };
            shared.metrics.count(&v, Decision::Block, None);
            log(LogLevel::Info, &respond::log_line(&v, &p.request_id, None));
            if hostcalls::set_effective_context(id).is_ok() {
                let categories: Vec<&str> = Vec::new();
                if let Some(b) = Blocked::from_verdict(&v, &categories, &p.path, &p.request_id, &[])
                {
                    send(&respond::block_response(&b));
                }
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(match &self.shared {
            Some(shared) => Box::new(Stream::new(context_id, Rc::clone(shared))),
            // Only reachable if the host ignores a failed on_configure: refuse rather than pass.
            None => Box::new(Unconfigured),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// A request seen by a root context without a policy: refused.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Flow {
        let body = br#"{"error":{"message":"the inference firewall has no valid configuration","type":"server_error","code":"firewall_unconfigured","param":null}}"#;
        let _ = hostcalls::send_http_response(
            500,
            vec![
                ("content-type", "application/json"),
                ("x-firewall-decision", "block"),
            ],
            Some(body),
        );
        Flow::Pause
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the request headers.
    Start,
    /// Out of scope, or decided: every later callback continues.
    Done,
    /// Headers held, body being buffered by Envoy until the end of the stream.
    Buffering,
}

/// One request.
struct Stream {
    id: u32,
    shared: Rc<Shared>,
    state: State,
    method: String,
    path: String,
    content_type: Option<String>,
    content_encoding: Option<String>,
    request_id: String,
    /// The client's scope in the segment cache (from its identity header;
    /// the header itself is not kept), if it sent one.
    scope: Option<u64>,
    /// Body bytes Envoy reported so far.
    body_seen: usize,
}

impl Context for Stream {}

impl Stream {
    fn new(id: u32, shared: Rc<Shared>) -> Self {
        Stream {
            id,
            shared,
            state: State::Start,
            method: String::new(),
            path: String::new(),
            content_type: None,
            content_encoding: None,
            request_id: String::new(),
            scope: None,
            body_seen: 0,
        }
    }

    fn max_body(&self) -> usize {
        self.shared.engine.policy().limits.max_body_bytes
    }

    /// Registers (or clears) this request with the root's body-wait watchdog.
    fn set_pending(&self, on: bool) {
        let Ok(mut pending) = self.shared.pending.try_borrow_mut() else {
            return;
        };
        if !on {
            pending.remove(&self.id);
        } else if let Some(since) = now() {
            pending.insert(
                self.id,
                Pending {
                    since,
                    path: self.path.clone(),
                    request_id: self.request_id.clone(),
                },
            );
        }
    }

    /// Evaluates the whole request and acts on the verdict.
    fn decide(&mut self, body: &[u8]) -> Flow {
        let req = Request {
            method: &self.method,
            path: &self.path,
            content_type: self.content_type.as_deref(),
            content_encoding: self.content_encoding.as_deref(),
            body,
        };
        let start = now();
        let shared = &self.shared;
        let verdict = match shared.cache.try_borrow_mut() {
            Ok(mut cache) if self.scope.is_some() => {
                let before = cache.stats();
                let v = shared.engine.evaluate_cached(&req, &mut cache, self.scope);
                let after = cache.stats();
                let (hits, misses) = (
                    after.hits.saturating_sub(before.hits),
                    after.misses.saturating_sub(before.misses),
                );
                Metrics::add(shared.metrics.segments_cached, hits);
                Metrics::add(shared.metrics.segments_inspected, misses);
                v
            }
            _ => {
                let v = shared.engine.evaluate(&req);
                Metrics::add(shared.metrics.segments_inspected, v.segments as u64);
                v
            }
        };
        let eval_us = match (start, now()) {
            (Some(a), Some(b)) => b
                .duration_since(a)
                .ok()
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            _ => None,
        };
        self.act(&verdict, body, eval_us)
    }

    /// Reads the buffered body and decides; a body Envoy reported but cannot
    /// hand over is a failure, not an empty body.
    fn decide_buffered(&mut self, size: usize) -> Flow {
        match hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size) {
            Ok(Some(body)) if body.len() > self.max_body() => self.too_large(body.len()),
            Ok(Some(body)) => self.decide(&body),
            Ok(None) if self.body_seen == 0 => self.decide(&[]),
            Ok(None) => self.fail("Envoy reported a request body but returned none"),
            Err(e) => self.fail(&format!("cannot read the request body: {e:?}")),
        }
    }

    /// A verdict the filter makes itself (limits, failures), with the policy's mode applied.
    fn own_verdict(&self, would: Action) -> Verdict {
        Verdict {
            action: score::apply_mode(self.shared.engine.policy().mode, &would),
            would,
            score: 0,
            api: payload::api_from_path(&self.path),
            hits: Vec::new(),
            segments: 0,
        }
    }

    fn too_large(&mut self, actual: usize) -> Flow {
        let e = PayloadError::BodyTooLarge {
            limit: self.max_body(),
            actual,
        };
        let v = self.own_verdict(Action::Block {
            status: e.status(),
            code: e.code(),
            message: e.to_string(),
        });
        self.act(&v, &[], None)
    }

    fn fail(&mut self, why: &str) -> Flow {
        log(
            LogLevel::Error,
            &format!("inference-firewall: request {}: {why}", self.request_id),
        );
        let v = self.own_verdict(Action::Block {
            status: 500,
            code: "inspection_failed",
            message: "the inference firewall could not read the request, so it cannot be inspected"
                .to_string(),
        });
        self.act(&v, &[], None)
    }

    /// Records, logs, and carries out a verdict.
    fn act(&mut self, v: &Verdict, body: &[u8], eval_us: Option<u64>) -> Flow {
        self.state = State::Done;
        let decision = Decision::of(v);
        self.shared.metrics.count(v, decision, eval_us);
        self.set_filter_state(v, decision);
        if decision != Decision::Allow {
            log(
                LogLevel::Info,
                &respond::log_line(v, &self.request_id, eval_us),
            );
        }
        match &v.action {
            Action::Block { .. } => {
                let categories = v.categories();
                if let Some(b) =
                    Blocked::from_verdict(v, &categories, &self.path, &self.request_id, body)
                {
                    send(&respond::block_response(&b));
                }
                Flow::Pause
            }
            Action::Flag => {
                for (name, value) in respond::flag_headers(v) {
                    let _ =
                        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(&value));
                }
                Flow::Continue
            }
            Action::Allow => Flow::Continue,
        }
    }

    /// Filter state for access logs and later filters:
    /// `%FILTER_STATE(wasm.inference_firewall.decision:PLAIN)%` and `...score`, `...rules`.
    fn set_filter_state(&self, v: &Verdict, decision: Decision) {
        let _ = hostcalls::set_property(
            vec!["inference_firewall.decision"],
            Some(decision.as_str().as_bytes()),
        );
        let _ = hostcalls::set_property(
            vec!["inference_firewall.score"],
            Some(v.score.to_string().as_bytes()),
        );
        if !v.hits.is_empty() {
            let _ = hostcalls::set_property(
                vec!["inference_firewall.rules"],
                Some(v.rule_ids().as_bytes()),
            );
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.set_pending(false);
    }
}

fn send(r: &respond::Response) {
    let headers: Vec<(&str, &str)> = r.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _ = hostcalls::send_http_response(u32::from(r.status), headers, Some(&r.body));
}

/// What the filter reads of the request headers, from one host call: every
/// callback into the host costs a V8 transition, so the map is fetched once.
#[derive(Debug, Default, PartialEq)]
struct Head {
    method: String,
    path: String,
    content_type: Option<String>,
    /// All `content-encoding` values joined with ", " (RFC 9110 section 5.3):
    /// `gzip` and `br` on two lines are one list to the server, and the first
    /// alone would hide a coding.
    content_encoding: Option<String>,
    content_length: Option<String>,
    request_id: Option<String>,
    /// The value of the first of the segment cache's client headers present.
    client: Option<Vec<u8>>,
    /// Client-supplied `x-firewall-*` names, each once: only this filter sets them.
    forged: Vec<String>,
}

impl Head {
    /// Single-valued headers take their first occurrence, as Envoy's
    /// `get_header_map_value` does. `client_headers`: the segment cache's
    /// identity headers, in order of preference (lower case).
    fn read(headers: &[(String, Vec<u8>)], client_headers: &[String]) -> Head {
        let mut head = Head::default();
        let mut client_rank = usize::MAX;
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        for (name, value) in headers {
            let first = |slot: &mut Option<String>| {
                if slot.is_none() {
                    *slot = Some(text(value));
                }
            };
            if name.eq_ignore_ascii_case(":method") {
                if head.method.is_empty() {
                    head.method = text(value);
                }
            } else if name.eq_ignore_ascii_case(":path") {
                if head.path.is_empty() {
                    head.path = text(value);
                }
            } else if name.eq_ignore_ascii_case("content-type") {
                first(&mut head.content_type);
            } else if name.eq_ignore_ascii_case("content-length") {
                first(&mut head.content_length);
            } else if name.eq_ignore_ascii_case("x-request-id") {
                first(&mut head.request_id);
            } else if name.eq_ignore_ascii_case("content-encoding") {
                match &mut head.content_encoding {
                    Some(list) => {
                        list.push_str(", ");
                        list.push_str(&String::from_utf8_lossy(value));
                    }
                    None => head.content_encoding = Some(text(value)),
                }
            } else if let Some(rank) = client_headers
                .iter()
                .position(|h| name.eq_ignore_ascii_case(h))
            {
                if rank < client_rank && !value.is_empty() {
                    client_rank = rank;
                    head.client = Some(value.clone());
                }
            } else if name
                .as_bytes()
                .get(..11)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"x-firewall-"))
                && !head.forged.iter().any(|f| f.eq_ignore_ascii_case(name))
            {
                head.forged.push(name.clone());
            }
        }
        head
    }
}

fn now() -> Option<SystemTime> {
    hostcalls::get_current_time().ok()
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Flow {
        if self.state != State::Start {
            return Flow::Continue;
        }
        let head = match hostcalls::get_map_bytes(MapType::HttpRequestHeaders) {
            Ok(headers) => Head::read(
                &headers,
                &self.shared.engine.policy().segment_cache.client_headers,
            ),
            Err(e) => return self.fail(&format!("cannot read the request headers: {e:?}")),
        };
        for name in &head.forged {
            let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name);
        }
        self.method = head.method;
        self.path = head.path;
        if !self.shared.engine.in_scope(&self.method, &self.path) {
            self.state = State::Done;
            Metrics::inc(self.shared.metrics.out_of_scope);
            return Flow::Continue;
        }
        let shared = Rc::clone(&self.shared);
        self.request_id =
            respond::request_id(head.request_id.as_deref(), || shared.fallback_request_id());
        self.content_type = head.content_type;
        self.content_encoding = head.content_encoding;
        // Hashed at once with the cache's per-VM keys; the credential is not kept.
        self.scope = match (&head.client, shared.cache.try_borrow()) {
            (Some(id), Ok(cache)) if cache.max_bytes() > 0 => Some(cache.scope(id)),
            _ => None,
        };
        // A declared length over the limit is refused before a byte of body is read.
        if let Some(len) = head
            .content_length
            .and_then(|l| l.trim().parse::<usize>().ok())
        {
            if len > self.max_body() {
                return self.too_large(len);
            }
        }
        if end_of_stream {
            return self.decide(&[]);
        }
        self.state = State::Buffering;
        self.set_pending(true);
        Flow::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Flow {
        if self.state != State::Buffering {
            return Flow::Continue;
        }
        self.set_pending(false);
        self.body_seen = body_size;
        if body_size > self.max_body() {
            return self.too_large(body_size);
        }
        if !end_of_stream {
            // Envoy buffers (StopIterationAndBuffer) until the end of the stream.
            return Flow::Pause;
        }
        self.decide_buffered(body_size)
    }

    /// A body that ends with trailers never reports end of stream to the body
    /// callback (HTTP/2, gRPC): the decision is made here, on the buffered body.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Flow {
        if self.state != State::Buffering {
            return Flow::Continue;
        }
        self.set_pending(false);
        let limit = self.max_body().saturating_add(1);
        self.decide_buffered(limit)
    }
}
