//! The part-aware diff between two versions (`program::diff`), with the score changes
//! the store knows of for each.

pub use crate::program::diff::{changelog, render, KeyChange, PromptDiff, ScoreChange};

use super::Score;

/// What changed from `before` to `after`, with their scores.
pub fn diff(
    before: &str,
    after: &str,
    scores_before: &[Score],
    scores_after: &[Score],
) -> PromptDiff {
    let mut d = crate::program::diff::diff(before, after);
    d.scores = scores_after
        .iter()
        .filter_map(|s| {
            let earlier = scores_before
                .iter()
                .rev()
                .find(|o| o.metric == s.metric && o.model == s.model && o.dataset == s.dataset)?;
            Some(ScoreChange {
                metric: s.metric.clone(),
                model: s.model.clone(),
                before: earlier.score,
                after: s.score,
            })
        })
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Score;

    const A: &str = "---\nmodel: a/b\nconfig: {temperature: 0}\n---\n{{role \"system\"}}\nClassify the review.\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nbad\n{{role \"model\"}}\nnegative\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}\n";

    #[test]
    fn parts_are_compared_separately() {
        let b = A
            .replace("temperature: 0", "temperature: 0.2")
            .replace("Classify the review.", "Classify the review in one word.")
            .replace(
                "bad\n{{role \"model\"}}\nnegative",
                "good\n{{role \"model\"}}\npositive",
            );
        let score = |s: f64| Score {
            dataset: "d".into(),
            metric: "exact_match".into(),
            model: "a/b".into(),
            score: s,
            rows: 9,
            created: "t".into(),
        };
        let d = diff(A, &b, &[score(0.667)], &[score(0.889)]);
        assert_eq!(d.frontmatter.len(), 1);
        assert_eq!(d.frontmatter[0].key, "config");
        assert_eq!(
            d.instruction.as_deref(),
            Some("Classify the [-review.-]{+review in one word.+}")
        );
        assert_eq!(
            (d.demos_added.clone(), d.demos_removed.clone()),
            (vec!["good".to_string()], vec!["bad".to_string()])
        );
        assert!(d.body.is_none());
        assert_eq!(
            changelog(&d),
            "Instruction reworded (+4 −1 words); 1 demo added; 1 demo removed; config {\"temperature\":0} → {\"temperature\":0.2}; exact_match 0.667 → 0.889 (+0.222)."
        );
        let same = diff(A, A, &[], &[]);
        assert_eq!(changelog(&same), "No change.");
        let edited = diff(A, &A.replace("{{text}}", "Review: {{text}}"), &[], &[]);
        assert!(edited.body.is_some() && changelog(&edited).starts_with("Template edited"));
    }
}
