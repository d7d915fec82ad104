//! A `.prompt` file as the reference reads it: its document (metadata and template), its
//! name and variant, and the files its partials are in.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::metadata;

/// A parsed `.prompt` file as the reference's `parseDocument` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDocument {
    /// `ext`, `metadata`, `config`, the reserved frontmatter keys, and `raw`.
    pub metadata: Map<String, Value>,
    /// The template text that gets rendered.
    pub template: String,
}

/// `parseDocument(source)`: frontmatter into metadata, the rest into the template.
/// A frontmatter with a YAML error leaves the base metadata and the whole (trimmed)
/// source as the template, as the reference does.
pub fn parse_document(source: &str) -> ParsedDocument {
    let parsed = crate::syntax::parse(source);
    ParsedDocument {
        template: parsed.template_text(source).to_string(),
        ..ParsedDocument::from_parsed(&parsed)
    }
}

impl ParsedDocument {
    /// The metadata of a file already parsed, with no template text (a caller with a
    /// tree has the text in it).
    pub fn from_parsed(parsed: &crate::syntax::ParsedPrompt) -> ParsedDocument {
        let metadata = if parsed.split.frontmatter.is_some() && !parsed.frontmatter_failed {
            metadata::metadata_from_frontmatter(&parsed.frontmatter_json().unwrap_or(Value::Null))
        } else {
            metadata::base_metadata()
        };
        ParsedDocument {
            metadata,
            template: String::new(),
        }
    }
}

/// `(name, variant)` of a prompt file, as the reference's DirStore names it:
/// `greet.prompt` -> `("greet", None)`, `greet.formal.prompt` -> `("greet", Some("formal"))`,
/// `a.b.c.prompt` -> `("a.b", Some("c"))`. A partial's leading `_` is not part of its name.
pub fn prompt_name_and_variant(path: &Path) -> (String, Option<String>) {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy())
        .unwrap_or_default();
    let file = file.strip_prefix('_').unwrap_or(&file);
    let without_ext = file.strip_suffix(".prompt").unwrap_or(file);
    match without_ext.rsplit_once('.') {
        Some((name, variant)) => (name.to_string(), Some(variant.to_string())),
        None => (without_ext.to_string(), None),
    }
}

/// The file a partial name refers to from `folder`: `{{> name}}` is `_name.prompt`,
/// `{{> dir/name}}` is `dir/_name.prompt`. Names that would leave the folder are refused.
pub fn partial_path(folder: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\0') || name.contains('\\') || name.starts_with('/') {
        return None;
    }
    let mut segments: Vec<&str> = name.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return None;
    }
    let base = segments.pop()?;
    let mut path = folder.to_path_buf();
    path.extend(segments);
    path.push(format!("_{base}.prompt"));
    Some(path)
}

/// `partial_path`, with the file (symlinks followed) confined to the workspace `root`:
/// `None` for a name that cannot be a partial, an error for one outside the workspace.
pub fn confined_partial_path(
    root: &Path,
    folder: &Path,
    name: &str,
) -> Option<Result<PathBuf, crate::confine::OutsideWorkspace>> {
    let path = partial_path(folder, name)?;
    let written = partial_path(Path::new(""), name)?;
    Some(crate::confine::confine_named(root, folder, &written).map(|_| path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_variants() {
        let table = [
            ("greet.prompt", ("greet", None)),
            ("dir/greet.formal.prompt", ("greet", Some("formal"))),
            ("a.b.c.prompt", ("a.b", Some("c"))),
            ("_header.prompt", ("header", None)),
            ("_header.v2.prompt", ("header", Some("v2"))),
        ];
        for (path, (name, variant)) in table {
            assert_eq!(
                prompt_name_and_variant(Path::new(path)),
                (name.to_string(), variant.map(str::to_string)),
                "{path}"
            );
        }
    }

    #[test]
    fn partial_paths() {
        let folder = Path::new("/p");
        assert_eq!(
            partial_path(folder, "header"),
            Some(PathBuf::from("/p/_header.prompt"))
        );
        assert_eq!(
            partial_path(folder, "sub/x"),
            Some(PathBuf::from("/p/sub/_x.prompt"))
        );
        for bad in ["", "../x", "/etc/x", "a//b", "./x", "a\\b"] {
            assert_eq!(partial_path(folder, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn documents() {
        let doc = parse_document("---\nmodel: m\nfoo.bar: 1\n---\n\n Hello \n");
        assert_eq!(doc.template, "Hello");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {"foo": {"bar": 1}}, "metadata": {}, "config": {}, "model": "m",
                   "raw": {"model": "m", "foo.bar": 1}})
        );
        // No frontmatter: the template is the whole source, untrimmed.
        let doc = parse_document(" Hi \n");
        assert_eq!(doc.template, " Hi \n");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {}, "metadata": {}, "config": {}})
        );
        // A YAML error: base metadata, the whole source trimmed.
        let doc = parse_document("---\na: [1\n---\nHi\n");
        assert_eq!(doc.template, "---\na: [1\n---\nHi");
        assert_eq!(
            Value::Object(doc.metadata),
            json!({"ext": {}, "metadata": {}, "config": {}})
        );
    }
}
