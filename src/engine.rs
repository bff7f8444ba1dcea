//! The facade: one compiled [`Policy`], one `evaluate` per request.
//! (Skeleton; being filled in.)

use crate::payload::ApiKind;
use crate::policy::{Policy, PolicyError};
use crate::request::Request;
use crate::verdict::{Action, Verdict};

/// A compiled policy ready to evaluate requests. Build once (per VM), share, reuse.
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
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
        let _ = req;
        let _ = ApiKind::PlainText;
        Verdict { action: Action::Allow, would: Action::Allow, score: 0, api: None, hits: Vec::new(), segments: 0 }
    }
}
