//! Any text through the normalizer and its decoders, within the default
//! limits: never a panic.
#![no_main]

use inference_firewall::limits::Limits;
use inference_firewall::normalize::normalize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = normalize(&text, &Limits::default());
});
