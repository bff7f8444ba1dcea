//! Where the ready regex arms may start matching: one pass for all of them.
//!
//! An arm whose matches all begin with one of a few known literals (its
//! start literals) runs anchored at their occurrences only. Each arm can
//! look for its own with an automaton of its own, one search per
//! occurrence: cheap for the few arms ordinary chat readies, but a
//! conversation of short turns readies about seventeen, and seventeen
//! searches of the whole text cost more than the literal pass. Past
//! [`MANY_ANCHORED`] ready arms, the start literals of every arm, in one
//! automaton, are walked once over the text instead, and each occurrence
//! becomes a candidate of the ready arms it starts. (Always walking it
//! costs more on ordinary chat: single letters such as `a` and `u`, start
//! literals of arms that begin at a word, occur every few bytes.)
//!
//! The candidates of an arm are the positions where one of its literals
//! begins, in order and once each: the same positions the leftmost search
//! from one past the previous candidate visited.

use aho_corasick::BuildError;

/// Ready arms with start literals from which one pass over all start
/// literals beats one search per arm.
pub(super) const MANY_ANCHORED: usize = 8;

use super::literals::{Literals, Occurrence};
use super::{inside_word, is_set};

/// The start literals of every arm, in one automaton.
#[derive(Debug, Clone)]
pub(super) struct Starts {
    literals: Literals,
    /// Automaton pattern -> the arms it starts.
    arms: Vec<Vec<u32>>,
    /// Automaton pattern -> whether every arm it starts begins at a word
    /// boundary (so an occurrence inside a word is no candidate of any).
    word_only: Vec<bool>,
}

impl Starts {
    /// The automaton of `per_arm[i]`, arm `i`'s start literals (if it has
    /// any) and whether its matches begin at a word boundary; `None` when no
    /// arm has start literals.
    pub(super) fn build(
        per_arm: &[(Option<Vec<Vec<u8>>>, bool)],
    ) -> Result<Option<Starts>, BuildError> {
        let mut texts: Vec<&[u8]> = Vec::new();
        let mut arms: Vec<Vec<u32>> = Vec::new();
        let mut word_only: Vec<bool> = Vec::new();
        let mut ids = std::collections::HashMap::new();
        for (arm, (lits, word_start)) in per_arm.iter().enumerate() {
            let Ok(arm) = u32::try_from(arm) else {
                continue;
            };
            for lit in lits.iter().flatten() {
                let id = *ids.entry(lit.as_slice()).or_insert_with(|| {
                    texts.push(lit);
                    arms.push(Vec::new());
                    word_only.push(true);
                    texts.len() - 1
                });
                if let (Some(a), Some(w)) = (arms.get_mut(id), word_only.get_mut(id)) {
                    if a.last() != Some(&arm) {
                        a.push(arm);
                    }
                    *w &= *word_start;
                }
            }
        }
        if texts.is_empty() {
            return Ok(None);
        }
        let literals = Literals::build(texts.iter().copied())?;
        Ok(Some(Starts {
            literals,
            arms,
            word_only,
        }))
    }

    /// Appends `(arm, position)` for each candidate start of the arms set
    /// in `ready` (a bit per arm), sorted and without repeats.
    pub(super) fn candidates(&self, hay: &str, ready: &[u64], out: &mut Vec<(u32, usize)>) {
        let bytes = hay.as_bytes();
        let mut found = Vec::new();
        self.literals.find(bytes, 0..bytes.len(), &mut found);
        for Occurrence { pattern, start, .. } in found {
            if self.word_only.get(pattern).copied().unwrap_or(false) && inside_word(bytes, start) {
                continue;
            }
            for &arm in self.arms.get(pattern).map_or(&[][..], Vec::as_slice) {
                if is_set(ready, arm as usize) {
                    out.push((arm, start));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}
