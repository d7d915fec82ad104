//! `input.schema` and `output.schema`: Picoschema (or JSON Schema) that converts the way
//! the reference converts it. Names that are not scalar types are schemas a runtime
//! registers (Genkit's `defineSchema`), so they are not errors unless they look like a
//! misspelt scalar type.

use std::cell::RefCell;

use serde_json::Value;

use crate::problem::{did_you_mean, Problem};
use crate::render::picoschema::picoschema;
use crate::syntax::yaml::YamlNode;

const SCALAR_TYPES: &[&str] = &["any", "boolean", "integer", "null", "number", "string"];

/// The JSON Schemas of a prompt's input and output, where they convert.
#[derive(Debug, Default, Clone)]
pub struct Schemas {
    pub input: Option<Value>,
    pub output: Option<Value>,
    /// Named schemas the file refers to (resolved as "any" here).
    pub named: Vec<String>,
}

impl Schemas {
    /// The top-level input fields the schema declares, or `None` when any field is allowed
    /// (no schema, a named schema, or a wildcard).
    pub fn input_fields(&self) -> Option<Vec<&str>> {
        let schema = self.input.as_ref()?;
        let props = schema.get("properties")?.as_object()?;
        if schema
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
        {
            return None;
        }
        Some(props.keys().map(String::as_str).collect())
    }
}

/// The schemas of a frontmatter, and what is wrong with them.
pub(super) fn read(frontmatter: Option<&YamlNode>, out: &mut Vec<Problem>) -> Schemas {
    let mut schemas = Schemas::default();
    let Some(root) = frontmatter else {
        return schemas;
    };
    for section in ["input", "output"] {
        let Some(node) = root.get(section).and_then(|s| s.get("schema")) else {
            continue;
        };
        let named = RefCell::new(Vec::<String>::new());
        let resolver = |name: &str| {
            named.borrow_mut().push(name.to_string());
            Some(Value::Object(Default::default()))
        };
        match picoschema(&node.to_json(), Some(&resolver)) {
            Ok(schema) => {
                if section == "input" {
                    schemas.input = schema;
                } else {
                    schemas.output = schema;
                }
            }
            Err(e) => {
                let at = find(node, &e.path).unwrap_or(node);
                out.push(Problem::error(
                    "invalid-schema",
                    at.span,
                    format!(
                        "invalid `{section}.schema`: {}",
                        e.message.trim_start_matches("Picoschema: ")
                    ),
                ));
            }
        }
        for name in named.into_inner() {
            if let Some(typo) = did_you_mean(&name, SCALAR_TYPES.iter().copied()) {
                let span = find_scalar(node, &name).map_or(node.span, |n| n.span);
                out.push(Problem::warning(
                    "unknown-schema-type",
                    span,
                    format!(
                        "`{name}` is not a Picoschema type, so it names a schema your runtime must \
                         register; did you mean `{typo}`?"
                    ),
                ));
            } else if section == "input" {
                // A named input schema: fields are unknown here.
                schemas.input = None;
            }
            schemas.named.push(name);
        }
    }
    schemas
}

/// The node at a chain of mapping keys, as Picoschema errors report it.
fn find<'a>(node: &'a YamlNode, path: &[String]) -> Option<&'a YamlNode> {
    let mut at = node;
    for key in path {
        let entry = at.entry(key)?;
        at = &entry.value;
    }
    Some(at)
}

/// The first scalar (value or key) whose text starts with `name` (a type name, maybe
/// followed by `, description`).
fn find_scalar<'a>(node: &'a YamlNode, name: &str) -> Option<&'a YamlNode> {
    let matches = |n: &YamlNode| {
        n.scalar_text()
            .is_some_and(|t| t == name || t.starts_with(&format!("{name},")))
    };
    if matches(node) {
        return Some(node);
    }
    for e in node.entries() {
        if let Some(found) = find_scalar(&e.value, name) {
            return Some(found);
        }
    }
    node.items().iter().find_map(|item| find_scalar(item, name))
}

#[cfg(test)]
mod tests {
    use crate::check::testing::render;

    #[test]
    fn schema_problems() {
        let cases: &[(&str, &[&str])] = &[
            ("---\ninput:\n  schema:\n    name: string\n    age?: integer\n---\n{{name}}{{age}}", &[]),
            ("---\noutput:\n  schema: MySchema\n---\nHi", &[]),
            (
                "---\ninput:\n  schema:\n    age: integr\n---\n{{age}}",
                &["unknown-schema-type@integr: `integr` is not a Picoschema type, so it names a schema your runtime must register; did you mean `integer`?"],
            ),
            (
                "---\noutput:\n  schema:\n    tags(list): string\n---\nHi",
                &["invalid-schema@string: invalid `output.schema`: parenthetical types must be 'object' or 'array', got: list"],
            ),
        ];
        for (source, expected) in cases {
            let got = render(source);
            let got: Vec<&str> = got.iter().map(String::as_str).collect();
            assert_eq!(&got, expected, "for {source:?}");
        }
    }
}
