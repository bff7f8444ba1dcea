//! The facade: one compiled [`Policy`], one [`Engine::evaluate`] per request.
//!
//! `evaluate` runs the stages in order — header checks, [`payload::extract`],
//! structural validation, [`normalize`], [`Matcher::scan`](crate::detect::Matcher::scan),
//! detectors, [`score`] — and turns any failure into a decision: a request
//! that cannot be fully inspected is rejected (or, in monitor mode, flagged),
//! never passed as if it were clean.

use crate::detect::{RawHit, View};
use crate::normalize::{normalize, Findings, Normalized};
use crate::payload::{self, ApiKind, Payload};
use crate::policy::{glob, Policy, PolicyError, Rule};
use crate::request::Request;
use crate::score;
use crate::verdict::{Action, Hit, Verdict};

/// A compiled policy ready to evaluate requests. Build once (per VM), share, reuse.
#[derive(Debug, Clone)]
pub struct Engine {
    policy: Policy,
}

/// The detailed result of one evaluation, for explanations (`infw score`).
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub verdict: Verdict,
    /// The extracted payload, if extraction succeeded.
    pub payload: Option<Payload>,
    /// The normalized views of each segment, in segment order.
    pub normalized: Vec<Normalized>,
}

fn block(status: u16, code: &'static str, message: String) -> Action {
    Action::Block { status, code, message }
}

impl Engine {
    /// Wraps a compiled policy.
    pub fn new(policy: Policy) -> Self {
        Engine { policy }
    }

    /// The embedded default pack (`filters/default.json`).
    pub fn default_pack() -> Result<Self, PolicyError> {
        Ok(Engine::new(Policy::default_pack()?))
    }

    /// Builds an engine from the proxy-wasm plugin configuration: empty (or
    /// whitespace) means the default pack; otherwise a JSON object, see
    /// [`crate::policy::PluginConfig`].
    pub fn from_plugin_config(bytes: &[u8]) -> Result<Self, PolicyError> {
        Ok(Engine::new(Policy::from_plugin_config(bytes)?))
    }

    /// The compiled policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether a request with this method and path is inspected at all
    /// (decided from the headers, before any body arrives).
    pub fn in_scope(&self, method: &str, path: &str) -> bool {
        self.policy.in_scope(method, path)
    }

    /// Evaluates one request. Never panics.
    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        self.evaluate_detailed(req).verdict
    }

    /// Evaluates one request and keeps the intermediate stages (for explanations).
    pub fn evaluate_detailed(&self, req: &Request<'_>) -> Evaluation {
        let p = &self.policy;
        let finish = |would: Action, score: u32, api: Option<ApiKind>, hits: Vec<Hit>, segments: usize| Verdict {
            action: score::apply_mode(p.mode, &would),
            would,
            score,
            api,
            hits,
            segments,
        };
        let early = |action: Action, api: Option<ApiKind>| Evaluation {
            verdict: finish(action, 0, api, Vec::new(), 0),
            payload: None,
            normalized: Vec::new(),
        };

        if let Some(action) = self.check_headers(req) {
            return early(action, payload::api_from_path(req.path_only()));
        }
        let payload = match payload::extract(req, &p.limits) {
            Ok(pl) => pl,
            Err(e) => return early(block(e.status(), e.code(), e.to_string()), payload::api_from_path(req.path_only())),
        };
        let api = Some(payload.api);
        if let Some(action) = self.check_structure(&payload) {
            return Evaluation { verdict: finish(action, 0, api, Vec::new(), payload.segments.len()), payload: Some(payload), normalized: Vec::new() };
        }

        let mut findings = Findings::default();
        let normalized: Vec<Normalized> = payload
            .segments
            .iter()
            .map(|s| {
                let n = normalize(&s.text, &p.limits);
                findings.add(&n.findings);
                n
            })
            .collect();
        if findings.decode_limit_hit > 0 {
            let action = block(
                400,
                "decode_limit_exceeded",
                format!(
                    "the request holds more encoded data than the firewall decodes (limits.max_decoded_bytes {}, limits.max_decode_depth {}), so it cannot be fully inspected",
                    p.limits.max_decoded_bytes, p.limits.max_decode_depth
                ),
            );
            return Evaluation { verdict: finish(action, 0, api, Vec::new(), payload.segments.len()), payload: Some(payload), normalized };
        }

        let hits = self.detect(req, &payload, &normalized, &findings);
        let total = score::total(&hits);
        let would = score::decide(p, total, &hits);
        Evaluation { verdict: finish(would, total, api, hits, payload.segments.len()), payload: Some(payload), normalized }
    }

    /// Checks decided from the headers alone: method and content type.
    fn check_headers(&self, req: &Request<'_>) -> Option<Action> {
        let v = &self.policy.validation;
        if let Some(c) = &v.methods {
            let m = req.method.to_ascii_uppercase();
            if !glob::any_match(&c.allow, &m) {
                let allowed: Vec<&str> = c.allow.iter().map(|g| g.as_str()).collect();
                return Some(block(
                    c.status,
                    "method_not_allowed",
                    format!("method {m} is not allowed here; allowed: {}", allowed.join(", ")),
                ));
            }
        }
        if let Some(c) = &v.content_types {
            let ct = req.content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if !glob::any_match(&c.allow, &ct) {
                let allowed: Vec<&str> = c.allow.iter().map(|g| g.as_str()).collect();
                return Some(block(
                    c.status,
                    "content_type_not_allowed",
                    format!("content type {ct:?} is not allowed here; allowed: {}", allowed.join(", ")),
                ));
            }
        }
        None
    }

    /// Checks on the extracted payload: message count, model, required fields, segment length.
    fn check_structure(&self, payload: &Payload) -> Option<Action> {
        let v = &self.policy.validation;
        if let Some(b) = v.max_messages {
            if payload.message_count > b.limit {
                return Some(block(
                    b.status,
                    "too_many_messages",
                    format!("the request holds {} messages, more than the {} allowed", payload.message_count, b.limit),
                ));
            }
        }
        if let Some(b) = v.max_segment_chars {
            if let Some(s) = payload.segments.iter().find(|s| s.text.chars().count() > b.limit) {
                return Some(block(
                    b.status,
                    "segment_too_long",
                    format!("the text at {:?} is longer than {} characters", s.pointer, b.limit),
                ));
            }
        }
        let doc = payload.document.as_ref();
        if let Some(c) = &v.allowed_models {
            if let Some(doc) = doc {
                // JSON Lines uploads name no model at the top level; each line may.
                let models: Vec<Option<&str>> = match (payload.api, doc) {
                    (ApiKind::JsonLines, _) => Vec::new(),
                    _ => vec![doc.get("model").and_then(|m| m.as_str())],
                };
                for m in models {
                    match m {
                        Some(name) if glob::any_match(&c.allow, name) => {}
                        Some(name) => {
                            return Some(block(
                                c.status,
                                "model_not_allowed",
                                format!("model {:?} is not allowed here", truncate(name, 64)),
                            ))
                        }
                        None => {
                            return Some(block(
                                c.status,
                                "model_not_allowed",
                                "the request names no model (a string at /model) and only some models are allowed".into(),
                            ))
                        }
                    }
                }
            }
        }
        if let Some(r) = &v.required_fields {
            let applies = payload.api != ApiKind::PlainText && (r.apis.is_empty() || r.apis.contains(&payload.api));
            if applies {
                if let Some(doc) = doc {
                    if let Some(missing) = r.pointers.iter().find(|ptr| doc.pointer(ptr).is_none()) {
                        return Some(block(
                            r.status,
                            "missing_field",
                            format!("the required field {missing:?} is missing"),
                        ));
                    }
                }
            }
        }
        None
    }

    fn rule_excluded(&self, rule: &Rule, path: &str, role: crate::payload::Role) -> bool {
        self.policy.exclusions.iter().any(|ex| {
            (ex.rule_ids.iter().any(|id| id == &rule.id) || ex.categories.iter().any(|c| c == &rule.category))
                && (ex.paths.is_empty() || glob::any_match(&ex.paths, path))
                && (ex.roles.is_empty() || ex.roles.contains(&role))
        })
    }

    /// Runs the rules over every view, then the detectors over the findings.
    fn detect(&self, req: &Request<'_>, payload: &Payload, normalized: &[Normalized], findings: &Findings) -> Vec<Hit> {
        let p = &self.policy;
        let path = req.path_only();
        let mut views: Vec<View<'_>> = Vec::with_capacity(normalized.len());
        for (i, n) in normalized.iter().enumerate() {
            views.push(View { text: &n.view, segment: i, decoded: None });
            for d in &n.decoded {
                views.push(View { text: &d.view, segment: i, decoded: Some(d.kind) });
            }
        }
        let active = |r: usize| {
            p.rules
                .get(r)
                .is_some_and(|rule| rule.paranoia <= p.paranoia && (rule.targets.apis.is_empty() || rule.targets.apis.contains(&payload.api)))
        };
        let accept = |r: usize, v: usize| {
            let (Some(rule), Some(view)) = (p.rules.get(r), views.get(v)) else { return false };
            let Some(seg) = payload.segments.get(view.segment) else { return false };
            let t = &rule.targets;
            let view_ok = if view.decoded.is_some() { t.decoded_views } else { t.main_view };
            view_ok
                && (t.roles.is_empty() || t.roles.contains(&seg.role))
                && (t.pointers.is_empty() || glob::any_match(&t.pointers, &seg.pointer))
                && !self.rule_excluded(rule, path, seg.role)
        };
        let mut raw: Vec<RawHit> = Vec::new();
        let mut joined = String::new();
        p.matcher.scan(&views, &mut joined, active, accept, &mut raw);

        let mut hits: Vec<Hit> = Vec::with_capacity(raw.len() + 2);
        for h in raw {
            let (Some(rule), Some(view)) = (p.rules.get(h.rule), views.get(h.view)) else { continue };
            let Some(seg) = payload.segments.get(view.segment) else { continue };
            let pointer = match view.decoded {
                None => seg.pointer.clone(),
                Some(kind) => format!("{}#{}", seg.pointer, kind.as_str()),
            };
            hits.push(Hit {
                rule_id: rule.id.clone(),
                category: rule.category.clone(),
                score: p.weighted(&rule.category, rule.score),
                pointer,
                role: seg.role,
                span: Some(h.span),
            });
        }
        let totals: Vec<(&'static str, u32)> = findings.iter().collect();
        for d in &p.detectors {
            let count = totals.iter().find(|(k, _)| *k == d.kind).map_or(0, |(_, c)| *c);
            if count < d.min_count {
                continue;
            }
            let first = normalized
                .iter()
                .position(|n| n.findings.iter().any(|(k, c)| k == d.kind && c > 0))
                .and_then(|i| payload.segments.get(i));
            hits.push(Hit {
                rule_id: format!("detector:{}", d.kind),
                category: d.category.clone(),
                score: p.weighted(&d.category, d.score),
                pointer: first.map(|s| s.pointer.clone()).unwrap_or_default(),
                role: first.map_or(crate::payload::Role::Other, |s| s.role),
                span: None,
            });
        }
        hits.sort_by(|a, b| b.score.cmp(&a.score));
        hits
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
