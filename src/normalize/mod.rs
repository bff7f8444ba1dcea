//! Stage 2: from a segment's text to the views detectors read.
//!
//! Input: the original text of one segment. Output: a [`Normalized`] value —
//! the main detection view, what normalization found ([`Findings`], counts per
//! kind: hidden text is itself a signal), and the extra views decoded from
//! hidden payloads ([`Decoded`]). The original text is never changed.
//!
//! Placeholder: replaced by the normalize implementation.

use crate::limits::Limits;

/// Counts of what normalization removed, folded or decoded in one text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Findings {
    /// Zero-width and other invisible format characters removed (ZWSP, ZWJ outside emoji, word joiner, soft hyphen, BOM...).
    pub invisible: u32,
    /// Bidirectional controls removed (LRE, RLO, isolates, marks).
    pub bidi: u32,
    /// Unicode tag characters (U+E0000 block) removed; their ASCII payload is decoded into a view.
    pub tag_chars: u32,
    /// Variation selectors removed outside legitimate emoji presentation.
    pub variation_selectors: u32,
    /// Characters folded from another script to a Latin look-alike (Cyrillic `а` -> `a`).
    pub confusables: u32,
    /// Characters changed by NFKC (fullwidth, mathematical alphanumerics, ligatures...).
    pub compatibility: u32,
    /// Combining marks stacked on letters beyond what the text's scripts use (Zalgo).
    pub combining_marks: u32,
    /// Runs of letter-by-letter spelled words joined (`i g n o r e` -> `ignore`).
    pub spaced_words: u32,
    /// Payloads decoded from an encoding (base64, hex...).
    pub decoded: u32,
    /// Decoding stopped at a limit: the text could not be fully inspected.
    pub decode_limit_hit: u32,
}

impl Findings {
    /// Names and counts, for reasons, logs and rule files (`detectors.hidden_text`).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> {
        [
            ("invisible", self.invisible),
            ("bidi", self.bidi),
            ("tag_chars", self.tag_chars),
            ("variation_selectors", self.variation_selectors),
            ("confusables", self.confusables),
            ("compatibility", self.compatibility),
            ("combining_marks", self.combining_marks),
            ("spaced_words", self.spaced_words),
            ("decoded", self.decoded),
            ("decode_limit_hit", self.decode_limit_hit),
        ]
        .into_iter()
    }

    /// Adds another text's findings to these.
    pub fn add(&mut self, other: &Findings) {
        self.invisible += other.invisible;
        self.bidi += other.bidi;
        self.tag_chars += other.tag_chars;
        self.variation_selectors += other.variation_selectors;
        self.confusables += other.confusables;
        self.compatibility += other.compatibility;
        self.combining_marks += other.combining_marks;
        self.spaced_words += other.spaced_words;
        self.decoded += other.decoded;
        self.decode_limit_hit += other.decode_limit_hit;
    }
}

/// How an extra view was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeKind {
    TagChars,
    Base64,
    Base32,
    Hex,
    Percent,
    HtmlEntities,
    Rot13,
    Leet,
}

impl DecodeKind {
    /// The snake_case name used in pointers and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeKind::TagChars => "tag_chars",
            DecodeKind::Base64 => "base64",
            DecodeKind::Base32 => "base32",
            DecodeKind::Hex => "hex",
            DecodeKind::Percent => "percent",
            DecodeKind::HtmlEntities => "html_entities",
            DecodeKind::Rot13 => "rot13",
            DecodeKind::Leet => "leet",
        }
    }
}

/// An extra view decoded from a hidden payload, already normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub kind: DecodeKind,
    /// The decoded text's detection view.
    pub view: String,
}

/// The views of one text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Normalized {
    /// Main detection view: NFKC, lower case, invisibles removed, confusables folded,
    /// whitespace collapsed to single spaces, spaced letters joined.
    pub view: String,
    pub findings: Findings,
    /// Views of payloads decoded from the text, within `limits.max_decoded_bytes`
    /// and `limits.max_decode_depth`.
    pub decoded: Vec<Decoded>,
}

/// Builds the detection views of `text`.
pub fn normalize(text: &str, limits: &Limits) -> Normalized {
    let _ = limits;
    let view = text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    Normalized { view, findings: Findings::default(), decoded: Vec::new() }
}
