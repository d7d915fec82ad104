//! Parsing never fails: whatever the input, the parser returns a tree that
//! spans the whole document.

use tree_sitter::{InputEdit, Parser, Point, Tree};

fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_prompt::LANGUAGE.into())
        .expect("load grammar");
    parser
}

fn parse(parser: &mut Parser, text: &str) -> Tree {
    let tree = parser.parse(text, None).expect("parse returns a tree");
    // tree-sitter makes the root an ERROR node when no part of the input
    // could be reduced to a document (e.g. a thousand unclosed blocks).
    let kind = tree.root_node().kind();
    assert!(kind == "document" || kind == "ERROR", "root is {kind}");
    assert_eq!(
        tree.root_node().end_byte(),
        text.len(),
        "tree covers the input"
    );
    tree
}

/// A small deterministic PRNG (xorshift64*), so failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{{",
    "}}}",
    "{{{{",
    "}}}}",
    "{{{{/",
    "{{#",
    "{{/",
    "{{^",
    "{{>",
    "{{!",
    "{{!--",
    "--}}",
    "{{~",
    "~}}",
    "{{else",
    "else",
    "{{else}}",
    "{{#if x}}",
    "{{/if}}",
    "role",
    "history",
    "{{role \"user\"}}",
    "{{history}}",
    "promptls:demos",
    "/promptls:demos",
    "---",
    "---\n",
    "#",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "\\",
    "\\{{",
    "\"",
    "'",
    "(",
    ")",
    "=",
    "|",
    "as |",
    "@",
    ".",
    "..",
    "/",
    "[",
    "]",
    "a",
    "x.y",
    "42",
    "-1.5",
    "true",
    "null",
    "é",
    "世界",
    "🎉",
    "\u{0}",
    "\u{feff}",
    "{",
    "}",
    "-",
    "~",
];

#[test]
fn random_inputs_never_panic() {
    let mut parser = parser();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2_000 {
        let len = rng.below(60);
        let text: String = (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        parse(&mut parser, &text);
    }
}

#[test]
fn random_characters_never_panic() {
    let mut parser = parser();
    let mut rng = Rng(42);
    for _ in 0..500 {
        let len = rng.below(200);
        let text: String = (0..len)
            .map(|_| match rng.below(4) {
                0 => char::from_u32(rng.below(0x80) as u32).unwrap(),
                1 => ['{', '}', '-', '\n', '!', '~', '#', '/'][rng.below(8)],
                _ => char::from_u32(rng.below(0x3_0000) as u32).unwrap_or('?'),
            })
            .collect();
        parse(&mut parser, &text);
    }
}

#[test]
fn edge_inputs_return_a_tree() {
    let mut parser = parser();
    for text in [
        "",
        "{{",
        "}}",
        "{{{{",
        "---",
        "---\n",
        "---\n---",
        "\n---\n",
        "#",
        "# x\n",
        "\\",
        "\\{{",
        "{{!",
        "{{!--",
        "{{!-- promptls:demos --}}",
        "{{!-- /promptls:demos --}}",
        "{{#if}}",
        "{{/if}}",
        "{{else}}",
        "{{role}}",
        "{{role ",
        "{{history",
        "{{{{raw}}}}",
        "{{@}}",
        "{{a.}}",
        "{{[unclosed}}",
        "{{x as |}}",
        "\r\n\r\n",
    ] {
        parse(&mut parser, text);
    }
}

#[test]
fn deep_nesting_of_a_thousand_blocks() {
    let mut parser = parser();
    let closed = format!("{}x{}", "{{#if a}}".repeat(1000), "{{/if}}".repeat(1000));
    let tree = parse(&mut parser, &closed);
    assert!(!tree.root_node().has_error());

    let unclosed = format!("{}x", "{{#if a}}".repeat(1000));
    let tree = parse(&mut parser, &unclosed);
    assert!(tree.root_node().has_error());

    let subexpressions = format!("{{{{f {}x{}}}}}", "(g ".repeat(1000), ")".repeat(1000));
    parse(&mut parser, &subexpressions);
}

#[test]
fn ten_thousand_line_template() {
    let mut parser = parser();
    let mut text = String::from("---\nmodel: openai/gpt-4o\n---\n{{role \"system\"}}\n");
    for i in 0..10_000 {
        text.push_str(match i % 5 {
            0 => "Hello {{name}} and {{json data indent=2}}\n",
            1 => "{{#if a}}yes{{else if b}}maybe{{else}}no{{/if}}\n",
            2 => "plain text line with unicode é 世界\n",
            3 => "{{!-- a comment --}} {{> partial ctx}}\n",
            _ => "{{role \"user\"}}\n",
        });
    }
    let tree = parse(&mut parser, &text);
    assert!(!tree.root_node().has_error());
}

#[test]
fn incremental_reparse_matches_a_fresh_parse() {
    let mut parser = parser();
    let before = "---\nmodel: x\n---\n{{#if a}}\nhello {{name}}\n{{/if}}\n";
    let mut tree = parse(&mut parser, before);

    // Break the frontmatter's closing line, then the mustache, then fix both.
    let edits: &[(&str, &str)] = &[
        ("\n---\n{{", "\n--\n{{"),
        ("{{name}}", "{name}}"),
        ("\n--\n{{", "\n---\n{{"),
        ("{name}}", "{{name}}"),
    ];
    let mut text = before.to_string();
    for &(find, new) in edits {
        let start = text.find(find).expect("edit target");
        let old_end = start + find.len();
        let point = |s: &str, byte: usize| {
            let line = s[..byte].matches('\n').count();
            let column = byte - s[..byte].rfind('\n').map_or(0, |p| p + 1);
            Point::new(line, column)
        };
        let new_end = start + new.len();
        let edit = InputEdit {
            start_byte: start,
            old_end_byte: old_end,
            new_end_byte: new_end,
            start_position: point(&text, start),
            old_end_position: point(&text, old_end),
            new_end_position: {
                let mut t = text.clone();
                t.replace_range(start..old_end, new);
                point(&t, new_end)
            },
        };
        text.replace_range(start..old_end, new);
        tree.edit(&edit);
        tree = parser.parse(&text, Some(&tree)).expect("reparse");
        let fresh = parse(&mut parser, &text);
        assert_eq!(
            tree.root_node().to_sexp(),
            fresh.root_node().to_sexp(),
            "after edit {text:?}"
        );
    }
    assert_eq!(text, before);
    assert!(!tree.root_node().has_error());
}

#[test]
fn data_variables_are_marked_by_a_field() {
    let mut parser = parser();
    let text = "{{@root.x}} {{root.x}}";
    let tree = parse(&mut parser, text);
    let root = tree.root_node();
    let paths: Vec<_> = (0..root.named_child_count())
        .filter_map(|i| root.named_child(i))
        .filter(|n| n.kind() == "mustache")
        .map(|m| m.named_child(0).unwrap())
        .collect();
    assert_eq!(paths.len(), 2);
    let data = paths[0].child_by_field_name("data").expect("data field");
    assert_eq!(data.kind(), "@");
    assert!(paths[1].child_by_field_name("data").is_none());
}
