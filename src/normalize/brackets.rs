//! Mis-nested brackets: the structural trace of an optimized adversarial
//! suffix.
//!
//! A GCG-style suffix is a string of tokens chosen by gradient search, not
//! by a writer: word fragments, markup and code punctuation in an order no
//! grammar produces (`pun?>}^{( herexture:@" ... ${INST([referpython{<?`).
//! Its brackets open and close at random. People's text, code, LaTeX, JSON,
//! Markdown and regular expressions nest theirs, so a closer that crosses
//! another open bracket, a `]` or `}` that closes nothing and a `[` or `{`
//! never closed are rare outside such suffixes: in the development corpus,
//! 78% of one source's suffixes hold one or more and 2 of 2,643 benign
//! prompts do (both about bracket matching), as do none of the 1,500
//! generated benign probes (`tests/data/ood`: code, JSON, logs, tables,
//! traces). The count is a technique, not a string: it holds for suffixes
//! from a source the classifier never saw, where the classifier's n-grams
//! do not.
//!
//! Tolerated, because people write them: `)` that closes nothing (`1)`,
//! `:)`), `(` left open, and `[`/`(` closed by the other's closer
//! (half-open intervals: `[0, 1)`, `(a, b]`). The price of the last: a
//! regular expression's class holding `)` (`[^)]`) counts one.

/// Openers remembered. Deeper nesting overwrites the oldest: the count stays
/// exact for text nested up to this depth and bounded (no allocation) for
/// any text.
const DEPTH: usize = 32;

/// Counts the bracket events people's text does not produce: closers that
/// cross another open bracket, `]` and `}` closing nothing, `[` and `{`
/// left open at the end.
///
/// ```
/// use inference_firewall::normalize::mismatched_brackets;
/// assert_eq!(mismatched_brackets("f(a[1], {b: [2, 3]}) and [0, 1)"), 0);
/// assert_eq!(mismatched_brackets(r#"Sure pun?>}^{( here ${INST([refer{<?"#), 5);
/// ```
pub fn mismatched_brackets(view: &str) -> u32 {
    let mut ring = [0u8; DEPTH];
    let mut depth = 0usize;
    let mut count = 0u32;
    for &b in view.as_bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                if let Some(slot) = ring.get_mut(depth % DEPTH) {
                    *slot = b;
                }
                depth += 1;
            }
            b')' | b']' | b'}' => {
                let closes = |open: u8| {
                    open == opener(b) || (matches!(open, b'(' | b'[') && matches!(b, b')' | b']'))
                };
                // The innermost open bracket this closes, within the remembered depth.
                let remembered = depth.min(DEPTH);
                let found = (1..=remembered).find(|&k| {
                    ring.get((depth - k) % DEPTH)
                        .is_some_and(|&open| closes(open))
                });
                match found {
                    Some(1) => depth -= 1,
                    Some(k) => {
                        count += 1;
                        depth -= k;
                    }
                    None if b != b')' => count += 1,
                    None => {}
                }
            }
            _ => {}
        }
    }
    let open = depth.min(DEPTH);
    count
        + (1..=open)
            .filter(|&k| {
                ring.get((depth - k) % DEPTH)
                    .is_some_and(|&o| matches!(o, b'[' | b'{'))
            })
            .count() as u32
}

const fn opener(closer: u8) -> u8 {
    match closer {
        b')' => b'(',
        b']' => b'[',
        _ => b'{',
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn nested_text_code_and_markup_count_nothing() {
        for text in [
            "",
            "plain prose with no brackets at all",
            "call f(a[1], {b: [2, (3)]}) then g()",
            r"\frac{a}{b} + \left( x_{i} \right)",
            r#"{"messages": [{"role": "user", "content": "hi"}]}"#,
            "see [the docs](https://example.com/a_(b)) for more",
            r"match [a-z]+\(\d+\) or \{\d+\}",
            "1) first 2) second :) ok",
            "an interval [0, 1) and (a, b] and [2, 3]",
            "an open paren ( never closed",
            "for (i = 0; i < n; i++) { a[i] = b[i]; }",
        ] {
            assert_eq!(mismatched_brackets(text), 0, "{text}");
        }
    }

    #[test]
    fn crossing_stray_and_unclosed_brackets_count() {
        assert_eq!(mismatched_brackets("a ] b"), 1);
        assert_eq!(mismatched_brackets("a } b"), 1);
        assert_eq!(mismatched_brackets("a [ b"), 1);
        assert_eq!(mismatched_brackets("a { b"), 1);
        // `}` crosses the open `(`: one event, and both are settled.
        assert_eq!(mismatched_brackets("{ ( }"), 1);
        assert_eq!(mismatched_brackets("[ { ]"), 1);
        // Suffixes of the development corpus's kind.
        assert_eq!(
            mismatched_brackets(r"as `(> HerewodCompiler}}^{]` profile (\[{})\ ((clone{[=${Match"),
            6
        );
        assert!(
            mismatched_brackets(r"unsignedMicrosoft arguments]{\']); writeand seed below]} ${\=")
                >= 3
        );
    }

    #[test]
    fn nesting_deeper_than_remembered_stays_bounded_and_exact_within() {
        let deep = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
        assert_eq!(mismatched_brackets(&deep), 0);
        let deeper = format!("{}{}", "{".repeat(10 * DEPTH), "}".repeat(10 * DEPTH));
        // Past the remembered depth the closers still find `{` openers.
        assert_eq!(mismatched_brackets(&deeper), 0);
        let unclosed = "[".repeat(10 * DEPTH);
        assert_eq!(mismatched_brackets(&unclosed), DEPTH as u32);
        let closers = "]".repeat(1000);
        assert_eq!(mismatched_brackets(&closers), 1000);
    }
}
