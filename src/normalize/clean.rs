//! Invisible characters: removed, counted, and their hidden payloads kept.
//!
//! Input: a text as received. Output: the same text without the characters a
//! reader does not see (zero-width and other format characters, bidi
//! controls, tag characters, variation selectors, C0/C1 controls), the counts
//! per kind in [`Findings`], and the bytes smuggled in tag characters and in
//! variation-selector runs ([`Hidden`]). Case and everything else are kept:
//! the decoders read this text, and base64 is case-sensitive.
//!
//! Legitimate uses are kept and not counted, because a count is a signal and
//! ordinary text must not raise it:
//!
//! * ZWJ between emoji (`👨‍👩‍👧`, `🏳️‍🌈`) and ZWJ/ZWNJ between letters of
//!   scripts that need them to choose glyph forms (Arabic and Persian `می‌خواهم`,
//!   Indic scripts after a virama, Syriac, Mongolian, Khmer, Myanmar...);
//! * the tag sequences of the England, Scotland and Wales flags after the
//!   black flag `🏴`;
//! * one variation selector after a character (text or emoji presentation
//!   `❤️`, keycaps `1️⃣`, CJK ideographic variants): removed but not counted,
//!   except after an ASCII letter, where no variation sequence exists (counted
//!   as `stray_selectors`, apart from the smuggling runs of
//!   `variation_selectors`);
//! * ZWSP between letters of scripts written without spaces (Thai, Khmer,
//!   Myanmar, CJK), where it marks word breaks: removed, not counted;
//! * bidi marks (LRM, RLM, ALM) in a text that has right-to-left letters:
//!   removed, not counted. Embeddings, overrides and isolates always count.
//! * a byte-order mark at the start of the text: removed, not counted.

use std::borrow::Cow;

use super::{swar, Findings};

/// Bytes smuggled in invisible characters.
#[derive(Debug, Default)]
pub(crate) struct Hidden {
    /// ASCII payload of tag characters (tag minus U+E0000).
    pub(crate) tags: String,
    /// Payload of variation-selector runs (U+FE00.. -> 0..15, U+E0100.. -> 16..255).
    pub(crate) selectors: Vec<u8>,
    /// Text under a RIGHT-TO-LEFT OVERRIDE, in the order it is displayed
    /// (reversed), runs separated by line breaks.
    pub(crate) reversed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Keep,
    Invisible,
    Zwsp,
    Joiner,
    Bom,
    BidiMark,
    Bidi,
    MongolianSelector,
    Tag,
    Selector,
}

fn kind(c: char) -> Kind {
    match c as u32 {
        0x00..=0x08 | 0x0E..=0x1F | 0x7F..=0x84 | 0x86..=0x9F => Kind::Invisible,
        0x00..=0xAC => Kind::Keep,
        0xAD | 0x034F | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 => {
            Kind::Invisible
        }
        0x061C | 0x200E | 0x200F => Kind::BidiMark,
        0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E => Kind::Invisible,
        0x180B..=0x180D | 0x180F => Kind::MongolianSelector,
        0x200B => Kind::Zwsp,
        0x200C | 0x200D => Kind::Joiner,
        0x202A..=0x202E | 0x2066..=0x2069 => Kind::Bidi,
        0x2060..=0x2065 | 0x206A..=0x206F | 0x3164 | 0xFFA0 | 0xFFF0..=0xFFFB => Kind::Invisible,
        0xFE00..=0xFE0F | 0xE0100..=0xE01EF => Kind::Selector,
        0xFEFF => Kind::Bom,
        0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A => {
            Kind::Invisible
        }
        0xE0000..=0xE007F => Kind::Tag,
        0xE0080..=0xE00FF | 0xE01F0..=0xE0FFF => Kind::Invisible,
        _ => Kind::Keep,
    }
}

/// Pictographs that take part in emoji ZWJ sequences (only characters that
/// NFKC leaves alone: `Ⓜ`, `™`, `‼` are emoji too but normalize to letters).
pub(crate) fn is_emoji_like(c: char) -> bool {
    matches!(c as u32,
        0xA9 | 0xAE | 0x2194..=0x2199 | 0x21A9 | 0x21AA | 0x231A | 0x231B | 0x2328 | 0x23CF
        | 0x23E9..=0x23FA | 0x25A0..=0x27BF | 0x2934 | 0x2935 | 0x2B00..=0x2BFF | 0x3030 | 0x303D
        | 0x1F000..=0x1FAFF)
}

/// Scripts whose letters take ZWJ/ZWNJ to select joining or conjunct forms.
fn is_joining_script(c: char) -> bool {
    matches!(c as u32,
        0x0600..=0x06FF | 0x0700..=0x074F | 0x0750..=0x077F | 0x0780..=0x07BF | 0x07C0..=0x07FF
        | 0x0860..=0x086F | 0x0870..=0x08FF | 0x0900..=0x0DFF | 0x0F00..=0x0FFF | 0x1000..=0x109F
        | 0x1780..=0x17FF | 0x1800..=0x18AF | 0x1CD0..=0x1CFF | 0xA8E0..=0xA8FF | 0xA9E0..=0xA9FF
        | 0xAA60..=0xAA7F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFC | 0x10A00..=0x10A5F | 0x11000..=0x1107F)
}

/// Scripts written without spaces between words, where ZWSP marks word breaks.
fn is_spaceless_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF | 0x0F00..=0x0FFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x2E80..=0x9FFF
        | 0xF900..=0xFAFF | 0xFF66..=0xFF9F | 0x20000..=0x3FFFF)
}

/// Right-to-left letters, the context of legitimate bidi marks.
fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFC | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// Whether the context format character `c` is legitimate between `before`
/// and `after`: ZWJ between emoji, ZWJ/ZWNJ between letters of a joining
/// script, a free variation selector after a Mongolian letter.
pub(crate) fn context_allows(c: char, before: Option<char>, after: Option<char>) -> bool {
    match kind(c) {
        Kind::Joiner => {
            let emoji = c == '\u{200D}'
                && before.is_some_and(is_emoji_like)
                && after.is_some_and(is_emoji_like);
            emoji || (before.is_some_and(is_joining_script) && after.is_some_and(is_joining_script))
        }
        Kind::MongolianSelector => {
            before.is_some_and(|p| matches!(p as u32, 0x1820..=0x1878 | 0x1880..=0x18A8 | 0x18AA))
        }
        _ => false,
    }
}

/// Bytes that may start a character to remove: C0 controls but whitespace,
/// DEL, and the UTF-8 lead bytes of every range [`kind`] does not keep.
/// Text in most scripts (Cyrillic `D0`/`D1`, CJK `E4`..`E9`) never hits one,
/// so the search for a first removable character is a plain byte loop.
const SUSPECT: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !matches!(b, 0x09..=0x0D);
        b += 1;
    }
    t[0x7F] = true;
    let leads: [usize; 12] = [
        0xC2, 0xCD, 0xD8, 0xDB, 0xDC, 0xE0, 0xE1, 0xE2, 0xE3, 0xEF, 0xF0, 0xF3,
    ];
    let mut i = 0;
    while i < leads.len() {
        t[leads[i]] = true;
        i += 1;
    }
    t
};

/// Byte offset of the first character to remove or to judge in context.
fn first_removable(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let exact = |from: usize, to: usize| {
        (from..to).find(|&i| {
            bytes
                .get(i)
                .is_some_and(|&b| SUSPECT.get(usize::from(b)).copied().unwrap_or(true))
                && text
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(true, |c| kind(c) != Kind::Keep)
        })
    };
    let mut i = 0;
    while let Some(x) = swar::load(bytes, i) {
        // Printable ASCII words are skipped eight bytes at a time, and so
        // are blocks of other text without a suspect byte.
        let suspect = || {
            bytes
                .get(i..i + 8)
                .unwrap_or(&[])
                .iter()
                .fold(false, |any, &b| {
                    any | SUSPECT.get(usize::from(b)).copied().unwrap_or(true)
                })
        };
        if swar::high(x) | swar::below(x, 0x20) | swar::eq(x, 0x7F) != 0 && suspect() {
            if let Some(found) = exact(i, i + 8) {
                return Some(found);
            }
        }
        i += 8;
    }
    exact(i, bytes.len())
}

/// Removes invisible characters from `text`; see the module documentation.
pub(crate) fn clean<'a>(
    text: &'a str,
    findings: &mut Findings,
    hidden: &mut Hidden,
) -> Cow<'a, str> {
    let Some(first) = first_removable(text) else {
        return Cow::Borrowed(text);
    };
    let (head, tail) = text.split_at(first);
    let mut out = String::with_capacity(text.len());
    out.push_str(head);
    let mut prev = head.chars().next_back();
    let mut has_rtl: Option<bool> = None;
    // Where the output stood at the last RIGHT-TO-LEFT OVERRIDE still open.
    let mut override_from: Option<usize> = None;
    let mut chars = tail.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        if let Some(from) = override_from {
            // An override ends at the pop, at an isolate's end or at a line break.
            if matches!(c, '\u{202C}' | '\u{2069}' | '\n' | '\u{2029}') {
                push_reversed(&mut hidden.reversed, out.get(from..).unwrap_or(""));
                override_from = None;
            }
        }
        match kind(c) {
            Kind::Keep => out.push(c),
            Kind::Invisible => findings.invisible += 1,
            Kind::Zwsp => {
                let word_break =
                    prev.is_some_and(is_spaceless_script) && next.is_some_and(is_spaceless_script);
                if !word_break {
                    findings.invisible += 1;
                }
            }
            Kind::Joiner | Kind::MongolianSelector => {
                // Judged on the neighbours the output will have, selectors
                // gone, so that the view is judged alike when normalized again.
                let after = tail
                    .get(i + c.len_utf8()..)
                    .unwrap_or("")
                    .chars()
                    .find(|&n| kind(n) != Kind::Selector);
                if context_allows(c, out.chars().next_back(), after) {
                    out.push(c);
                } else {
                    findings.invisible += 1;
                }
            }
            Kind::Bom => {
                if first + i != 0 {
                    findings.invisible += 1;
                }
            }
            Kind::BidiMark => {
                if !*has_rtl.get_or_insert_with(|| text.chars().any(is_rtl)) {
                    findings.bidi += 1;
                }
            }
            Kind::Bidi => {
                findings.bidi += 1;
                if c == '\u{202E}' && override_from.is_none() {
                    override_from = Some(out.len());
                }
            }
            Kind::Tag => {
                let run = run_of(tail, i, |k| k == Kind::Tag);
                let legit_flag = out.ends_with('\u{1F3F4}') && is_subdivision_flag(run);
                let mut last = c;
                for t in run.chars() {
                    last = t;
                    if legit_flag {
                        out.push(t);
                        continue;
                    }
                    findings.tag_chars += 1;
                    if let Some(b) = (t as u32)
                        .checked_sub(0xE0000)
                        .and_then(|b| u8::try_from(b).ok())
                    {
                        if (0x20..0x7F).contains(&b) {
                            hidden.tags.push(char::from(b));
                        }
                    }
                }
                skip_past(&mut chars, i + run.len());
                prev = Some(last);
                continue;
            }
            Kind::Selector => {
                let run = run_of(tail, i, |k| k == Kind::Selector);
                let count = run.chars().count();
                if count >= 2 {
                    // One carrier, many selectors: variation-selector smuggling.
                    findings.variation_selectors += u32::try_from(count).unwrap_or(u32::MAX);
                    hidden
                        .selectors
                        .extend(run.chars().filter_map(selector_byte));
                } else if prev.map_or(true, |p| p.is_ascii_alphabetic() || p.is_whitespace()) {
                    // No variation sequence starts with an ASCII letter, but one
                    // selector per letter carries no payload: a weaker signal,
                    // counted apart so it is not refused like a run.
                    findings.stray_selectors += 1;
                }
                skip_past(&mut chars, i + run.len());
                prev = run.chars().next_back();
                continue;
            }
        }
        prev = Some(c);
    }
    if let Some(from) = override_from {
        push_reversed(&mut hidden.reversed, out.get(from..).unwrap_or(""));
    }
    Cow::Owned(out)
}

/// Appends `run` as displayed under an override: its characters reversed.
fn push_reversed(into: &mut String, run: &str) {
    if run.trim().is_empty() {
        return;
    }
    if !into.is_empty() {
        into.push('\n');
    }
    // Tag characters left in (a flag's) would no longer follow their flag.
    into.extend(run.chars().rev().filter(|&c| kind(c) != Kind::Tag));
}

/// The maximal run of characters of one kind starting at byte `start` of `s`.
fn run_of(s: &str, start: usize, same: impl Fn(Kind) -> bool) -> &str {
    let rest = s.get(start..).unwrap_or("");
    let len = rest
        .char_indices()
        .find(|&(_, c)| !same(kind(c)))
        .map_or(rest.len(), |(i, _)| i);
    rest.get(..len).unwrap_or("")
}

/// Advances `chars` to the first character at or after byte `end`.
fn skip_past(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, end: usize) {
    while chars.next_if(|&(j, _)| j < end).is_some() {}
}

/// `🏴` + `gbeng`, `gbsct` or `gbwls` in tag letters + CANCEL TAG: the
/// subdivision flags recommended for general interchange (England, Scotland,
/// Wales). Other well-formed subdivision tags are possible but unsupported
/// almost everywhere, and a six-letter tag run may just as well spell
/// `ignore`: they are removed and counted like any tag characters.
fn is_subdivision_flag(run: &str) -> bool {
    let mut code = [0u8; 6];
    let mut len = 0;
    for t in run.chars() {
        let Some(slot) = code.get_mut(len) else {
            return false;
        };
        *slot = u8::try_from((t as u32).wrapping_sub(0xE0000)).unwrap_or(0);
        len += 1;
    }
    matches!(
        code.get(..len),
        Some(b"gbeng\x7f" | b"gbsct\x7f" | b"gbwls\x7f")
    )
}

/// The byte a variation selector stands for in smuggled payloads.
fn selector_byte(c: char) -> Option<u8> {
    match c as u32 {
        cp @ 0xFE00..=0xFE0F => u8::try_from(cp - 0xFE00).ok(),
        cp @ 0xE0100..=0xE01EF => u8::try_from(cp - 0xE0100 + 16).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn run(text: &str) -> (String, Findings, Hidden) {
        let mut findings = Findings::default();
        let mut hidden = Hidden::default();
        let out = clean(text, &mut findings, &mut hidden).into_owned();
        (out, findings, hidden)
    }

    #[test]
    fn plain_text_is_borrowed() {
        let mut findings = Findings::default();
        let mut hidden = Hidden::default();
        assert!(matches!(
            clean("plain text\n", &mut findings, &mut hidden),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            clean("текст 中文", &mut findings, &mut hidden),
            Cow::Borrowed(_)
        ));
        assert_eq!(findings, Findings::default());
    }

    #[test]
    fn invisible_characters_are_removed_and_counted_by_kind() {
        let cases: &[(&str, &str, [u32; 4])] = &[
            ("ig\u{200B}no\u{2060}re\u{AD}", "ignore", [3, 0, 0, 0]),
            (
                "a\u{FEFF}b\u{180E}c\u{2062}d\u{3164}e\u{FFA0}f\u{115F}",
                "abcdef",
                [6, 0, 0, 0],
            ),
            ("x\u{0}y\u{1B}z\u{85}", "xyz\u{85}", [2, 0, 0, 0]),
            (
                "\u{202E}evil\u{202C} \u{2066}x\u{2069}\u{200F}",
                "evil x",
                [0, 5, 0, 0],
            ),
            ("i\u{200D}g\u{200C}n", "ign", [2, 0, 0, 0]),
            ("i\u{FE00}gnore", "ignore", [0, 0, 0, 0]),
        ];
        for &(input, want, [invisible, bidi, tags, vs]) in cases {
            let (out, f, _) = run(input);
            assert_eq!(out, want, "{input:?}");
            assert_eq!(
                [f.invisible, f.bidi, f.tag_chars, f.variation_selectors],
                [invisible, bidi, tags, vs],
                "{input:?}"
            );
        }
    }

    #[test]
    fn legitimate_joiners_selectors_and_flags_are_kept_and_not_counted() {
        let cases = [
            "👨\u{200D}👩\u{200D}👧",
            "🏳\u{FE0F}\u{200D}🌈",
            "می\u{200C}خواهم",
            "क्\u{200D}ष",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
            "❤\u{FE0F} 1\u{FE0F}\u{20E3} 葛\u{E0100}",
            "\u{FEFF}bom",
            "שלום\u{200F} עולם",
            "ภาษา\u{200B}ไทย",
        ];
        for input in cases {
            let (_, f, hidden) = run(input);
            assert_eq!(f, Findings::default(), "{input:?}");
            assert!(hidden.tags.is_empty() && hidden.selectors.is_empty());
        }
    }

    #[test]
    fn single_selectors_after_letters_are_stray_not_smuggling() {
        // One selector after each letter: no payload, the text reads as is.
        let (out, f, hidden) = run("h\u{FE0F}e\u{FE0F}y\u{FE0E} \u{FE0F}x");
        assert_eq!(out, "hey x");
        assert_eq!([f.stray_selectors, f.variation_selectors], [4, 0]);
        assert!(hidden.selectors.is_empty());
        // Emoji presentation after a heart stays free of any count.
        let (_, f, _) = run("I \u{2764}\u{FE0F} it");
        assert_eq!(f, Findings::default());
    }

    #[test]
    fn tag_characters_are_decoded() {
        let payload: String = "ignore"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or('?'))
            .collect();
        let (out, f, hidden) = run(&format!("hi{payload}\u{E007F}!"));
        assert_eq!(out, "hi!");
        assert_eq!(f.tag_chars, 7);
        assert_eq!(hidden.tags, "ignore");
        // A black flag with a tag run that is no subdivision code is smuggling too.
        let (_, f, hidden) = run(&format!("\u{1F3F4}{payload}\u{E007F}"));
        assert_eq!(f.tag_chars, 7);
        assert_eq!(hidden.tags, "ignore");
    }

    #[test]
    fn variation_selector_runs_are_decoded() {
        let mut text = String::from("😀");
        for b in "hi!".bytes() {
            let cp = if b < 16 {
                0xFE00 + u32::from(b)
            } else {
                0xE0100 + u32::from(b) - 16
            };
            text.push(char::from_u32(cp).unwrap_or('?'));
        }
        text.push_str(" ok");
        let (out, f, hidden) = run(&text);
        assert_eq!(out, "😀 ok");
        assert_eq!(f.variation_selectors, 3);
        assert_eq!(f.stray_selectors, 0);
        assert_eq!(hidden.selectors, b"hi!");
    }
}
