//! The literal pass of the matcher: every occurrence of every phrase and
//! needed literal in a haystack, in the order one left-to-right overlapping
//! Aho-Corasick search reports them (by end, then by pattern at that end).
//!
//! Why not `AhoCorasick::find_overlapping_iter`: a search follows one chain
//! of transitions, each a load that depends on the one before, so it runs at
//! the latency of the cache the automaton sits in (about 3.5 ns a byte for
//! the default pack's 1,300 ASCII literals, whether NFA or DFA), not at the
//! speed of the CPU. Here the haystack is cut into [`LANES`] pieces walked
//! side by side: the lanes' loads do not depend on each other, so the CPU
//! overlaps them (about 2.5x faster natively, and the same holds in Wasm).
//! Each lane starts the longest prefix (below), less a byte, before its
//! piece, so it sees every literal whose prefix ends in its piece, and
//! reports only those: together the lanes report each occurrence once.
//!
//! The lanes walk a DFA of our own ([`Dfa`]), where each step is one load
//! (the failure transitions of an NFA make the lanes branch apart, and
//! measured slower than one lane), and whose table flags the states that
//! match, so a step needs no second lookup. It builds in about a
//! millisecond, in one breadth-first pass (the `aho_corasick` DFA follows
//! failure chains state by state, and took 9 ms). A set of literals whose
//! table would be larger than [`MAX_DFA_BYTES`] keeps an `aho_corasick` NFA
//! and one lane.
//!
//! The DFA holds only the first [`PREFIX`] bytes of each literal: the rest
//! of a longer one (its tail) is compared where its prefix ends. Long
//! phrases ("las indicaciones anteriores quedan anuladas") are where the
//! states are, and few of them share more than a dozen bytes, so the table
//! is much smaller (the default pack's ASCII literals: 1.9 MB against 3.1 MB
//! whole; its non-ASCII ones 1.95 MB against 6.5 MB, small enough now for a
//! DFA of their own). The occurrences are
//! the same; those of a long literal are found at its prefix's end, so they
//! are put back in search order afterwards.

use std::ops::Range;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::{contiguous, noncontiguous};
use aho_corasick::{Anchored, BuildError, MatchKind};

/// Pieces walked side by side.
const LANES: usize = 4;
/// Shortest piece worth a lane of its own: below it, the lane's restart
/// (the longest prefix, less a byte, walked again) costs more than it saves.
const MIN_LANE: usize = 256;
/// Largest transition table built (the trie stops growing past it). With
/// [`PREFIX`], the default pack's 2,245 ASCII literals take 1.9 MB (52 byte
/// classes) and its 774 non-ASCII ones 1.95 MB (118 classes; 6.5 MB whole,
/// when they kept an NFA of about 150 KB), so a VM holds about 3.8 MB of
/// tables. A set that outgrows the bound falls back to the NFA and one
/// lane, and its pass costs about ten times more (at 2 MB, before
/// prefixes, the pack's 2.2 MB ASCII set did: 58 against 49 us for a 4 KiB
/// request).
const MAX_DFA_BYTES: usize = 5 * 512 * 1024;

/// Bytes of each literal the DFA holds; the rest is compared (see the
/// module documentation). At 12, the default pack's ASCII table is 1.9 MB
/// (3.1 MB whole); at 8 it would be about a third smaller, with nearly half
/// of its literals compared instead of a quarter, and more prefixes that
/// ordinary words begin.
const PREFIX: usize = 12;

/// An automaton over a set of literals, as a DFA when small enough.
#[derive(Debug, Clone)]
pub(super) enum Literals {
    Dfa(Dfa),
    /// The compact NFA (about 150 KB for the default pack's non-ASCII literals, whose DFA is 3.5 MB).
    Nfa(contiguous::NFA),
    /// The NFA for sets too large for the compact one.
    Large(noncontiguous::NFA),
}

/// One occurrence of a literal: its pattern index in the automaton and its
/// byte span in the haystack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Occurrence {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
}

impl Literals {
    /// Compiles `patterns` (non-empty byte strings) for overlapping search.
    pub(super) fn build<'a>(
        patterns: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Result<Literals, BuildError> {
        if let Some(dfa) = Dfa::build(patterns.clone()) {
            return Ok(Literals::Dfa(dfa));
        }
        let nfa = noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build(patterns)?;
        match contiguous::Builder::new().build_from_noncontiguous(&nfa) {
            Ok(compact) => Ok(Literals::Nfa(compact)),
            Err(_) => Ok(Literals::Large(nfa)),
        }
    }

    /// The longest literal's length.
    pub(super) fn max_len(&self) -> usize {
        match self {
            Literals::Dfa(d) => d.max_len,
            Literals::Nfa(a) => a.max_pattern_len(),
            Literals::Large(a) => a.max_pattern_len(),
        }
    }

    /// Appends the occurrences that lie inside `range` of `hay`, spans
    /// counted from the start of `hay`.
    pub(super) fn find(&self, hay: &[u8], range: Range<usize>, out: &mut Vec<Occurrence>) {
        let Some(piece) = hay.get(range.clone()) else {
            return;
        };
        match self {
            Literals::Dfa(d) => d.find(piece, range.start, out),
            Literals::Nfa(a) => nfa_find(a, piece, range.start, out),
            Literals::Large(a) => nfa_find(a, piece, range.start, out),
        }
    }
}

/// Where each lane's occurrences go: the first lane's straight to `out`,
/// the others' aside until it is done, so that the order is one search's.
fn sinks<'a>(
    out: &'a mut Vec<Occurrence>,
    found: &'a mut [Vec<Occurrence>; LANES - 1],
) -> [&'a mut Vec<Occurrence>; LANES] {
    let [f1, f2, f3] = found;
    [out, f1, f2, f3]
}

/// The fallback: one overlapping search of an `aho_corasick` NFA.
// One instance for both kinds (`dyn`): a rare path, and the Wasm module must stay small.
fn nfa_find(a: &dyn Automaton, hay: &[u8], offset: usize, out: &mut Vec<Occurrence>) {
    let Ok(mut sid) = a.start_state(Anchored::No) else {
        return;
    };
    for (i, &b) in hay.iter().enumerate() {
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_match(sid) {
            for k in 0..a.match_len(sid) {
                let pattern = a.match_pattern(sid, k);
                let end = offset + i + 1;
                out.push(Occurrence {
                    pattern: pattern.as_usize(),
                    start: end - a.pattern_len(pattern).min(end),
                    end,
                });
            }
        }
    }
}

/// Marks a transition into a state that matches (state ids are multiples
/// of the stride, which is at least two, so the low bit is free).
const MATCHES: u32 = 1;

/// A DFA of literals for overlapping search with Aho-Corasick semantics:
/// the state after each byte is the longest suffix of the text read that
/// begins a literal, and each state lists the literals that end there,
/// longest first (the order `aho_corasick` reports them in).
#[derive(Debug, Clone)]
pub(super) struct Dfa {
    /// Byte -> class: the bytes of no literal share class 0.
    classes: [u8; 256],
    /// `trans[state + class]`: the next state (a row index times the
    /// stride), or'ed with [`MATCHES`].
    trans: Vec<u32>,
    /// Row index -> its range in `matches`.
    match_ranges: Vec<(u32, u32)>,
    /// Pattern indices.
    matches: Vec<u32>,
    /// Pattern index -> the length of its prefix in the DFA.
    lens: Vec<u32>,
    /// Pattern index -> its tail's range in `tail_bytes` (empty when the
    /// whole literal is in the DFA).
    tails: Vec<(u32, u32)>,
    tail_bytes: Vec<u8>,
    /// The longest literal, whole.
    max_len: usize,
    /// The longest prefix: how far back a lane starts.
    walk_len: usize,
    stride: usize,
}

/// No transition yet (while the trie is built).
const NONE: u32 = u32::MAX;

impl Dfa {
    /// The DFA of `patterns`, unless its table would exceed [`MAX_DFA_BYTES`].
    fn build<'a>(patterns: impl Iterator<Item = &'a [u8]> + Clone) -> Option<Dfa> {
        let mut classes = [0u8; 256];
        let mut used = [false; 256];
        for p in patterns.clone() {
            for &b in p {
                if let Some(u) = used.get_mut(usize::from(b)) {
                    *u = true;
                }
            }
        }
        let mut stride = 1usize;
        for (class, _) in classes.iter_mut().zip(used).filter(|(_, u)| *u) {
            *class = u8::try_from(stride).ok()?;
            stride += 1;
        }
        // Even, so that state ids (multiples of it) leave the low bit free.
        let stride = stride + stride % 2;
        let class = |b: u8| usize::from(classes.get(usize::from(b)).copied().unwrap_or(0));
        // The trie, in the table: row 0 is the root.
        let mut trans = vec![NONE; stride];
        let mut own: Vec<Vec<u32>> = vec![Vec::new()];
        let mut lens = Vec::new();
        let mut tails = Vec::new();
        let mut tail_bytes = Vec::new();
        let mut max_len = 0;
        for (pattern, p) in patterns.enumerate() {
            max_len = max_len.max(p.len());
            let (head, tail) = p.split_at(p.len().min(PREFIX));
            let from = u32::try_from(tail_bytes.len()).ok()?;
            tail_bytes.extend_from_slice(tail);
            tails.push((from, u32::try_from(tail_bytes.len()).ok()?));
            let mut state = 0usize;
            for &b in head {
                let slot = state + class(b);
                let next = *trans.get(slot)?;
                state = if next == NONE {
                    let new = trans.len();
                    if (new + stride) * 4 > MAX_DFA_BYTES {
                        return None;
                    }
                    trans.resize(new + stride, NONE);
                    own.push(Vec::new());
                    *trans.get_mut(slot)? = u32::try_from(new).ok()?;
                    new
                } else {
                    next as usize
                };
            }
            own.get_mut(state / stride)?
                .push(u32::try_from(pattern).ok()?);
            lens.push(u32::try_from(head.len()).ok()?);
        }
        // Breadth first, so that a state's failure state (shallower) is
        // complete before it: a missing transition is the failure state's.
        let rows = own.len();
        let mut fail = vec![0u32; rows];
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); rows];
        // A queue as a list read from the front (no `VecDeque`: less Wasm).
        let mut queue = vec![0usize];
        let mut head = 0;
        while let Some(&state) = queue.get(head) {
            head += 1;
            let row = state / stride;
            let f = *fail.get(row)? as usize;
            let mut list = std::mem::take(own.get_mut(row)?);
            if state != 0 {
                list.extend_from_slice(lists.get(f / stride)?);
            }
            *lists.get_mut(row)? = list;
            for c in 0..stride {
                let next = *trans.get(state + c)?;
                let inherited = if state == 0 { 0 } else { *trans.get(f + c)? };
                if next == NONE {
                    *trans.get_mut(state + c)? = inherited;
                } else {
                    // A child of the root fails to the root.
                    *fail.get_mut(next as usize / stride)? = inherited;
                    queue.push(next as usize);
                }
            }
        }
        let mut matches = Vec::new();
        let mut match_ranges = Vec::with_capacity(rows);
        for list in &lists {
            let from = u32::try_from(matches.len()).ok()?;
            matches.extend_from_slice(list);
            match_ranges.push((from, u32::try_from(matches.len()).ok()?));
        }
        for t in &mut trans {
            if lists
                .get(*t as usize / stride)
                .is_some_and(|l| !l.is_empty())
            {
                *t |= MATCHES;
            }
        }
        let walk_len = lens.iter().max().map_or(0, |&l| l as usize);
        Some(Dfa {
            classes,
            trans,
            match_ranges,
            matches,
            lens,
            tails,
            tail_bytes,
            max_len,
            walk_len,
            stride,
        })
    }

    /// The state after `b` from `state` (with its [`MATCHES`] flag).
    #[inline(always)]
    fn next(&self, state: u32, b: u8) -> u32 {
        let class = self.classes.get(usize::from(b)).copied().unwrap_or(0);
        let slot = (state & !MATCHES) as usize + usize::from(class);
        self.trans.get(slot).copied().unwrap_or(0)
    }

    /// Appends the literals whose prefixes end at `end` in `state` (and
    /// whose tails follow in `hay`, which begins at `offset`). Returns
    /// whether one of them was a long literal, reported out of order.
    fn report(
        &self,
        hay: &[u8],
        offset: usize,
        out: &mut Vec<Occurrence>,
        state: u32,
        end: usize,
    ) -> bool {
        let row = (state & !MATCHES) as usize / self.stride;
        let Some(&(from, to)) = self.match_ranges.get(row) else {
            return false;
        };
        let mut late = false;
        for &pattern in self.matches.get(from as usize..to as usize).unwrap_or(&[]) {
            let len = self.lens.get(pattern as usize).map_or(0, |&l| l as usize);
            let (t0, t1) = self.tails.get(pattern as usize).copied().unwrap_or((0, 0));
            let tail = self.tail_bytes.get(t0 as usize..t1 as usize).unwrap_or(&[]);
            if !tail.is_empty() {
                let at = end - offset;
                if hay.get(at..at + tail.len()) != Some(tail) {
                    continue;
                }
                late = true;
            }
            out.push(Occurrence {
                pattern: pattern as usize,
                start: end - len.min(end),
                end: end + tail.len(),
            });
        }
        late
    }

    /// Walks `hay` in up to [`LANES`] pieces side by side; see the module documentation.
    fn find(&self, hay: &[u8], offset: usize, out: &mut Vec<Occurrence>) {
        let first = out.len();
        let late = self.walk(hay, offset, out);
        if late {
            in_search_order(out.get_mut(first..).unwrap_or(&mut []));
        }
    }

    /// [`Dfa::find`], but a long literal's occurrence where its prefix
    /// ends; returns whether there was one.
    fn walk(&self, hay: &[u8], offset: usize, out: &mut Vec<Occurrence>) -> bool {
        let mut late = false;
        let back = self.walk_len.saturating_sub(1);
        if hay.len() / MIN_LANE.max(back + 1) < LANES {
            let mut s = 0;
            for (i, &b) in hay.iter().enumerate() {
                s = self.next(s, b);
                if s & MATCHES != 0 {
                    late |= self.report(hay, offset, out, s, offset + i + 1);
                }
            }
            return late;
        }
        // Lane k reports the occurrences ending in `(from, to]`; it walks
        // from `from - back`, the first `warm` bytes only to set its state.
        let step = hay.len().div_ceil(LANES);
        let lane = |k: usize| {
            let (from, to) = ((k * step).min(hay.len()), ((k + 1) * step).min(hay.len()));
            let warm = from - from.saturating_sub(back);
            let text = hay.get(from - warm..to).unwrap_or(&[]);
            (offset + from - warm, warm, text)
        };
        let (l0, l1, l2, l3) = (lane(0), lane(1), lane(2), lane(3));
        let mut found: [Vec<Occurrence>; LANES - 1] = Default::default();
        let mut s = [0u32; LANES];
        let common = l0.2.len().min(l1.2.len()).min(l2.2.len()).min(l3.2.len());
        let quad = l0.2.iter().zip(l1.2).zip(l2.2).zip(l3.2);
        for (j, (((&b0, &b1), &b2), &b3)) in quad.enumerate() {
            s = [
                self.next(s[0], b0),
                self.next(s[1], b1),
                self.next(s[2], b2),
                self.next(s[3], b3),
            ];
            if (s[0] | s[1] | s[2] | s[3]) & MATCHES != 0 {
                let lanes = s.into_iter().zip([l0, l1, l2, l3]);
                for ((state, (base, warm, _)), f) in lanes.zip(sinks(out, &mut found)) {
                    if state & MATCHES != 0 && j >= warm {
                        late |= self.report(hay, offset, f, state, base + j + 1);
                    }
                }
            }
        }
        // The tails, lane by lane (the last lane's is the longest, by a few bytes).
        let lanes = s.into_iter().zip([l0, l1, l2, l3]);
        for ((mut state, (base, warm, text)), f) in lanes.zip(sinks(out, &mut found)) {
            for (j, &b) in text.iter().enumerate().skip(common) {
                state = self.next(state, b);
                if state & MATCHES != 0 && j >= warm {
                    late |= self.report(hay, offset, f, state, base + j + 1);
                }
            }
        }
        for f in found {
            out.extend(f);
        }
        late
    }
}

/// Sorts occurrences into the order one overlapping search reports them:
/// by end, then the longest first (two literals that end together with the
/// same length are the same literal). A stable sort, in O(n log n) however
/// the text is crafted; it runs only when a long literal was found.
fn in_search_order(found: &mut [Occurrence]) {
    found.sort_by_key(|o| (o.end, std::cmp::Reverse(o.end - o.start)));
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    /// What `AhoCorasick::find_overlapping_iter` reports.
    fn reference(patterns: &[&str], hay: &str) -> Vec<Occurrence> {
        let ac = aho_corasick::AhoCorasick::new(patterns).unwrap();
        ac.find_overlapping_iter(hay)
            .map(|m| Occurrence {
                pattern: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }

    #[test]
    fn lanes_report_what_one_search_reports_in_the_same_order() {
        // Overlapping literals, one longer than a lane's restart, and text of
        // every length around the lane thresholds, so that occurrences
        // straddle the pieces' edges.
        let long = "abcab".repeat(70);
        let patterns = ["ab", "b", "abc", "cab", "bca", "a", long.as_str(), "ca"];
        let lits = Literals::build(patterns.iter().map(|p| p.as_bytes())).unwrap();
        assert!(matches!(lits, Literals::Dfa(_)));
        let large = noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .unwrap();
        let nfa = Literals::Nfa(
            contiguous::Builder::new()
                .build_from_noncontiguous(&large)
                .unwrap(),
        );
        let large = Literals::Large(large);
        assert_eq!(lits.max_len(), 350);
        let unit = "xabcabcab cabbca a";
        for len in [
            0, 1, 17, 255, 1023, 1024, 1500, 1501, 1502, 1503, 2048, 4099, 9000,
        ] {
            let hay: String = unit.chars().cycle().take(len).collect();
            let want = reference(&patterns, &hay);
            for (name, l) in [("dfa", &lits), ("nfa", &nfa), ("large", &large)] {
                let mut got = Vec::new();
                l.find(hay.as_bytes(), 0..hay.len(), &mut got);
                assert_eq!(got, want, "{name} on {len} bytes");
            }
            // A window: only the occurrences inside it, spans from the start.
            let (from, to) = (len / 3, len - len / 4);
            let mut got = Vec::new();
            lits.find(hay.as_bytes(), from..to, &mut got);
            let inside: Vec<_> = reference(&patterns, &hay[from..to])
                .into_iter()
                .map(|o| Occurrence {
                    start: o.start + from,
                    end: o.end + from,
                    ..o
                })
                .collect();
            assert_eq!(got, inside, "window of {len} bytes");
        }
    }

    #[test]
    fn random_literals_over_a_small_alphabet_match_the_reference() {
        // Many shared prefixes and suffixes, so failure chains are long and
        // states end several literals at once; bytes beyond ASCII too.
        let alphabet = ["a", "b", "c", " ", "é", "ж"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..80 {
            // Odd rounds: literals longer than the DFA's prefix (their
            // tails compared), some sharing their first PREFIX bytes, and
            // text made of them, so that they occur, overlap and straddle
            // the lanes' edges.
            let longest = if round % 2 == 0 { 7 } else { 3 * PREFIX };
            let mut patterns: Vec<String> = (0..1 + next(60))
                .map(|_| (0..1 + next(longest)).map(|_| alphabet[next(6)]).collect())
                .collect();
            if round % 2 == 1 {
                let stem: String = "ab".repeat(PREFIX);
                patterns.extend((0..4).map(|k| format!("{stem}{}", alphabet[k])));
            }
            patterns.sort();
            patterns.dedup();
            let hay: String = if round % 2 == 0 {
                (0..next(3000)).map(|_| alphabet[next(6)]).collect()
            } else {
                (0..next(400))
                    .map(|_| match next(3) {
                        0 => patterns[next(patterns.len())].as_str(),
                        _ => alphabet[next(6)],
                    })
                    .collect()
            };
            let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let lits = Literals::build(refs.iter().map(|p| p.as_bytes())).unwrap();
            let mut got = Vec::new();
            lits.find(hay.as_bytes(), 0..hay.len(), &mut got);
            assert_eq!(got, reference(&refs, &hay), "round {round}");
        }
    }
}
