//! The rule file as written (`filters/*.json`, `"version": 1`): serde mirrors
//! with no logic. [`super::Policy::compile`] turns them into validated values.
//!
//! Every struct denies unknown fields, so a typo (`"paranoya"`) is an error
//! with its JSON pointer, not a setting silently ignored.

use crate::limits::Limits;
use crate::policy::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole rule file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Schema version; only `1` exists.
    pub version: u32,
    /// A short name for logs and metrics.
    #[serde(default)]
    pub name: Option<String>,
    /// What this pack is for.
    #[serde(default)]
    pub description: Option<String>,
    /// Mode, paranoia, thresholds, category weights.
    #[serde(default)]
    pub policy: PolicySettings,
    /// Bounds; missing fields take their defaults.
    #[serde(default)]
    pub limits: Limits,
    /// Which requests are inspected at all.
    #[serde(default)]
    pub scope: Scope,
    /// Structural checks, each with its own status.
    #[serde(default)]
    pub validation: Validation,
    /// Built-in detectors and their weights.
    #[serde(default)]
    pub detectors: BTreeMap<String, DetectorSpec>,
    /// Rules switched off for some paths or roles.
    #[serde(default)]
    pub exclusions: Vec<ExclusionSpec>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// The compact learned classifier and the points its probability adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierSpec>,
    /// Statistical anomaly thresholds, as deviations from a baseline profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalySpec>,
}

/// `classifier`: a model ([`crate::anomaly::Model`]) scoring each segment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSpec {
    /// `"default"` (the embedded `filters/anomaly/model.json`) or an inline model object.
    pub model: serde_json::Value,
    /// Points by probability: the highest `at` reached gives its `score`.
    pub thresholds: Vec<ProbabilityThreshold>,
    /// Category of its hits (default `prompt_injection`).
    #[serde(default)]
    pub category: Option<String>,
    /// Roles whose segments it scores; default `user`, `tool`, `tool_call`, `other`
    /// (not operator-written `system`/`developer` text, nor `assistant` history).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Segments whose normalized view holds fewer characters than this are
    /// not scored by the classifier: too little text to be evidence (default
    /// [`crate::policy::DEFAULT_CLASSIFIER_MIN_CHARS`]; 0 scores every segment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_chars: Option<u32>,
    /// `infw check` asserts each: `match`, texts the classifier gives points
    /// (as the user message of a request); `no_match`, texts it gives none.
    #[serde(default)]
    pub examples: Examples,
}

/// One step of a classifier's scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbabilityThreshold {
    /// Probability from 0 to 1.
    pub at: f64,
    pub score: u32,
}

/// `anomaly`: per-feature thresholds against a baseline profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySpec {
    /// `"default"` (the embedded `filters/anomaly/profile.json`) or an inline profile object.
    #[serde(default = "default_name")]
    pub profile: serde_json::Value,
    /// Feature name (`lm_perplexity`, `symbol_ratio`...) to threshold.
    pub features: BTreeMap<String, AnomalyFeatureSpec>,
    /// Category of its hits (default `obfuscation`).
    #[serde(default)]
    pub category: Option<String>,
    /// Roles whose segments are measured (default as for `classifier`).
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_name() -> serde_json::Value {
    serde_json::Value::String("default".into())
}

/// A feature's threshold: exactly one of `above_quantile` or `above_z`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyFeatureSpec {
    /// A quantile stored in the profile (0.5, 0.9, 0.99, 0.999, 1.0).
    #[serde(default)]
    pub above_quantile: Option<f64>,
    /// Standard deviations above the profile's mean.
    #[serde(default)]
    pub above_z: Option<f64>,
    pub score: u32,
}

/// `policy`: how scores become decisions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// `enforce` blocks; `monitor` never blocks and records what it would have done.
    pub mode: Mode,
    /// Rules with a `paranoia` above this level are off (1-4, as in the OWASP CRS).
    pub paranoia: u8,
    /// Score at which a request is flagged (forwarded with headers).
    pub flag_at: u32,
    /// Score at which a request is blocked.
    pub block_at: u32,
    /// Status of a block for a score over `block_at`.
    pub block_status: u16,
    /// Multiplier per category (`{"jailbreak": 1.5}`); missing categories weigh 1.
    pub category_weights: BTreeMap<String, f64>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            mode: Mode::Enforce,
            paranoia: 1,
            flag_at: 3,
            block_at: 5,
            block_status: 403,
            category_weights: BTreeMap::new(),
        }
    }
}

/// `scope`: requests outside it pass uninspected.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    /// Path globs (`*` matches anything, query string ignored). Default: every path.
    pub paths: Vec<String>,
    /// Path globs never inspected (health checks, metrics).
    pub exclude_paths: Vec<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            paths: vec!["*".to_string()],
            exclude_paths: Vec::new(),
        }
    }
}

/// `validation`: checks on the shape of a request, each with its status.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Validation {
    /// Allowed methods for in-scope requests (default status 405).
    pub methods: Option<AllowList>,
    /// Allowed content types, without parameters (default status 415).
    pub content_types: Option<AllowList>,
    /// Allowed `model` values, as globs (default status 400).
    pub allowed_models: Option<AllowList>,
    /// Most chat messages in one request (default status 400).
    pub max_messages: Option<Bound>,
    /// Most characters in one text segment (default status 400).
    pub max_segment_chars: Option<Bound>,
    /// JSON pointers that must be present (default status 400).
    pub required_fields: Option<RequiredFields>,
}

/// A list of allowed values and the status when a request is not among them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowList {
    pub allow: Vec<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// A numeric bound and the status past it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    pub limit: usize,
    #[serde(default)]
    pub status: Option<u16>,
}

/// Fields that must be present, optionally only for some APIs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredFields {
    /// JSON pointers (`/model`, `/messages`).
    pub pointers: Vec<String>,
    /// API kinds this applies to; empty means every JSON API.
    #[serde(default)]
    pub apis: Vec<String>,
    #[serde(default)]
    pub status: Option<u16>,
}

/// A built-in detector's settings (`detectors.tag_chars`...).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    /// Points when the detector fires (0 turns it off).
    pub score: u32,
    /// Fires when its count over the request reaches this (default 1).
    #[serde(default = "one")]
    pub min_count: u32,
    /// More points for more events: at each `at` count or more, its
    /// `score` instead of `score` (ascending `at`, each above `min_count`).
    /// `[{"at": 2, "score": 5}]` flags one event and blocks two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<CountThreshold>,
    /// Roles whose segments it counts (default: every role). `["user",
    /// "tool"]` keeps an operator's own system prompt, emoji and all, from
    /// adding to every request's count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Category of its hits (default `obfuscation`).
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// One step of a detector's scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountThreshold {
    /// Events over the request.
    pub at: u32,
    pub score: u32,
}

fn one() -> u32 {
    1
}

/// `exclusions[]`: rules off where they misfire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionSpec {
    /// Rule ids, or `category:<name>` for a whole category.
    pub rules: Vec<String>,
    /// Path globs; empty means every path.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Roles; empty means every role.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Why (for the next person reading the file).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Kebab-case, unique in the file.
    pub id: String,
    pub description: String,
    /// `prompt_injection`, `jailbreak`, `system_prompt_extraction`, `exfiltration`,
    /// `obfuscation`, `pii`, `secrets`, `validation`... (snake_case).
    pub category: String,
    /// `critical` (5), `error` (4), `warning` (3), `notice` (2). Give this or `score`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Explicit points, instead of a severity.
    #[serde(default)]
    pub score: Option<u32>,
    /// Paranoia level at which the rule turns on (1-4; default 1).
    #[serde(default)]
    pub paranoia: Option<u8>,
    /// Where it applies; empty means everywhere.
    #[serde(default)]
    pub targets: Targets,
    /// What it matches, on the normalized view.
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    /// Texts it must and must not match; `infw check` runs them.
    #[serde(default)]
    pub examples: Examples,
}

/// Severity points, as in the OWASP Core Rule Set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Notice,
}

impl Severity {
    /// The anomaly points of the severity.
    pub fn points(self) -> u32 {
        match self {
            Severity::Critical => 5,
            Severity::Error => 4,
            Severity::Warning => 3,
            Severity::Notice => 2,
        }
    }
}

/// `targets`: roles, JSON pointer globs, API kinds and views.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Targets {
    pub roles: Vec<String>,
    /// Globs over segment pointers: `/messages/*/content`, `*`.
    pub pointers: Vec<String>,
    pub apis: Vec<String>,
    /// `main` (the normalized text) and/or `decoded` (payloads decoded from it). Default both.
    pub views: Vec<String>,
}

/// `match`: exactly one of `regex` or `phrases`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchSpec {
    /// A regular expression (Rust `regex` syntax: linear time, no backreferences),
    /// matched on the lower-case normalized view: write it in lower case
    /// (an upper-case literal is refused, as it could never match).
    pub regex: Option<String>,
    /// Literal phrases (normalized like the text), matched with Aho-Corasick.
    pub phrases: Option<Vec<String>>,
    /// For phrases: only at word boundaries (default true).
    pub word_boundary: Option<bool>,
}

/// `examples`: `infw check` asserts each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Examples {
    #[serde(rename = "match")]
    pub must_match: Vec<String>,
    pub no_match: Vec<String>,
}

/// The proxy-wasm plugin configuration: a rule file and overrides, all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginConfig {
    /// An inline rule file; the embedded default pack when absent.
    pub rules: Option<serde_json::Value>,
    pub mode: Option<Mode>,
    pub paranoia: Option<u8>,
    pub flag_at: Option<u32>,
    pub block_at: Option<u32>,
    /// Overrides of single limits; the rest keep the rule file's values.
    pub limits: Option<serde_json::Map<String, serde_json::Value>>,
    /// What is remembered of resent conversation history (see [`crate::cache`]).
    pub segment_cache: Option<SegmentCacheConfig>,
}

/// `segment_cache` of the plugin configuration: per client, the views and
/// classifier scores of recently seen segments, so resent history is not
/// normalized and scored again (the rules still read every request whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentCacheConfig {
    /// Bytes of text and views kept per VM (Envoy runs one VM per worker);
    /// 0 turns the cache off. At most [`SEGMENT_CACHE_CEILING`].
    pub max_bytes: usize,
    /// Request headers that identify a client (lower case), tried in order:
    /// texts are shared only between requests carrying the same value, so
    /// the timing of one client's requests says nothing of what others sent.
    /// A request carrying none of them is inspected without the cache.
    pub client_headers: Vec<String>,
}

/// Hard ceiling for `segment_cache.max_bytes` (per VM).
pub const SEGMENT_CACHE_CEILING: usize = 256 << 20;

impl Default for SegmentCacheConfig {
    fn default() -> Self {
        SegmentCacheConfig {
            max_bytes: 4 << 20,
            client_headers: ["authorization", "x-api-key", "api-key", "x-goog-api-key"]
                .map(String::from)
                .to_vec(),
        }
    }
}
