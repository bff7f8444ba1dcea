//! Embeds `filters/default.json` into the plugin without its `examples`
//! (which only `infw check` reads, from the file) and without whitespace:
//! about half the bytes, in a Wasm that must stay under 2 MiB; the plugin's
//! copy is also deflated (a fifth of that). Likewise the
//! default model (`filters/anomaly/model.json`): its three tables go in as
//! raw bytes (`default_model.bin`) rather than base64, the rest as compact
//! JSON with those fields empty; 50 KB less.
//!
//! A file that is not valid JSON is embedded as is, so the error the user
//! sees is the engine's own, with line and column, not a build-script panic.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=filters/default.json");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("default.min.json");
    let text = std::fs::read_to_string("filters/default.json").unwrap_or_default();
    let compact = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(mut v) => {
            // The Wasm plugin never shows a rule's description (its logs and
            // responses name rule ids): there the id stands in for it, which
            // keeps 10 KB out of a module with a 2 MiB budget. Native builds
            // (the CLI's explanations) keep the text.
            let plugin = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32")
                && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("wasi");
            if let Some(rules) = v.get_mut("rules").and_then(|r| r.as_array_mut()) {
                for rule in rules {
                    if let Some(obj) = rule.as_object_mut() {
                        obj.remove("examples");
                        if plugin {
                            if let Some(id) = obj.get("id").cloned() {
                                obj.insert("description".into(), id);
                            }
                        }
                    }
                }
            }
            if let Some(c) = v.get_mut("classifier").and_then(|c| c.as_object_mut()) {
                c.remove("examples");
            }
            v.to_string()
        }
        Err(_) => text,
    };
    // The plugin embeds it deflated: 118 KB of JSON is about 25 KB so, and
    // inflating it once per VM takes about a millisecond.
    let deflated = miniz_oxide::deflate::compress_to_vec(compact.as_bytes(), 10);
    for (path, bytes) in [
        (out.clone(), compact.into_bytes()),
        (out.with_extension("json.deflate"), deflated),
    ] {
        if let Err(e) = std::fs::write(&path, bytes) {
            println!("cargo:warning=cannot write {}: {e}", path.display());
        }
    }
    model();
}

/// Splits the default model into compact JSON and raw tables (weights, LM
/// trigrams, LM bigrams, in that order). When the model does not read as
/// expected, the JSON goes in whole and the tables empty: the engine then
/// parses the JSON itself and reports what is wrong.
fn model() {
    println!("cargo:rerun-if-changed=filters/anomaly/model.json");
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let text = std::fs::read_to_string("filters/anomaly/model.json").unwrap_or_default();
    let (json, bin) = split_model(&text).unwrap_or((text, Vec::new()));
    // The plugin embeds the tables deflated (135 KB of i8 weights and
    // log-probabilities are about 80 KB so); native builds keep them raw.
    let deflated = miniz_oxide::deflate::compress_to_vec(&bin, 10);
    for (name, bytes) in [
        ("default_model.min.json", json.into_bytes()),
        ("default_model.bin", bin),
        ("default_model.bin.deflate", deflated),
    ] {
        let out = Path::new(&dir).join(name);
        if let Err(e) = std::fs::write(&out, bytes) {
            println!("cargo:warning=cannot write {}: {e}", out.display());
        }
    }
}

fn split_model(text: &str) -> Option<(String, Vec<u8>)> {
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object_mut()?;
    obj.remove("meta");
    let mut bin = b64(obj.get("weights_b64")?.as_str()?)?;
    obj.insert("weights_b64".into(), "".into());
    let lm = obj.get_mut("lm")?.as_object_mut()?;
    for key in ["tri_b64", "bi_b64"] {
        bin.extend(b64(lm.get(key)?.as_str()?)?);
        lm.insert(key.into(), "".into());
    }
    Some((v.to_string(), bin))
}

/// Standard base64 with padding.
fn b64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..3 - pad]);
    }
    Some(out)
}
