//! Snapshots of `check::check` over whole files: every case under `tests/data/check/`
//! is checked and its diagnostics, rendered as text, must equal the `.expect` file next
//! to it.
//!
//! A case is `<family>/<name>.prompt` (checked as `/w/<name>.prompt`), or a folder
//! `<family>/<name>/` whose files are the workspace `/w/` (datasets, partials, a base
//! prompt, `promptls.toml`); every `.prompt` file in it is checked, each under a
//! `== file` header. The expected output is `<family>/<name>.expect` either way. There is
//! one folder per check family (`core/src/check/*.rs`), each with failing and clean
//! cases. (The workspace root is looked for on disk, so `/w` must not exist there; then
//! `/w/promptls.toml` is the case's.)
//!
//! One line per diagnostic, in the order `check` returns them:
//!
//! ```text
//! warning unknown-key 2:1-2:6 `modle`: unknown frontmatter key `modle`; did you mean `model`?
//!   fix "Rename to `model`": 2:1-2:6 → "model"
//! ```
//!
//! severity, code, the span as `line:column-line:column` (1-based, columns counted in
//! characters, the end exclusive), the text under the span (as the CLI shows it: keys
//! masked; long or multi-line text shortened and escaped), the message, then the fix's
//! title and edits. A clean file is `(no diagnostics)`.
//!
//! After a deliberate change of the output, rewrite every expected file with
//!
//!     UPDATE_EXPECT=1 cargo test -p promptls-core --test check_snapshots
//!
//! and read the diff before committing it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use expect_test::expect_file;
use promptls_core::check::{self, Diagnostic, Severity, Workspace};

/// The case folder's files, as `/w/<relative path>`.
struct Files(BTreeMap<PathBuf, String>);

impl Workspace for Files {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "not in the case folder")
        })
    }
}

const ROOT: &str = "/w";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/check")
}

/// The one place that runs the checks on a case: every test goes through it.
fn check_case(files: &Files, path: &Path) -> (String, Vec<Diagnostic>) {
    let source = files.0[path].clone();
    let diagnostics = check::check(&source, Some(path), files);
    (source, diagnostics)
}

/// 1-based line and character column of byte `offset`.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn span_text(source: &str, span: promptls_core::syntax::Span) -> String {
    let (l1, c1) = line_col(source, span.start);
    let (l2, c2) = line_col(source, span.end);
    format!("{l1}:{c1}-{l2}:{c2}")
}

/// The text under a span: as written when short and on one line, else escaped and
/// shortened to its head and tail.
fn quote(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 60 && !text.contains(['\n', '\r', '`']) {
        return format!("`{text}`");
    }
    if chars.len() <= 60 {
        return format!("{text:?}");
    }
    let head: String = chars[..30].iter().collect();
    let tail: String = chars[chars.len() - 20..].iter().collect();
    format!("{head:?}…({} chars)…{tail:?}", chars.len())
}

fn render(source: &str, diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "(no diagnostics)\n".into();
    }
    // As the CLI shows the file: API keys masked (same length, so spans still hold).
    let shown = check::masked_source(source, diagnostics);
    let mut out = String::new();
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        writeln!(
            out,
            "{severity} {} {} {}: {}",
            d.code,
            span_text(source, d.span),
            quote(&shown[d.span.start..d.span.end]),
            d.message
        )
        .unwrap();
        if let Some(fix) = &d.fix {
            let edits: Vec<String> = fix
                .edits
                .iter()
                .map(|e| format!("{} → {:?}", span_text(source, e.span), e.new_text))
                .collect();
            writeln!(out, "  fix {:?}: {}", fix.title, edits.join(", ")).unwrap();
        }
    }
    out
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path, prefix: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let relative = prefix.join(path.file_name().unwrap());
        if path.is_dir() {
            files_under(&path, &relative, out);
        } else {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            out.insert(relative, text);
        }
    }
}

/// The actual output of one case (a `.prompt` file or a folder).
fn run_case(case: &Path) -> String {
    let root = Path::new(ROOT);
    let mut files = BTreeMap::new();
    let checked: Vec<PathBuf> = if case.is_dir() {
        files_under(case, root, &mut files);
        files
            .keys()
            .filter(|p| p.extension().is_some_and(|e| e == "prompt"))
            .cloned()
            .collect()
    } else {
        let path = root.join(case.file_name().unwrap());
        files.insert(path.clone(), std::fs::read_to_string(case).unwrap());
        vec![path]
    };
    assert!(!checked.is_empty(), "{}: no .prompt file", case.display());
    let files = Files(files);
    let mut out = String::new();
    for path in &checked {
        let (source, diagnostics) = check_case(&files, path);
        if case.is_dir() {
            let name = path.strip_prefix(root).unwrap();
            writeln!(out, "== {}", name.display()).unwrap();
        }
        out.push_str(&render(&source, &diagnostics));
    }
    out
}

/// Checks every case of one family against its expected file; all mismatches are
/// shown (each with its diff) before the test fails.
fn family(name: &str) {
    let dir = data_dir().join(name);
    let mut cases = Vec::new();
    let mut expects = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expect") {
            expects.push(path);
        } else if path.is_dir() || path.extension().is_some_and(|e| e == "prompt") {
            cases.push(path);
        } else {
            panic!("{}: neither a case nor an .expect file", path.display());
        }
    }
    cases.sort();
    // An expected file without its case is a case that was lost.
    for expect in &expects {
        let stem = expect.with_extension("");
        assert!(
            stem.is_dir() || stem.with_extension("prompt").is_file(),
            "{} has no case next to it",
            expect.display()
        );
    }
    let mut failed = Vec::new();
    let mut outputs = Vec::new();
    for case in &cases {
        let expected = case.with_extension("expect");
        let actual = run_case(case);
        outputs.push(actual.clone());
        let result = std::panic::catch_unwind(|| expect_file![expected].assert_eq(&actual));
        if result.is_err() {
            failed.push(case.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{name}: {} case(s) differ from their .expect file: {}\n\
         (after a deliberate change: UPDATE_EXPECT=1 cargo test -p promptls-core --test check_snapshots)",
        failed.len(),
        failed.join(", ")
    );
    // Each family has a failing and a clean case.
    assert!(
        outputs.iter().any(|o| o.contains("(no diagnostics)")),
        "{name}: no clean case"
    );
    assert!(
        outputs.iter().any(|o| o
            .lines()
            .any(|l| !l.starts_with("==") && l != "(no diagnostics)")),
        "{name}: no failing case"
    );
}

/// Every check family (a file of `core/src/check/`, and the schema problems the analysis
/// finds, `core/src/analysis/schema.rs`) has a folder of cases.
#[test]
fn every_family_has_cases() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check");
    let mut families: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|f| f != "mod")
        .collect();
    families.push("schema".into());
    assert!(Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/analysis/schema.rs")
        .exists());
    families.sort();
    let mut folders: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders, families, "one folder of cases per check family");
}

macro_rules! families {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            family(stringify!($name));
        }
    )*};
}

families!(
    budget,
    dataset,
    demos,
    dialect,
    frontmatter,
    naming,
    schema,
    secrets,
    template,
    variables
);
