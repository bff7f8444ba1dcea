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

use super::swar;

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
    let bytes = view.as_bytes();
    let mut stack = Stack {
        ring: [0u8; DEPTH],
        depth: 0,
        count: 0,
    };
    // Prose holds a bracket in few of its eight-byte words: those without
    // one are skipped a word at a time (natively, 13.5k instructions for
    // the benchmark's 4 KiB English request, against 52k for a byte loop).
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    let tail_at = bytes.len() - tail.len();
    for (w, word) in words.enumerate() {
        let x = u64::from_le_bytes(word.try_into().unwrap_or_default());
        if candidates(x) != 0 {
            for (j, &b) in word.iter().enumerate() {
                stack.byte(b, bytes, w * 8 + j);
            }
        }
    }
    for (j, &b) in tail.iter().enumerate() {
        stack.byte(b, bytes, tail_at + j);
    }
    stack.finish()
}

/// Bytes that may be brackets (exactly the brackets, but for the rare
/// false positive of [`swar::eq`] above a true one): `(` and `)` differ in
/// bit 0 alone; `[`, `]`, `{` and `}` agree outside bits 1, 2 and 5, with
/// exactly one of bits 1 and 2 set (`Y`, `_`, `y` and DEL, which agree with
/// them too, have none or both). Never misses one.
fn candidates(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Bit 1 and bit 2 of each byte moved to its bit 7 (within the byte).
    let one_of_bits_1_2 = (x << 6) ^ (x << 5);
    swar::eq(x & (ONES * 0xFE), b'(') | swar::eq(x & (ONES * 0xD9), 0x59) & one_of_bits_1_2
}

/// The open brackets remembered, how deep the text is, and the events counted.
struct Stack {
    ring: [u8; DEPTH],
    depth: usize,
    count: u32,
}

impl Stack {
    /// Takes the bracket `b` at `view[at]`.
    fn byte(&mut self, b: u8, view: &[u8], at: usize) {
        match b {
            b'(' | b'[' | b'{' => {
                if let Some(slot) = self.ring.get_mut(self.depth % DEPTH) {
                    *slot = if b == b'{' && opens_block(view, at) {
                        b | BLOCK
                    } else {
                        b
                    };
                }
                self.depth += 1;
            }
            b')' | b']' | b'}' => {
                let closes = |open: u8| {
                    let open = open & !BLOCK;
                    open == opener(b) || (matches!(open, b'(' | b'[') && matches!(b, b')' | b']'))
                };
                // The innermost open bracket this closes, within the remembered depth.
                let found = (1..=self.depth.min(DEPTH)).find(|&k| self.open(k).is_some_and(closes));
                match found {
                    Some(1) => self.depth -= 1,
                    Some(k) => {
                        self.count += 1;
                        self.depth -= k;
                    }
                    None if b != b')' => self.count += 1,
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// The `k`th innermost open bracket (1: the innermost), `k` at most the
    /// remembered depth.
    fn open(&self, k: usize) -> Option<u8> {
        self.ring.get((self.depth - k) % DEPTH).copied()
    }

    /// The events, with the `[` and `{` left open (not a block's `{`).
    fn finish(&self) -> u32 {
        let unclosed = (1..=self.depth.min(DEPTH))
            .filter(|&k| matches!(self.open(k), Some(b'[' | b'{')))
            .count();
        self.count + unclosed as u32
    }
}

/// Marks a remembered `{` that opens a block of code (see [`opens_block`]):
/// it closes like any `{` but does not count when left open.
const BLOCK: u8 = 0x80;

/// Whether the `{` at `view[at]` opens a block of code: after a space that
/// follows a word, `)`, `>` or `=`, and before a space or the end (`class
/// A {`, `f(x) {`, `=> {`, `x = {`; the view has collapsed the line breaks
/// into spaces). A code completion prompt stops inside such blocks; a
/// suffix's braces sit between punctuation (`{[`, `{\\`, `]{%`).
fn opens_block(view: &[u8], at: usize) -> bool {
    let before = |k: usize| at.checked_sub(k).and_then(|i| view.get(i)).copied();
    before(1) == Some(b' ')
        && before(2).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b')' | b'>' | b'='))
        && view.get(at + 1).map_or(true, |&c| c == b' ')
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

    /// A prompt that asks to complete code stops inside its blocks (the
    /// view has its line breaks collapsed to spaces).
    #[test]
    fn blocks_of_code_left_open_count_nothing() {
        for text in [
            "public class solution { public int add(int a, int b) {",
            "function f(x) { if (x > 1) {",
            "const handler = (e) => {",
            "let config = {",
            "fn main() { for i in 0..3 {",
        ] {
            assert_eq!(mismatched_brackets(text), 0, "{text}");
        }
        // A block's `{` still closes like any other, and a brace between
        // punctuation still counts.
        assert_eq!(mismatched_brackets("if (x) { y = [1, 2]; }"), 0);
        assert_eq!(mismatched_brackets("if (x) { ]"), 1);
        assert_eq!(mismatched_brackets("outline[{ css[{%forall"), 4);
    }

    #[test]
    fn crossing_stray_and_unclosed_brackets_count() {
        assert_eq!(mismatched_brackets("a ] b"), 1);
        assert_eq!(mismatched_brackets("a } b"), 1);
        assert_eq!(mismatched_brackets("a [ b"), 1);
        assert_eq!(mismatched_brackets("a {b"), 1);
        assert_eq!(mismatched_brackets("a, { b"), 1);
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

    /// The word-at-a-time skip never passes over a bracket: every byte value
    /// at every place in a word is a candidate when it is a bracket, and
    /// the count equals the plain byte loop's on varied texts and on runs
    /// of brackets among letters of every length around the word size.
    #[test]
    fn skipping_words_counts_what_the_byte_loop_counts() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                let x = u64::from_le_bytes(word);
                if b"()[]{}".contains(&b) {
                    assert_ne!(candidates(x), 0, "{b:#x} at {at}");
                }
            }
        }
        let plain = |text: &str| {
            let mut stack = Stack {
                ring: [0u8; DEPTH],
                depth: 0,
                count: 0,
            };
            for (i, b) in text.bytes().enumerate() {
                stack.byte(b, text.as_bytes(), i);
            }
            stack.finish()
        };
        let mut texts = crate::normalize::varied_texts();
        let pieces = ["(", ")", "[", "]", "{", "}", "y", "_", "ab", " "];
        let mut r = 0x2545_f491_4f6c_dd1du64;
        for len in 0..40 {
            let mut t = String::new();
            for _ in 0..len {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                t.push_str(pieces[(r % pieces.len() as u64) as usize]);
            }
            texts.push(t);
        }
        for t in texts {
            assert_eq!(mismatched_brackets(&t), plain(&t), "{t:?}");
        }
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
