//! What was learned about a segment, remembered for the client's next request.
//!
//! Chat clients resend the whole conversation with every turn, so most of a
//! request's text was inspected a moment earlier. Normalizing it and scoring
//! it with the classifier again is about half the cost of a request; a
//! [`SegmentCache`] keeps, per segment text, its normalized views, its
//! classifier scores, and what the rules learned of its views: where their
//! literals occur and which regex arms found nothing there
//! ([`crate::detect::ViewMemo`]). The rules still read the views of the whole
//! request (a pattern may span two messages, and the whole request is scored
//! afresh), so a verdict with the cache is the verdict without it, only
//! cheaper.
//!
//! What keeps it from being a way in:
//! - **Per client.** Entries are keyed by a scope the caller derives from the
//!   client's identity (the filter uses its API key). A text another client
//!   sent is never a hit, so timing a request cannot tell an attacker whether
//!   someone else sent that text.
//! - **Exact.** A hit compares the whole text, never a hash alone: no
//!   collision, however crafted, returns another text's results. The hash is
//!   keyed with random keys per VM, so buckets cannot be flooded either.
//! - **Bounded.** At most `max_bytes` of text and views in two generations:
//!   when the newer fills, the older is dropped whole. An attacker who floods
//!   it with unique texts only costs their own requests a full inspection.
//! - **Tied to one engine.** Results depend on the policy's limits and model;
//!   a cache used with another engine empties itself first.
//!
//! ```
//! use inference_firewall::{cache::SegmentCache, Engine, Request};
//! let engine = Engine::default_pack().unwrap();
//! let mut cache = SegmentCache::new(1 << 20);
//! let body = br#"{"model":"m","messages":[{"role":"user","content":"Plan a trip to Lisbon."}]}"#;
//! let req = Request::post("/v1/chat/completions", "application/json", body);
//! let scope = cache.scope(b"Bearer sk-client-1");
//! let first = engine.evaluate_cached(&req, &mut cache, Some(scope));
//! let again = engine.evaluate_cached(&req, &mut cache, Some(scope));
//! assert_eq!(first, again);
//! assert_eq!((cache.stats().hits, cache.stats().misses), (1, 1));
//! ```

use crate::anomaly::Features;
use crate::detect::ViewMemo;
use crate::normalize::Normalized;
use std::cell::OnceCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;

/// What the engine computes from one segment's text alone, whatever request
/// it comes in: its views, and (lazily) what the classifier makes of them.
#[derive(Debug)]
pub(crate) struct SegmentResult {
    pub(crate) normalized: Normalized,
    /// The classifier's probability and features for the main view then each
    /// decoded view (`None` where it does not score that view).
    pub(crate) scores: OnceCell<Vec<Option<(f32, Features)>>>,
    /// The main view's features under the classifier's language model
    /// (index 0) or the anomaly checks' own (index 1).
    pub(crate) features: [OnceCell<Features>; 2],
    /// What the rules learned of the main view then each decoded view (made
    /// by the first scan that remembers the segment: a segment inspected for
    /// one request only never allocates them).
    memos: OnceCell<Box<[ViewMemo]>>,
}

impl SegmentResult {
    pub(crate) fn new(normalized: Normalized) -> Self {
        SegmentResult {
            normalized,
            scores: OnceCell::new(),
            features: [OnceCell::new(), OnceCell::new()],
            memos: OnceCell::new(),
        }
    }

    /// The memos of the main view then each decoded view.
    pub(crate) fn view_memos(&self) -> &[ViewMemo] {
        self.memos.get_or_init(|| {
            (0..=self.normalized.decoded.len())
                .map(|_| ViewMemo::default())
                .collect()
        })
    }

    /// Bytes it holds, for the cache's budget: the views (the text is counted
    /// by the entry), the most their memos may hold, and a fixed
    /// allowance for the rest.
    fn bytes(&self) -> usize {
        let n = &self.normalized;
        let view = |len: usize| len + ViewMemo::max_bytes(len);
        view(n.view.len())
            + n.decoded
                .iter()
                .map(|d| view(d.view.len()) + 48)
                .sum::<usize>()
            + 256
    }
}

/// One remembered segment.
#[derive(Debug)]
struct Entry {
    scope: u64,
    text: Box<str>,
    result: Rc<SegmentResult>,
}

/// How often the cache answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Segments found in the cache.
    pub hits: u64,
    /// Segments inspected in full (and then remembered, if they fit).
    pub misses: u64,
}

/// Segment results of recent requests, per client. See the module docs.
#[derive(Debug)]
pub struct SegmentCache {
    max_bytes: usize,
    state: RandomState,
    newer: HashMap<u64, Entry>,
    older: HashMap<u64, Entry>,
    newer_bytes: usize,
    engine: Option<u64>,
    stats: CacheStats,
}

impl SegmentCache {
    /// A cache of at most `max_bytes` (0: it remembers nothing).
    pub fn new(max_bytes: usize) -> Self {
        SegmentCache {
            max_bytes,
            state: RandomState::new(),
            newer: HashMap::new(),
            older: HashMap::new(),
            newer_bytes: 0,
            engine: None,
            stats: CacheStats::default(),
        }
    }

    /// The scope of a client identity (an API key, say): texts are shared
    /// only within one scope. Keyed like the entries, so scopes of different
    /// identities collide only by chance (about 2^-64), and a collision would
    /// only share timing, never results (hits compare the text).
    pub fn scope(&self, identity: &[u8]) -> u64 {
        let mut h = self.state.build_hasher();
        h.write(b"scope");
        h.write(identity);
        h.finish()
    }

    /// The budget it was made with (0: off).
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Hits and misses since the cache was made.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Empties the cache if it last served another engine.
    pub(crate) fn bind(&mut self, engine: u64) {
        if self.engine != Some(engine) {
            self.newer.clear();
            self.older.clear();
            self.newer_bytes = 0;
            self.engine = Some(engine);
        }
    }

    /// The result for `text` in `scope`, computed by `make` on a miss.
    pub(crate) fn get_or_insert(
        &mut self,
        scope: u64,
        text: &str,
        make: impl FnOnce() -> SegmentResult,
    ) -> Rc<SegmentResult> {
        let key = self.key(scope, text);
        let same = |e: &Entry| e.scope == scope && *e.text == *text;
        if let Some(e) = self.newer.get(&key).filter(|e| same(e)) {
            self.stats.hits += 1;
            return Rc::clone(&e.result);
        }
        if let Some(e) = self.older.remove(&key) {
            if same(&e) {
                self.stats.hits += 1;
                let result = Rc::clone(&e.result);
                self.insert(key, e);
                return result;
            }
        }
        self.stats.misses += 1;
        let result = Rc::new(make());
        let entry = Entry {
            scope,
            text: text.into(),
            result: Rc::clone(&result),
        };
        self.insert(key, entry);
        result
    }

    fn key(&self, scope: u64, text: &str) -> u64 {
        let mut h = self.state.build_hasher();
        h.write_u64(scope);
        h.write(text.as_bytes());
        h.finish()
    }

    /// Files `entry` in the newer generation, which becomes the older one when
    /// full; an entry larger than half the budget is not kept.
    fn insert(&mut self, key: u64, entry: Entry) {
        let size = entry.text.len() + entry.result.bytes();
        let half = self.max_bytes / 2;
        if size > half {
            return;
        }
        if self.newer_bytes + size > half {
            self.older = std::mem::take(&mut self.newer);
            self.newer_bytes = 0;
        }
        self.newer_bytes += size;
        if let Some(old) = self.newer.insert(key, entry) {
            // A colliding or repeated key: the budget counts the entry once.
            let freed = old.text.len() + old.result.bytes();
            self.newer_bytes = self.newer_bytes.saturating_sub(freed);
        }
    }

    /// Entries held now (both generations), for tests and metrics.
    pub fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn result(view: &str) -> SegmentResult {
        SegmentResult::new(Normalized {
            view: view.into(),
            ..Normalized::default()
        })
    }

    #[test]
    fn a_text_is_a_hit_only_in_its_own_scope() {
        let mut c = SegmentCache::new(1 << 20);
        let (a, b) = (c.scope(b"key-a"), c.scope(b"key-b"));
        assert_ne!(a, b);
        let first = c.get_or_insert(a, "hello there", || result("hello there"));
        let again = c.get_or_insert(a, "hello there", || panic!("must be a hit"));
        assert!(Rc::ptr_eq(&first, &again));
        let mut made = false;
        c.get_or_insert(b, "hello there", || {
            made = true;
            result("hello there")
        });
        assert!(made, "another client's text is never a hit");
        assert_eq!(c.stats(), CacheStats { hits: 1, misses: 2 });
    }

    #[test]
    fn memory_stays_within_the_budget_and_recent_entries_survive() {
        let mut c = SegmentCache::new(64 * 1024);
        let s = c.scope(b"k");
        let text = |i: usize| format!("{i:04} {}", "x".repeat(1000));
        for i in 0..1000 {
            let t = text(i);
            c.get_or_insert(s, &t, || result(&t));
            let held: usize = c
                .newer
                .values()
                .chain(c.older.values())
                .map(|e| e.text.len() + e.result.bytes())
                .sum();
            assert!(held <= 64 * 1024, "{held} bytes held after {i} inserts");
        }
        // The last one is still there; the first long gone.
        let last = text(999);
        c.get_or_insert(s, &last, || panic!("the newest entry must be a hit"));
        let mut made = false;
        c.get_or_insert(s, &text(0), || {
            made = true;
            result("")
        });
        assert!(made);
    }

    #[test]
    fn an_entry_found_in_the_older_generation_moves_to_the_newer() {
        let mut c = SegmentCache::new(8 * 1024);
        let s = c.scope(b"k");
        let keep = "kept ".repeat(100);
        c.get_or_insert(s, &keep, || result(&keep));
        for i in 0..40 {
            let t = format!("{i} {}", "y".repeat(200));
            c.get_or_insert(s, &t, || result(&t));
            // Touched every round, so it never ages out.
            c.get_or_insert(s, &keep, || panic!("a recently used entry was dropped"));
        }
    }

    #[test]
    fn a_text_too_large_for_the_budget_is_not_kept_and_zero_disables() {
        let mut c = SegmentCache::new(1024);
        let s = c.scope(b"k");
        let big = "z".repeat(2000);
        c.get_or_insert(s, &big, || result(&big));
        assert!(c.is_empty());
        let mut off = SegmentCache::new(0);
        off.get_or_insert(s, "a", || result("a"));
        assert!(off.is_empty());
    }

    #[test]
    fn binding_another_engine_empties_it() {
        let mut c = SegmentCache::new(1 << 20);
        c.bind(1);
        let s = c.scope(b"k");
        c.get_or_insert(s, "t", || result("t"));
        c.bind(1);
        assert_eq!(c.len(), 1);
        c.bind(2);
        assert!(c.is_empty());
    }
}
