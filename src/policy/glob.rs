//! `*` globs for paths, pointers and model names: simple on purpose, so a rule
//! author can predict them and a request cannot make them slow.

/// A compiled glob: literal pieces between `*`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    parts: Vec<String>,
    anchored_start: bool,
    anchored_end: bool,
}

impl Glob {
    /// Compiles `pattern`; `*` matches any run of characters (including `/`).
    pub fn new(pattern: &str) -> Glob {
        let parts: Vec<String> = pattern.split('*').map(str::to_string).collect();
        Glob {
            source: pattern.to_string(),
            anchored_start: !pattern.starts_with('*'),
            anchored_end: !pattern.ends_with('*'),
            parts: parts.into_iter().filter(|p| !p.is_empty()).collect(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches. Linear: greedy leftmost search of each piece.
    pub fn matches(&self, text: &str) -> bool {
        if self.parts.is_empty() {
            return !self.anchored_start || text.is_empty();
        }
        let mut rest = text;
        let last = self.parts.len() - 1;
        for (i, part) in self.parts.iter().enumerate() {
            if i == 0 && self.anchored_start {
                match rest.strip_prefix(part.as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
                if i == last && self.anchored_end {
                    return rest.is_empty();
                }
                continue;
            }
            if i == last && self.anchored_end {
                return rest.ends_with(part.as_str());
            }
            match rest.find(part.as_str()) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
        !self.anchored_end || rest.is_empty()
    }
}

/// True when any glob matches (false for an empty list).
pub fn any_match(globs: &[Glob], text: &str) -> bool {
    globs.iter().any(|g| g.matches(text))
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::Glob;

    #[test]
    fn globs_match_as_documented() {
        let cases = [
            ("*", "/anything", true),
            ("/v1/*", "/v1/chat/completions", true),
            ("/v1/*", "/v2/chat", false),
            ("/v1/chat/completions", "/v1/chat/completions", true),
            ("/v1/chat/completions", "/v1/chat/completions/x", false),
            ("*/completions", "/v1/chat/completions", true),
            ("/messages/*/content", "/messages/3/content", true),
            ("/messages/*/content", "/messages/3/content/0/text", false),
            ("/messages/*/content*", "/messages/3/content/0/text", true),
            ("gpt-4*", "gpt-4o-mini", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("ab*ab", "ab", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(
                Glob::new(pattern).matches(text),
                want,
                "{pattern:?} on {text:?}"
            );
        }
    }
}
