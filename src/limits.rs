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

/// A content coding the firewall can undo to inspect a body
/// (`Content-Encoding`, RFC 9110 section 8.4.1). `x-gzip` is read as `gzip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentCoding {
    /// RFC 1952, one or more members.
    Gzip,
    /// RFC 1950 (zlib); a raw RFC 1951 stream is tolerated, as browsers and servers do.
    Deflate,
    /// Brotli, RFC 7932 (standard windows, up to 16 MiB).
    Br,
    /// Zstandard, RFC 8878, with the 8 MiB window RFC 9659 sets for HTTP.
    Zstd,
}

impl ContentCoding {
    /// Every coding the firewall knows, in the order error messages list them.
    pub const ALL: [ContentCoding; 4] = [
        ContentCoding::Gzip,
        ContentCoding::Deflate,
        ContentCoding::Br,
        ContentCoding::Zstd,
    ];

    /// Whether this build decodes it. Brotli is left out of the Wasm plugin
    /// (`wasm32-wasip1`): its decoder and the 122,784-byte dictionary RFC 7932
    /// builds in do not fit the plugin's 2 MiB budget.
    pub fn built(self) -> bool {
        !(cfg!(all(target_arch = "wasm32", target_os = "wasi")) && self == ContentCoding::Br)
    }

    /// The codings this build decodes.
    pub fn all_built() -> Vec<ContentCoding> {
        ContentCoding::ALL
            .into_iter()
            .filter(|c| c.built())
            .collect()
    }

    /// The token as written in `Content-Encoding` and in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentCoding::Gzip => "gzip",
            ContentCoding::Deflate => "deflate",
            ContentCoding::Br => "br",
            ContentCoding::Zstd => "zstd",
        }
    }

    /// Parses a `Content-Encoding` token, case-insensitively (`x-gzip` is `gzip`).
    pub fn parse(token: &str) -> Option<ContentCoding> {
        if token.eq_ignore_ascii_case("x-gzip") {
            return Some(ContentCoding::Gzip);
        }
        ContentCoding::ALL
            .into_iter()
            .find(|c| token.eq_ignore_ascii_case(c.as_str()))
    }
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
    /// Largest body after undoing its content codings (each layer of
    /// `Content-Encoding: gzip, br` is bounded by it); past it: 413 (a
    /// decompression bomb). The compressed body is bounded by `max_body_bytes`.
    pub max_decompressed_bytes: usize,
    /// Most content codings stacked on one body (`gzip, br` is 2; `identity`
    /// does not count); past it: 415. At most 8.
    pub max_content_codings: usize,
    /// The content codings decoded for inspection (default: every one this
    /// build decodes); a body in any other coding is refused with 415.
    pub content_encodings: Vec<ContentCoding>,
    /// Most bytes produced by decoding hidden payloads (base64, hex, tag
    /// characters...) from one text segment (each has this budget, which is
    /// what lets a segment's result be remembered apart from its request);
    /// past it: 400 (the request cannot be fully inspected).
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

/// Hard ceiling for `max_content_codings`: each layer is another full decode.
pub const CONTENT_CODINGS_CEILING: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_json_depth: 64,
            max_segments: 4096,
            max_text_bytes: 1024 * 1024,
            max_decompressed_bytes: 1024 * 1024,
            max_content_codings: 2,
            content_encodings: ContentCoding::all_built(),
            max_decoded_bytes: 256 * 1024,
            max_decode_depth: 3,
            max_jsonl_lines: 10_000,
            duplicate_keys: DuplicateKeys::Reject,
            max_rules: 2000,
            max_regex_bytes: 1024 * 1024,
        }
    }
}
