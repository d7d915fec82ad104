//! Checks editors/helix/queries/prompt/ the way Helix loads them: with tree-house (Helix's
//! highlighter library, the version Helix uses) and the compiled prompt grammar.
//!
//!   promptls-helix-query-check <prompt.so> <queries-dir> <grammar-highlights.scm>
//!
//! 1. highlights.scm and injections.scm compile (Helix rejects unknown predicates and
//!    `#set!` properties, and then highlights nothing);
//! 2. every capture is a scope Helix themes know (see the Helix book, themes.md);
//! 3. a sample prompt gets the expected scope at known places (the innermost and last
//!    matching pattern wins, as in Helix);
//! 4. the grammar's own highlights.scm is tried too and the outcome printed.
//!
//! Prints `ok: ...` per check and exits non-zero on the first failure.

use std::path::Path;
use std::process::exit;
use std::time::Duration;

use ropey::Rope;
use tree_house::highlighter::{Highlight, HighlightEvent, Highlighter};
use tree_house::tree_sitter::Grammar;
use tree_house::{InjectionLanguageMarker, Language, LanguageConfig, LanguageLoader, Syntax};

/// Scopes from the Helix book (themes.md, "Syntax highlighting") used or usable here.
const HELIX_SCOPES: &[&str] = &[
    "attribute",
    "comment",
    "comment.block",
    "comment.block.documentation",
    "comment.line",
    "constant",
    "constant.builtin",
    "constant.builtin.boolean",
    "constant.character.escape",
    "constant.numeric",
    "function",
    "function.builtin",
    "keyword",
    "keyword.control",
    "keyword.control.conditional",
    "keyword.control.repeat",
    "keyword.directive",
    "markup.raw",
    "markup.raw.block",
    "namespace",
    "operator",
    "punctuation",
    "punctuation.bracket",
    "punctuation.delimiter",
    "punctuation.special",
    "string",
    "string.special",
    "variable",
    "variable.builtin",
    "variable.other.member",
    "variable.parameter",
];

const SAMPLE: &str = r#"---
model: groq/llama-3.1-8b-instant
input:
  schema:
    text: string
---
{{role "system"}}
{{> persona tone="calm"}}
{{!-- promptls:demos --}}
{{role "user"}}
I loved it.
{{!-- /promptls:demos --}}
{{#if text}}{{json text}}{{else}}none{{/if}}
{{#each items as |item|}}{{@index}} {{item.name}} {{this}}{{/each}}
{{history}}
{{lookup (concat "a" "b") 3 true null}}
\{{literal}}
"#;

/// (line, column, text at that place, expected scope)
const EXPECT: &[(usize, usize, &str, &str)] = &[
    (0, 0, "---", "punctuation.delimiter"),
    (6, 0, "{{", "punctuation.bracket"),
    (6, 2, "role", "keyword.directive"),
    (6, 7, "\"system\"", "string.special"),
    (7, 4, "persona", "namespace"),
    (7, 12, "tone", "variable.parameter"),
    (7, 17, "\"calm\"", "string"),
    (8, 0, "{{!-- promptls:demos --}}", "comment.block.documentation"),
    (12, 3, "if", "keyword.control"),
    (12, 6, "text", "variable"),
    (12, 14, "json", "function"),
    (12, 19, "text", "variable"),
    (12, 27, "else", "keyword.control.conditional"),
    (12, 40, "if", "keyword.control"),
    (13, 3, "each", "keyword.control"),
    (13, 18, "item", "variable.parameter"),
    (13, 27, "@", "punctuation.special"),
    (13, 28, "index", "variable.builtin"),
    (13, 43, "name", "variable"),
    (13, 42, ".", "punctuation.delimiter"),
    (13, 52, "this", "variable.builtin"),
    (14, 2, "history", "keyword.directive"),
    (15, 2, "lookup", "function"),
    (15, 10, "concat", "function"),
    (15, 26, "3", "constant.numeric"),
    (15, 28, "true", "constant.builtin.boolean"),
    (15, 33, "null", "constant.builtin"),
    (16, 0, "\\{{literal}}", "constant.character.escape"),
];

struct Loader {
    config: LanguageConfig,
}

impl LanguageLoader for Loader {
    fn language_for_marker(&self, _marker: InjectionLanguageMarker) -> Option<Language> {
        None // yaml is Helix's own language; not needed for these checks
    }

    fn get_config(&self, lang: Language) -> Option<&LanguageConfig> {
        (lang.idx() == 0).then_some(&self.config)
    }
}

fn fail(message: String) -> ! {
    eprintln!("FAIL: {message}");
    exit(1)
}

fn ok(message: String) {
    println!("ok: {message}");
}

fn grammar(path: &Path) -> Grammar {
    unsafe { Grammar::new("prompt", path) }
        .unwrap_or_else(|e| fail(format!("cannot load {}: {e}", path.display())))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("cannot read {}: {e}", path.display())))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        fail("usage: promptls-helix-query-check <prompt.so> <queries-dir> <grammar-highlights.scm>".into());
    }
    let (library, queries, upstream) = (Path::new(&args[1]), Path::new(&args[2]), Path::new(&args[3]));
    let highlights = read(&queries.join("highlights.scm"));
    let injections = read(&queries.join("injections.scm"));
    let mut checks = 0;

    // 1. The queries compile the way Helix compiles them.
    let config = LanguageConfig::new(grammar(library), &highlights, &injections, "")
        .unwrap_or_else(|e| fail(format!("editors/helix/queries/prompt does not compile in tree-house: {e}")));
    ok("queries/prompt/highlights.scm and injections.scm compile with tree-house 0.4.0".into());
    checks += 1;

    // 2. Every capture is a Helix scope.
    let mut names: Vec<String> = Vec::new();
    let mut unknown = Vec::new();
    config.configure(|name| {
        if !HELIX_SCOPES.contains(&name) && !name.starts_with("injection.") && !name.starts_with('_') {
            unknown.push(name.to_owned());
        }
        names.push(name.to_owned());
        Some(Highlight::new((names.len() - 1) as u32))
    });
    if !unknown.is_empty() {
        fail(format!("captures that are not Helix scopes: {unknown:?}"));
    }
    ok(format!("all {} captures are Helix theme scopes", names.len()));
    checks += 1;

    // 3. Scopes at known places.
    let loader = Loader { config };
    let rope = Rope::from_str(SAMPLE);
    let src = rope.slice(..);
    let syntax = Syntax::new(src, Language::new(0), Duration::from_secs(10), &loader)
        .unwrap_or_else(|e| fail(format!("cannot parse the sample: {e:?}")));
    // The innermost highlight at every byte, as Helix renders it.
    let mut scope_at: Vec<Option<String>> = vec![None; SAMPLE.len()];
    let mut highlighter = Highlighter::new(&syntax, src, &loader, 0..);
    let mut stack: Vec<Highlight> = Vec::new();
    let mut pos = highlighter.next_event_offset();
    while (pos as usize) < SAMPLE.len() {
        let (event, new) = highlighter.advance();
        if event == HighlightEvent::Refresh {
            stack.clear();
        }
        stack.extend(new);
        let start = pos as usize;
        let next = highlighter.next_event_offset();
        let end = if next == u32::MAX { SAMPLE.len() } else { next as usize };
        if end <= start {
            fail(format!("highlighter did not advance at byte {start}"));
        }
        if let Some(h) = stack.last() {
            for slot in &mut scope_at[start..end] {
                *slot = Some(names[h.get() as usize].clone());
            }
        }
        pos = end as u32;
    }
    let lines: Vec<&str> = SAMPLE.split('\n').collect();
    for &(line, col, text, want) in EXPECT {
        let offset: usize = lines[..line].iter().map(|l| l.len() + 1).sum::<usize>() + col;
        if !SAMPLE[offset..].starts_with(text) {
            fail(format!("sample line {line} col {col} is not {text:?} (test bug)"));
        }
        let got = scope_at[offset].as_deref().unwrap_or("(none)");
        if got != want {
            fail(format!("{text:?} at {line}:{col} is {got}, expected {want}"));
        }
        ok(format!("{text:?} is {want}"));
        checks += 1;
    }

    // 4. The grammar's own highlights.scm (written for Neovim and the tree-sitter CLI).
    match LanguageConfig::new(grammar(library), &read(upstream), &injections, "") {
        Ok(_) => println!("note: the grammar's highlights.scm also compiles in tree-house"),
        Err(e) => println!(
            "note: the grammar's highlights.scm does not compile in tree-house (why Helix has its own): {}",
            e.to_string().lines().next().unwrap_or("")
        ),
    }

    println!("helix queries: {checks} checks passed");
}
