//! A buffering pass-through proxy-wasm filter: the yardstick of
//! `scripts/bench-proxy.sh`. It does the firewall's Wasm-side work for an
//! allowed request -- one header-map read, holding the request until the end
//! of its body, one body read -- and inspects nothing.
//!
//! With the plugin configuration `scan` it also makes one pass of a
//! case-insensitive Aho-Corasick DFA over the raw body, for the default
//! pack's ASCII literals of three bytes or more (`literals.txt`: 1,791 of
//! the literals the firewall's literal pass compiled from
//! `filters/default.json` at 5e0c976).
//! No JSON parsing, no normalization, no rules, no model: less than any
//! filter that looks for a dictionary of attack phrases in the text must
//! do, so its throughput bounds from above what such a filter reaches in
//! this Envoy.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { scan: None }) });
}}

/// The pack's ASCII literals, one per line.
const LITERALS: &str = include_str!("../literals.txt");

struct Root {
    /// Set by the plugin configuration `scan`.
    scan: Option<Rc<AhoCorasick>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.scan = None;
        match config.trim_ascii() {
            b"" => true,
            b"scan" => {
                let built = AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(LITERALS.lines());
                match built {
                    Ok(ac) => {
                        self.scan = Some(Rc::new(ac));
                        true
                    }
                    Err(e) => {
                        hostcalls::log(LogLevel::Critical, &format!("reference_filter: {e}")).ok();
                        false
                    }
                }
            }
            other => {
                let shown = String::from_utf8_lossy(other);
                hostcalls::log(
                    LogLevel::Critical,
                    &format!(
                        "reference_filter: configuration {shown:?}: expected nothing or \"scan\""
                    ),
                )
                .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream {
            bytes: 0,
            scan: self.scan.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream {
    /// Bytes read and literals found, so the work cannot be optimized away.
    bytes: usize,
    scan: Option<Rc<AhoCorasick>>,
}

impl Context for Stream {}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if let Ok(headers) = hostcalls::get_map_bytes(MapType::HttpRequestHeaders) {
            self.bytes += headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
        }
        if end_of_stream {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        if let Ok(Some(body)) = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size) {
            self.bytes += body.len();
            if let Some(ac) = &self.scan {
                self.bytes += ac.find_iter(&body).count();
            }
        }
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        Action::Continue
    }
}
