//! promptls's own settings: the `promptls.*` extension fields of a prompt's frontmatter
//! (stock Dotprompt collects them into `ext.promptls` and ignores them).

use crate::syntax::yaml::YamlNode;

pub const NAMESPACE: &str = "promptls";

/// Known `promptls.*` fields and what each holds.
pub const FIELDS: &[(&str, &str)] = &[
    (
        "dataset",
        "path of a CSV or JSONL file, relative to the prompt",
    ),
    ("target", "dataset column holding the expected output"),
    ("metric", "how outputs are scored"),
    ("teacher", "model that bootstraps demos, as provider/model"),
    ("optimizer", "optimizer name, or {name, trials, demos, ...}"),
    ("split", "train/dev split of the dataset"),
    ("judge", "rubric (and model) for the judge metric"),
    (
        "threshold",
        "score a row needs to pass (default 1 for exact_match, contains, regex, json_match; 0.5 otherwise)",
    ),
];

/// Metric names (`promptls.metric`); `rouge_l` style spellings are accepted as aliases.
pub const METRICS: &[&str] = &[
    "exact_match",
    "f1",
    "bleu",
    "chrf",
    "chrf++",
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "contains",
    "regex",
    "json_match",
    "judge",
];

/// Optimizer names (`promptls.optimizer` or its `name`).
pub const OPTIMIZERS: &[&str] = &["bootstrap", "random", "mipro", "gepa"];

/// The canonical metric name for `name`, accepting `rouge_l`, `rouge-l`, `ROUGE_L`, ...
pub fn canonical_metric(name: &str) -> Option<&'static str> {
    let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-', ' '], "");
    let wanted = squash(name);
    METRICS.iter().copied().find(|m| squash(m) == wanted)
}

/// The `promptls.*` entries of a frontmatter mapping: (field, key node, value node).
pub fn entries(frontmatter: &YamlNode) -> impl Iterator<Item = (String, &YamlNode, &YamlNode)> {
    frontmatter.entries().iter().filter_map(|e| {
        let key = e.key.key_string();
        let (ns, field) = key.rsplit_once('.')?;
        (ns == NAMESPACE).then(|| (field.to_string(), &e.key, &e.value))
    })
}

/// The value node of `promptls.<field>`.
pub fn get<'a>(frontmatter: &'a YamlNode, field: &str) -> Option<&'a YamlNode> {
    entries(frontmatter)
        .find(|(f, _, _)| f == field)
        .map(|(_, _, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_aliases() {
        assert_eq!(canonical_metric("rouge_l"), Some("rougeL"));
        assert_eq!(canonical_metric("ROUGE-Lsum"), Some("rougeLsum"));
        assert_eq!(canonical_metric("exact_match"), Some("exact_match"));
        assert_eq!(canonical_metric("exactmatch"), Some("exact_match"));
        assert_eq!(canonical_metric("accuracy"), None);
    }
}
