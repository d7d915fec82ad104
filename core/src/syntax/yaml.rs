//! Frontmatter YAML as a tree that keeps the byte range of every key and value.
//!
//! Values convert to JSON the way the JavaScript `yaml` package (YAML 1.2 core schema,
//! used by the Dotprompt reference) would read them.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};

use super::Span;

/// Nesting deeper than this is reported instead of being built, so no input can
/// exhaust the stack of a recursive consumer.
pub const MAX_DEPTH: usize = 128;
/// Upper bound on nodes, counting alias expansions ("billion laughs").
pub const MAX_NODES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct YamlNode {
    pub span: Span,
    pub kind: YamlKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum YamlKind {
    Scalar(Scalar),
    Seq(Vec<YamlNode>),
    Map(Vec<YamlEntry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    /// Plain scalars are resolved to null/bool/number; quoted and block ones are strings.
    pub plain: bool,
    /// The tag, as written after `!!` (`str`, `int`, ...) or in full for local tags.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct YamlEntry {
    pub key: YamlNode,
    pub value: YamlNode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
}

/// Parses `source[span]` as one YAML document. Never panics; on a syntax error the
/// tree is `None` and the error says where.
pub fn parse(source: &str, span: Span) -> (Option<YamlNode>, Vec<YamlError>) {
    let text = &source[span.start..span.end];
    let offsets = CharOffsets::new(text, span.start);
    let mut builder = Builder::default();
    let mut errors = Vec::new();
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        let (event, ev_span) = match event {
            Ok(e) => e,
            Err(e) => {
                let at = offsets.byte(e.marker().index());
                errors.push(YamlError {
                    span: Span::new(at, offsets.next_char_end(source, at)),
                    message: format!("YAML syntax error: {}", e.info()),
                });
                return (None, errors);
            }
        };
        let s = Span::new(
            offsets.byte(ev_span.start.index()),
            offsets.byte(ev_span.end.index()),
        );
        if let Event::DocumentStart(_) = event {
            documents += 1;
            if documents > 1 {
                errors.push(YamlError {
                    span: s,
                    message: "frontmatter holds more than one YAML document".into(),
                });
                return (None, errors);
            }
        }
        if let Err(message) = builder.event(event, s) {
            errors.push(YamlError { span: s, message });
            return (None, errors);
        }
    }
    (builder.root, errors)
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: Vec<(usize, YamlNode)>,
    root: Option<YamlNode>,
    nodes: usize,
}

enum Open {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<YamlNode>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<YamlEntry>,
        key: Option<YamlNode>,
    },
}

impl Builder {
    fn event(&mut self, event: Event, span: Span) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| {
                    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
                        t.suffix.clone()
                    } else {
                        format!("{}{}", t.handle, t.suffix)
                    }
                });
                let node = YamlNode {
                    span,
                    kind: YamlKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag,
                    }),
                };
                self.finish(node, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(Open::Seq {
                start: span.start,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.open(Open::Map {
                start: span.start,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let end = span.end;
                let node = match self.stack.pop() {
                    Some(Open::Seq {
                        start,
                        anchor,
                        items,
                    }) => (
                        YamlNode {
                            span: Span::new(start, end.max(start)),
                            kind: YamlKind::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    }) => (
                        YamlNode {
                            span: Span::new(start, end.max(start)),
                            kind: YamlKind::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Err("unbalanced YAML collection end".into()),
                };
                self.finish(node.0, node.1)
            }
            Event::Alias(id) => {
                let Some((_, target)) = self.anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err("YAML alias refers to an unknown anchor".into());
                };
                let mut node = target.clone();
                self.nodes += count_nodes(&node);
                if self.nodes > MAX_NODES {
                    return Err(format!(
                        "YAML aliases expand to more than {MAX_NODES} nodes"
                    ));
                }
                node.span = span;
                self.finish(node, 0)
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => Ok(()),
        }
    }

    fn open(&mut self, open: Open) -> Result<(), String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(format!("YAML nested more than {MAX_DEPTH} levels deep"));
        }
        self.stack.push(open);
        Ok(())
    }

    fn finish(&mut self, node: YamlNode, anchor: usize) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!("YAML holds more than {MAX_NODES} nodes"));
        }
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let name = k.key_string();
                    if entries.iter().any(|e| e.key.key_string() == name) {
                        return Err(format!("duplicate key `{name}`: map keys must be unique"));
                    }
                    entries.push(YamlEntry {
                        key: k,
                        value: node,
                    });
                }
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &YamlNode) -> usize {
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.kind {
            YamlKind::Scalar(_) => {}
            YamlKind::Seq(items) => todo.extend(items),
            YamlKind::Map(entries) => {
                for e in entries {
                    todo.push(&e.key);
                    todo.push(&e.value);
                }
            }
        }
    }
    count
}

impl YamlNode {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        self.entry(key).map(|e| &e.value)
    }

    pub fn entry(&self, key: &str) -> Option<&YamlEntry> {
        match &self.kind {
            YamlKind::Map(entries) => entries.iter().find(|e| e.key.key_string() == key),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[YamlEntry] {
        match &self.kind {
            YamlKind::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[YamlNode] {
        match &self.kind {
            YamlKind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The text of a scalar, whatever its resolved type.
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            YamlKind::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The value as a string when it resolves to a JSON string.
    pub fn as_str(&self) -> Option<&str> {
        match (&self.kind, self.to_json()) {
            (YamlKind::Scalar(s), Value::String(_)) => Some(&s.text),
            _ => None,
        }
    }

    /// How a mapping key reads as a JavaScript object key.
    pub fn key_string(&self) -> String {
        match self.to_json() {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// A short name of the resolved type, for messages ("string", "number", ...).
    pub fn type_name(&self) -> &'static str {
        match self.to_json() {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "list",
            Value::Object(_) => "mapping",
        }
    }

    /// The value as the JavaScript `yaml` package (core schema) would read it.
    pub fn to_json(&self) -> Value {
        match &self.kind {
            YamlKind::Scalar(s) => scalar_to_json(s),
            YamlKind::Seq(items) => Value::Array(items.iter().map(YamlNode::to_json).collect()),
            YamlKind::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for e in entries {
                    map.insert(e.key.key_string(), e.value.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

fn scalar_to_json(s: &Scalar) -> Value {
    let text = s.text.as_str();
    match s.tag.as_deref() {
        Some("str") => return Value::String(s.text.clone()),
        Some("null") => return Value::Null,
        Some("bool") => {
            return resolve_bool(text).map_or(Value::String(s.text.clone()), Value::Bool)
        }
        Some("int") | Some("float") => {
            return resolve_number(text).unwrap_or_else(|| Value::String(s.text.clone()))
        }
        Some(_) => return Value::String(s.text.clone()),
        None => {}
    }
    if !s.plain {
        return Value::String(s.text.clone());
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    resolve_number(text).unwrap_or_else(|| Value::String(s.text.clone()))
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// YAML 1.2 core schema numbers: decimal, `0o` octal, `0x` hex, floats, `.inf`, `.nan`.
fn resolve_number(text: &str) -> Option<Value> {
    let radix = |digits: &str, radix: u32| {
        if digits.is_empty() {
            return None;
        }
        i64::from_str_radix(digits, radix)
            .ok()
            .map(|n| Value::Number(n.into()))
            .or_else(|| {
                u128::from_str_radix(digits, radix)
                    .ok()
                    .and_then(|n| Number::from_f64(n as f64))
                    .map(Value::Number)
            })
    };
    if let Some(d) = text.strip_prefix("0o") {
        return d
            .bytes()
            .all(|b| (b'0'..=b'7').contains(&b))
            .then(|| radix(d, 8))
            .flatten();
    }
    if let Some(d) = text.strip_prefix("0x") {
        return d
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| radix(d, 16))
            .flatten();
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        // JSON has no infinities or NaN; JSON.stringify writes them as null too.
        return Some(Value::Null);
    }
    if !is_core_number(unsigned) {
        return None;
    }
    let is_int = unsigned.bytes().all(|b| b.is_ascii_digit());
    if is_int {
        if let Ok(n) = text.parse::<i64>() {
            if n.unsigned_abs() <= (1u64 << 53) {
                return Some(Value::Number(n.into()));
            }
        }
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int_digits = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = digits(&mut i);
        if int_digits == 0 && frac == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// saphyr reports positions in characters; spans are bytes into the whole file.
struct CharOffsets {
    base: usize,
    /// Byte offset of each char (and of the end), only when the text is not ASCII.
    table: Option<Vec<usize>>,
}

impl CharOffsets {
    fn new(text: &str, base: usize) -> CharOffsets {
        let table = (!text.is_ascii()).then(|| {
            let mut t: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            t.push(text.len());
            t
        });
        CharOffsets { base, table }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => self.base + char_index,
            Some(t) => self.base + t[char_index.min(t.len() - 1)],
        }
    }

    /// The end of the character at `at`, so an error span covers one visible character.
    fn next_char_end(&self, source: &str, at: usize) -> usize {
        source[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(src: &str) -> (Option<YamlNode>, Vec<YamlError>) {
        parse(src, Span::new(0, src.len()))
    }

    #[test]
    fn converts_like_the_core_schema() {
        let cases = [
            ("a: 1", json!({"a": 1})),
            (
                "a: 1.5\nb: -2\nc: 0x1F\nd: 0o17\ne: 1e3",
                json!({"a": 1.5, "b": -2, "c": 31, "d": 15, "e": 1000.0}),
            ),
            (
                "a: yes\nb: no\nc: on",
                json!({"a": "yes", "b": "no", "c": "on"}),
            ),
            (
                "a: true\nb: False\nc: ~\nd:\ne: null",
                json!({"a": true, "b": false, "c": null, "d": null, "e": null}),
            ),
            (
                "a: '1'\nb: \"true\"\nc: !!str 12",
                json!({"a": "1", "b": "true", "c": "12"}),
            ),
            ("a: [1, x, {b: c}]", json!({"a": [1, "x", {"b": "c"}]})),
            ("a: |\n  line1\n  line2\n", json!({"a": "line1\nline2\n"})),
            (
                "x: &A {k: v}\ny: *A",
                json!({"x": {"k": "v"}, "y": {"k": "v"}}),
            ),
            ("1: a\ntrue: b", json!({"1": "a", "true": "b"})),
            ("a: 012", json!({"a": 12})),
            ("a: 1_000", json!({"a": "1_000"})),
            ("a: .5", json!({"a": 0.5})),
        ];
        for (src, expected) in cases {
            let (node, errors) = yaml(src);
            assert!(errors.is_empty(), "{src}: {errors:?}");
            assert_eq!(node.unwrap().to_json(), expected, "{src}");
        }
    }

    #[test]
    fn keeps_byte_spans_of_keys_and_values() {
        let src = "model: gemini/pro\nconfig:\n  temperature: 0.5\nnote: «é»";
        let (node, _) = yaml(src);
        let root = node.unwrap();
        let text = |s: Span| &src[s.start..s.end];
        let model = root.entry("model").unwrap();
        assert_eq!(text(model.key.span), "model");
        assert_eq!(text(model.value.span), "gemini/pro");
        let temp = root.get("config").unwrap().entry("temperature").unwrap();
        assert_eq!(text(temp.key.span), "temperature");
        assert_eq!(text(temp.value.span), "0.5");
        assert_eq!(text(root.get("note").unwrap().span), "«é»");
    }

    #[test]
    fn reports_errors_with_positions() {
        let src = "a: 1\nb: [1, 2\nc: 3";
        let (node, errors) = yaml(src);
        assert!(node.is_none());
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].message.starts_with("YAML syntax error"),
            "{:?}",
            errors
        );
        assert!(errors[0].span.start > 5, "{:?}", errors);

        let (_, errors) = yaml("a: 1\na: 2");
        assert!(
            errors[0].message.contains("duplicate key `a`"),
            "{errors:?}"
        );
        let (_, errors) = yaml("a: 1\n---\nb: 2");
        assert!(errors[0].message.contains("more than one"), "{errors:?}");
    }

    #[test]
    fn survives_hostile_input() {
        let deep = format!("a: {}{}", "[".repeat(5000), "]".repeat(5000));
        let (node, errors) = yaml(&deep);
        assert!(node.is_none());
        // saphyr's own recursion limit or ours, whichever comes first.
        assert!(
            errors[0].message.contains("nested") || errors[0].message.contains("recursion"),
            "{errors:?}"
        );
        let deep = format!("a: {}", "[".repeat(MAX_DEPTH + 2));
        let (_, errors) = yaml(&deep);
        assert!(!errors.is_empty());

        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let (prev, next) = (
                format!("{}", (b'a' + i) as char),
                format!("{}", (b'a' + i + 1) as char),
            );
            laughs.push_str(&format!("{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let (node, errors) = yaml(&laughs);
        assert!(node.is_none());
        assert!(errors[0].message.contains("expand"), "{errors:?}");
    }
}
