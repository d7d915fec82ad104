//! A simulated model for optimizer tests and benchmarks: deterministic, served as an
//! OpenAI-compatible endpoint by `mock_llm::Mock::start_with(sim_model::respond)`. Its
//! answers depend on the prompt the way a small model's do on a sentiment task, so an
//! optimizer that writes a better instruction or better demos measurably wins.
//!
//! # The task
//! Short product reviews labelled `positive`, `negative` or `neutral` (`rows` makes a
//! dataset). Some reviews are plain, some negate a sentiment word ("not good", "never
//! works"), some are sarcastic ("Oh great, it broke again").
//!
//! # The rules of the student (any model whose name does not contain `teacher` or `70b`)
//! 1. It reads the label off sentiment words: more positive words than negative is
//!    `positive`, fewer is `negative`, a tie is `neutral`.
//! 2. It misses negation (reads "not good" as positive) unless the system instruction
//!    mentions negation ("negat…") or one of the demos shows a negated review.
//! 3. It misses sarcasm (reads "Oh great, it broke" at face value, where "great" and
//!    "broke" cancel out to `neutral`) unless the instruction
//!    mentions sarcasm or irony ("sarcas…", "iron…") or a demo shows a sarcastic review.
//! 4. It answers in a chatty sentence ("The sentiment of this review is positive.")
//!    unless the instruction asks for one word ("one word", "single word", "only the
//!    label") or there are demos (then it copies their one-word format).
//!
//! # The teacher (model name contains `teacher` or `70b`)
//! Knows negation and sarcasm and answers one word, but is wrong (says `neutral`) on the
//! reviews whose hash is 0 mod 10: an optimizer must check its demos with the metric.
//! Asked to propose an instruction (a system message containing "propose"), it writes
//! one grounded in what the request shows: it mentions negation or sarcasm when the
//! examples or feedback in the request contain such reviews, and always asks for one
//! word. Asked to summarise a dataset ("summar…"), it says what the rows are.
//!
//! Token counts are the characters of the messages and of the answer over four (the
//! usual rule of thumb), so demos cost what they would. `latency` gives a response time
//! for those counts (for benchmarks that report latency; tests do not wait).

#![allow(dead_code)] // each test binary uses a different part of it

use serde_json::{json, Value};

use super::mock_llm::{Received, Reply};

const POSITIVE: &[&str] = &[
    "love",
    "loved",
    "great",
    "excellent",
    "perfect",
    "happy",
    "works",
    "fast",
    "sturdy",
    "beautiful",
    "recommend",
    "good",
];
const NEGATIVE: &[&str] = &[
    "broke",
    "broken",
    "terrible",
    "awful",
    "refund",
    "waste",
    "slow",
    "cracked",
    "useless",
    "disappointed",
    "bad",
    "died",
];
const NEGATIONS: &[&str] = &["not", "never", "isn't", "doesn't", "wasn't", "don't", "no"];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a negation word directly precedes a sentiment word.
pub fn is_negated(text: &str) -> bool {
    let w = words(text);
    w.windows(2).any(|p| {
        NEGATIONS.contains(&p[0].as_str())
            && (POSITIVE.contains(&p[1].as_str()) || NEGATIVE.contains(&p[1].as_str()))
    })
}

/// Sarcasm: "oh great" / "just great" / "yeah right" with a negative event.
pub fn is_sarcastic(text: &str) -> bool {
    let lower = text.to_lowercase();
    (lower.contains("oh great") || lower.contains("just great") || lower.contains("yeah right"))
        && words(text).iter().any(|w| NEGATIVE.contains(&w.as_str()))
}

/// The label a reader who gets everything right gives.
pub fn truth(text: &str) -> &'static str {
    if is_sarcastic(text) {
        return "negative";
    }
    naive(text, true)
}

/// The lexicon reading, with or without negation handling.
fn naive(text: &str, negation: bool) -> &'static str {
    let w = words(text);
    let mut score = 0i32;
    for (i, word) in w.iter().enumerate() {
        let polarity = if POSITIVE.contains(&word.as_str()) {
            1
        } else if NEGATIVE.contains(&word.as_str()) {
            -1
        } else {
            0
        };
        let negated = negation && i > 0 && NEGATIONS.contains(&w[i - 1].as_str());
        score += if negated { -polarity } else { polarity };
    }
    match score.signum() {
        1 => "positive",
        -1 => "negative",
        _ => "neutral",
    }
}

fn hash(text: &str) -> u64 {
    // FNV-1a: stable across runs and platforms.
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn content_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// The output field names of a DSPy ChatAdapter system message, if it is one.
fn dspy_outputs(system: &str) -> Option<Vec<String>> {
    let after = system.split("Your output fields are:").nth(1)?;
    let block = after
        .split("All interactions will be structured")
        .next()
        .unwrap_or(after);
    Some(
        block
            .lines()
            .filter_map(|l| l.split('`').nth(1))
            .map(str::to_string)
            .collect(),
    )
}

/// The first field's value in a DSPy-formatted turn (`[[ ## name ## ]]\nvalue\n\n...`).
fn dspy_value(text: &str) -> String {
    let Some(start) = text.find(" ## ]]") else {
        return text.to_string();
    };
    let rest = &text[start + 6..];
    let end = rest.find("[[ ## ").unwrap_or(rest.len());
    let value = &rest[..end];
    value
        .split("\n\nRespond with the corresponding output fields")
        .next()
        .unwrap_or(value)
        .trim()
        .to_string()
}

/// The same rules for DSPy's ChatAdapter: the instruction is the objective in the system
/// message, turns carry `[[ ## field ## ]]` sections, answers must too.
fn answer_dspy(model: &str, messages: &[Value], system: &str, outputs: &[String]) -> String {
    let role = |m: &Value| m["role"].as_str().unwrap_or("").to_string();
    let field = |name: &str, value: &str| format!("[[ ## {name} ## ]]\n{value}\n\n");
    if outputs.iter().any(|o| o == "label") {
        let objective = system
            .split("your objective is:")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_string();
        let mut plain = vec![json!({"role": "system", "content": objective})];
        for m in messages.iter().filter(|m| role(m) != "system") {
            plain.push(json!({"role": role(m), "content": dspy_value(&content_text(m))}));
        }
        let label = answer(model, &plain);
        return format!("{}[[ ## completed ## ]]", field("label", &label));
    }
    let everything: String = messages
        .iter()
        .map(content_text)
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    for name in outputs {
        let value = if name.contains("instruction") {
            propose(&everything)
        } else if name == "reasoning" {
            "The reviews vary in how directly they state their sentiment.".to_string()
        } else {
            "The rows are short product reviews, each labelled positive, negative or neutral; some negate a sentiment word and some are sarcastic.".to_string()
        };
        out.push_str(&field(name, &value));
    }
    out.push_str("[[ ## completed ## ]]");
    out
}

/// The answer of `model` to OpenAI-shaped `messages`.
pub fn answer(model: &str, messages: &[Value]) -> String {
    let role = |m: &Value| m["role"].as_str().unwrap_or("").to_string();
    let system: String = messages
        .iter()
        .filter(|m| role(m) == "system")
        .map(content_text)
        .collect::<Vec<_>>()
        .join("\n");
    if let Some(outputs) = dspy_outputs(&system) {
        return answer_dspy(model, messages, &system, &outputs);
    }
    let teacher = model.contains("teacher") || model.contains("70b");
    let lower_system = system.to_lowercase();
    let everything: String = messages
        .iter()
        .map(content_text)
        .collect::<Vec<_>>()
        .join("\n");
    if teacher && lower_system.contains("propose") {
        return propose(&everything);
    }
    if teacher && lower_system.contains("changelog") {
        let what = if everything.contains("one word") {
            "Asked for a one-word answer"
        } else {
            "Reworded the instruction"
        };
        return format!("{what}, and the score moved as shown.");
    }
    if teacher && lower_system.contains("summar") {
        return "The rows are short product reviews, each labelled positive, negative or neutral; some negate a sentiment word and some are sarcastic.".into();
    }
    let turns: Vec<&Value> = messages.iter().filter(|m| role(m) != "system").collect();
    let review = turns.last().map(|m| content_text(m)).unwrap_or_default();
    let demos: Vec<String> = turns[..turns.len().saturating_sub(1)]
        .iter()
        .filter(|m| role(m) == "user")
        .map(|m| content_text(m))
        .collect();
    if teacher {
        return if hash(&review).is_multiple_of(10) {
            "neutral".into()
        } else {
            truth(&review).into()
        };
    }
    let knows_negation = lower_system.contains("negat") || demos.iter().any(|d| is_negated(d));
    let knows_sarcasm = lower_system.contains("sarcas")
        || lower_system.contains("iron")
        || demos.iter().any(|d| is_sarcastic(d));
    let label = if knows_sarcasm && is_sarcastic(&review) {
        "negative"
    } else {
        naive(&review, knows_negation)
    };
    let one_word = ["one word", "single word", "only the label"]
        .iter()
        .any(|cue| lower_system.contains(cue))
        || !demos.is_empty();
    if one_word {
        label.into()
    } else {
        format!("The sentiment of this review is {label}.")
    }
}

/// A proposed instruction, grounded in the reviews the request shows.
fn propose(request: &str) -> String {
    let lines: Vec<&str> = request.lines().collect();
    let negation = lines.iter().any(|l| is_negated(l));
    let sarcasm = lines.iter().any(|l| is_sarcastic(l));
    let mut out = String::from(
        "Classify the sentiment of the product review as positive, negative or neutral.",
    );
    if negation {
        out.push_str(" Watch for negation: \"not good\" is negative.");
    }
    if sarcasm {
        out.push_str(" Read sarcasm for what it means: \"Oh great, it broke\" is negative.");
    }
    out.push_str(" Answer with one word.");
    out
}

/// The mock server's reply to a request: an OpenAI chat completion.
pub fn respond(request: &Received) -> Reply {
    if request.path.ends_with("/models") {
        return Reply::ok(json!({"data": []}));
    }
    let model = request.body["model"].as_str().unwrap_or("");
    let messages = request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let text = answer(model, &messages);
    let (prompt_tokens, completion_tokens) = tokens(&messages, &text);
    Reply::ok(json!({
        "choices": [{"message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}
    }))
}

/// Prompt and completion tokens: characters over four, at least one.
pub fn tokens(messages: &[Value], answer: &str) -> (u64, u64) {
    let prompt: usize = messages
        .iter()
        .map(|m| content_text(m).chars().count())
        .sum();
    (
        (prompt as u64).div_ceil(4).max(1),
        (answer.chars().count() as u64).div_ceil(4).max(1),
    )
}

/// A small hosted model's response time for a request: 120 ms to the first token, 0.02 ms
/// per prompt token, 4 ms per generated token.
pub fn latency(prompt_tokens: u64, completion_tokens: u64) -> std::time::Duration {
    std::time::Duration::from_micros(120_000 + prompt_tokens * 20 + completion_tokens * 4_000)
}

/// `n` reviews with their true labels, from a seed: 40% plain, 20% negated, 20%
/// sarcastic, 20% neutral.
pub fn rows(n: usize, seed: u64) -> Vec<(String, &'static str)> {
    let products = [
        "phone", "kettle", "lamp", "backpack", "charger", "blender", "keyboard", "chair",
    ];
    let plain_pos = [
        "I love this {p}, it works perfectly.",
        "Great {p}, fast delivery and sturdy.",
        "Excellent {p}. Would recommend.",
    ];
    let plain_neg = [
        "The {p} broke after a week. Terrible.",
        "Awful {p}, a waste of money.",
        "The {p} arrived cracked and useless.",
    ];
    let negated = [
        "The {p} is not good at all.",
        "This {p} never works when I need it.",
        "Honestly the {p} is not great.",
    ];
    let sarcastic = [
        "Oh great, the {p} broke again.",
        "Oh great, another {p} that died in a day.",
        "Yeah right, a sturdy {p}. It cracked on day one.",
    ];
    let neutral = [
        "The {p} arrived on Tuesday.",
        "It is a {p} in a box.",
        "I bought the {p} for my office.",
    ];
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    (0..n)
        .map(|i| {
            let kind = next() % 10;
            let templates: &[&str] = match kind {
                0 | 1 => &plain_pos,
                2 | 3 => &plain_neg,
                4 | 5 => &negated,
                6 | 7 => &sarcastic,
                _ => &neutral,
            };
            let template = templates[next() % templates.len()];
            let product = products[next() % products.len()];
            let text = format!("{} (#{i})", template.replace("{p}", product));
            let label = truth(&text);
            (text, label)
        })
        .collect()
}

/// The rows as CSV with a `text,label` header.
pub fn csv(rows: &[(String, &str)]) -> String {
    let mut out = String::from("text,label\n");
    for (text, label) in rows {
        out.push_str(&format!("\"{}\",{label}\n", text.replace('"', "\"\"")));
    }
    out
}

/// The sentiment prompt the optimizer and history tests start from: the simulated
/// student, a half/half split, the simulated teacher.
pub const PROMPT: &str = "---\nmodel: sim/small\ninput:\n  schema:\n    text: string\npromptls.dataset: data/reviews.csv\npromptls.target: label\npromptls.metric: exact_match\npromptls.split: {train: 0.5, seed: 3}\npromptls.teacher: sim/teacher-70b\n---\n{{role \"system\"}}\nClassify the sentiment of the review.\n{{role \"user\"}}\n{{text}}\n";

/// A workspace whose `promptls.toml` sends `sim/...` to `base_url` (with `settings` after
/// the base URL line: more provider keys, then other tables), `rows` rows of the task
/// (from `seed`) in `data/reviews.csv`, and `PROMPT` in `sentiment.prompt`.
pub fn workspace(base_url: &str, settings: &str, rows: usize, seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("promptls.toml"),
        format!("[providers.sim]\nbase_url = \"{base_url}\"\n{settings}"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/reviews.csv"),
        csv(&self::rows(rows, seed)),
    )
    .unwrap();
    std::fs::write(dir.path().join("sentiment.prompt"), PROMPT).unwrap();
    dir
}

#[cfg(test)]
mod rules {
    use super::*;

    #[test]
    fn the_rules_hold() {
        let user = |t: &str| json!({"role": "user", "content": t});
        let system = |t: &str| json!({"role": "system", "content": t});
        let sarcastic = "Oh great, the lamp broke again.";
        let negated = "The lamp is not good at all.";
        assert_eq!(truth(sarcastic), "negative");
        assert_eq!(truth(negated), "negative");
        assert_eq!(
            answer("m", &[system("Classify."), user(negated)]),
            "The sentiment of this review is positive."
        );
        assert_eq!(
            answer("m", &[system("Classify. One word."), user(negated)]),
            "positive"
        );
        assert_eq!(
            answer(
                "m",
                &[system("Classify; mind negation. One word."), user(negated)]
            ),
            "negative"
        );
        // At face value "great" and "broke" cancel out.
        assert_eq!(
            answer("m", &[system("One word."), user(sarcastic)]),
            "neutral"
        );
        assert_eq!(
            answer("m", &[system("Sarcasm counts. One word."), user(sarcastic)]),
            "negative"
        );
        let demo = [
            system("Classify."),
            user("Oh great, it died."),
            json!({"role": "assistant", "content": "negative"}),
            user(sarcastic),
        ];
        assert_eq!(answer("m", &demo), "negative");
        assert_eq!(
            answer("teacher", &[system("x"), user(sarcastic)]),
            "negative"
        );
        let proposal = answer(
            "teacher",
            &[
                system("Propose an instruction."),
                user(&format!("Examples:\n{sarcastic}\n{negated}")),
            ],
        );
        assert!(
            proposal.contains("sarcasm")
                && proposal.contains("negation")
                && proposal.contains("one word"),
            "{proposal}"
        );
        let data = rows(100, 7);
        for kind in [is_negated as fn(&str) -> bool, is_sarcastic] {
            let count = data.iter().filter(|(t, _)| kind(t)).count();
            assert!((10..=35).contains(&count), "{count}");
        }
        let wrong = data
            .iter()
            .filter(|(t, _)| hash(t).is_multiple_of(10))
            .count();
        assert!((3..=20).contains(&wrong), "{wrong}");
    }
}
