//! Which rows train and which validate in a run, and the split the optimizer made itself
//! written into the prompt's frontmatter.

/// The share of the rows that trains when the optimizer splits them itself.
pub const AUTO_TRAIN_SHARE: f64 = 0.5;

/// Which rows trained and which validated, and where that came from.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct SplitInfo {
    /// Row numbers (1-based, in their file) of the training rows.
    pub train: Vec<usize>,
    /// Row numbers of the validation rows (what the scores are on).
    pub dev: Vec<usize>,
    pub seed: Option<u64>,
    /// `auto`, `promptls.split`, `--valset` or `--dataset`.
    pub source: &'static str,
}

impl SplitInfo {
    /// "auto, seed 0: 30 train rows (1, 4, …), scored on 30 validation rows (2, …)".
    pub fn describe(&self) -> String {
        let list = |rows: &[usize]| {
            let shown: Vec<String> = rows.iter().take(12).map(|r| r.to_string()).collect();
            let more = if rows.len() > 12 { ", …" } else { "" };
            format!("{}{more}", shown.join(", "))
        };
        let seed = self.seed.map_or(String::new(), |s| format!(", seed {s}"));
        format!(
            "{}{seed}: {} train rows ({}), scored on {} validation rows ({})",
            self.source,
            self.train.len(),
            list(&self.train),
            self.dev.len(),
            list(&self.dev)
        )
    }
}

/// `text` with the split the optimizer made itself (`auto`) written into its
/// frontmatter as `promptls.split`, so that `eval` and `check` later score the same
/// validation rows (and see the demos' rows as training rows). Other splits, or a file
/// that already has one, are left as they are.
pub fn with_split(text: &str, split: &SplitInfo) -> String {
    let (Some(seed), "auto") = (split.seed, split.source) else {
        return text.to_string();
    };
    let parsed = crate::syntax::parse(text);
    let has_split = parsed
        .frontmatter
        .as_ref()
        .and_then(|fm| crate::settings::get(fm, "split"))
        .is_some();
    let Some(span) = parsed.split.frontmatter else {
        return text.to_string();
    };
    if has_split || parsed.frontmatter_failed {
        return text.to_string();
    }
    let line = format!("promptls.split: {{train: {AUTO_TRAIN_SHARE}, seed: {seed}}}");
    let at = span.end;
    if text[..at].ends_with('\n') {
        format!("{}{line}\n{}", &text[..at], &text[at..])
    } else {
        format!("{}\n{line}{}", &text[..at], &text[at..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(seed: u64) -> SplitInfo {
        SplitInfo {
            train: vec![1, 3],
            dev: vec![2, 4],
            seed: Some(seed),
            source: "auto",
        }
    }

    #[test]
    fn the_auto_split_is_written_into_the_frontmatter_once() {
        let text = "---\nmodel: m/x\npromptls.dataset: d.csv\n---\nHi {{text}}\n";
        let with = with_split(text, &auto(7));
        assert_eq!(
            with,
            "---\nmodel: m/x\npromptls.dataset: d.csv\npromptls.split: {train: 0.5, seed: 7}\n---\nHi {{text}}\n"
        );
        assert_eq!(with_split(&with, &auto(7)), with);
        let given = SplitInfo {
            source: "promptls.split",
            ..auto(7)
        };
        assert_eq!(with_split(text, &given), text);
        assert!(auto(7)
            .describe()
            .starts_with("auto, seed 7: 2 train rows (1, 3)"));
    }
}
