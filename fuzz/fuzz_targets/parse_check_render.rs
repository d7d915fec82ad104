//! parse -> check -> render on arbitrary text: nothing may panic or hang. The check and
//! the renderer see partials that would expand exponentially (`p0` includes `p1` twice,
//! ... down to `p30`) and ones that include themselves (`self`, `a` <-> `b`): they must
//! stop at the renderer's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promptls_core::check::{self, Workspace};
use promptls_core::render::{DataArgument, Renderer};

struct NoFiles;

impl Workspace for NoFiles {
    fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, path.display().to_string()))
    }
}

/// The hostile partials, by name.
fn partial(name: &str) -> Option<String> {
    match name {
        "self" => Some("{{> self}}".into()),
        "a" => Some("{{#if x}}{{/if}}{{> b}}".into()),
        "b" => Some("\n  {{> a}}".into()),
        "p30" => Some("leaf".into()),
        _ => {
            let i: u32 = name.strip_prefix('p')?.parse().ok().filter(|i| *i < 30)?;
            Some(format!("{{{{> p{0}}}}}{{{{> p{0}}}}}", i + 1))
        }
    }
}

/// Those partials as files beside `/fuzz/prompt.prompt`.
struct Partials;

impl Workspace for Partials {
    fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<String> {
        path.parent()
            .filter(|d| *d == std::path::Path::new("/fuzz"))
            .and_then(|_| path.file_name()?.to_str()?.strip_prefix('_')?.strip_suffix(".prompt"))
            .and_then(partial)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, path.display().to_string()))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let parsed = promptls_core::syntax::parse(source);
    let _ = parsed.frontmatter_json();
    for d in check::check(source, None, &NoFiles) {
        assert!(d.span.start <= d.span.end && d.span.end <= source.len(), "span out of range: {d:?}");
    }
    for d in check::check(source, Some(std::path::Path::new("/fuzz/prompt.prompt")), &Partials) {
        assert!(d.span.start <= d.span.end && d.span.end <= source.len(), "span out of range: {d:?}");
    }
    let mut renderer = Renderer::new();
    // Partials that refer to themselves or grow exponentially: cut off, not overflowing
    // the stack or running for ever.
    renderer.set_partial_resolver(partial);
    if let Ok(compiled) = renderer.compile(source) {
        let input = serde_json::json!({"a": [1, {"b": "x"}], "name": "n", "items": [1, 2, 3]});
        let data = DataArgument { input: input.as_object().unwrap().clone(), ..Default::default() };
        let _ = compiled.render(&data, None);
    }
});
