//! The editor features (`promptls_core::ide`) on arbitrary text at arbitrary offsets: nothing
//! may panic, and every span they return must be a valid range of the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use promptls_core::check::{self, CheckInput, Workspace};
use promptls_core::analysis::Analysis;
use promptls_core::ide;
use promptls_core::syntax::Span;

/// One partial and one dataset exist; everything else is missing.
struct Files;

impl Workspace for Files {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        match path.to_str() {
            Some("/w/_p.prompt") => Ok("Hi {{name}} {{> p}}".into()),
            Some("/w/d.csv") => Ok("name,label\nAda,x\n".into()),
            _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "missing")),
        }
    }
}

fn valid(source: &str, span: Span) -> bool {
    span.start <= span.end
        && span.end <= source.len()
        && source.is_char_boundary(span.start)
        && source.is_char_boundary(span.end)
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let analysis = Analysis::new(source, Some(Path::new("/w/f.prompt")));
    let input = CheckInput::new(&analysis, &Files);
    let diagnostics = check::check_parsed(&input);
    let step = (source.len() / 48).max(1);
    for offset in (0..=source.len()).step_by(step) {
        if let Some(h) = ide::hover(&input, offset) {
            assert!(valid(source, h.span), "hover span {:?}", h.span);
        }
        for c in ide::completions(&input, offset) {
            assert!(valid(source, c.replace) && c.replace.end == offset, "completion {c:?}");
        }
        if let Some(d) = ide::definition(&input, offset) {
            if let Some(span) = d.span {
                assert!(valid(source, span));
            }
        }
        let range = Span::empty(offset);
        for action in ide::code_actions(&input, &diagnostics, range) {
            for change in &action.changes {
                if let ide::FileChange::Edit { span, .. } = change {
                    assert!(valid(source, *span), "edit {change:?}");
                }
            }
        }
    }
    let tokens = ide::semantic_tokens(&input);
    for pair in tokens.windows(2) {
        assert!(pair[0].span.end <= pair[1].span.start, "tokens overlap: {pair:?}");
    }
    assert!(tokens.iter().all(|t| valid(source, t.span)));
    fn nested(source: &str, symbols: &[ide::Symbol], outer: Option<Span>) {
        for s in symbols {
            assert!(valid(source, s.span) && valid(source, s.selection));
            if let Some(o) = outer {
                assert!(o.start <= s.span.start && s.span.end <= o.end, "{s:?} outside {o:?}");
            }
            nested(source, &s.children, Some(s.span));
        }
    }
    nested(source, &ide::symbols(&input), None);
    assert!(ide::folds(&input).iter().all(|f| valid(source, f.span)));
    assert!(ide::links(&input).iter().all(|l| valid(source, l.span)));
    let _ = ide::dependencies(&input);
});
