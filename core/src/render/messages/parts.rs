//! A message's text split into parts at the media and section markers (`toParts`), and
//! each part's JSON.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::{has_marker, MEDIA_MARKER_PREFIX, SECTION_MARKER_PREFIX};
use crate::render::js;

/// `/(<<<dotprompt:(?:media:url|section).*?)>>>/g`, with JavaScript's `.`.
static MEDIA_AND_SECTION_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(<<<dotprompt:(?:media:url|section)[^\n\r\x{2028}\x{2029}]*?)>>>")
        .expect("valid regex")
});

/// `source.split(regex).filter((s) => s.trim() !== '')` for the marker regexes, whose
/// one capture group is the whole match without its closing `>>>`: the text between
/// matches and each match minus `>>>`, without blank pieces. (`find_iter` instead of
/// `captures_iter`: the capture engine costs several times the search.)
pub(super) fn split_by_regex<'a>(source: &'a str, regex: &Regex) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut last = 0;
    for m in regex.find_iter(source) {
        pieces.push(&source[last..m.start()]);
        pieces.push(&source[m.start()..m.end() - ">>>".len()]);
        last = m.end();
    }
    pieces.push(&source[last..]);
    pieces.retain(|p| !js::is_blank(p));
    pieces
}

/// A part of a rendered message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `{"text": ...}`
    Text(String),
    /// `{"media": {"url": ..., "contentType"?: ...}}` (`url` is absent when the marker had none).
    Media {
        url: Option<String>,
        content_type: Option<String>,
    },
    /// `{"metadata": {"purpose"?: ..., "pending": true}}`, from `{{section}}`.
    Pending { purpose: Option<String> },
}

impl Part {
    pub fn to_json(&self) -> Value {
        match self {
            Part::Text(text) => json!({ "text": text }),
            Part::Media { url, content_type } => {
                let mut media = Map::new();
                if let Some(url) = url {
                    media.insert("url".into(), Value::String(url.clone()));
                }
                if let Some(ct) = content_type {
                    media.insert("contentType".into(), Value::String(ct.clone()));
                }
                json!({ "media": media })
            }
            Part::Pending { purpose } => {
                let mut metadata = Map::new();
                if let Some(p) = purpose {
                    metadata.insert("purpose".into(), Value::String(p.clone()));
                }
                metadata.insert("pending".into(), Value::Bool(true));
                json!({ "metadata": metadata })
            }
        }
    }
}

// Written straight to the output as the JSON `to_json` builds (same keys, same order),
// so a large render is serialized without a JSON tree of every message.
impl serde::Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Part::Text(text) => map.serialize_entry("text", text)?,
            Part::Media { url, content_type } => {
                map.serialize_entry("media", &MediaJson { url, content_type })?
            }
            Part::Pending { purpose } => {
                map.serialize_entry("metadata", &PendingJson { purpose })?
            }
        }
        map.end()
    }
}

struct MediaJson<'a> {
    url: &'a Option<String>,
    content_type: &'a Option<String>,
}

impl serde::Serialize for MediaJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(url) = self.url {
            map.serialize_entry("url", url)?;
        }
        if let Some(ct) = self.content_type {
            map.serialize_entry("contentType", ct)?;
        }
        map.end()
    }
}

struct PendingJson<'a> {
    purpose: &'a Option<String>,
}

impl serde::Serialize for PendingJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        if let Some(p) = self.purpose {
            map.serialize_entry("purpose", p)?;
        }
        map.serialize_entry("pending", &true)?;
        map.end()
    }
}

/// Splits message text into parts at media and section markers.
pub fn to_parts(source: &str) -> Vec<Part> {
    // Most text has no media or section marker: skip the regex search.
    if !has_marker(source) {
        return if js::is_blank(source) {
            Vec::new()
        } else {
            vec![Part::Text(source.to_string())]
        };
    }
    split_by_regex(source, &MEDIA_AND_SECTION_MARKER)
        .into_iter()
        .map(parse_part)
        .collect()
}

fn parse_part(piece: &str) -> Part {
    if piece.starts_with(MEDIA_MARKER_PREFIX) {
        // `const [_, url, contentType] = piece.split(' ')`
        let mut fields = piece.split(' ').skip(1);
        let url = fields.next().map(str::to_string);
        let content_type = fields
            .next()
            .filter(|ct| !ct.is_empty())
            .map(str::to_string);
        return Part::Media { url, content_type };
    }
    if piece.starts_with(SECTION_MARKER_PREFIX) {
        return Part::Pending {
            purpose: piece.split(' ').nth(1).map(str::to_string),
        };
    }
    Part::Text(piece.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_from_markers() {
        let table: Vec<(&str, Value)> = vec![
            ("plain", json!([{"text": "plain"}])),
            ("   ", json!([])),
            (
                "<<<dotprompt:media:url http://a/b image/png>>>",
                json!([{"media": {"url": "http://a/b", "contentType": "image/png"}}]),
            ),
            (
                "see <<<dotprompt:media:url http://a>>>",
                json!([{"text": "see "}, {"media": {"url": "http://a"}}]),
            ),
            (
                "<<<dotprompt:section intro>>>\nHello\n<<<dotprompt:section main>>>",
                json!([{"metadata": {"purpose": "intro", "pending": true}}, {"text": "\nHello\n"},
                       {"metadata": {"purpose": "main", "pending": true}}]),
            ),
            (
                "<<<dotprompt:section>>>",
                json!([{"metadata": {"pending": true}}]),
            ),
            // A marker cannot span lines.
            (
                "<<<dotprompt:section a\n>>>",
                json!([{"metadata": {"purpose": "a\n>>>", "pending": true}}]),
            ),
        ];
        for (source, want) in table {
            let got: Vec<Value> = to_parts(source).iter().map(Part::to_json).collect();
            assert_eq!(Value::Array(got), want, "to_parts({source:?})");
        }
    }
}
