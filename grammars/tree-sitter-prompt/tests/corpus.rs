//! Runs every `test/corpus/*.txt` case through the `tree-sitter` crate, the
//! same way `tree-sitter test` does, so CI needs no tree-sitter CLI.
//!
//! Format (as in the CLI): a header of `===` lines around the case name, the
//! input, a divider (the longest line of 3+ `-` before the next header), the
//! expected S-expression. The input is everything between the header and the
//! divider minus its final newline. Expected trees are compared with
//! whitespace normalised and `;` comment lines removed; field names are only
//! compared when the expected tree contains some. A `:skip` line after the
//! name skips a case, `:error` only asserts that the tree has an error.
//!
//! `PROMPT_CORPUS_UPDATE=1 cargo test -p tree-sitter-prompt --test corpus`
//! rewrites the expectations of failing cases with the actual trees (review
//! the diff!).

use std::path::{Path, PathBuf};

struct Case {
    file: PathBuf,
    name: String,
    input: Vec<u8>,
    expected: String,
    /// Byte range of the expected tree in the file (for updates).
    expected_range: std::ops::Range<usize>,
    skip: bool,
    error: bool,
}

/// The lines of `bytes` as (start, end-without-line-break, end-with-line-break).
fn lines(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let next_nl = bytes[start..].iter().position(|&b| b == b'\n');
        let (content_end, end) = match next_nl {
            Some(i) => (start + i, start + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        let content_end = if content_end > start && bytes[content_end - 1] == b'\r' {
            content_end - 1
        } else {
            content_end
        };
        out.push((start, content_end, end));
        start = end;
    }
    out
}

fn is_rule(line: &[u8], ch: u8) -> bool {
    line.len() >= 3 && line.iter().all(|&b| b == ch)
}

fn parse_corpus_file(file: &Path) -> Vec<Case> {
    let text = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let lines = lines(&text);

    // Headers: `===` line, one or more name/attribute lines, `===` line.
    let mut headers = Vec::new(); // (start, end, name, skip, error)
    let mut i = 0;
    while i < lines.len() {
        let (s, e, _) = lines[i];
        if is_rule(&text[s..e], b'=') {
            let mut j = i + 1;
            while j < lines.len() && !is_rule(&text[lines[j].0..lines[j].1], b'=') {
                j += 1;
            }
            if j < lines.len() && j > i + 1 {
                let mut name = String::new();
                let (mut skip, mut error) = (false, false);
                for &(ls, le, _) in &lines[i + 1..j] {
                    let line = String::from_utf8_lossy(&text[ls..le]);
                    match line.trim() {
                        ":skip" => skip = true,
                        ":error" => error = true,
                        l if l.starts_with(':') => {}
                        l => {
                            if !name.is_empty() {
                                name.push(' ');
                            }
                            name.push_str(l);
                        }
                    }
                }
                headers.push((s, lines[j].2, name, skip, error));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }

    let mut cases = Vec::new();
    for (k, (_, header_end, name, skip, error)) in headers.iter().enumerate() {
        let next_start = headers.get(k + 1).map_or(text.len(), |h| h.0);
        // The divider is the longest `---` line between the two headers.
        let divider = lines
            .iter()
            .filter(|&&(s, e, _)| s >= *header_end && s < next_start && is_rule(&text[s..e], b'-'))
            .max_by_key(|&&(s, e, _)| e - s)
            .copied();
        let Some((div_start, _, div_end)) = divider else {
            panic!("{}: case {name:?} has no divider", file.display());
        };
        let mut input = text[*header_end..div_start].to_vec();
        input.pop(); // the newline before the divider
        let expected_raw = String::from_utf8_lossy(&text[div_end..next_start]).into_owned();
        cases.push(Case {
            file: file.to_path_buf(),
            name: name.clone(),
            input,
            expected: normalize(&expected_raw),
            expected_range: div_end..next_start,
            skip: *skip,
            error: *error,
        });
    }
    cases
}

/// Removes `;` comment lines and collapses whitespace like `tree-sitter test`.
fn normalize(sexp: &str) -> String {
    let without_comments: Vec<&str> = sexp
        .lines()
        .filter(|l| !l.trim_start().starts_with(';'))
        .collect();
    let collapsed = without_comments
        .join("\n")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    collapsed.replace(" )", ")")
}

/// Whether the S-expression contains a ` field: (` (the CLI's `has_fields`).
fn has_fields(sexp: &str) -> bool {
    strip_fields(sexp) != sexp
}

/// Replaces every ` word: (` by ` (` (outside quoted token names).
fn strip_fields(sexp: &str) -> String {
    let mut out = String::with_capacity(sexp.len());
    let mut in_string = false;
    let mut i = 0;
    while let Some(c) = sexp[i..].chars().next() {
        if c == '"' {
            in_string = !in_string;
        } else if c == ' ' && !in_string {
            let rest = &sexp[i + 1..];
            let word_len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(rest.len());
            if word_len > 0 && rest[word_len..].starts_with(": (") {
                out.push_str(" (");
                i += 1 + word_len + 3;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Pretty-prints a normalised S-expression, one node per line.
fn format_sexp(sexp: &str) -> String {
    // Tokens: `(`, `)`, and atoms (node names, `field:`, quoted token names).
    let mut tokens = Vec::new();
    let mut chars = sexp.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '(' | ')' => tokens.push(&sexp[start..start + 1]),
            ' ' => {}
            _ => {
                let quoted = c == '"';
                let mut end = start + c.len_utf8();
                while let Some(&(i, n)) = chars.peek() {
                    if quoted {
                        chars.next();
                        end = i + n.len_utf8();
                        if n == '"' {
                            break;
                        }
                    } else if n == ' ' || n == '(' || n == ')' {
                        break;
                    } else {
                        chars.next();
                        end = i + n.len_utf8();
                    }
                }
                tokens.push(&sexp[start..end]);
            }
        }
    }

    let mut out = String::new();
    let mut depth = 0usize;
    let mut prev = "";
    for token in tokens {
        match token {
            "(" => {
                if !out.is_empty() && !prev.ends_with(':') {
                    out.push('\n');
                    out.push_str(&"  ".repeat(depth));
                }
                out.push('(');
                depth += 1;
            }
            ")" => {
                out.push(')');
                depth = depth.saturating_sub(1);
            }
            field if field.ends_with(':') && !field.starts_with('"') => {
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
                out.push_str(field);
                out.push(' ');
            }
            atom => {
                if prev != "(" {
                    out.push(' ');
                }
                out.push_str(atom);
            }
        }
        prev = token;
    }
    out
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

fn parser() -> tree_sitter::Parser {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_prompt::LANGUAGE.into())
        .expect("load grammar");
    parser
}

#[test]
fn corpus() {
    let update = std::env::var_os("PROMPT_CORPUS_UPDATE").is_some();
    let mut parser = parser();
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut updates: Vec<(PathBuf, std::ops::Range<usize>, String)> = Vec::new();

    for file in corpus_files() {
        for case in parse_corpus_file(&file) {
            if case.skip {
                continue;
            }
            let tree = parser
                .parse(&case.input, None)
                .expect("parse returns a tree");
            let root = tree.root_node();
            if case.error {
                if root.has_error() {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{} / {}: expected an error, got {}",
                        case.file.display(),
                        case.name,
                        root.to_sexp()
                    ));
                }
                continue;
            }
            let mut actual = root.to_sexp();
            if !has_fields(&case.expected) {
                actual = strip_fields(&actual);
            }
            if actual == case.expected {
                passed += 1;
            } else {
                failures.push(format!(
                    "{} / {}:\n  expected: {}\n  actual:   {}\n{}",
                    case.file.file_name().unwrap().to_string_lossy(),
                    case.name,
                    case.expected,
                    actual,
                    format_sexp(&actual)
                ));
                updates.push((
                    case.file.clone(),
                    case.expected_range.clone(),
                    format_sexp(&actual),
                ));
            }
        }
    }

    if update && !updates.is_empty() {
        // Apply from the end of each file so earlier ranges stay valid.
        updates.sort_by(|a, b| (&a.0, b.1.start).cmp(&(&b.0, a.1.start)));
        for (file, range, tree) in &updates {
            let mut text = std::fs::read(file).unwrap();
            let replacement = format!("\n{tree}\n\n");
            let end = if range.end == text.len() {
                text.len()
            } else {
                range.end
            };
            text.splice(range.start..end, replacement.into_bytes());
            std::fs::write(file, text).unwrap();
        }
        eprintln!("updated {} corpus expectation(s)", updates.len());
    }

    assert!(
        failures.is_empty(),
        "{} corpus case(s) failed ({passed} passed):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(passed > 0, "no corpus cases found");
    println!("{passed} corpus cases passed");
}

#[test]
fn runner_detects_a_wrong_expectation() {
    // The comparison must be able to fail: a wrong tree is not "equal".
    let mut parser = parser();
    let tree = parser.parse("{{name}}", None).unwrap();
    let actual = strip_fields(&tree.root_node().to_sexp());
    assert_eq!(
        actual,
        normalize("(document\n  (mustache\n    (path\n      (identifier))))")
    );
    assert_ne!(actual, normalize("(document (mustache (path (this))))"));
    // Field names are compared only when the expectation has some.
    let with_fields = tree.root_node().to_sexp();
    assert!(has_fields("(a b: (c))"));
    assert_eq!(
        strip_fields("(a b: (c) d_e: (MISSING \"x: (\"))"),
        "(a (c) (MISSING \"x: (\"))"
    );
    assert_eq!(normalize(&format_sexp(&with_fields)), with_fields);
}

#[test]
fn corpus_parser_follows_the_cli_format() {
    let dir = std::env::temp_dir().join(format!("prompt-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.txt");
    std::fs::write(
        &file,
        "=====\nFirst\n:skip\n=====\n---\na: 1\n---\n-----------\n\n; comment\n(document\n  (frontmatter))\n\n=====\nSecond\n=====\nx\n---\n(document (text))\n",
    )
    .unwrap();
    let cases = parse_corpus_file(&file);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].name, "First");
    assert!(cases[0].skip);
    // The longest dash line is the divider, so `---` in the input survives.
    assert_eq!(cases[0].input, b"---\na: 1\n---");
    assert_eq!(cases[0].expected, "(document (frontmatter))");
    assert_eq!(cases[1].input, b"x");
    assert_eq!(cases[1].expected, "(document (text))");
}
