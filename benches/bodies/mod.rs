//! The benchmark bodies, shared by `benches/engine.rs` (criterion) and
//! `examples/evalloop.rs` (a loop to profile with perf): both must measure
//! the same requests.
#![allow(dead_code)] // each user takes what it needs

pub const PROSE: &str =
    "Could you help me plan a three-day trip to Lisbon in spring? I like museums, \
long walks by the river and small restaurants. My budget is moderate, and I would rather take \
trams than taxis. Please suggest a day-by-day outline with a few alternatives for rainy days. ";
pub const CODE: &str = "def mean(xs: list[float]) -> float:\n    \"\"\"Return the arithmetic mean.\"\"\"\n    return sum(xs) / len(xs)\n";
pub const MIXED: &str =
    "Объясните, пожалуйста, разницу между двумя подходами. 请简要说明这两种方法的区别。 ";

/// A chat request with a system message and alternating turns, padded to `size` bytes.
pub fn chat_body(size: usize, mix: bool) -> Vec<u8> {
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a helpful travel assistant."}),
    ];
    let mut len = 200;
    let mut turn = 0;
    while len < size {
        let mut text = String::new();
        while text.len() < 900 {
            text.push_str(PROSE);
            if mix && turn % 3 == 1 {
                text.push_str(CODE);
            }
            if mix && turn % 3 == 2 {
                text.push_str(MIXED);
            }
        }
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        len += text.len() + 40;
        messages.push(serde_json::json!({"role": role, "content": text}));
        turn += 1;
    }
    // Trim the last message so the body is exactly `size` bytes (or just under,
    // when a multi-byte character straddles the edge).
    loop {
        let body = serde_json::json!({"model": "bench", "messages": messages}).to_string();
        let over = body.len().saturating_sub(size);
        let last = messages
            .last_mut()
            .and_then(|m| m.get_mut("content"))
            .and_then(|c| c.as_str().map(str::to_owned).zip(Some(c)));
        match (over, last) {
            (0, _) | (_, None) => return body.into_bytes(),
            (over, Some((text, slot))) => {
                let keep = text.chars().count().saturating_sub(over.max(1));
                *slot = serde_json::Value::String(text.chars().take(keep).collect());
            }
        }
    }
}

/// A conversation of many short turns, as `scripts/bench-proxy.sh` sends:
/// per byte it costs more than a few long turns (every segment is
/// normalized and scored on its own).
pub fn short_turns_body(size: usize) -> Vec<u8> {
    const TURNS: [(&str, &str); 6] = [
        ("user", "Could you suggest a three-day walking itinerary for Lisbon, with a cafe for each morning?"),
        ("assistant", "Day one: Alfama and the castle, then a tram ride to Baixa. Day two: Belem, the monastery and the riverside. Day three: Chiado, Bairro Alto and a sunset viewpoint."),
        ("user", "How should I store fresh basil so that it lasts for a week in a small kitchen?"),
        ("assistant", "Trim the stems, stand them in a glass of water like flowers, keep the glass on the counter away from direct sun, and change the water every other day."),
        ("user", "Summarize the water cycle for a ten-year-old in a short paragraph with simple words."),
        ("assistant", "Water warms up in the sun and rises as vapour, cools into clouds, falls back as rain or snow, and flows through rivers to the sea, where it starts again."),
    ];
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a helpful assistant for travel, cooking and science questions."}),
    ];
    let mut i = 0;
    loop {
        let (role, text) = TURNS[i % TURNS.len()];
        messages.push(serde_json::json!({"role": role, "content": format!("{text} (note {i})")}));
        let body = serde_json::json!({"model": "bench", "messages": messages}).to_string();
        if body.len() > size {
            messages.pop();
            return serde_json::json!({"model": "bench", "messages": messages})
                .to_string()
                .into_bytes();
        }
        i += 1;
    }
}

/// One user message of the pack's `no_match` examples, repeated up to `size` bytes.
pub fn near_miss_body(size: usize) -> Vec<u8> {
    let pack: serde_json::Value =
        serde_json::from_str(include_str!("../../filters/default.json")).expect("pack is JSON");
    let examples: Vec<&str> = pack["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["examples"]["no_match"].as_array().into_iter().flatten())
        .filter_map(|e| e.as_str())
        .collect();
    let mut text = String::new();
    for e in examples.iter().cycle().take(100_000) {
        if text.len() + e.len() + 80 > size {
            break;
        }
        text.push_str(e);
        text.push_str(". ");
    }
    serde_json::json!({"model": "bench", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}
