//! The request as the engine sees it: borrowed, proxy-agnostic.
//!
//! Both shells build one: the proxy-wasm adapter from Envoy's headers and
//! buffered body, the CLI from a file or stdin.
//!
//! Scope, exclusions and the API a body is read as are decided from the path,
//! and a model server that decodes `%2F` or resolves `..` routes
//! `/v1/embeddings/../chat/completions` or `/v1/chat%2Fcompletions` as a chat
//! request. So the engine also reads the path's canonical form
//! ([`canonical_path`]): query and fragment cut, percent-escapes decoded once,
//! backslashes read as slashes, runs of slashes merged, `.` and `..` segments
//! resolved (RFC 3986, section 5.2.4), never above the root. Envoy can do the
//! same before the filter sees the path (`normalize_path`, `merge_slashes`,
//! `path_with_escaped_slashes_action` in `envoy/envoy.yaml`); the engine does
//! not rely on it.
//!
//! ```
//! use inference_firewall::request::canonical_path;
//! assert_eq!(canonical_path("/v1/embeddings/../chat//completions?x=1"), "/v1/chat/completions");
//! assert_eq!(
//!     canonical_path("/v1beta/models/gemini%3AgenerateContent"),
//!     "/v1beta/models/gemini:generateContent"
//! );
//! ```

use std::borrow::Cow;

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

    /// The path without its query string, as sent.
    pub fn path_only(&self) -> &'a str {
        match self.path.find(['?', '#']) {
            Some(i) => &self.path[..i],
            None => self.path,
        }
    }

    /// The path as a server that decodes and resolves paths routes it
    /// ([`canonical_path`]); the API a body is read as comes from it.
    pub fn route(&self) -> Cow<'a, str> {
        canonical_path(self.path)
    }
}

/// The canonical form of a request path (see the module documentation). Borrows when
/// `raw` is canonical already, which is the common case.
pub fn canonical_path(raw: &str) -> Cow<'_, str> {
    let path = raw.split(['?', '#']).next().unwrap_or("");
    let plain = path.starts_with('/')
        && !path.contains(['%', '\\'])
        && !path.contains("//")
        && !path.split('/').any(|s| s == "." || s == "..");
    if plain {
        return Cow::Borrowed(path);
    }
    let decoded = percent_decode(path).replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    // A trailing slash is part of the path to some servers; keep it.
    if out.is_empty()
        || decoded.ends_with('/')
        || decoded.ends_with("/.")
        || decoded.ends_with("/..")
    {
        out.push('/');
    }
    Cow::Owned(out)
}

/// `%XX` decoded once; a malformed escape stays as it is, and bytes that do
/// not form UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::canonical_path as canonical;

    #[test]
    fn canonical_paths_are_borrowed_unchanged() {
        for p in [
            "/v1/chat/completions",
            "/",
            "/v1/messages",
            "/v1beta/models/g:generateContent",
        ] {
            assert!(
                matches!(canonical(p), std::borrow::Cow::Borrowed(q) if q == p),
                "{p}"
            );
        }
        assert_eq!(
            canonical("/v1/chat/completions?stream=true#x"),
            "/v1/chat/completions"
        );
    }

    #[test]
    fn tricks_that_route_elsewhere_on_a_decoding_server_are_undone() {
        let cases = [
            ("/v1/embeddings/../chat/completions", "/v1/chat/completions"),
            ("/v1/chat%2Fcompletions", "/v1/chat/completions"),
            ("/v1/chat%2fcompletions", "/v1/chat/completions"),
            ("//v1///chat/completions", "/v1/chat/completions"),
            ("/v1/./chat/./completions", "/v1/chat/completions"),
            ("/v1\\chat\\completions", "/v1/chat/completions"),
            ("/v1/%2e%2e/v1/chat/completions", "/v1/chat/completions"),
            ("/../../v1/chat/completions", "/v1/chat/completions"),
            (
                "/v1/models/gemini-pro%3AgenerateContent",
                "/v1/models/gemini-pro:generateContent",
            ),
            ("/v1/chat/completions/", "/v1/chat/completions/"),
            ("/v1/chat/completions/..", "/v1/chat/"),
            ("v1/chat/completions", "/v1/chat/completions"),
            ("", "/"),
            ("/%zz/%4", "/%zz/%4"),
            ("/%ff", "/\u{fffd}"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn percent_escapes_are_decoded_once() {
        // "%252F" is "%2F" to a server that decodes once, not "/".
        assert_eq!(
            canonical("/v1/chat%252Fcompletions"),
            "/v1/chat%2Fcompletions"
        );
    }
}
