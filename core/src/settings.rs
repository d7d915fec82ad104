//! promptls's own settings: the `promptls.*` extension fields of a prompt's frontmatter
//! (stock Dotprompt collects them into `ext.promptls` and ignores them).
//!
//! `PromptSettings::read` reads every field once, into typed values and `Problem`s:
//! `check` reports the problems, `eval` and `optimize` take the values (and stop on a
//! field that is wrong), the editor completes and documents from the same tables.

use serde_json::Value;

use crate::data::split::Split;
use crate::problem::{did_you_mean, Problem};
use crate::syntax::yaml::{YamlKind, YamlNode};
use crate::syntax::Span;

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

/// The optimizers, in the order the editor offers them.
pub const OPTIMIZERS: &[OptimizerInfo] = &[
    OptimizerInfo {
        name: "bootstrap",
        action: Some("Optimize: bootstrap few-shot"),
        doc: "BootstrapFewShot: the teacher answers training rows; passing answers become demos.",
    },
    OptimizerInfo {
        name: "random",
        action: None,
        doc: "Random search over bootstrapped demo sets, each scored on the validation rows.",
    },
    OptimizerInfo {
        name: "mipro",
        action: Some("Optimize: MIPROv2"),
        doc: "MIPROv2: proposes instructions and demo sets, searched with a Tree-structured Parzen Estimator.",
    },
    OptimizerInfo {
        name: "gepa",
        action: Some("Optimize: GEPA"),
        doc: "GEPA: reflective prompt evolution with a Pareto frontier over validation rows.",
    },
];

/// One optimizer `promptls.optimizer` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptimizerInfo {
    pub name: &'static str,
    /// The title of the editor's code action that runs it (`None`: not offered).
    pub action: Option<&'static str>,
    pub doc: &'static str,
}

/// The optimizer called `name`.
pub fn optimizer(name: &str) -> Option<&'static OptimizerInfo> {
    OPTIMIZERS.iter().find(|o| o.name == name)
}

/// The names of the optimizers.
pub fn optimizer_names() -> impl Iterator<Item = &'static str> {
    OPTIMIZERS.iter().map(|o| o.name)
}

/// The keys of `promptls.optimizer` as a mapping, and what each holds.
pub const OPTIMIZER_KEYS: &[(&str, &str)] = &[
    (
        "name",
        "The optimizer: `bootstrap`, `random`, `mipro` or `gepa`.",
    ),
    ("trials", "How many candidate prompts to evaluate."),
    ("demos", "The most demos to put in the prompt."),
    ("auto", "A budget preset: `light`, `medium` or `heavy`."),
    ("seed", "Random seed, for reproducible runs."),
    (
        "max_bootstrapped_demos",
        "The most demos taken from the teacher's passing answers.",
    ),
    (
        "max_labeled_demos",
        "The most demos taken straight from labelled dataset rows.",
    ),
    (
        "minibatch",
        "Score candidates on minibatches of the validation rows first.",
    ),
    ("minibatch_size", "Rows per minibatch."),
    ("threshold", "The score an answer needs to become a demo."),
    (
        "max_calls",
        "The most model calls the run may make (each attempt counts).",
    ),
    ("max_cost", "The most the run may spend, in US dollars."),
];

/// The optimizer keys whose value is a whole number.
const OPTIMIZER_COUNTS: &[&str] = &[
    "trials",
    "demos",
    "seed",
    "max_bootstrapped_demos",
    "max_labeled_demos",
    "minibatch_size",
    "max_calls",
];

/// A value as written, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Written<T> {
    pub value: T,
    pub span: Span,
}

/// A field: absent (`None`), wrong (`Some(Err(message))`, with the span of the value; also
/// among the problems), or its value.
pub type Field<T> = Option<Result<Written<T>, Written<String>>>;

/// The value of a field that is present and right.
pub fn value<T>(field: &Field<T>) -> Option<&T> {
    field.as_ref()?.as_ref().ok().map(|w| &w.value)
}

/// Where a field is written, right or wrong.
pub fn span_of<T>(field: &Field<T>) -> Option<Span> {
    match field.as_ref()? {
        Ok(w) => Some(w.span),
        Err(w) => Some(w.span),
    }
}

/// `promptls.judge`: the rubric a judge model grades against, and that model.
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    pub rubric: String,
    /// `provider/model`, when the prompt names one.
    pub model: Option<String>,
}

/// `promptls.optimizer`: its name and the settings the run reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptimizerSetting {
    pub name: Option<String>,
    pub trials: Option<usize>,
    pub demos: Option<usize>,
    pub max_calls: Option<u64>,
    /// At least 0 (a negative cost is left out).
    pub max_cost: Option<f64>,
}

/// Every `promptls.*` field of one prompt, read once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptSettings {
    pub dataset: Field<String>,
    pub target: Field<String>,
    /// As written (a name or an alias; see `canonical_metric`).
    pub metric: Field<String>,
    pub teacher: Field<String>,
    pub optimizer: OptimizerSetting,
    pub split: Field<Split>,
    pub judge: Field<Judge>,
    pub threshold: Field<f64>,
    pub problems: Vec<Problem>,
}

impl PromptSettings {
    /// The settings of a frontmatter (none without one).
    pub fn read(frontmatter: Option<&YamlNode>) -> PromptSettings {
        let mut s = PromptSettings::default();
        let Some(root) = frontmatter else { return s };
        for entry in root.entries() {
            let key = entry.key.key_string();
            if let Some(field) = key.strip_prefix("promptls.") {
                s.read_field(field, &entry.key, &entry.value);
            }
        }
        // The judge metric grades against a rubric; without one there is nothing to ask.
        if let Some(Ok(metric)) = &s.metric {
            if canonical_metric(&metric.value) == Some("judge") && s.judge.is_none() {
                s.problems.push(Problem::warning(
                    "judge-rubric",
                    metric.span,
                    "the judge metric needs `promptls.judge`: the rubric the judge model grades against",
                ));
            }
        }
        s
    }

    /// The settings of a whole `.prompt` text.
    pub fn of_source(source: &str) -> PromptSettings {
        PromptSettings::read(crate::syntax::parse(source).frontmatter.as_ref())
    }

    /// `promptls.dataset` as written (relative to the prompt), when it is a string.
    pub fn dataset_path(&self) -> Option<&str> {
        value(&self.dataset).map(String::as_str)
    }

    /// The split (every row trains and validates when there is none, or it is wrong).
    pub fn split(&self) -> Split {
        value(&self.split).cloned().unwrap_or(Split::All)
    }

    fn read_field(&mut self, field: &str, k: &YamlNode, v: &YamlNode) {
        if let Some((parent, _)) = field.split_once('.') {
            self.problems.push(Problem::warning(
                "extension-key-dots",
                k.span,
                format!(
                    "Dotprompt splits extension keys at the last dot, so this is not `promptls.{parent}`; \
                     nest it instead: `promptls.{parent}: {{...}}`"
                ),
            ));
            return;
        }
        // A field written twice: the first is the one read (as Dotprompt's `ext` keeps).
        match field {
            "dataset" if self.dataset.is_none() => self.dataset = Some(self.string(field, v)),
            "target" if self.target.is_none() => self.target = Some(self.string(field, v)),
            "metric" if self.metric.is_none() => self.metric = Some(self.metric(v)),
            "teacher" if self.teacher.is_none() => {
                let teacher = self.string(field, v);
                if let Ok(model) = &teacher {
                    if !model.value.contains('/') {
                        self.problems.push(Problem::warning(
                            "model-name",
                            v.span,
                            format!(
                                "model names are `provider/model`, e.g. `openai/{}`",
                                model.value
                            ),
                        ));
                    }
                }
                self.teacher = Some(teacher);
            }
            "optimizer" => self.optimizer(v),
            "split" if self.split.is_none() => {
                let split = Split::from_json(Some(&v.to_json()));
                self.split =
                    Some(self.typed(v, split.map_err(|m| format!("`promptls.split`: {m}"))));
            }
            "judge" if self.judge.is_none() => {
                let judge = judge(&v.to_json());
                self.judge =
                    Some(self.typed(v, judge.map_err(|m| format!("`promptls.judge`: {m}"))));
            }
            "threshold" if self.threshold.is_none() => {
                let threshold = v
                    .to_json()
                    .as_f64()
                    .filter(|t| (0.0..=1.0).contains(t))
                    .ok_or_else(|| {
                        "`promptls.threshold` must be a number from 0 to 1 (the score a row needs to pass)"
                            .to_string()
                    });
                self.threshold = Some(self.typed(v, threshold));
            }
            "dataset" | "target" | "metric" | "teacher" | "split" | "judge" | "threshold" => {}
            _ => {
                let problem = Problem::warning(
                    "unknown-key",
                    k.span,
                    format!("unknown promptls setting `promptls.{field}`"),
                );
                let close = did_you_mean(field, FIELDS.iter().map(|(f, _)| *f));
                let close = close.map(|c| format!("promptls.{c}"));
                self.problems
                    .push(problem.suggest("Rename", close.as_deref()));
            }
        }
    }

    /// `value` at `v`, or its error, which is also a `wrong-type` problem.
    fn typed<T>(
        &mut self,
        v: &YamlNode,
        value: Result<T, String>,
    ) -> Result<Written<T>, Written<String>> {
        let span = v.span;
        match value {
            Ok(value) => Ok(Written { value, span }),
            Err(message) => {
                self.problems
                    .push(Problem::error("wrong-type", span, message.clone()));
                Err(Written {
                    value: message,
                    span,
                })
            }
        }
    }

    fn string(&mut self, field: &str, v: &YamlNode) -> Result<Written<String>, Written<String>> {
        let value = v.as_str().map(str::to_string).ok_or_else(|| {
            format!(
                "`promptls.{field}` must be a string, found a {}",
                v.type_name()
            )
        });
        self.typed(v, value)
    }

    fn metric(&mut self, v: &YamlNode) -> Result<Written<String>, Written<String>> {
        let name = self.string("metric", v)?;
        if canonical_metric(&name.value).is_none() {
            let message = format!(
                "unknown metric `{}` (known: {})",
                name.value,
                METRICS.join(", ")
            );
            let close = did_you_mean(&name.value, METRICS.iter().copied());
            self.problems.push(
                Problem::error("unknown-metric", v.span, message.clone()).suggest("Change", close),
            );
            return Err(Written {
                value: message,
                span: v.span,
            });
        }
        Ok(name)
    }

    fn optimizer(&mut self, v: &YamlNode) {
        let name_node = match &v.kind {
            YamlKind::Map(_) => {
                for e in v.entries() {
                    let key = e.key.key_string();
                    let json = e.value.to_json();
                    if !OPTIMIZER_KEYS.iter().any(|(k, _)| *k == key) {
                        let close = did_you_mean(&key, OPTIMIZER_KEYS.iter().map(|(k, _)| *k));
                        self.problems.push(
                            Problem::warning(
                                "unknown-key",
                                e.key.span,
                                format!("unknown optimizer setting `{key}`"),
                            )
                            .suggest("Rename", close),
                        );
                    } else if OPTIMIZER_COUNTS.contains(&key.as_str()) && json.as_u64().is_none() {
                        self.problems.push(Problem::error(
                            "wrong-type",
                            e.value.span,
                            format!("`{key}` must be a whole number ≥ 0, found {json}"),
                        ));
                    }
                    let count = json.as_u64();
                    match key.as_str() {
                        "trials" => self.optimizer.trials = count.map(|n| n as usize),
                        "demos" => self.optimizer.demos = count.map(|n| n as usize),
                        "max_calls" => self.optimizer.max_calls = count,
                        "max_cost" => {
                            self.optimizer.max_cost = json.as_f64().filter(|c| *c >= 0.0);
                            if self.optimizer.max_cost.is_none() {
                                self.problems.push(Problem::error(
                                    "wrong-type",
                                    e.value.span,
                                    format!("`max_cost` must be a number ≥ 0 (US dollars), found {json}"),
                                ));
                            }
                        }
                        _ => {}
                    }
                }
                match v.get("name") {
                    Some(n) => n,
                    None => {
                        self.problems.push(Problem::error(
                            "wrong-type",
                            v.span,
                            "the optimizer needs a `name`",
                        ));
                        return;
                    }
                }
            }
            _ => v,
        };
        let Some(name) = name_node.as_str() else {
            self.problems.push(Problem::error(
                "wrong-type",
                name_node.span,
                format!(
                    "`promptls.optimizer name` must be a string, found a {}",
                    name_node.type_name()
                ),
            ));
            return;
        };
        self.optimizer.name = Some(name.to_string());
        if optimizer(name).is_none() {
            let known: Vec<&str> = optimizer_names().collect();
            self.problems.push(
                Problem::error(
                    "unknown-optimizer",
                    name_node.span,
                    format!("unknown optimizer `{name}` (known: {})", known.join(", ")),
                )
                .suggest("Change", did_you_mean(name, optimizer_names())),
            );
        }
    }
}

/// Reads `promptls.judge`: a rubric string, or `{rubric, model}`.
fn judge(value: &Value) -> Result<Judge, String> {
    match value {
        Value::String(rubric) if !rubric.trim().is_empty() => Ok(Judge {
            rubric: rubric.clone(),
            model: None,
        }),
        Value::Object(map) => {
            for key in map.keys() {
                if !matches!(key.as_str(), "rubric" | "model") {
                    return Err(format!("unknown judge setting `{key}` (rubric, model)"));
                }
            }
            let rubric = map
                .get("rubric")
                .and_then(Value::as_str)
                .filter(|r| !r.trim().is_empty())
                .ok_or("`promptls.judge` needs a `rubric`")?;
            let model = match map.get("model") {
                None | Some(Value::Null) => None,
                Some(Value::String(m)) => Some(m.clone()),
                Some(_) => return Err("the judge `model` must be a string".into()),
            };
            Ok(Judge {
                rubric: rubric.to_string(),
                model,
            })
        }
        _ => Err("a rubric, or {rubric, model}".into()),
    }
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

    #[test]
    fn every_field_is_read_once_into_its_type() {
        let s = PromptSettings::of_source(
            "---\npromptls.dataset: d.csv\npromptls.target: label\npromptls.metric: rouge_l\n\
             promptls.teacher: openai/gpt-4o\npromptls.split: {train: 0.7, seed: 3}\n\
             promptls.threshold: 0.4\n\
             promptls.optimizer: {name: mipro, trials: 5, demos: 2, max_calls: 9, max_cost: 1.5}\n---\n",
        );
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        assert_eq!(s.dataset_path(), Some("d.csv"));
        assert_eq!(value(&s.target).map(String::as_str), Some("label"));
        assert_eq!(value(&s.metric).map(String::as_str), Some("rouge_l"));
        assert_eq!(
            s.split(),
            Split::Ratio {
                train: 0.7,
                seed: 3
            }
        );
        assert_eq!(value(&s.threshold), Some(&0.4));
        let o = &s.optimizer;
        assert_eq!(
            (
                o.name.as_deref(),
                o.trials,
                o.demos,
                o.max_calls,
                o.max_cost
            ),
            (Some("mipro"), Some(5), Some(2), Some(9), Some(1.5))
        );
    }

    #[test]
    fn a_wrong_field_is_an_error_and_a_problem_at_its_value() {
        let source = "---\npromptls.threshold: 2\npromptls.metric: acuracy\npromptls.optimizer: {name: bootsrap, trails: 3}\n---\n";
        let s = PromptSettings::of_source(source);
        assert!(matches!(&s.threshold, Some(Err(m)) if m.value.contains("from 0 to 1")));
        assert!(
            matches!(&s.metric, Some(Err(m)) if m.value.starts_with("unknown metric `acuracy`"))
        );
        let shown: Vec<(&str, &str, Option<&str>)> = s
            .problems
            .iter()
            .map(|p| {
                let at = &source[p.span.start..p.span.end];
                (
                    p.code,
                    at,
                    p.suggestion.as_ref().map(|s| s.replacement.as_str()),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("wrong-type", "2", None),
                ("unknown-metric", "acuracy", None),
                ("unknown-key", "trails", Some("trials")),
                ("unknown-optimizer", "bootsrap", Some("bootstrap")),
            ]
        );
    }
}
