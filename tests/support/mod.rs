//! Harness for the end-to-end tests: a recording upstream, the real Envoy
//! with the release wasm, and clients (curl, nghttp, a raw socket).

#![allow(dead_code, unused_imports)]

pub mod client;
pub mod envoy;
pub mod upstream;

pub use client::{curl_post, nghttp_post_with_trailers, RawRequest, Reply};
pub use envoy::{metric_in, Envoy};
pub use upstream::{Recorded, Upstream, UPSTREAM_REPLY};

use std::sync::atomic::{AtomicUsize, Ordering};

/// An Envoy with the firewall in front of its own recording upstream.
pub struct Stack {
    pub upstream: Upstream,
    pub envoy: Envoy,
}

impl Stack {
    pub fn start(name: &str, plugin_config: &str) -> Stack {
        let upstream = Upstream::start();
        let envoy = Envoy::start(name, plugin_config, upstream.port);
        Stack { upstream, envoy }
    }
}

/// A value unique in this test run, to find one request among many.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
