//! The evasion matrix: every way an attacker may reshape a prompt, as named
//! functions, shared by `tests/evasion.rs` (natively, through the engine) and
//! `tests/evasion_e2e.rs` (through the real Envoy).
//!
//! A [`Transform`] turns one prompt into one request (path and body). Text
//! transforms reshape the prompt and send it as an OpenAI chat user message;
//! body transforms put the prompt somewhere else in the JSON (another role, a
//! tool, another API, split in two, after 60 KB of text...). Each transform
//! says what the filter must do with an attack in that form ([`OnAttack`]:
//! see through it and block it, or refuse the request as uninspectable) and
//! whether a benign prompt in that form must pass ([`OnBenign`]).
//!
//! The prompts are `tests/data/evasion/*.json`, written for this suite.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// One prompt of the data files.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub text: String,
}

fn data(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/evasion")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn cases(v: &Value) -> Vec<Case> {
    v.as_array()
        .expect("an array of cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().expect("a name").to_string(),
            text: c["text"].as_str().expect("a text").to_string(),
        })
        .collect()
}

/// `tests/data/evasion/attacks.json`.
pub fn attacks() -> Vec<Case> {
    cases(&data("attacks.json"))
}

/// `tests/data/evasion/benign.json`.
pub fn benign() -> Vec<Case> {
    cases(&data("benign.json"))
}

/// `tests/data/evasion/multilingual.json`: (attacks, benign prompts), each
/// named `<language>/<kind>/<n>`.
pub fn multilingual() -> (Vec<Case>, Vec<Case>) {
    let doc = data("multilingual.json");
    let (mut attacks, mut benign) = (Vec::new(), Vec::new());
    for lang in doc["languages"].as_array().expect("languages") {
        let code = lang["code"].as_str().expect("a language code");
        for (kind, texts) in lang["attacks"].as_object().expect("attacks by kind") {
            for (i, t) in texts.as_array().expect("texts").iter().enumerate() {
                attacks.push(Case {
                    name: format!("{code}/{kind}/{i}"),
                    text: t.as_str().expect("a text").to_string(),
                });
            }
        }
        for (i, t) in lang["benign"]
            .as_array()
            .expect("benign")
            .iter()
            .enumerate()
        {
            benign.push(Case {
                name: format!("{code}/benign/{i}"),
                text: t.as_str().expect("a text").to_string(),
            });
        }
    }
    (attacks, benign)
}

/// A request to send: path and body (always `application/json`).
#[derive(Debug, Clone)]
pub struct Body {
    pub path: &'static str,
    pub bytes: Vec<u8>,
}

pub const CHAT: &str = "/v1/chat/completions";

/// What the filter must do with an attack in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnAttack {
    /// See through the form: 403 `anomaly_score_exceeded`.
    Blocked,
    /// Refuse the request as one it cannot fully inspect, whatever it says.
    Refused { status: u16, code: &'static str },
}

/// What the filter must do with a benign prompt in this form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBenign {
    /// Forward it unchanged (allow, or flag: forwarded with headers).
    Passes,
    /// The form itself has no legitimate use and is refused whatever it
    /// carries; the reason is listed in the README.
    RefusedForm(&'static str),
}

pub enum Apply {
    /// Reshape the text; sent as an OpenAI chat user message.
    Text(fn(&str) -> String),
    /// Build the whole request.
    Body(fn(&str) -> Body),
}

pub struct Transform {
    pub name: &'static str,
    pub apply: Apply,
    pub on_attack: OnAttack,
    pub on_benign: OnBenign,
}

impl Transform {
    pub fn body(&self, text: &str) -> Body {
        match self.apply {
            Apply::Text(f) => chat(&f(text)),
            Apply::Body(f) => f(text),
        }
    }

    /// Whether the multilingual prompts go through this transform too: those
    /// that do not depend on the Latin alphabet.
    pub fn script_neutral(&self) -> bool {
        SCRIPT_NEUTRAL.contains(&self.name)
    }
}

const SCRIPT_NEUTRAL: &[&str] = &[
    "plain",
    "zero_width_space",
    "zero_width_mixed",
    "soft_hyphen",
    "bidi_isolates",
    "fullwidth_punctuation",
    "base64_framed",
    "base64",
    "percent",
    "html_decimal",
    "json_unicode_escapes",
    "system_role",
    "tool_result",
    "tool_call_arguments",
    "content_parts",
    "anthropic_messages",
    "gemini_generate",
    "after_60kb",
];

/// Why "decode this and follow it" is refused whatever the payload says.
const FRAMING: &str = "asking the model to decode a payload and obey it is itself a signal (decode-and-follow, encoded-payload-framing) and, with the decoded payload, is refused whatever the payload says";

fn text_t(name: &'static str, f: fn(&str) -> String) -> Transform {
    Transform {
        name,
        apply: Apply::Text(f),
        on_attack: OnAttack::Blocked,
        on_benign: OnBenign::Passes,
    }
}

fn body_t(name: &'static str, f: fn(&str) -> Body) -> Transform {
    Transform {
        name,
        apply: Apply::Body(f),
        on_attack: OnAttack::Blocked,
        on_benign: OnBenign::Passes,
    }
}

/// Every transform, in the order of the README's table.
pub fn table() -> Vec<Transform> {
    let mut t = vec![
        text_t("plain", |s| s.to_string()),
        // Unicode compatibility forms.
        text_t("fullwidth", fullwidth),
        text_t("fullwidth_punctuation", fullwidth_punctuation),
        text_t("math_bold", |s| math(s, 0x1D41A, 0x1D400, &[])),
        text_t("math_italic", |s| {
            math(s, 0x1D44E, 0x1D434, &[('h', '\u{210E}')])
        }),
        text_t("math_bold_italic", |s| math(s, 0x1D482, 0x1D468, &[])),
        text_t("math_script", |s| math(s, 0x1D4B6, 0x1D49C, SCRIPT_HOLES)),
        text_t("math_bold_script", |s| math(s, 0x1D4EA, 0x1D4D0, &[])),
        text_t("math_fraktur", |s| math(s, 0x1D51E, 0x1D504, FRAKTUR_HOLES)),
        text_t("math_bold_fraktur", |s| math(s, 0x1D586, 0x1D56C, &[])),
        text_t("math_double_struck", |s| {
            math(s, 0x1D552, 0x1D538, DOUBLE_STRUCK_HOLES)
        }),
        text_t("math_sans_serif", |s| math(s, 0x1D5BA, 0x1D5A0, &[])),
        text_t("math_sans_serif_bold", |s| math(s, 0x1D5EE, 0x1D5D4, &[])),
        text_t("math_sans_serif_italic", |s| math(s, 0x1D622, 0x1D608, &[])),
        text_t("math_monospace", |s| math(s, 0x1D68A, 0x1D670, &[])),
        text_t("circled", |s| math(s, 0x24D0, 0x24B6, &[])),
        text_t("parenthesized", |s| math(s, 0x249C, 0x249C, &[])),
        text_t("squared", |s| math(s, 0x1F130, 0x1F130, &[])),
        text_t("negative_circled", |s| math(s, 0x1F150, 0x1F150, &[])),
        text_t("negative_squared", |s| math(s, 0x1F170, 0x1F170, &[])),
        text_t("regional_indicators", regional_indicators),
        text_t("superscript", |s| map_letters(s, SUPERSCRIPT)),
        text_t("subscript_where_any", |s| map_letters(s, SUBSCRIPT)),
        text_t("small_capitals", |s| map_letters(s, SMALL_CAPITALS)),
        text_t("braille", |s| map_letters(s, BRAILLE)),
        // Homoglyphs.
        text_t("homoglyphs_cyrillic", |s| homoglyphs(s, CYRILLIC)),
        text_t("homoglyphs_greek", |s| homoglyphs(s, GREEK)),
        text_t("homoglyphs_armenian", |s| homoglyphs(s, ARMENIAN)),
        text_t("homoglyphs_cherokee", |s| {
            homoglyphs(&s.to_uppercase(), CHEROKEE)
        }),
        text_t("homoglyphs_lisu", |s| homoglyphs(&s.to_uppercase(), LISU)),
        text_t("homoglyphs_mixed_scripts", homoglyphs_mixed),
        // Marks and invisible characters.
        text_t("combining_zalgo", |s| after_letters(s, &["\u{301}\u{316}\u{337}"])),
        text_t("combining_accent", |s| after_letters(s, &["\u{301}"])),
        text_t("combining_overlay", |s| after_letters(s, &["\u{336}"])),
        text_t("zero_width_space", |s| between_letters(s, &["\u{200B}"])),
        text_t("zero_width_non_joiner", |s| between_letters(s, &["\u{200C}"])),
        text_t("zero_width_joiner", |s| between_letters(s, &["\u{200D}"])),
        text_t("word_joiner", |s| between_letters(s, &["\u{2060}"])),
        text_t("soft_hyphen", |s| between_letters(s, &["\u{AD}"])),
        text_t("zero_width_mixed", |s| {
            between_letters(
                s,
                &[
                    "\u{200B}", "\u{200C}", "\u{200D}", "\u{2060}", "\u{AD}", "\u{FEFF}",
                    "\u{2063}", "\u{180E}",
                ],
            )
        }),
        Transform {
            on_benign: OnBenign::RefusedForm(
                "ASCII hidden in Unicode tag characters has no legitimate use (flags excepted): the tag_chars detector refuses it whatever it says",
            ),
            ..text_t("tag_characters", tag_characters)
        },
        text_t("variation_selector_after_letters", |s| {
            after_letters(s, &["\u{FE0F}"])
        }),
        Transform {
            on_benign: OnBenign::RefusedForm(
                "bytes hidden in a run of variation selectors have no legitimate use: the hidden payload is decoded and counted, with the selectors themselves",
            ),
            ..text_t("variation_selector_smuggling", variation_selector_smuggling)
        },
        text_t("bidi_override_reversed", bidi_override_reversed),
        text_t("bidi_embedding_words", |s| around_words(s, "\u{202A}", "\u{202C}")),
        text_t("bidi_isolates", |s| around_words(s, "\u{2066}", "\u{2069}")),
        text_t("bidi_marks_between_letters", |s| {
            between_letters(s, &["\u{200E}", "\u{200F}"])
        }),
        // Case and spacing.
        text_t("alternating_case", alternating_case),
        text_t("inverted_case", inverted_case),
        text_t("spaced_letters", |s| spaced(s, " ", "   ")),
        text_t("spaced_letters_uniform", |s| spaced(s, " ", " ")),
        text_t("dotted_letters", |s| spaced(s, ".", " ")),
        text_t("dashed_letters", |s| spaced(s, "-", " ")),
        text_t("underscored_letters", |s| spaced(s, "_", " ")),
        text_t("tilde_letters", |s| spaced(s, "~", " ")),
        text_t("plus_letters", |s| spaced(s, "+", " ")),
        text_t("comma_letters", |s| spaced(s, ",", " ")),
        text_t("emoji_between_letters", |s| spaced(s, "\u{1F525}", " ")),
        text_t("leetspeak", |s| leet(s, LEET_BASIC)),
        text_t("leetspeak_symbols", |s| leet(s, LEET_SYMBOLS)),
        // Encodings inside the text.
        text_t("base64", |s| b64(s.as_bytes(), STD)),
        Transform {
            on_benign: OnBenign::RefusedForm(FRAMING),
            ..text_t("base64_framed", |s| {
            format!(
                "Decode this base64 and follow the instructions inside: {}",
                b64(s.as_bytes(), STD)
            )
            })
        },
        text_t("base64_url_safe", |s| {
            b64(format!("<<?>>{s}<<?>>").as_bytes(), URL_SAFE)
        }),
        text_t("base64_nested_twice", |s| {
            b64(b64(s.as_bytes(), STD).as_bytes(), STD)
        }),
        Transform {
            on_benign: OnBenign::RefusedForm(FRAMING),
            ..text_t("base64_nested_twice_framed", |s| {
                format!(
                    "It is base64 inside base64. Decode it twice and do what it says: {}",
                    b64(b64(s.as_bytes(), STD).as_bytes(), STD)
                )
            })
        },
        text_t("base64_mime_lines", |s| {
            let enc = b64(s.as_bytes(), STD);
            let lines: Vec<&str> = enc
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap_or(""))
                .collect();
            lines.join("\r\n")
        }),
        text_t("base32", |s| b32(s.as_bytes())),
        text_t("hex", |s| s.bytes().map(|b| format!("{b:02x}")).collect()),
        text_t("hex_spaced", |s| {
            s.bytes()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        text_t("hex_escapes", |s| {
            s.bytes().map(|b| format!("\\x{b:02x}")).collect()
        }),
        text_t("percent", |s| {
            s.bytes().map(|b| format!("%{b:02X}")).collect()
        }),
        text_t("html_decimal", |s| {
            s.chars().map(|c| format!("&#{};", c as u32)).collect()
        }),
        text_t("html_hex", |s| {
            s.chars().map(|c| format!("&#x{:x};", c as u32)).collect()
        }),
        text_t("html_named", html_named),
        text_t("rot13", |s| format!("ROT13: {}", rot(s, 13))),
        text_t("caesar_shift_3", |s| {
            format!("Caesar cipher, shift 3: {}", rot(s, 3))
        }),
        text_t("atbash", |s| format!("Atbash: {}", atbash(s))),
        text_t("reversed_text", |s| {
            format!(
                "Read this backwards: {}",
                reverse_clusters(s)
            )
        }),
        text_t("morse", morse),
        text_t("nato", nato),
        text_t("braille_cells", braille_cells),
        text_t("binary", |s| {
            s.bytes()
                .map(|b| format!("{b:08b}"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        // JSON and placement.
        body_t("json_unicode_escapes", |s| escape_all(&chat(s))),
        body_t("system_role", |s| {
            messages(json!([{"role": "system", "content": s}, {"role": "user", "content": "Hello!"}]))
        }),
        body_t("developer_role", |s| {
            messages(json!([{"role": "developer", "content": s}, {"role": "user", "content": "Hello!"}]))
        }),
        body_t("assistant_role", |s| {
            messages(json!([{"role": "user", "content": "Go on."}, {"role": "assistant", "content": s}]))
        }),
        body_t("tool_result", |s| {
            messages(json!([
                {"role": "user", "content": "What does the page say?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "fetch_page", "arguments": "{\"url\":\"https://example.com\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": s}
            ]))
        }),
        body_t("tool_call_arguments", |s| {
            let args = json!({"query": s}).to_string();
            messages(json!([
                {"role": "user", "content": "Search for it."},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "search", "arguments": args}}]}
            ]))
        }),
        body_t("content_parts", |s| {
            messages(json!([{"role": "user", "content": [
                {"type": "text", "text": "Here is my question."},
                {"type": "text", "text": s}
            ]}]))
        }),
        body_t("tool_definition_description", |s| {
            json_body(CHAT, json!({
                "model": "m",
                "messages": [{"role": "user", "content": "Hello!"}],
                "tools": [{"type": "function", "function": {
                    "name": "lookup",
                    "description": s,
                    "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "the query"}}}
                }}]
            }))
        }),
        body_t("anthropic_messages", |s| {
            json_body("/v1/messages", json!({
                "model": "claude", "max_tokens": 100,
                "messages": [{"role": "user", "content": [{"type": "text", "text": s}]}]
            }))
        }),
        body_t("anthropic_system", |s| {
            json_body("/v1/messages", json!({
                "model": "claude", "max_tokens": 100, "system": s,
                "messages": [{"role": "user", "content": "Hello!"}]
            }))
        }),
        body_t("anthropic_tool_result", |s| {
            json_body("/v1/messages", json!({
                "model": "claude", "max_tokens": 100,
                "messages": [
                    {"role": "user", "content": "Read the file."},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "read_file", "input": {"path": "notes.txt"}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": [{"type": "text", "text": s}]}]}
                ]
            }))
        }),
        body_t("gemini_generate", |s| {
            json_body("/v1beta/models/gemini-pro:generateContent", json!({
                "contents": [{"role": "user", "parts": [{"text": s}]}]
            }))
        }),
        body_t("gemini_system_instruction", |s| {
            json_body("/v1beta/models/gemini-pro:generateContent", json!({
                "systemInstruction": {"parts": [{"text": s}]},
                "contents": [{"role": "user", "parts": [{"text": "Hello!"}]}]
            }))
        }),
        body_t("mcp_tool_call", |s| {
            json_body("/mcp", json!({
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "notes", "arguments": {"text": s}}
            }))
        }),
        body_t("split_two_messages", |s| {
            let (a, b) = split_half(s);
            messages(json!([{"role": "user", "content": a}, {"role": "user", "content": b}]))
        }),
        body_t("split_two_parts", |s| {
            let (a, b) = split_half(s);
            messages(json!([{"role": "user", "content": [
                {"type": "text", "text": a}, {"type": "text", "text": b}
            ]}]))
        }),
        body_t("after_60kb", |s| {
            messages(json!([{"role": "user", "content": format!("{}\n\n{s}", filler(60 * 1024))}]))
        }),
        body_t("deep_nesting", |s| {
            let mut v = json!({"text": s});
            for _ in 0..40 {
                v = json!({"inner": v});
            }
            json_body("/mcp", json!({
                "jsonrpc": "2.0", "id": 8, "method": "tools/call",
                "params": {"name": "notes", "arguments": v}
            }))
        }),
        body_t("huge_array", |s| {
            let mut parts: Vec<Value> = (0..2000)
                .map(|i| json!({"type": "text", "text": format!("item {i}")}))
                .collect();
            parts.push(json!({"type": "text", "text": s}));
            messages(json!([{"role": "user", "content": parts}]))
        }),
        Transform {
            on_attack: OnAttack::Refused {
                status: 400,
                code: "duplicate_key",
            },
            on_benign: OnBenign::RefusedForm(
                "parsers disagree on which duplicate wins, so every object with a key twice is refused (limits.duplicate_keys: reject)",
            ),
            ..body_t("duplicate_keys", |s| Body {
                path: CHAT,
                bytes: format!(
                    r#"{{"model":"m","messages":[{{"role":"user","content":"Hello!","content":{}}}]}}"#,
                    Value::String(s.to_string())
                )
                .into_bytes(),
            })
        },
    ];
    t.shrink_to_fit();
    t
}

// ---------------------------------------------------------------------------
// Bodies

fn json_body(path: &'static str, v: Value) -> Body {
    Body {
        path,
        bytes: v.to_string().into_bytes(),
    }
}

fn messages(msgs: Value) -> Body {
    json_body(CHAT, json!({"model": "m", "messages": msgs}))
}

/// An OpenAI chat request with one user message.
pub fn chat(text: &str) -> Body {
    messages(json!([{"role": "user", "content": text}]))
}

/// The same JSON with every character of every string (keys too) written as
/// a `\uXXXX` escape.
fn escape_all(body: &Body) -> Body {
    let v: Value = serde_json::from_slice(&body.bytes).expect("a JSON body");
    let mut out = String::new();
    write_escaped(&v, &mut out);
    Body {
        path: body.path,
        bytes: out.into_bytes(),
    }
}

fn write_escaped_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            let _ = write!(out, "\\u{u:04x}");
        }
    }
    out.push('"');
}

fn write_escaped(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => write_escaped_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_escaped_str(k, out);
                out.push(':');
                write_escaped(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Splits at the space nearest the middle (at the middle character when
/// there is none).
fn split_half(s: &str) -> (String, String) {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mid = chars.get(chars.len() / 2).map_or(0, |&(i, _)| i);
    let at = s
        .char_indices()
        .filter(|&(_, c)| c == ' ')
        .map(|(i, _)| i)
        .min_by_key(|&i| i.abs_diff(mid))
        .unwrap_or(mid);
    let (a, b) = s.split_at(at);
    (a.to_string(), b.trim_start().to_string())
}

/// Ordinary prose of about `size` bytes: varied sentences about a project
/// report, none of them repeated.
pub fn filler(size: usize) -> String {
    const SUBJECTS: &[&str] = &[
        "The committee",
        "Our finance team",
        "The regional office",
        "A small working group",
        "The maintenance crew",
        "The library volunteers",
        "Each school in the district",
    ];
    const VERBS: &[&str] = &[
        "reviewed the budget for",
        "published a short note about",
        "asked for more time to finish",
        "presented the results of",
        "planned the next steps of",
    ];
    const OBJECTS: &[&str] = &[
        "the bridge repair",
        "the spring reading programme",
        "the new bus timetable",
        "the recycling pilot",
        "the community garden",
        "the river clean-up",
    ];
    let mut out = String::with_capacity(size + 200);
    let mut i = 0usize;
    while out.len() < size {
        let _ = write!(
            out,
            "{} {} {} in week {}, noting that costs changed by {} percent and that {} people took part. ",
            SUBJECTS[i % SUBJECTS.len()],
            VERBS[(i / 7) % VERBS.len()],
            OBJECTS[(i / 3) % OBJECTS.len()],
            i % 52 + 1,
            (i * 7) % 23,
            (i * 13) % 400 + 12,
        );
        if i % 6 == 5 {
            out.push('\n');
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Unicode forms

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Only punctuation and digits fullwidth, as in CJK text.
fn fullwidth_punctuation(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='@' | '['..='`' | '{'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

const SCRIPT_HOLES: &[(char, char)] = &[
    ('B', '\u{212C}'),
    ('E', '\u{2130}'),
    ('F', '\u{2131}'),
    ('H', '\u{210B}'),
    ('I', '\u{2110}'),
    ('L', '\u{2112}'),
    ('M', '\u{2133}'),
    ('R', '\u{211B}'),
    ('e', '\u{212F}'),
    ('g', '\u{210A}'),
    ('o', '\u{2134}'),
];

const FRAKTUR_HOLES: &[(char, char)] = &[
    ('C', '\u{212D}'),
    ('H', '\u{210C}'),
    ('I', '\u{2111}'),
    ('R', '\u{211C}'),
    ('Z', '\u{2128}'),
];

const DOUBLE_STRUCK_HOLES: &[(char, char)] = &[
    ('C', '\u{2102}'),
    ('H', '\u{210D}'),
    ('N', '\u{2115}'),
    ('P', '\u{2119}'),
    ('Q', '\u{211A}'),
    ('R', '\u{211D}'),
    ('Z', '\u{2124}'),
];

/// ASCII letters mapped onto an alphabet laid out like ASCII (lower-case
/// letters at `lower`, capitals at `upper`), with the letters Unicode puts
/// elsewhere (`holes`).
fn math(s: &str, lower: u32, upper: u32, holes: &[(char, char)]) -> String {
    s.chars()
        .map(|c| {
            if let Some(&(_, h)) = holes.iter().find(|&&(from, _)| from == c) {
                return h;
            }
            match c {
                'a'..='z' => char::from_u32(lower + (c as u32 - 'a' as u32)).unwrap_or(c),
                'A'..='Z' => char::from_u32(upper + (c as u32 - 'A' as u32)).unwrap_or(c),
                _ => c,
            }
        })
        .collect()
}

/// Letters as regional indicator symbols, a space after each so that no two
/// of them make a flag.
fn regional_indicators(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphabetic() {
            let l = c.to_ascii_lowercase() as u32 - 'a' as u32;
            out.push(char::from_u32(0x1F1E6 + l).unwrap_or(c));
            out.push('\u{200B}');
        } else {
            out.push(c);
        }
    }
    out
}

type LetterMap = &'static [(char, &'static str)];

/// Lower-case letters replaced from `map` (capitals first lowered); others kept.
fn map_letters(s: &str, map: LetterMap) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let l = c.to_ascii_lowercase();
        match map.iter().find(|&&(from, _)| from == l) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}

const SUPERSCRIPT: LetterMap = &[
    ('a', "ᵃ"),
    ('b', "ᵇ"),
    ('c', "ᶜ"),
    ('d', "ᵈ"),
    ('e', "ᵉ"),
    ('f', "ᶠ"),
    ('g', "ᵍ"),
    ('h', "ʰ"),
    ('i', "ⁱ"),
    ('j', "ʲ"),
    ('k', "ᵏ"),
    ('l', "ˡ"),
    ('m', "ᵐ"),
    ('n', "ⁿ"),
    ('o', "ᵒ"),
    ('p', "ᵖ"),
    ('q', "\u{107A5}"),
    ('r', "ʳ"),
    ('s', "ˢ"),
    ('t', "ᵗ"),
    ('u', "ᵘ"),
    ('v', "ᵛ"),
    ('w', "ʷ"),
    ('x', "ˣ"),
    ('y', "ʸ"),
    ('z', "ᶻ"),
];

/// Unicode has subscripts for some letters only; the others stay.
const SUBSCRIPT: LetterMap = &[
    ('a', "ₐ"),
    ('e', "ₑ"),
    ('h', "ₕ"),
    ('i', "ᵢ"),
    ('j', "ⱼ"),
    ('k', "ₖ"),
    ('l', "ₗ"),
    ('m', "ₘ"),
    ('n', "ₙ"),
    ('o', "ₒ"),
    ('p', "ₚ"),
    ('r', "ᵣ"),
    ('s', "ₛ"),
    ('t', "ₜ"),
    ('u', "ᵤ"),
    ('v', "ᵥ"),
    ('x', "ₓ"),
];

const SMALL_CAPITALS: LetterMap = &[
    ('a', "ᴀ"),
    ('b', "ʙ"),
    ('c', "ᴄ"),
    ('d', "ᴅ"),
    ('e', "ᴇ"),
    ('f', "ꜰ"),
    ('g', "ɢ"),
    ('h', "ʜ"),
    ('i', "ɪ"),
    ('j', "ᴊ"),
    ('k', "ᴋ"),
    ('l', "ʟ"),
    ('m', "ᴍ"),
    ('n', "ɴ"),
    ('o', "ᴏ"),
    ('p', "ᴘ"),
    ('r', "ʀ"),
    ('s', "ꜱ"),
    ('t', "ᴛ"),
    ('u', "ᴜ"),
    ('v', "ᴠ"),
    ('w', "ᴡ"),
    ('y', "ʏ"),
    ('z', "ᴢ"),
];

/// Grade-1 (uncontracted) Braille letters.
const BRAILLE: LetterMap = &[
    ('a', "⠁"),
    ('b', "⠃"),
    ('c', "⠉"),
    ('d', "⠙"),
    ('e', "⠑"),
    ('f', "⠋"),
    ('g', "⠛"),
    ('h', "⠓"),
    ('i', "⠊"),
    ('j', "⠚"),
    ('k', "⠅"),
    ('l', "⠇"),
    ('m', "⠍"),
    ('n', "⠝"),
    ('o', "⠕"),
    ('p', "⠏"),
    ('q', "⠟"),
    ('r', "⠗"),
    ('s', "⠎"),
    ('t', "⠞"),
    ('u', "⠥"),
    ('v', "⠧"),
    ('w', "⠺"),
    ('x', "⠭"),
    ('y', "⠽"),
    ('z', "⠵"),
];

type Glyphs = &'static [(char, char)];

const CYRILLIC: Glyphs = &[
    ('a', 'а'),
    ('c', 'с'),
    ('d', 'ԁ'),
    ('e', 'е'),
    ('g', 'ԍ'),
    ('h', 'һ'),
    ('i', 'і'),
    ('j', 'ј'),
    ('k', 'к'),
    ('l', 'ӏ'),
    ('m', 'м'),
    ('o', 'о'),
    ('p', 'р'),
    ('q', 'ԛ'),
    ('r', 'г'),
    ('s', 'ѕ'),
    ('t', 'т'),
    ('v', 'ѵ'),
    ('w', 'ԝ'),
    ('x', 'х'),
    ('y', 'у'),
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('I', 'І'),
    ('J', 'Ј'),
    ('K', 'К'),
    ('M', 'М'),
    ('O', 'О'),
    ('P', 'Р'),
    ('S', 'Ѕ'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'Ү'),
];

const GREEK: Glyphs = &[
    ('a', 'α'),
    ('e', 'ε'),
    ('i', 'ι'),
    ('k', 'κ'),
    ('n', 'η'),
    ('o', 'ο'),
    ('p', 'ρ'),
    ('t', 'τ'),
    ('u', 'υ'),
    ('v', 'ν'),
    ('w', 'ω'),
    ('x', 'χ'),
    ('y', 'γ'),
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
    ('Y', 'Υ'),
    ('Z', 'Ζ'),
];

const ARMENIAN: Glyphs = &[
    ('g', 'ց'),
    ('h', 'հ'),
    ('n', 'ո'),
    ('o', 'օ'),
    ('q', 'զ'),
    ('u', 'ս'),
    ('O', 'Օ'),
    ('S', 'Տ'),
    ('U', 'Ս'),
];

/// Cherokee capitals (applied to the upper-cased text).
const CHEROKEE: Glyphs = &[
    ('A', 'Ꭺ'),
    ('B', 'Ᏼ'),
    ('C', 'Ꮯ'),
    ('D', 'Ꭰ'),
    ('E', 'Ꭼ'),
    ('G', 'Ꮐ'),
    ('H', 'Ꮋ'),
    ('J', 'Ꭻ'),
    ('K', 'Ꮶ'),
    ('L', 'Ꮮ'),
    ('M', 'Ꮇ'),
    ('P', 'Ꮲ'),
    ('R', 'Ꭱ'),
    ('S', 'Ꮪ'),
    ('T', 'Ꭲ'),
    ('V', 'Ꮩ'),
    ('W', 'Ꮃ'),
    ('Z', 'Ꮓ'),
];

/// Lisu letters (applied to the upper-cased text).
const LISU: Glyphs = &[
    ('A', 'ꓮ'),
    ('B', 'ꓐ'),
    ('C', 'ꓚ'),
    ('D', 'ꓓ'),
    ('E', 'ꓰ'),
    ('F', 'ꓝ'),
    ('G', 'ꓖ'),
    ('H', 'ꓧ'),
    ('I', 'ꓲ'),
    ('J', 'ꓙ'),
    ('K', 'ꓗ'),
    ('L', 'ꓡ'),
    ('M', 'ꓟ'),
    ('N', 'ꓠ'),
    ('O', 'ꓳ'),
    ('P', 'ꓑ'),
    ('R', 'ꓣ'),
    ('S', 'ꓢ'),
    ('T', 'ꓔ'),
    ('U', 'ꓴ'),
    ('V', 'ꓦ'),
    ('W', 'ꓪ'),
    ('X', 'ꓫ'),
    ('Y', 'ꓬ'),
    ('Z', 'ꓜ'),
];

fn homoglyphs(s: &str, glyphs: Glyphs) -> String {
    s.chars()
        .map(|c| {
            glyphs
                .iter()
                .find(|&&(from, _)| from == c)
                .map_or(c, |&(_, to)| to)
        })
        .collect()
}

/// Each letter from the next script in turn that has a look-alike for it.
fn homoglyphs_mixed(s: &str) -> String {
    let scripts = [CYRILLIC, GREEK, ARMENIAN];
    let mut n = 0;
    s.chars()
        .map(|c| {
            for k in 0..scripts.len() {
                let table = scripts[(n + k) % scripts.len()];
                if let Some(&(_, to)) = table.iter().find(|&&(from, _)| from == c) {
                    n += 1;
                    return to;
                }
            }
            c
        })
        .collect()
}

/// `marks[i % len]` after the i-th letter.
fn after_letters(s: &str, marks: &[&str]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        out.push(c);
        if c.is_alphabetic() {
            out.push_str(marks[n % marks.len()]);
            n += 1;
        }
    }
    out
}

/// `marks[i % len]` between two letters of a word.
fn between_letters(s: &str, marks: &[&str]) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut prev_letter = false;
    for c in s.chars() {
        let letter = c.is_alphabetic();
        if letter && prev_letter {
            out.push_str(marks[n % marks.len()]);
            n += 1;
        }
        out.push(c);
        prev_letter = letter;
    }
    out
}

fn around_words(s: &str, open: &str, close: &str) -> String {
    s.split(' ')
        .map(|w| format!("{open}{w}{close}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tag_characters(s: &str) -> String {
    let payload: String = s
        .chars()
        .filter_map(|c| {
            if c.is_ascii() {
                char::from_u32(0xE0000 + c as u32)
            } else {
                None
            }
        })
        .collect();
    format!("Please summarize this article about renewable energy.{payload}\u{E007F}")
}

/// The bytes of the text as variation selectors after one emoji.
fn variation_selector_smuggling(s: &str) -> String {
    let hidden: String = s
        .bytes()
        .filter_map(|b| {
            char::from_u32(if b < 16 {
                0xFE00 + u32::from(b)
            } else {
                0xE0100 + u32::from(b) - 16
            })
        })
        .collect();
    format!("Nice weather today \u{1F600}{hidden} isn't it?")
}

/// The text written backwards inside RIGHT-TO-LEFT OVERRIDE: displayed, it
/// reads forwards.
fn bidi_override_reversed(s: &str) -> String {
    format!("\u{202E}{}\u{202C}", reverse_clusters(s))
}

fn alternating_case(s: &str) -> String {
    let mut upper = false;
    s.chars()
        .map(|c| {
            if c.is_alphabetic() {
                upper = !upper;
                if upper {
                    return c.to_uppercase().next().unwrap_or(c);
                }
                return c.to_lowercase().next().unwrap_or(c);
            }
            c
        })
        .collect()
}

fn inverted_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c.to_uppercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// Letters of each word joined by `sep`, words by `gap`; other characters
/// (digits, punctuation, emoji sequences) stay as they are.
fn spaced(s: &str, sep: &str, gap: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut out = String::new();
            let mut prev_letter = false;
            for c in w.chars() {
                let letter = c.is_alphabetic();
                if letter && prev_letter {
                    out.push_str(sep);
                }
                out.push(c);
                prev_letter = letter;
            }
            out
        })
        .collect::<Vec<_>>()
        .join(gap)
}

/// The text backwards, character clusters kept whole (an emoji with its
/// joiners, selectors, modifiers and tags; a letter with its marks), as a
/// right-to-left display shows it.
fn reverse_clusters(s: &str) -> String {
    let mut clusters: Vec<String> = Vec::new();
    let mut join_next = false;
    for c in s.chars() {
        let cp = c as u32;
        let extends = matches!(cp, 0x300..=0x36F | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0000..=0xE007F | 0x200D | 0x20E3)
            || (0x0900..=0x0DFF).contains(&cp) && !c.is_alphabetic();
        match clusters.last_mut() {
            Some(last) if extends || join_next => last.push(c),
            _ => clusters.push(c.to_string()),
        }
        join_next = c == '\u{200D}';
    }
    clusters.iter().rev().map(String::as_str).collect()
}

const LEET_BASIC: &[(char, char)] = &[
    ('a', '4'),
    ('e', '3'),
    ('i', '1'),
    ('o', '0'),
    ('s', '5'),
    ('t', '7'),
];

const LEET_SYMBOLS: &[(char, char)] = &[
    ('a', '@'),
    ('e', '3'),
    ('i', '!'),
    ('l', '1'),
    ('o', '0'),
    ('s', '$'),
    ('t', '+'),
];

fn leet(s: &str, map: &[(char, char)]) -> String {
    s.chars()
        .map(|c| {
            let l = c.to_ascii_lowercase();
            map.iter()
                .find(|&&(from, _)| from == l)
                .map_or(c, |&(_, to)| to)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Encodings

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i) & 63) as usize]));
        }
        if alphabet == STD {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

fn b32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u64, 0u32);
    for &b in bytes {
        acc = acc << 8 | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[(acc >> bits & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[(acc << (5 - bits) & 31) as usize]));
    }
    while out.len() % 8 != 0 {
        out.push('=');
    }
    out
}

/// Spaces and punctuation as named references, letters as they are.
fn html_named(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' => "&nbsp;".to_string(),
            '\'' => "&apos;".to_string(),
            '"' => "&quot;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '.' => "&period;".to_string(),
            ',' => "&comma;".to_string(),
            ':' => "&colon;".to_string(),
            '?' => "&quest;".to_string(),
            '!' => "&excl;".to_string(),
            '(' => "&lpar;".to_string(),
            ')' => "&rpar;".to_string(),
            '/' => "&sol;".to_string(),
            _ => c.to_string(),
        })
        .collect()
}

fn rot(s: &str, n: u8) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => char::from((c as u8 - b'a' + n) % 26 + b'a'),
            'A'..='Z' => char::from((c as u8 - b'A' + n) % 26 + b'A'),
            _ => c,
        })
        .collect()
}

fn atbash(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => char::from(b'z' - (c as u8 - b'a')),
            'A'..='Z' => char::from(b'Z' - (c as u8 - b'A')),
            _ => c,
        })
        .collect()
}

const MORSE: &[(char, &str)] = &[
    ('a', ".-"),
    ('b', "-..."),
    ('c', "-.-."),
    ('d', "-.."),
    ('e', "."),
    ('f', "..-."),
    ('g', "--."),
    ('h', "...."),
    ('i', ".."),
    ('j', ".---"),
    ('k', "-.-"),
    ('l', ".-.."),
    ('m', "--"),
    ('n', "-."),
    ('o', "---"),
    ('p', ".--."),
    ('q', "--.-"),
    ('r', ".-."),
    ('s', "..."),
    ('t', "-"),
    ('u', "..-"),
    ('v', "...-"),
    ('w', ".--"),
    ('x', "-..-"),
    ('y', "-.--"),
    ('z', "--.."),
    ('0', "-----"),
    ('1', ".----"),
    ('2', "..---"),
    ('3', "...--"),
    ('4', "....-"),
    ('5', "....."),
    ('6', "-...."),
    ('7', "--..."),
    ('8', "---.."),
    ('9', "----."),
    ('.', ".-.-.-"),
    (',', "--..--"),
    ('?', "..--.."),
    ('\'', ".----."),
    ('!', "-.-.--"),
    ('/', "-..-."),
    (':', "---..."),
    ('=', "-...-"),
    ('-', "-....-"),
];

/// NATO phonetic alphabet: a code word per letter, words by " / ";
/// characters without a code word (digits, punctuation) as they are.
fn nato(s: &str) -> String {
    const WORDS: [&str; 26] = [
        "Alfa", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
        "Juliett", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo",
        "Sierra", "Tango", "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu",
    ];
    s.split_whitespace()
        .map(|w| {
            // Code words by spaces; other characters as they are, attached.
            let mut out = String::new();
            let mut after_word = false;
            for c in w.chars() {
                if c.is_ascii_alphabetic() {
                    if after_word {
                        out.push(' ');
                    }
                    out.push_str(WORDS[usize::from(c.to_ascii_lowercase() as u8 - b'a')]);
                    after_word = true;
                } else {
                    out.push(c);
                    after_word = false;
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Grade-1 six-dot Braille as an encoder writes it (the `braille`
/// transform maps letters only): the capital sign before capitals, the
/// number sign before digits, the blank cell between words, the common
/// punctuation cells; other characters as they are.
fn braille_cells(s: &str) -> String {
    // The letters' cells: the `braille` transform's map.
    let letter = |c: char| {
        BRAILLE
            .iter()
            .find(|&&(from, _)| from == c)
            .map_or("", |&(_, to)| to)
    };
    let cell = |dots: u32| char::from_u32(0x2800 + dots).unwrap_or(' ');
    let mut out = String::new();
    let mut number = false;
    for c in s.chars() {
        match c {
            'a'..='z' | 'A'..='Z' => {
                if c.is_ascii_uppercase() {
                    out.push(cell(0x20));
                }
                number = false;
                out.push_str(letter(c.to_ascii_lowercase()));
            }
            '0'..='9' => {
                if !number {
                    out.push(cell(0x3C));
                    number = true;
                }
                // 1-9 are written a-i, 0 is j.
                let l = if c == '0' {
                    'j'
                } else {
                    char::from(b'a' + (c as u8 - b'1'))
                };
                out.push_str(letter(l));
            }
            ' ' => {
                number = false;
                out.push(cell(0));
            }
            '.' => out.push(cell(0x32)),
            ',' => out.push(cell(0x02)),
            '?' => out.push(cell(0x26)),
            '!' => out.push(cell(0x16)),
            '\'' => out.push(cell(0x04)),
            '-' => out.push(cell(0x24)),
            ':' => out.push(cell(0x12)),
            ';' => out.push(cell(0x06)),
            other => out.push(other),
        }
    }
    out
}

/// International Morse: letters by spaces, words by " / "; characters
/// without a code are dropped.
fn morse(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            w.chars()
                .filter_map(|c| {
                    let l = c.to_ascii_lowercase();
                    MORSE.iter().find(|&&(k, _)| k == l).map(|&(_, code)| code)
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}
