//! Prompt metadata, a port of `parseDocument` (js/src/parse.ts) and of `resolveMetadata`,
//! `resolveTools` and `renderPicoschema` (js/src/dotprompt.ts).
//!
//! Metadata is kept as a JSON object because Dotprompt passes unknown reserved values
//! through unchanged and the rendered-prompt JSON must match the reference's shape.

use std::fmt;

use serde_json::{Map, Value};

use super::js;
use super::picoschema::{picoschema, PicoschemaError};

/// Frontmatter keys copied into the metadata as they are (js/src/parse.ts).
pub const RESERVED_METADATA_KEYWORDS: [&str; 12] = [
    "config",
    "description",
    "ext",
    "input",
    "model",
    "name",
    "output",
    "raw",
    "toolDefs",
    "tools",
    "variant",
    "version",
];

/// `BASE_METADATA`: `{ ext: {}, metadata: {}, config: {} }`.
pub fn base_metadata() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ext".into(), Value::Object(Map::new()));
    m.insert("metadata".into(), Value::Object(Map::new()));
    m.insert("config".into(), Value::Object(Map::new()));
    m
}

/// The metadata `parseDocument` derives from a frontmatter that parsed to `frontmatter`
/// (JSON `null` for a frontmatter of only comments): reserved keys copied, dotted keys
/// collected into `ext` (split at the last dot), everything as written in `raw`.
pub fn metadata_from_frontmatter(frontmatter: &Value) -> Map<String, Value> {
    // `const raw = { ...parsedMetadata }`
    let spread = js::spread(frontmatter);
    let raw: Map<String, Value> = js::entries_in_js_order(&spread)
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut pruned = base_metadata();
    let mut ext: Map<String, Value> = Map::new();
    for (key, value) in &raw {
        if RESERVED_METADATA_KEYWORDS.contains(&key.as_str()) {
            pruned.insert(key.clone(), value.clone());
        } else if let Some(dot) = key.rfind('.') {
            let (ns, field) = (&key[..dot], &key[dot + 1..]);
            let slot = ext
                .entry(ns.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(fields) = slot {
                fields.insert(field.to_string(), value.clone());
            }
        }
    }
    // `{ ...pruned, raw, ext }`: a frontmatter `ext` key is replaced by the dotted keys.
    pruned.insert("raw".into(), Value::Object(raw));
    pruned.insert("ext".into(), Value::Object(ext));
    pruned
}

/// Why metadata could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataError {
    /// `input.schema` or `output.schema` is not valid Picoschema.
    Schema {
        field: &'static str,
        error: PicoschemaError,
    },
    /// A tool resolver was given and did not know this tool.
    UnknownTool(String),
    /// A field has a shape the reference cannot process (e.g. `tools` not a list).
    Invalid(String),
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Schema { field, error } => write!(f, "{field}.schema: {error}"),
            MetadataError::UnknownTool(name) => write!(
                f,
                "Dotprompt: Unable to resolve tool '{name}' to a recognized tool definition."
            ),
            MetadataError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Looks a name up (a tool or a schema); `None` when unknown.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<Value>;

/// What metadata resolution consults: registered tools and schemas, and resolvers.
pub struct Resolvers<'a> {
    /// Registered tool definitions by name.
    pub tool: Lookup<'a>,
    /// A tool resolver for tools that are not registered; without one, unregistered
    /// tools stay in `tools` and are not an error.
    pub tool_resolver: Option<Lookup<'a>>,
    /// Named schemas (registered first, then the schema resolver).
    pub schema: Lookup<'a>,
}

/// `resolveMetadata(base, ...merges)`: shallow merges where `config` merges one level
/// deeper, then tools and Picoschema resolved.
pub fn resolve_metadata(
    base: Map<String, Value>,
    merges: &[Option<&Value>],
    resolvers: &Resolvers<'_>,
) -> Result<Map<String, Value>, MetadataError> {
    let mut out = base;
    for merge in merges.iter().flatten() {
        let original_config = match out.get("config") {
            Some(c) if js::truthy(c) => js::spread(c),
            _ => Map::new(),
        };
        let merge_map = js::spread(merge);
        for (k, v) in &merge_map {
            out.insert(k.clone(), v.clone());
        }
        let mut config = original_config;
        if let Some(c) = merge_map.get("config").filter(|c| js::truthy(c)) {
            for (k, v) in js::spread(c) {
                config.insert(k, v);
            }
        }
        out.insert("config".into(), Value::Object(config));
    }
    out.shift_remove("template");
    resolve_tools(&mut out, resolvers)?;
    render_picoschema(&mut out, resolvers)?;
    Ok(out)
}

/// Registered (or resolvable) tools move from `tools` into `toolDefs`.
fn resolve_tools(
    out: &mut Map<String, Value>,
    resolvers: &Resolvers<'_>,
) -> Result<(), MetadataError> {
    let Some(tools) = out.get("tools").filter(|t| js::truthy(t)) else {
        return Ok(());
    };
    let Value::Array(names) = tools else {
        return Err(MetadataError::Invalid(
            "`tools` must be a list of tool names".into(),
        ));
    };
    let names = names.clone();

    let mut registered = Vec::new();
    let mut resolved = Vec::new();
    let mut unregistered = Vec::new();
    for name in names {
        let key = match &name {
            Value::String(s) => s.clone(),
            Value::Number(n) => js::number_to_string(n),
            other => other.to_string(),
        };
        if let Some(def) = (resolvers.tool)(&key).filter(js::truthy) {
            registered.push(def);
        } else if let Some(resolver) = resolvers.tool_resolver {
            match resolver(&key).filter(js::truthy) {
                Some(def) => resolved.push(def),
                None => return Err(MetadataError::UnknownTool(key)),
            }
        } else {
            unregistered.push(name);
        }
    }

    // `out.toolDefs = out.toolDefs || []`; registered tools are pushed before resolved ones.
    let defs = match out.get("toolDefs") {
        Some(d) if js::truthy(d) => d.clone(),
        _ => Value::Array(Vec::new()),
    };
    let defs = match defs {
        Value::Array(mut items) => {
            items.extend(registered);
            items.extend(resolved);
            Value::Array(items)
        }
        other if registered.is_empty() && resolved.is_empty() => other,
        _ => return Err(MetadataError::Invalid("`toolDefs` must be a list".into())),
    };
    out.insert("toolDefs".into(), defs);
    out.insert("tools".into(), Value::Array(unregistered));
    Ok(())
}

/// `input.schema` and `output.schema` from Picoschema to JSON Schema.
fn render_picoschema(
    out: &mut Map<String, Value>,
    resolvers: &Resolvers<'_>,
) -> Result<(), MetadataError> {
    for field in ["input", "output"] {
        let Some(Value::Object(section)) = out.get(field) else {
            continue;
        };
        let Some(schema) = section.get("schema").filter(|s| js::truthy(s)) else {
            continue;
        };
        let converted = picoschema(schema, Some(resolvers.schema))
            .map_err(|error| MetadataError::Schema { field, error })?;
        if let Some(converted) = converted.filter(js::truthy) {
            if let Some(Value::Object(section)) = out.get_mut(field) {
                section.insert("schema".into(), converted);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none(_: &str) -> Option<Value> {
        None
    }

    fn tools(name: &str) -> Option<Value> {
        (name == "known").then(|| json!({"name": "known", "description": "a tool"}))
    }

    #[test]
    fn frontmatter_to_metadata() {
        // (frontmatter, expected metadata)
        let table = [
            (
                json!({"model": "m", "config": {"t": 1}, "custom": "x", "a.b.c": 1, "a.b.d": 2, "p.q": 3}),
                json!({"ext": {"a.b": {"c": 1, "d": 2}, "p": {"q": 3}}, "metadata": {}, "config": {"t": 1}, "model": "m",
                       "raw": {"model": "m", "config": {"t": 1}, "custom": "x", "a.b.c": 1, "a.b.d": 2, "p.q": 3}}),
            ),
            // Only comments: YAML null.
            (
                json!(null),
                json!({"ext": {}, "metadata": {}, "config": {}, "raw": {}}),
            ),
            // A frontmatter `ext` is replaced; `metadata` is not a reserved key.
            (
                json!({"ext": {"x": 1}, "metadata": {"y": 2}, "config": null}),
                json!({"ext": {}, "metadata": {}, "config": null, "raw": {"ext": {"x": 1}, "metadata": {"y": 2}, "config": null}}),
            ),
        ];
        for (fm, want) in table {
            assert_eq!(Value::Object(metadata_from_frontmatter(&fm)), want, "{fm}");
        }
    }

    #[test]
    fn resolve_merges_config_shallowly() {
        let parsed =
            json!({"ext": {}, "metadata": {}, "config": {"a": 1, "b": {"x": 1}}, "model": "m"});
        let options = json!({"config": {"b": {"y": 2}, "c": 3}, "input": {"default": {"n": 1}}});
        let r = Resolvers {
            tool: &none,
            tool_resolver: None,
            schema: &none,
        };
        let out = resolve_metadata(Map::new(), &[Some(&parsed), Some(&options)], &r).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"ext": {}, "metadata": {}, "config": {"a": 1, "b": {"y": 2}, "c": 3}, "model": "m",
                   "input": {"default": {"n": 1}}})
        );
    }

    #[test]
    fn tools_and_schemas() {
        let parsed = json!({"tools": ["known", "other"], "output": {"schema": {"a": "string"}}, "input": {"schema": "Foo"}});
        let schema = |n: &str| (n == "Foo").then(|| json!({"type": "number"}));
        let r = Resolvers {
            tool: &tools,
            tool_resolver: None,
            schema: &schema,
        };
        let out = resolve_metadata(Map::new(), &[Some(&parsed)], &r).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"tools": ["other"],
                   "output": {"schema": {"type": "object", "properties": {"a": {"type": "string"}},
                              "required": ["a"], "additionalProperties": false}},
                   "input": {"schema": {"type": "number"}}, "config": {},
                   "toolDefs": [{"name": "known", "description": "a tool"}]})
        );

        let resolver = |n: &str| (n == "other").then(|| json!({"name": "other"}));
        let r = Resolvers {
            tool: &tools,
            tool_resolver: Some(&resolver),
            schema: &schema,
        };
        let out = resolve_metadata(
            Map::new(),
            &[Some(&json!({"tools": ["other", "known"]}))],
            &r,
        )
        .unwrap();
        assert_eq!(
            out["toolDefs"],
            json!([{"name": "known", "description": "a tool"}, {"name": "other"}])
        );
        assert_eq!(out["tools"], json!([]));

        let err =
            resolve_metadata(Map::new(), &[Some(&json!({"tools": ["nope"]}))], &r).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dotprompt: Unable to resolve tool 'nope' to a recognized tool definition."
        );
        let err = resolve_metadata(
            Map::new(),
            &[Some(&json!({"output": {"schema": "Bar"}}))],
            &r,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "output.schema: Picoschema: could not find schema with name 'Bar'"
        );
    }
}
