//! parse -> check -> render on arbitrary text: nothing may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promptls::check::{self, Workspace};
use promptls::render::{DataArgument, Renderer};

struct NoFiles;

impl Workspace for NoFiles {
    fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, path.display().to_string()))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let parsed = promptls::syntax::parse(source);
    let _ = parsed.frontmatter_json();
    for d in check::check(source, None, &NoFiles) {
        assert!(d.span.start <= d.span.end && d.span.end <= source.len(), "span out of range: {d:?}");
    }
    let mut renderer = Renderer::new();
    // A partial that refers to itself: recursion must be cut off, not overflow the stack.
    let _ = renderer.define_partial("self", "{{> self}}");
    if let Ok(compiled) = renderer.compile(source) {
        let input = serde_json::json!({"a": [1, {"b": "x"}], "name": "n", "items": [1, 2, 3]});
        let data = DataArgument { input: input.as_object().unwrap().clone(), ..Default::default() };
        let _ = compiled.render(&data, None);
    }
});
