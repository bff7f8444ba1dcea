//! Errors that say where: which file, which rule, which JSON pointer, what is
//! wrong and what would be right.

use std::fmt;

/// Why a rule file or a plugin configuration was refused.
///
/// Displayed as one line a user can act on, e.g.
/// `filters/mine.json: rule "ignore-previous" at /rules/0/match/regex: invalid regex: ...`.
/// A regex error keeps the regex crate's own multi-line display, with a caret
/// under the offending position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file name, or `plugin configuration`, or `default pack`.
    pub origin: String,
    /// 1-based line and column in the source text, for JSON syntax errors.
    pub line_col: Option<(usize, usize)>,
    /// JSON pointer of the offending value (`/rules/3/match/regex`).
    pub pointer: Option<String>,
    /// The id of the rule concerned, if any.
    pub rule_id: Option<String>,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl PolicyError {
    /// An error about the value at `pointer`.
    pub fn at(origin: &str, pointer: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            origin: origin.to_string(),
            line_col: None,
            pointer: Some(pointer.into()),
            rule_id: None,
            message: message.into(),
        }
    }

    /// An error about the whole source.
    pub fn whole(origin: &str, message: impl Into<String>) -> Self {
        PolicyError {
            origin: origin.to_string(),
            line_col: None,
            pointer: None,
            rule_id: None,
            message: message.into(),
        }
    }

    /// Names the rule concerned.
    pub fn in_rule(mut self, id: &str) -> Self {
        self.rule_id = Some(id.to_string());
        self
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some((line, col)) = self.line_col {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(id) = &self.rule_id {
            write!(f, "rule {id:?} ")?;
        }
        if let Some(p) = &self.pointer {
            if p.is_empty() {
                f.write_str("at the top level: ")?;
            } else {
                write!(f, "at {p}: ")?;
            }
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}
