//! Form augmentation for `infw train`: label-preserving rewrites of a
//! training text (fullwidth and mathematical letters, look-alikes from other
//! scripts, invisible characters, combining marks, letters spelled out with
//! separators, leetspeak, case games, an encoded copy inside ordinary text,
//! a short prefix of a benign text). Applied to attacks and benign texts alike,
//! so that the *form* of a text stops being evidence on its own and the
//! classifier learns from what the normalized view says.
//!
//! Deterministic: every choice comes from the seeded [`Rng`]. These are the
//! trainer's own implementations, written independently of the evasion test
//! matrix (`tests/evasion/transforms.rs`), which stays a held-out check.

use inference_firewall::anomaly::train::Rng;

/// The forms, by name (reported by `infw train`).
pub const FORMS: &[&str] = &[
    "fullwidth",
    "math_letters",
    "lookalikes",
    "invisible",
    "combining_marks",
    "spelled_out",
    "leetspeak",
    "case_games",
    "encoded_inside",
    "short_prefix",
];

fn pick<'a, T>(rng: &mut Rng, v: &'a [T]) -> &'a T {
    &v[(rng.next_u64() % v.len() as u64) as usize]
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
}

/// Rewrites `text` in the form `FORMS[form]`; `None` when the form does not
/// apply (`short_prefix` of an attack: a prefix of an attack is not one).
pub fn apply(text: &str, form: usize, attack: bool, rng: &mut Rng) -> Option<String> {
    let out = match *FORMS.get(form)? {
        "fullwidth" => map_chars(text, rng, 1.0, |c, _| match c {
            '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01),
            _ => None,
        }),
        "math_letters" => {
            // Alphabets without holes: bold, bold italic, bold script, bold
            // fraktur, sans-serif (plain, bold, italic), monospace.
            let base = *pick(
                rng,
                &[
                    0x1D400u32, 0x1D468, 0x1D4D0, 0x1D56C, 0x1D5A0, 0x1D5D4, 0x1D608, 0x1D670,
                ],
            );
            map_chars(text, rng, 1.0, move |c, _| match c {
                'A'..='Z' => char::from_u32(base + (c as u32 - 'A' as u32)),
                'a'..='z' => char::from_u32(base + 26 + (c as u32 - 'a' as u32)),
                _ => None,
            })
        }
        "lookalikes" => {
            let share = *pick(rng, &[0.2, 0.5, 1.0]);
            let table = *pick(rng, &[CYRILLIC, GREEK]);
            map_chars(text, rng, share, move |c, _| {
                table.iter().find(|(a, _)| *a == c).map(|(_, b)| *b)
            })
        }
        "invisible" => {
            let mark = *pick(
                rng,
                &[
                    "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{00AD}", "\u{FEFF}",
                ],
            );
            let share = *pick(rng, &[0.3, 1.0]);
            between_letters(text, rng, share, mark)
        }
        "combining_marks" => {
            let marks = ["\u{0301}", "\u{0308}", "\u{0336}", "\u{0335}", "\u{0300}"];
            let depth = *pick(rng, &[1usize, 1, 3]);
            let mut s = String::with_capacity(text.len() * 3);
            for c in text.chars() {
                s.push(c);
                if c.is_alphabetic() && chance(rng, 0.6) {
                    for _ in 0..depth {
                        let m = *pick::<&str>(rng, &marks);
                        s.push_str(m);
                    }
                }
            }
            s
        }
        "spelled_out" => {
            let sep = *pick(rng, &[" ", ".", "-", "_", "*", "+", "~", "/"]);
            // Words spelled letter by letter, words apart by a wider gap (or,
            // one time in four, by the same single separator).
            let gap = if chance(rng, 0.25) { " " } else { "   " };
            let mut s = String::with_capacity(text.len() * 3);
            for (i, w) in text.split(' ').enumerate() {
                if i > 0 {
                    s.push_str(gap);
                }
                for (j, c) in w.chars().enumerate() {
                    if j > 0 {
                        s.push_str(sep);
                    }
                    s.push(c);
                }
            }
            s
        }
        "leetspeak" => {
            let map: &[(char, char)] = if chance(rng, 0.5) {
                &[
                    ('a', '4'),
                    ('e', '3'),
                    ('i', '1'),
                    ('o', '0'),
                    ('s', '5'),
                    ('t', '7'),
                ]
            } else {
                &[
                    ('a', '@'),
                    ('e', '3'),
                    ('i', '!'),
                    ('o', '0'),
                    ('s', '$'),
                    ('l', '1'),
                ]
            };
            let share = *pick(rng, &[0.5, 1.0]);
            map_chars(text, rng, share, |c, _| {
                let l = c.to_ascii_lowercase();
                map.iter().find(|(a, _)| *a == l).map(|(_, b)| *b)
            })
        }
        "case_games" => {
            let mode = rng.next_u64() % 3;
            let mut up = false;
            text.chars()
                .map(|c| match mode {
                    0 => c.to_uppercase().next().unwrap_or(c),
                    1 if c.is_alphabetic() => {
                        up = !up;
                        if up {
                            c.to_uppercase().next().unwrap_or(c)
                        } else {
                            c.to_lowercase().next().unwrap_or(c)
                        }
                    }
                    _ if c.is_uppercase() => c.to_lowercase().next().unwrap_or(c),
                    _ => c.to_uppercase().next().unwrap_or(c),
                })
                .collect()
        }
        "encoded_inside" => {
            // A sentence of the text, encoded, inside the rest of it: the
            // encoding says nothing about what the payload says.
            let sentences: Vec<&str> = text
                .split_inclusive(['.', '?', '!', '\n'])
                .filter(|s| !s.trim().is_empty())
                .collect();
            let k = if sentences.is_empty() {
                return None;
            } else {
                (rng.next_u64() % sentences.len() as u64) as usize
            };
            let payload = sentences[k].trim();
            let enc = match rng.next_u64() % 4 {
                0 | 1 => base64(payload.as_bytes()),
                2 => payload
                    .bytes()
                    .map(|b| {
                        if b.is_ascii_alphanumeric() {
                            (b as char).to_string()
                        } else {
                            format!("%{b:02X}")
                        }
                    })
                    .collect(),
                _ => payload.bytes().map(|b| format!("{b:02x}")).collect(),
            };
            let mut s = String::new();
            for (j, part) in sentences.iter().enumerate() {
                if j == k {
                    s.push_str(if part.starts_with(' ') { " " } else { "" });
                    s.push_str(&enc);
                    if part.ends_with('\n') {
                        s.push('\n');
                    }
                } else {
                    s.push_str(part);
                }
            }
            s
        }
        "short_prefix" => {
            if attack {
                return None;
            }
            let words: Vec<&str> = text.split_whitespace().collect();
            let n = 1 + (rng.next_u64() % 3) as usize;
            if words.len() <= n {
                return None;
            }
            words[..n].join(" ")
        }
        _ => return None,
    };
    (out != text).then_some(out)
}

/// Replaces each character `f` maps, with probability `share`.
fn map_chars(
    text: &str,
    rng: &mut Rng,
    share: f64,
    f: impl Fn(char, &mut Rng) -> Option<char>,
) -> String {
    let mut s = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        match f(c, rng) {
            Some(d) if share >= 1.0 || chance(rng, share) => s.push(d),
            _ => s.push(c),
        }
    }
    s
}

/// Puts `mark` between two letters of a word, with probability `share`.
fn between_letters(text: &str, rng: &mut Rng, share: f64, mark: &str) -> String {
    let mut s = String::with_capacity(text.len() * 2);
    let mut prev_letter = false;
    for c in text.chars() {
        let letter = c.is_alphabetic();
        if letter && prev_letter && chance(rng, share) {
            s.push_str(mark);
        }
        s.push(c);
        prev_letter = letter;
    }
    s
}

/// Standard base64 with padding: the library's own encoder.
fn base64(bytes: &[u8]) -> String {
    inference_firewall::anomaly::lm::b64_encode(bytes)
}

const CYRILLIC: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('j', 'ј'),
    ('o', 'о'),
    ('p', 'р'),
    ('s', 'ѕ'),
    ('x', 'х'),
    ('y', 'у'),
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('T', 'Т'),
    ('X', 'Х'),
];

const GREEK: &[(char, char)] = &[
    ('o', 'ο'),
    ('v', 'ν'),
    ('u', 'υ'),
    ('i', 'ι'),
    ('k', 'κ'),
    ('A', 'Α'),
    ('B', 'Β'),
    ('E', 'Ε'),
    ('H', 'Η'),
    ('I', 'Ι'),
    ('K', 'Κ'),
    ('M', 'Μ'),
    ('N', 'Ν'),
    ('O', 'Ο'),
    ('P', 'Ρ'),
    ('T', 'Τ'),
    ('X', 'Χ'),
    ('Z', 'Ζ'),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_deterministic_and_change_the_text() {
        let text = "Can you explain how photosynthesis works? Thanks.";
        for (form, name) in FORMS.iter().enumerate() {
            let a = apply(text, form, false, &mut Rng::new(3));
            let b = apply(text, form, false, &mut Rng::new(3));
            assert_eq!(a, b, "{name}");
            assert!(a.is_some(), "{name}");
        }
        assert_eq!(base64(b"hi!"), "aGkh");
        assert_eq!(base64(b"hi"), "aGk=");
        let short = FORMS.iter().position(|f| *f == "short_prefix").unwrap();
        assert_eq!(apply(text, short, true, &mut Rng::new(3)), None);
    }
}
