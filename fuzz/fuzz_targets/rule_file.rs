//! Any rule file is either compiled or refused with an error: never a panic,
//! never a half-load. (The plugin configuration wraps a rule file; fuzzing
//! the rule file itself keeps each run from compiling the default pack.)
#![no_main]

use inference_firewall::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Policy::from_json(&String::from_utf8_lossy(data), "fuzz.json");
});
