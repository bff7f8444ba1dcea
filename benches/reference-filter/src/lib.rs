//! A buffering pass-through proxy-wasm filter: the yardstick of
//! `scripts/bench-proxy.sh`. It does the firewall's Wasm-side work for an
//! allowed request -- one header-map read, holding the request until the end
//! of its body, one body read -- and inspects nothing.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root) });
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { bytes: 0 }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream {
    /// Bytes read, so the reads cannot be optimized away.
    bytes: usize,
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
        }
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        Action::Continue
    }
}
