//! Stage 4: from hits to an anomaly score and an action.
//!
//! The model is the OWASP Core Rule Set's: each rule adds its points (times
//! its category's weight), and the total is compared with two thresholds.
//! A rule counts once per request however often it matches, so a chat
//! history resent with every turn cannot add up to a block on its own.

use crate::policy::{Mode, Policy};
use crate::verdict::{Action, Hit};

/// The anomaly score of a request: the sum of its hits' points, saturating.
pub fn total(hits: &[Hit]) -> u32 {
    hits.iter().fold(0u32, |acc, h| acc.saturating_add(h.score))
}

/// What enforce mode does with a score.
pub fn decide(policy: &Policy, score: u32, hits: &[Hit]) -> Action {
    if score >= policy.block_at {
        let mut cats: Vec<&str> = Vec::new();
        for h in hits {
            if !cats.contains(&h.category.as_str()) {
                cats.push(&h.category);
            }
        }
        Action::Block {
            status: policy.block_status,
            code: "anomaly_score_exceeded",
            message: format!(
                "request blocked by the inference firewall: {} (anomaly score {score}, threshold {})",
                cats.join(", "),
                policy.block_at
            ),
        }
    } else if score >= policy.flag_at {
        Action::Flag
    } else {
        Action::Allow
    }
}

/// What the proxy does in `mode` when enforce mode would do `would`.
///
/// Monitor mode never blocks: a request that would be blocked or flagged is
/// forwarded flagged, so the upstream and the access log still see why.
pub fn apply_mode(mode: Mode, would: &Action) -> Action {
    match (mode, would) {
        (Mode::Enforce, a) => a.clone(),
        (Mode::Monitor, Action::Allow) => Action::Allow,
        (Mode::Monitor, _) => Action::Flag,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::payload::Role;

    fn hit(score: u32) -> Hit {
        Hit {
            rule_id: "r".into(),
            category: "jailbreak".into(),
            score,
            pointer: String::new(),
            role: Role::User,
            span: None,
        }
    }

    #[test]
    fn total_saturates_instead_of_wrapping() {
        assert_eq!(total(&[hit(u32::MAX), hit(5)]), u32::MAX);
        assert_eq!(total(&[hit(2), hit(3)]), 5);
    }

    #[test]
    fn thresholds_split_allow_flag_block() {
        let p =
            Policy::from_json(r#"{"version":1,"policy":{"flag_at":3,"block_at":5}}"#, "t").unwrap();
        assert_eq!(decide(&p, 2, &[]), Action::Allow);
        assert_eq!(decide(&p, 3, &[]), Action::Flag);
        assert!(matches!(
            decide(&p, 5, &[hit(5)]),
            Action::Block { status: 403, .. }
        ));
    }

    #[test]
    fn monitor_mode_never_blocks() {
        let block = Action::Block {
            status: 403,
            code: "x",
            message: String::new(),
        };
        assert_eq!(apply_mode(Mode::Monitor, &block), Action::Flag);
        assert_eq!(apply_mode(Mode::Monitor, &Action::Allow), Action::Allow);
        assert_eq!(apply_mode(Mode::Enforce, &block), block);
    }
}
