//! Diffs between two versions of a prompt, aware of its parts: frontmatter changes by
//! key, the instruction as a word diff, demos added, removed or changed, and the score
//! change; and a one-sentence changelog written from them (offline and deterministic).

use serde::Serialize;
use serde_json::Value;

use super::Program;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyChange {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreChange {
    pub metric: String,
    pub model: String,
    pub before: f64,
    pub after: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    pub frontmatter: Vec<KeyChange>,
    /// The instruction as a word diff: `[-removed-]` and `{+added+}` around changes; `None`
    /// when it did not change.
    pub instruction: Option<String>,
    pub words_added: usize,
    pub words_removed: usize,
    pub demos_added: Vec<String>,
    pub demos_removed: Vec<String>,
    pub demos_changed: Vec<String>,
    pub scores: Vec<ScoreChange>,
    /// The rest of the body, line by line, when it changed outside the instruction and
    /// demos (a unified diff).
    pub body: Option<String>,
}

fn frontmatter(source: &str) -> serde_json::Map<String, Value> {
    match crate::syntax::parse(source).frontmatter_json() {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The body with the instruction and demos taken out (what else changed).
fn rest_of_body(source: &str) -> String {
    let span = crate::syntax::parse(source).template_span;
    let body = &source[span.start..span.end];
    match super::parts(source) {
        Ok(parts) => {
            let mut cut: Vec<crate::syntax::Span> = vec![parts.instruction];
            cut.extend(parts.demos);
            cut.sort_by_key(|s| std::cmp::Reverse(s.start));
            let mut out = source.to_string();
            for s in cut {
                out.replace_range(s.start..s.end, "");
            }
            let span_after = crate::syntax::parse(&out).template_span;
            out[span_after.start..span_after.end].to_string()
        }
        Err(_) => body.to_string(),
    }
}

/// What changed from `before` to `after`. `scores` is left empty: the store, which holds
/// the scores, fills it (`store::diff::diff`).
pub fn diff(before: &str, after: &str) -> PromptDiff {
    let (a, b) = (frontmatter(before), frontmatter(after));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let frontmatter = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| KeyChange {
            key: k.clone(),
            before: a.get(k).cloned(),
            after: b.get(k).cloned(),
        })
        .collect();

    let (pa, pb) = (Program::read(before).ok(), Program::read(after).ok());
    let (ia, ib) = (
        pa.as_ref().map_or("", |p| p.instruction.as_str()),
        pb.as_ref().map_or("", |p| p.instruction.as_str()),
    );
    let (mut added, mut removed) = (0, 0);
    let instruction = (ia != ib).then(|| {
        // Runs of equal, removed and added words, each run bracketed once.
        let mut out = String::new();
        let mut run: Option<(similar::ChangeTag, String)> = None;
        let flush = |out: &mut String, run: &mut Option<(similar::ChangeTag, String)>| {
            if let Some((tag, text)) = run.take() {
                match tag {
                    similar::ChangeTag::Equal => out.push_str(&text),
                    similar::ChangeTag::Delete => out.push_str(&format!("[-{text}-]")),
                    similar::ChangeTag::Insert => out.push_str(&format!("{{+{text}+}}")),
                }
            }
        };
        for change in similar::TextDiff::from_words(ia, ib).iter_all_changes() {
            let text = change.value();
            match change.tag() {
                similar::ChangeTag::Delete => removed += usize::from(!text.trim().is_empty()),
                similar::ChangeTag::Insert => added += usize::from(!text.trim().is_empty()),
                similar::ChangeTag::Equal => {}
            }
            match &mut run {
                Some((tag, buffer)) if *tag == change.tag() => buffer.push_str(text),
                _ => {
                    flush(&mut out, &mut run);
                    run = Some((change.tag(), text.to_string()));
                }
            }
        }
        flush(&mut out, &mut run);
        out
    });

    let demos_a = pa.map(|p| p.demos).unwrap_or_default();
    let demos_b = pb.map(|p| p.demos).unwrap_or_default();
    let mut demos_added = Vec::new();
    let mut demos_changed = Vec::new();
    for d in &demos_b {
        match demos_a.iter().find(|x| x.input == d.input) {
            None => demos_added.push(d.input.clone()),
            Some(x) if x.output != d.output => demos_changed.push(d.input.clone()),
            Some(_) => {}
        }
    }
    let demos_removed = demos_a
        .iter()
        .filter(|d| !demos_b.iter().any(|x| x.input == d.input))
        .map(|d| d.input.clone())
        .collect();

    let (ra, rb) = (rest_of_body(before), rest_of_body(after));
    let body = (ra != rb).then(|| {
        similar::TextDiff::from_lines(&ra, &rb)
            .unified_diff()
            .context_radius(1)
            .to_string()
    });
    PromptDiff {
        frontmatter,
        instruction,
        words_added: added,
        words_removed: removed,
        demos_added,
        demos_removed,
        demos_changed,
        scores: Vec::new(),
        body,
    }
}

fn short(v: &Option<Value>) -> String {
    match v {
        None => "unset".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let t = other.to_string();
            if t.chars().count() > 40 {
                t.chars().take(39).collect::<String>() + "…"
            } else {
                t
            }
        }
    }
}

/// One sentence saying what changed.
pub fn changelog(d: &PromptDiff) -> String {
    let mut parts: Vec<String> = Vec::new();
    if d.instruction.is_some() {
        parts.push(format!(
            "instruction reworded (+{} −{} words)",
            d.words_added, d.words_removed
        ));
    }
    let count = |n: usize, what: &str| format!("{n} demo{} {what}", if n == 1 { "" } else { "s" });
    if !d.demos_added.is_empty() {
        parts.push(count(d.demos_added.len(), "added"));
    }
    if !d.demos_removed.is_empty() {
        parts.push(count(d.demos_removed.len(), "removed"));
    }
    if !d.demos_changed.is_empty() {
        parts.push(count(d.demos_changed.len(), "changed"));
    }
    for k in d.frontmatter.iter().take(3) {
        parts.push(format!(
            "{} {} → {}",
            k.key,
            short(&k.before),
            short(&k.after)
        ));
    }
    if d.frontmatter.len() > 3 {
        parts.push(format!("{} more settings", d.frontmatter.len() - 3));
    }
    if d.body.is_some() {
        parts.push("template edited".into());
    }
    let mut sentence = if parts.is_empty() {
        "No change".to_string()
    } else {
        let mut s = parts.join("; ");
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        s
    };
    if let Some(s) = d.scores.first() {
        sentence.push_str(&format!(
            "; {} {:.3} → {:.3} ({}{:.3})",
            s.metric,
            s.before,
            s.after,
            if s.after >= s.before { "+" } else { "" },
            s.after - s.before
        ));
    }
    sentence.push('.');
    sentence
}

/// The diff as people read it.
pub fn render(d: &PromptDiff, from: &str, to: &str) -> String {
    let mut out = format!("{from} → {to}: {}\n", changelog(d));
    if !d.frontmatter.is_empty() {
        out.push_str("\nfrontmatter:\n");
        for k in &d.frontmatter {
            out.push_str(&format!(
                "  {}: {} → {}\n",
                k.key,
                short(&k.before),
                short(&k.after)
            ));
        }
    }
    if let Some(words) = &d.instruction {
        out.push_str(&format!(
            "\ninstruction:\n  {}\n",
            words.replace('\n', "\n  ")
        ));
    }
    for (label, list) in [
        ("added", &d.demos_added),
        ("removed", &d.demos_removed),
        ("changed", &d.demos_changed),
    ] {
        for input in list {
            out.push_str(&format!("\ndemo {label}: {}", input.replace('\n', " ")));
        }
    }
    if !(d.demos_added.is_empty() && d.demos_removed.is_empty() && d.demos_changed.is_empty()) {
        out.push('\n');
    }
    if let Some(body) = &d.body {
        out.push_str(&format!("\ntemplate:\n{body}"));
    }
    for s in &d.scores {
        out.push_str(&format!(
            "\n{} on {}: {:.3} → {:.3}\n",
            s.metric, s.model, s.before, s.after
        ));
    }
    out
}
