//! Rendered template text -> messages, a port of `toMessages`, `insertHistory` and
//! `toParts` from the reference's js/src/parse.ts.
//!
//! The Handlebars helpers leave markers in the rendered text (`<<<dotprompt:role:user>>>`,
//! `<<<dotprompt:history>>>`, `<<<dotprompt:media:url URL TYPE>>>`,
//! `<<<dotprompt:section NAME>>>`); this module turns them into messages and parts.
//! Messages are JSON values because history messages come from the caller as they are.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use super::js;

mod parts;
pub use parts::{to_parts, Part};

pub const ROLE_MARKER_PREFIX: &str = "<<<dotprompt:role:";
pub const HISTORY_MARKER_PREFIX: &str = "<<<dotprompt:history";
pub const MEDIA_MARKER_PREFIX: &str = "<<<dotprompt:media:";
pub const SECTION_MARKER_PREFIX: &str = "<<<dotprompt:section";

/// `/(<<<dotprompt:(?:role:[a-z]+|history))>>>/g`, matched by hand: it runs on every
/// render, and a scan for `<<<dotprompt:` is several times cheaper than the regex.
fn role_or_history_marker(text: &str) -> Option<(usize, usize)> {
    const MARK: &str = "<<<dotprompt:";
    let mut from = 0;
    while let Some(p) = MARKER_FINDER.find(&text.as_bytes()[from..]) {
        let start = from + p;
        let rest = &text[start + MARK.len()..];
        let len = if let Some(role) = rest.strip_prefix("role:") {
            let name = role.bytes().take_while(u8::is_ascii_lowercase).count();
            (name > 0 && role[name..].starts_with(">>>")).then_some("role:".len() + name)
        } else {
            rest.starts_with("history>>>").then_some("history".len())
        };
        if let Some(len) = len {
            return Some((start, start + MARK.len() + len + ">>>".len()));
        }
        from = start + 1;
    }
    None
}

static MARKER_FINDER: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("<<<dotprompt:"));

/// Whether the text holds any `<<<dotprompt:` marker.
pub(super) fn has_marker(text: &str) -> bool {
    MARKER_FINDER.find(text.as_bytes()).is_some()
}

/// `rendered.split(ROLE_AND_HISTORY_MARKER_REGEX).filter((s) => s.trim() !== '')`, as
/// the pieces are found (a large render is not held as a list of them).
fn split_by_role_and_history(rendered: &str) -> impl Iterator<Item = &str> {
    let mut last = 0;
    let mut marker: Option<&str> = None;
    let mut done = false;
    std::iter::from_fn(move || loop {
        if let Some(m) = marker.take() {
            return Some(m);
        }
        if done {
            return None;
        }
        let piece = match role_or_history_marker(&rendered[last..]) {
            Some((start, end)) => {
                let piece = &rendered[last..last + start];
                marker = Some(&rendered[last + start..last + end - ">>>".len()]);
                last += end;
                piece
            }
            None => {
                done = true;
                &rendered[last..]
            }
        };
        if !js::is_blank(piece) {
            return Some(piece);
        }
    })
}

impl serde::Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Message::Rendered { role, parts } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("role", role)?;
                map.serialize_entry("content", parts)?;
                map.end()
            }
            Message::Passed(v) => v.serialize(serializer),
        }
    }
}

/// A message of a rendered prompt. Messages the template produced are typed (they are
/// built for every render, and JSON maps are costly); messages from the caller's history
/// pass through as the JSON they came as.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Rendered { role: String, parts: Vec<Part> },
    Passed(Value),
}

impl Message {
    /// The reference's JSON: `{role, content: [parts], metadata?}`.
    pub fn to_json(&self) -> Value {
        match self {
            Message::Rendered { role, parts } => {
                json!({ "role": role, "content": parts.iter().map(Part::to_json).collect::<Vec<_>>() })
            }
            Message::Passed(v) => v.clone(),
        }
    }

    pub fn role(&self) -> Option<&str> {
        match self {
            Message::Rendered { role, .. } => Some(role),
            Message::Passed(v) => v.get("role").and_then(Value::as_str),
        }
    }

    /// The text parts, concatenated.
    pub fn text(&self) -> String {
        self.text_parts().collect()
    }

    /// The text parts, in order.
    pub fn text_parts(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Message::Rendered { parts, .. } => Box::new(parts.iter().filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })),
            Message::Passed(v) => Box::new(
                v.get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("text").and_then(Value::as_str)),
            ),
        }
    }

    fn is_history(&self) -> bool {
        match self {
            Message::Rendered { .. } => false,
            Message::Passed(m) => {
                m.get("metadata")
                    .and_then(|md| md.get("purpose"))
                    .and_then(Value::as_str)
                    == Some("history")
            }
        }
    }
}

/// A message under construction (the reference's `MessageSource`).
enum Source {
    /// Text the template rendered under a role.
    Template { role: String, text: String },
    /// A history message placed at `{{history}}`: `{ ...m, metadata: { ...m.metadata,
    /// purpose: 'history' } }`, kept as its role, source, content and metadata.
    History(Box<HistorySource>),
}

struct HistorySource {
    role: Value,
    source: Option<Value>,
    content: Option<Value>,
    metadata: Value,
}

fn history_source(message: &Value) -> Source {
    let get = |k: &str| message.get(k).cloned();
    let mut metadata = message.get("metadata").map(js::spread).unwrap_or_default();
    metadata.insert("purpose".into(), json!("history"));
    Source::History(Box::new(HistorySource {
        role: get("role").unwrap_or(Value::Null),
        source: get("source"),
        content: get("content"),
        metadata: Value::Object(metadata),
    }))
}

/// Splits rendered template text into messages at role and history markers, then
/// inserts `history` where the template did not place it (see [`insert_history`]).
pub fn to_message_list(rendered: &str, history: Option<&[Value]>) -> Vec<Message> {
    // Each source becomes its message as soon as the next one starts, so a long prompt
    // is never held as sources and as messages at once.
    // A message per role marker at most (plus the first and the history): reserved once.
    let markers = memchr::memmem::find_iter(rendered.as_bytes(), ROLE_MARKER_PREFIX).count();
    let mut messages = Vec::with_capacity(markers + 1 + history.map_or(0, <[Value]>::len));
    let mut current = (String::from("user"), String::new());
    let finish = |(role, text): (String, String), messages: &mut Vec<Message>| {
        messages.extend(source_to_message(Source::Template { role, text }));
    };

    for piece in split_by_role_and_history(rendered) {
        if let Some(role) = piece.strip_prefix(ROLE_MARKER_PREFIX) {
            if js::is_blank(&current.1) {
                // Nothing said yet: this marker just changes the current role.
                current.0 = role.to_string();
            } else {
                let done = std::mem::replace(&mut current, (role.to_string(), String::new()));
                finish(done, &mut messages);
            }
        } else if piece.starts_with(HISTORY_MARKER_PREFIX) {
            let done = std::mem::replace(&mut current, ("model".to_string(), String::new()));
            finish(done, &mut messages);
            let placed = history.unwrap_or_default().iter().map(history_source);
            messages.extend(placed.filter_map(source_to_message));
        } else {
            current.1.push_str(piece);
        }
    }
    finish(current, &mut messages);
    insert_history(messages, history)
}

/// `to_message_list` as the reference's JSON messages.
pub fn to_messages(rendered: &str, history: Option<&[Value]>) -> Vec<Value> {
    to_message_list(rendered, history)
        .iter()
        .map(Message::to_json)
        .collect()
}

/// Drops sources with neither content nor text; turns text into parts.
fn source_to_message(source: Source) -> Option<Message> {
    match source {
        Source::Template { role, text } => {
            if text.is_empty() {
                return None;
            }
            // The common case, one text part: move the text instead of copying it.
            let parts = if has_marker(&text) {
                to_parts(&text)
            } else {
                vec![Part::Text(text)]
            };
            Some(Message::Rendered { role, parts })
        }
        Source::History(history) => {
            let HistorySource {
                role,
                source,
                content,
                metadata,
            } = *history;
            let truthy = |v: &Option<Value>| v.as_ref().is_some_and(js::truthy);
            if !truthy(&content) && !truthy(&source) {
                return None;
            }
            let content = match content {
                Some(c) if js::truthy(&c) => c,
                _ => Value::Array(
                    to_parts(&source_text(source.as_ref()))
                        .iter()
                        .map(Part::to_json)
                        .collect(),
                ),
            };
            let mut out = Map::with_capacity(3);
            out.insert("role".into(), role);
            out.insert("content".into(), content);
            out.insert("metadata".into(), metadata);
            Some(Message::Passed(Value::Object(out)))
        }
    }
}

/// `m.source || ''` as text.
fn source_text(source: Option<&Value>) -> String {
    match source {
        Some(Value::String(s)) => s.clone(),
        Some(v) if js::truthy(v) => match v {
            Value::Number(n) => js::number_to_string(n),
            other => other.to_string(),
        },
        _ => String::new(),
    }
}

/// Inserts `history` before the last message when that is a user message, else at
/// the end; leaves `messages` alone when they already contain history. With no
/// messages at all, the result is the history itself.
pub fn insert_history(mut messages: Vec<Message>, history: Option<&[Value]>) -> Vec<Message> {
    let history = history.unwrap_or_default();
    if messages.iter().any(Message::is_history) {
        return messages;
    }
    let passed = history.iter().cloned().map(Message::Passed);
    if messages.last().and_then(Message::role) == Some("user") {
        let last = messages.pop().expect("not empty");
        messages.extend(passed);
        messages.push(last);
    } else {
        messages.extend(passed);
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::parts::split_by_regex;
    use super::*;
    use regex::Regex;

    fn text(role: &str, t: &str) -> Value {
        json!({"role": role, "content": [{"text": t}]})
    }

    #[test]
    fn hand_matcher_agrees_with_the_reference_regex() {
        let regex = Regex::new(r"(<<<dotprompt:(?:role:[a-z]+|history))>>>").unwrap();
        let samples = [
            "a<<<dotprompt:role:user>>>b<<<dotprompt:history>>>c",
            "<<<<dotprompt:role:model>>>>x",
            "<<<dotprompt:role:>>> <<<dotprompt:role:User>>> <<<dotprompt:role:tool>>>",
            "<<<dotprompt:histor>>> <<<dotprompt:history>> <<<dotprompt:history>>>",
            "<<<dotprompt:role:user<<<dotprompt:role:system>>>",
            "no markers",
        ];
        for text in samples {
            assert_eq!(
                split_by_role_and_history(text).collect::<Vec<_>>(),
                split_by_regex(text, &regex),
                "{text}"
            );
        }
    }

    #[test]
    fn messages_from_markers() {
        // (rendered text, history, expected messages)
        let hist = vec![text("user", "Hello"), text("model", "Hi")];
        let marked = |m: &Value| {
            let mut m = m.clone();
            m["metadata"] = json!({"purpose": "history"});
            m
        };
        type Case<'a> = (&'a str, Option<&'a [Value]>, Vec<Value>);
        let table: Vec<Case> = vec![
            ("Hello", None, vec![text("user", "Hello")]),
            ("", None, vec![]),
            ("  \n ", None, vec![]),
            (
                "<<<dotprompt:role:system>>>Sys\n<<<dotprompt:role:user>>>Hi",
                None,
                vec![text("system", "Sys\n"), text("user", "Hi")],
            ),
            // A role marker with only whitespace before it re-labels the current message.
            (" \n<<<dotprompt:role:model>>>x", None, vec![text("model", "x")]),
            (
                "<<<dotprompt:role:system>>>S\n<<<dotprompt:history>>>\n<<<dotprompt:role:user>>>U\n",
                Some(&hist),
                vec![text("system", "S\n"), marked(&hist[0]), marked(&hist[1]), text("user", "U\n")],
            ),
            // History markers without history add nothing.
            (
                "<<<dotprompt:role:system>>>S\n<<<dotprompt:history>>>\n<<<dotprompt:role:user>>>U\n",
                None,
                vec![text("system", "S\n"), text("user", "U\n")],
            ),
            // Text after the history marker belongs to a model message.
            ("<<<dotprompt:history>>>after", None, vec![text("model", "after")]),
            // No marker: history goes before the last user message, unmarked.
            (
                "<<<dotprompt:role:system>>>S<<<dotprompt:role:user>>>U",
                Some(&hist),
                vec![text("system", "S"), hist[0].clone(), hist[1].clone(), text("user", "U")],
            ),
            // ... or at the end when the last message is not from the user.
            ("<<<dotprompt:role:system>>>S", Some(&hist), vec![text("system", "S"), hist[0].clone(), hist[1].clone()]),
            ("", Some(&hist), hist.clone()),
            // Upper-case roles are not markers, but a piece that starts like one is
            // taken as a role anyway (here "User>>>x", with no text: dropped).
            ("<<<dotprompt:role:User>>>x", None, vec![]),
            ("a <<<dotprompt:role:User>>>", None, vec![text("user", "a <<<dotprompt:role:User>>>")]),
        ];
        for (rendered, history, want) in table {
            assert_eq!(
                to_messages(rendered, history),
                want,
                "to_messages({rendered:?})"
            );
        }
    }

    #[test]
    fn history_without_content_is_dropped() {
        let hist = vec![
            json!({"role": "user"}),
            json!({"role": "model", "content": [], "extra": 1}),
        ];
        assert_eq!(
            to_messages("<<<dotprompt:history>>>", Some(&hist)),
            vec![json!({"role": "model", "content": [], "metadata": {"purpose": "history"}})]
        );
    }
    #[test]
    fn insert_history_table() {
        let json = |m: Vec<Message>| m.iter().map(Message::to_json).collect::<Vec<_>>();
        let passed = |v: &[Value]| v.iter().cloned().map(Message::Passed).collect::<Vec<_>>();
        let h = [json!({"role": "model", "content": [], "metadata": {"purpose": "history"}})];
        let already = vec![text("user", "x"), h[0].clone()];
        assert_eq!(
            json(insert_history(passed(&already), Some(&[text("user", "y")]))),
            already
        );
        assert_eq!(json(insert_history(vec![], None)), Vec::<Value>::new());
        assert_eq!(
            json(insert_history(passed(&[text("user", "u")]), None)),
            vec![text("user", "u")]
        );
        let rendered = vec![Message::Rendered {
            role: "user".into(),
            parts: vec![Part::Text("u".into())],
        }];
        assert_eq!(
            json(insert_history(rendered, Some(&[text("model", "m")]))),
            vec![text("model", "m"), text("user", "u")]
        );
    }
}
