//! Every bound the engine enforces, in one place.
//!
//! Limits exist so that an attacker cannot make the firewall slow, make it run
//! out of memory, or make it give up and pass a request unscanned. What
//! happens past each limit is a decision, never a silent pass: the request is
//! rejected with the status named on the field (the policy's `mode: monitor`
//! only records that it would have been).

use serde::{Deserialize, Serialize};

/// What to do when one JSON object holds the same key twice.
///
/// Parsers disagree on which value wins (first, last, error), so a firewall
/// that reads the first while the model server reads the last can be walked
/// past. Rejecting is the only answer that is right for every server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKeys {
    /// Reject the request with 400 (default).
    #[default]
    Reject,
    /// Accept it, and scan every value of every duplicate.
    ScanAll,
}

/// The bounds of one evaluation, and of compiling a rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest body buffered and inspected; past it: 413.
    pub max_body_bytes: usize,
    /// Deepest JSON nesting accepted; past it: 400. At most 128.
    pub max_json_depth: usize,
    /// Most text segments extracted from one request; past it: 400.
    pub max_segments: usize,
    /// Most bytes of extracted text (all segments together); past it: 413.
    pub max_text_bytes: usize,
    /// Most bytes produced by decoding hidden payloads (base64, hex, tag
    /// characters...) for one request; past it: 400 (the request cannot be
    /// fully inspected).
    pub max_decoded_bytes: usize,
    /// Deepest nesting of encodings followed (base64 inside hex inside ...).
    pub max_decode_depth: usize,
    /// Most lines in a JSON Lines body; past it: 413.
    pub max_jsonl_lines: usize,
    /// Duplicate keys in a JSON object.
    pub duplicate_keys: DuplicateKeys,
    /// Most rules one policy may hold (a compile-time limit).
    pub max_rules: usize,
    /// Largest compiled size of one rule's regex, in bytes (a compile-time limit).
    pub max_regex_bytes: usize,
}

/// Hard ceiling for `max_json_depth`: the parser recurses, and a Wasm stack is small.
pub const JSON_DEPTH_CEILING: usize = 128;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_json_depth: 64,
            max_segments: 4096,
            max_text_bytes: 1024 * 1024,
            max_decoded_bytes: 256 * 1024,
            max_decode_depth: 3,
            max_jsonl_lines: 10_000,
            duplicate_keys: DuplicateKeys::Reject,
            max_rules: 2000,
            max_regex_bytes: 1024 * 1024,
        }
    }
}
