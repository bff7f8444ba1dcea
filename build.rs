//! Embeds `filters/default.json` into the plugin without its `examples`
//! (which only `infw check` reads, from the file) and without whitespace:
//! about half the bytes, in a Wasm that must stay under 2 MiB.
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
            if let Some(rules) = v.get_mut("rules").and_then(|r| r.as_array_mut()) {
                for rule in rules {
                    if let Some(obj) = rule.as_object_mut() {
                        obj.remove("examples");
                    }
                }
            }
            v.to_string()
        }
        Err(_) => text,
    };
    if let Err(e) = std::fs::write(&out, compact) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
