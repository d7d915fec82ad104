//! File names and the `name`/`variant` keys. Dotprompt's stores name a prompt after its
//! file (`name[.variant].prompt`, partials `_name.prompt`), so a frontmatter `variant`
//! that disagrees with the file name is a surprise waiting to happen.

use super::{CheckInput, Diagnostic};
use crate::render::prompt_name_and_variant;

pub(super) fn check(input: &CheckInput, out: &mut Vec<Diagnostic>) {
    let (Some(path), Some(root)) = (input.path(), &input.parsed().frontmatter) else {
        return;
    };
    let (name, variant) = prompt_name_and_variant(path);
    if let Some(node) = root.get("variant") {
        if let Some(written) = node.as_str() {
            if Some(written) != variant.as_deref() {
                let from_file = match &variant {
                    Some(v) => format!("the file name makes it `{v}`"),
                    None => "the file name has no variant".to_string(),
                };
                out.push(Diagnostic::warning(
                    "variant-mismatch",
                    node.span,
                    format!("`variant: {written}`, but {from_file} (prompt stores go by `name.variant.prompt`)"),
                ));
            }
        }
    }
    if let Some(node) = root.get("name") {
        if let Some(written) = node.as_str() {
            if written != name {
                out.push(Diagnostic::info(
                    "name-mismatch",
                    node.span,
                    format!("`name: {written}`, but prompt stores load this file as `{name}`"),
                ));
            }
        }
    }
    let is_partial = path
        .file_name()
        .is_some_and(|f| f.to_string_lossy().starts_with('_'));
    if let (Some(v), false) = (&variant, is_partial) {
        let base = path.with_file_name(format!("{name}.prompt"));
        if input.workspace.read_to_string(&base).is_err() {
            out.push(Diagnostic::info(
                "variant-without-base",
                root.span,
                format!(
                    "this is variant `{v}` of `{name}`, but there is no `{name}.prompt` beside it"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::check::{check, testing::NoFiles};

    fn codes(path: &str, source: &str) -> Vec<&'static str> {
        check(source, Some(&PathBuf::from(path)), &NoFiles)
            .into_iter()
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn names_follow_the_file() {
        assert_eq!(
            codes("/p/greet.prompt", "---\nname: greet\n---\nHi"),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes("/p/greet.prompt", "---\nvariant: formal\n---\nHi"),
            ["variant-mismatch"]
        );
        assert_eq!(
            codes("/p/greet.formal.prompt", "---\nvariant: formal\n---\nHi"),
            ["variant-without-base"]
        );
        assert_eq!(
            codes("/p/greet.prompt", "---\nname: hello\n---\nHi"),
            ["name-mismatch"]
        );
    }
}
