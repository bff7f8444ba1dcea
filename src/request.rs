//! The request as the engine sees it: borrowed, proxy-agnostic.
//!
//! Both shells build one: the proxy-wasm adapter from Envoy's headers and
//! buffered body, the CLI from a file or stdin.

/// One HTTP request, borrowed from whoever holds the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case method, e.g. `POST`.
    pub method: &'a str,
    /// The `:path` pseudo-header, query string included.
    pub path: &'a str,
    /// The `content-type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `content-encoding` header, if any.
    pub content_encoding: Option<&'a str>,
    /// The whole body, buffered.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A `POST` with the given content type and no content encoding.
    pub fn post(path: &'a str, content_type: &'a str, body: &'a [u8]) -> Self {
        Request {
            method: "POST",
            path,
            content_type: Some(content_type),
            content_encoding: None,
            body,
        }
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &'a str {
        match self.path.find(['?', '#']) {
            Some(i) => &self.path[..i],
            None => self.path,
        }
    }
}
