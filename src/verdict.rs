//! Stage 5's output: what to do with a request, and why.
//!
//! A [`Verdict`] never holds request text: only rule ids, categories, JSON
//! pointers and byte spans into the detection view. Shells may log it as is.

use crate::payload::{ApiKind, Role};
use std::fmt;

/// What the proxy does with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Forward unchanged.
    Allow,
    /// Forward unchanged, with the score and rules attached for the upstream and the logs.
    Flag,
    /// Answer `status` with an error body in the API's format; never forward.
    Block {
        /// HTTP status (403 for a score over the threshold, 400/405/413/415 for validation and limits).
        status: u16,
        /// Stable machine code: `anomaly_score_exceeded`, `malformed_json`, `body_too_large`...
        code: &'static str,
        /// A message for the client. Never quotes the request.
        message: String,
    },
}

impl Action {
    /// `allow`, `flag` or `block`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block { .. } => "block",
        }
    }
}

/// Where in the request a rule fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule's id (or `detector:<name>` for a built-in detector).
    pub rule_id: String,
    /// The rule's category.
    pub category: String,
    /// Points this hit added to the score (after category weights).
    pub score: u32,
    /// JSON pointer of the segment; a decoded view appends `#base64`, `#tag_chars`...
    pub pointer: String,
    /// The segment's role.
    pub role: Role,
    /// Byte span of the match in the detection view of that segment, if any.
    pub span: Option<(usize, usize)>,
}

/// The engine's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What to do. In monitor mode always `Allow`.
    pub action: Action,
    /// What enforce mode would have done (equal to `action` in enforce mode).
    pub would: Action,
    /// Anomaly score: the sum of the fired rules' points.
    pub score: u32,
    /// The API recognized, if extraction got that far.
    pub api: Option<ApiKind>,
    /// Every rule that fired, once each, highest score first.
    pub hits: Vec<Hit>,
    /// Number of segments inspected.
    pub segments: usize,
}

impl Verdict {
    /// True when the request must not be forwarded.
    pub fn is_block(&self) -> bool {
        matches!(self.action, Action::Block { .. })
    }

    /// True when the request passes without a flag.
    pub fn is_allow(&self) -> bool {
        matches!(self.action, Action::Allow)
    }

    /// Distinct categories of the hits, in order of first appearance.
    pub fn categories(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for h in &self.hits {
            if !out.contains(&h.category.as_str()) {
                out.push(&h.category);
            }
        }
        out
    }

    /// Rule ids of the hits, comma-separated (for headers and logs).
    pub fn rule_ids(&self) -> String {
        let ids: Vec<&str> = self.hits.iter().map(|h| h.rule_id.as_str()).collect();
        ids.join(",")
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (score {})", self.action.name(), self.score)?;
        if self.would != self.action {
            write!(f, ", would {}", self.would.name())?;
        }
        if !self.hits.is_empty() {
            write!(f, ": {}", self.rule_ids())?;
        }
        Ok(())
    }
}
