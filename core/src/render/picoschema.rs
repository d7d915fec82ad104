//! Picoschema -> JSON Schema, a port of the reference's js/src/picoschema.ts.
//!
//! Same inputs, same outputs, same error messages: scalar types, `name?` (optional and
//! nullable), `name(array)`, `name(object)`, `name(enum)`, the `(*)` wildcard,
//! descriptions after a comma, named schemas through a resolver, and JSON Schema
//! passed through untouched.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::js;

const JSON_SCHEMA_SCALAR_TYPES: [&str; 6] =
    ["any", "boolean", "integer", "null", "number", "string"];
const WILDCARD_PROPERTY_NAME: &str = "(*)";

/// Looks up a named schema (`Foo` in `schema: Foo`); `None` when it does not exist.
pub type SchemaResolver<'a> = &'a dyn Fn(&str) -> Option<Value>;

/// Why a schema could not be converted, and where in it (the chain of property keys,
/// as written in the YAML, from the schema root to the offending value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PicoschemaError {
    pub message: String,
    pub path: Vec<String>,
}

impl fmt::Display for PicoschemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PicoschemaError {}

/// Converts a schema as written in frontmatter into JSON Schema.
///
/// `Ok(None)` for a falsy schema (`null`, `""`, `0`, `false`), which the reference
/// leaves as it is. Without a resolver, names that are not scalar types are errors.
pub fn picoschema(
    schema: &Value,
    resolver: Option<SchemaResolver<'_>>,
) -> Result<Option<Value>, PicoschemaError> {
    Parser { resolver }.parse(schema)
}

struct Parser<'a> {
    resolver: Option<SchemaResolver<'a>>,
}

fn is_scalar(t: &str) -> bool {
    JSON_SCHEMA_SCALAR_TYPES.contains(&t)
}

fn error(message: String, path: &[String]) -> PicoschemaError {
    PicoschemaError {
        message,
        path: path.to_vec(),
    }
}

impl Parser<'_> {
    fn must_resolve_schema(&self, name: &str, path: &[String]) -> Result<Value, PicoschemaError> {
        let Some(resolver) = self.resolver else {
            return Err(error(
                format!("Picoschema: unsupported scalar type '{name}'."),
                path,
            ));
        };
        match resolver(name) {
            Some(v) if js::truthy(&v) => Ok(v),
            _ => Err(error(
                format!("Picoschema: could not find schema with name '{name}'"),
                path,
            )),
        }
    }

    fn parse(&self, schema: &Value) -> Result<Option<Value>, PicoschemaError> {
        if !js::truthy(schema) {
            return Ok(None);
        }

        // Top-level named schemas and scalar types.
        if let Value::String(s) = schema {
            let (ty, description) = extract_description(s);
            if is_scalar(ty) {
                let mut out = json!({ "type": ty });
                if let Some(d) = description {
                    out["description"] = Value::String(d.to_string());
                }
                return Ok(Some(out));
            }
            let resolved = self.must_resolve_schema(ty, &[])?;
            return Ok(Some(with_description(resolved, description)));
        }

        if let Value::Object(map) = schema {
            // A JSON-Schema-ish type at the top level means JSON Schema.
            if let Some(Value::String(t)) = map.get("type") {
                if is_scalar(t) || t == "object" || t == "array" {
                    return Ok(Some(schema.clone()));
                }
            }
            // `typeof schema.properties === 'object'` (true for null and arrays too).
            if matches!(
                map.get("properties"),
                Some(Value::Object(_) | Value::Array(_) | Value::Null)
            ) {
                let mut out = map.clone();
                out.insert("type".into(), json!("object"));
                return Ok(Some(Value::Object(out)));
            }
        }

        self.parse_pico(schema, &mut Vec::new()).map(Some)
    }

    fn parse_pico(&self, obj: &Value, path: &mut Vec<String>) -> Result<Value, PicoschemaError> {
        let entries: Vec<(String, &Value)> = match obj {
            Value::String(s) => {
                let (ty, description) = extract_description(s);
                if !is_scalar(ty) {
                    let resolved = self.must_resolve_schema(ty, path)?;
                    return Ok(with_description(resolved, description));
                }
                let mut out = Map::new();
                if ty != "any" {
                    out.insert("type".into(), Value::String(ty.to_string()));
                }
                if let Some(d) = description {
                    out.insert("description".into(), Value::String(d.to_string()));
                }
                return Ok(Value::Object(out));
            }
            Value::Bool(_) | Value::Number(_) => {
                return Err(error(
                    format!(
                        "Picoschema: only consists of objects and strings. Got: {}",
                        js::json_stringify(obj)
                    ),
                    path,
                ));
            }
            // `for (const key in null)` visits nothing.
            Value::Null => Vec::new(),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            Value::Object(map) => js::entries_in_js_order(map)
                .into_iter()
                .map(|(k, v)| (k.clone(), v))
                .collect(),
        };

        let mut properties = Map::new();
        let mut required: Vec<Value> = Vec::new();
        let mut additional_properties = Value::Bool(false);

        for (key, value) in entries {
            path.push(key.clone());
            let result = self.parse_property(&key, value, path, &mut properties, &mut required);
            let result = match result {
                Ok(Some(wildcard)) => {
                    additional_properties = wildcard;
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            path.pop();
            result?;
        }

        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema.insert("additionalProperties".into(), additional_properties);
        Ok(Value::Object(schema))
    }

    /// One `key: value` of a Picoschema object. Returns the wildcard's schema for `(*)`.
    fn parse_property(
        &self,
        key: &str,
        value: &Value,
        path: &mut Vec<String>,
        properties: &mut Map<String, Value>,
        required: &mut Vec<Value>,
    ) -> Result<Option<Value>, PicoschemaError> {
        if key == WILDCARD_PROPERTY_NAME {
            return self.parse_pico(value, path).map(Some);
        }

        // `const [name, typeInfo] = key.split('(')`
        let mut pieces = key.split('(');
        let name = pieces.next().unwrap_or("");
        let type_info = pieces.next().unwrap_or("");
        let is_optional = name.ends_with('?');
        let property_name = if is_optional {
            &name[..name.len() - 1]
        } else {
            name
        };

        if !is_optional {
            required.push(Value::String(property_name.to_string()));
        }

        if type_info.is_empty() {
            let mut prop = self.parse_pico(value, path)?;
            // Optional fields are also nullable.
            if is_optional {
                if let Some(Value::String(t)) = prop.get("type") {
                    let t = t.clone();
                    prop["type"] = json!([t, "null"]);
                }
            }
            properties.insert(property_name.to_string(), prop);
            return Ok(None);
        }

        // `typeInfo.substring(0, typeInfo.length - 1)`: drop the closing parenthesis.
        let mut inner = type_info.chars();
        inner.next_back();
        let (ty, description) = extract_description(inner.as_str());
        let mut prop = match ty {
            "array" => {
                let items = self.parse_pico(value, path)?;
                let t = if is_optional {
                    json!(["array", "null"])
                } else {
                    json!("array")
                };
                json!({ "type": t, "items": items })
            }
            "object" => {
                let mut prop = self.parse_pico(value, path)?;
                if is_optional {
                    if let Value::Object(m) = &mut prop {
                        let t = m.get("type").cloned().unwrap_or(Value::Null);
                        m.insert("type".into(), json!([t, "null"]));
                    }
                }
                prop
            }
            "enum" => {
                let mut values = value.clone();
                if is_optional {
                    match &mut values {
                        Value::Array(items) => {
                            if !items.contains(&Value::Null) {
                                items.push(Value::Null);
                            }
                        }
                        other => {
                            return Err(error(
                                format!(
                                    "Picoschema: enum values must be a list, got: {}",
                                    js::json_stringify(other)
                                ),
                                path,
                            ));
                        }
                    }
                }
                json!({ "enum": values })
            }
            other => {
                return Err(error(
                    format!(
                        "Picoschema: parenthetical types must be 'object' or 'array', got: {other}"
                    ),
                    path,
                ));
            }
        };
        if let (Some(d), Value::Object(m)) = (description, &mut prop) {
            m.insert("description".into(), Value::String(d.to_string()));
        }
        properties.insert(property_name.to_string(), prop);
        Ok(None)
    }
}

/// `{ ...resolved, description }` when there is a description.
fn with_description(resolved: Value, description: Option<&str>) -> Value {
    match (description, resolved) {
        (Some(d), Value::Object(mut m)) => {
            m.insert("description".into(), Value::String(d.to_string()));
            Value::Object(m)
        }
        (Some(d), other) => {
            let mut m = js::spread(&other);
            m.insert("description".into(), Value::String(d.to_string()));
            Value::Object(m)
        }
        (None, resolved) => resolved,
    }
}

/// The reference's `/(.*?), *(.*)$/` with JavaScript's `.` (no line terminators).
static DESCRIPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([^\n\r\x{2028}\x{2029}]*?), *([^\n\r\x{2028}\x{2029}]*)$").expect("valid regex")
});

/// `"type, description"` -> `("type", Some("description"))`.
fn extract_description(input: &str) -> (&str, Option<&str>) {
    if !input.contains(',') {
        return (input, None);
    }
    match DESCRIPTION.captures(input) {
        Some(c) => (
            c.get(1).map_or("", |m| m.as_str()),
            Some(c.get(2).map_or("", |m| m.as_str())).filter(|d| !d.is_empty()),
        ),
        None => (input, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(name: &str) -> Option<Value> {
        match name {
            "Foo" => Some(json!({"type": "number", "description": "a foo"})),
            "Obj" => Some(json!({"type": "object", "properties": {"a": {"type": "string"}}})),
            _ => None,
        }
    }

    fn convert(yaml_json: Value) -> Result<Option<Value>, String> {
        picoschema(&yaml_json, Some(&resolver)).map_err(|e| e.message)
    }

    #[test]
    fn conversions() {
        // (input, expected JSON Schema)
        let table = [
            (json!("string"), json!({"type": "string"})),
            (json!("any"), json!({"type": "any"})),
            (
                json!("number, the description"),
                json!({"type": "number", "description": "the description"}),
            ),
            (
                json!("number,the d, with, commas"),
                json!({"type": "number", "description": "the d, with, commas"}),
            ),
            (
                json!("number,    spaced"),
                json!({"type": "number", "description": "spaced"}),
            ),
            (
                json!("Foo, an overridden foo"),
                json!({"type": "number", "description": "an overridden foo"}),
            ),
            (
                json!("Foo"),
                json!({"type": "number", "description": "a foo"}),
            ),
            (json!({"type": "string"}), json!({"type": "string"})),
            (
                json!({"type": "array", "items": 1}),
                json!({"type": "array", "items": 1}),
            ),
            (
                json!({"properties": {"foo": {"type": "string"}}}),
                json!({"properties": {"foo": {"type": "string"}}, "type": "object"}),
            ),
            (
                json!({"field1": "boolean", "field2": "string"}),
                json!({"type": "object", "properties": {"field1": {"type": "boolean"}, "field2": {"type": "string"}},
                       "required": ["field1", "field2"], "additionalProperties": false}),
            ),
            (
                json!({"req": "string, required field", "nonreq?": "boolean, optional field"}),
                json!({"type": "object", "properties": {
                        "req": {"type": "string", "description": "required field"},
                        "nonreq": {"type": ["boolean", "null"], "description": "optional field"}},
                       "required": ["req"], "additionalProperties": false}),
            ),
            (
                json!({"tags(array, list of tags)": "string, the tag", "vector(array)": "number"}),
                json!({"type": "object", "properties": {
                        "tags": {"type": "array", "items": {"type": "string", "description": "the tag"}, "description": "list of tags"},
                        "vector": {"type": "array", "items": {"type": "number"}}},
                       "required": ["tags", "vector"], "additionalProperties": false}),
            ),
            (
                json!({"obj?(object, a nested object)": {"nest1?": "string"}, "arr?(array)": {"n": "any"}}),
                json!({"type": "object", "properties": {
                        "obj": {"type": ["object", "null"], "properties": {"nest1": {"type": ["string", "null"]}},
                                "additionalProperties": false, "description": "a nested object"},
                        "arr": {"type": ["array", "null"], "items": {"type": "object", "properties": {"n": {}},
                                "required": ["n"], "additionalProperties": false}}},
                       "additionalProperties": false}),
            ),
            (
                json!({"color?(enum, the enum)": ["RED", "BLUE"], "size(enum)": [1, null]}),
                json!({"type": "object", "properties": {
                        "color": {"enum": ["RED", "BLUE", null], "description": "the enum"},
                        "size": {"enum": [1, null]}},
                       "required": ["size"], "additionalProperties": false}),
            ),
            (
                json!({"first": "any", "second?": "any, could be anything"}),
                json!({"type": "object", "properties": {"first": {}, "second": {"description": "could be anything"}},
                       "required": ["first"], "additionalProperties": false}),
            ),
            (
                json!({"otherField": "string, another", "(*)": "any, whatever"}),
                json!({"type": "object", "properties": {"otherField": {"type": "string", "description": "another"}},
                       "required": ["otherField"], "additionalProperties": {"description": "whatever"}}),
            ),
            (
                json!({"(*)": "number, lucky"}),
                json!({"type": "object", "properties": {}, "additionalProperties": {"type": "number", "description": "lucky"}}),
            ),
            (
                json!({"foo": "Foo", "foo2?": "Foo, optional"}),
                json!({"type": "object", "properties": {
                        "foo": {"type": "number", "description": "a foo"},
                        "foo2": {"type": ["number", "null"], "description": "optional"}},
                       "required": ["foo"], "additionalProperties": false}),
            ),
            // JavaScript enumerates integer-like keys first.
            (
                json!({"b": "string", "1": "string"}),
                json!({"type": "object", "properties": {"1": {"type": "string"}, "b": {"type": "string"}},
                       "required": ["1", "b"], "additionalProperties": false}),
            ),
            // An empty nested value is an empty object; `(object)` of `any` gets [undefined, null].
            (
                json!({"o": null, "p?(object)": "any"}),
                json!({"type": "object", "properties": {
                        "o": {"type": "object", "properties": {}, "additionalProperties": false},
                        "p": {"type": [null, "null"]}},
                       "required": ["o"], "additionalProperties": false}),
            ),
            // Only the last line can carry a description (JavaScript's `.` stops at newlines).
            (
                json!("a\nstring, d"),
                json!({"type": "string", "description": "d"}),
            ),
        ];
        for (input, want) in table {
            assert_eq!(
                convert(input.clone()),
                Ok(Some(want)),
                "picoschema({input})"
            );
        }
    }

    #[test]
    fn falsy_schemas_are_left_alone() {
        for v in [json!(null), json!(""), json!(0), json!(false)] {
            assert_eq!(convert(v), Ok(None));
        }
    }

    #[test]
    fn errors() {
        let table = [
            (
                json!("Bar"),
                "Picoschema: could not find schema with name 'Bar'",
                vec![],
            ),
            (
                json!({"a": {"b": 5}}),
                "Picoschema: only consists of objects and strings. Got: 5",
                vec!["a", "b"],
            ),
            (
                json!(true),
                "Picoschema: only consists of objects and strings. Got: true",
                vec![],
            ),
            (
                json!({"x(map)": "string"}),
                "Picoschema: parenthetical types must be 'object' or 'array', got: map",
                vec!["x(map)"],
            ),
            (
                json!({"x": "Nope, desc"}),
                "Picoschema: could not find schema with name 'Nope'",
                vec!["x"],
            ),
        ];
        for (input, message, path) in table {
            let err = picoschema(&input, Some(&resolver)).unwrap_err();
            assert_eq!(err.message, message, "picoschema({input})");
            assert_eq!(err.path, path, "path for {input}");
        }
        let err = picoschema(&json!("Foo"), None).unwrap_err();
        assert_eq!(err.message, "Picoschema: unsupported scalar type 'Foo'.");
    }

    #[test]
    fn descriptions() {
        let table = [
            ("string", ("string", None)),
            ("string, d", ("string", Some("d"))),
            ("string,d,e", ("string", Some("d,e"))),
            ("string,", ("string", None)),
            ("string,\nx", ("string,\nx", None)),
        ];
        for (input, want) in table {
            assert_eq!(extract_description(input), want, "{input:?}");
        }
    }
}
