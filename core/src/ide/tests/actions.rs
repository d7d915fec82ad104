//! Code actions: quick fixes that resolve their diagnostic, created partials, declared
//! variables.

use super::*;

#[test]
fn quick_fixes_resolve_their_diagnostics() {
    expect![[r#"
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        after:
        ---
        input:
          schema:
            text: string
            tone: string
        ---
        {{text}} {{tone}}
    "#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n",
        "undeclared-variable",
        "Declare `tone` in input.schema",
    ));
    // The last entry without a trailing line break, and a nested entry.
    expect![[r#"
        "Declare `x` in input.schema" for undeclared-variable at 7:12-7:13 `x` (preferred)
          edit /w/p.prompt 6:1-6:1 `` → "    x: string\n"
        after:
        ---
        input:
          schema:
            tags(array):
              - string
            x: string
        ---
        {{tags}} {{x}}"#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    tags(array):\n      - string\n---\n{{tags}} {{x}}",
        "undeclared-variable",
        "Declare `x` in input.schema",
    ));
    expect![[r#"
        "Remove unused input `unused`" for unused-variable at 5:5-5:12 `unused?` (preferred)
          edit /w/p.prompt 5:1-6:1 "    unused?: integer\n" → ""
        after:
        ---
        input:
          schema:
            text: string
        ---
        {{text}}
    "#]]
    .assert_eq(&fix(
        "---\ninput:\n  schema:\n    text: string\n    unused?: integer\n---\n{{text}}\n",
        "unused-variable",
        "Remove unused input `unused`",
    ));
    expect![[r#"
        "Rename to `model`" for unknown-key at 2:1-2:6 `modle` (preferred)
          edit /w/p.prompt 2:1-2:6 `modle` → "model"
        after:
        ---
        model: a/b
        ---
        Hi"#]]
    .assert_eq(&fix(
        "---\nmodle: a/b\n---\nHi",
        "unknown-key",
        "Rename to `model`",
    ));
}

#[test]
fn creates_a_missing_partial() {
    let source = "Hi {{> sig}}";
    expect![[r#"
        "Create partial `_sig.prompt`" for missing-partial at 1:8-1:11 `sig` (preferred)
          create /w/_sig.prompt "{{!-- The partial `sig`, included with {{> sig}}. --}}\n"
    "#]]
    .assert_eq(&show_actions(source, Span::empty(8)));
    // The created file resolves the diagnostic, and is clean itself.
    let created = whole(source, |input| {
        let diagnostics = check::check_parsed(input);
        code_actions(input, &diagnostics, Span::empty(8))
            .into_iter()
            .find(|a| a.code == "missing-partial")
            .expect("an action")
    });
    let [FileChange::Create { path, contents }] = &created.changes[..] else {
        panic!("{created:?}");
    };
    let extra = [(path.to_str().unwrap(), contents.as_str())];
    let after = analyze(source, PATH, &extra, |input, _| check::check_parsed(input));
    assert!(after.is_empty(), "{after:?}");
    let partial = analyze(contents, path.to_str().unwrap(), &extra, |input, _| {
        check::check_parsed(input)
    });
    assert!(partial.is_empty(), "{partial:?}");
}

#[test]
fn code_actions_only_for_diagnostics_at_the_range() {
    let source = "---\ninput:\n  schema:\n    text: string\n---\n{{text}} {{tone}}\n";
    let tone = source.find("tone").unwrap();
    let out: String = [
        ("at the start", Span::empty(tone)),
        ("at the end", Span::empty(tone + 4)),
        ("inside", Span::new(tone + 1, tone + 2)),
        // A selection ending where the diagnostic starts does not intersect it.
        ("ending at the start", Span::new(tone - 3, tone)),
        ("elsewhere", Span::empty(0)),
    ]
    .iter()
    .map(|(name, range)| format!("## {name}\n{}", show_actions(source, *range)))
    .collect();
    expect![[r###"
        ## at the start
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## at the end
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## inside
        "Declare `tone` in input.schema" for undeclared-variable at 6:12-6:16 `tone` (preferred)
          edit /w/p.prompt 5:1-5:1 `` → "    tone: string\n"
        ## ending at the start
        (no actions)
        ## elsewhere
        (no actions)
    "###]]
    .assert_eq(&out);
}

/// Declares the variable `{{x}}` through the quick fix, whatever shape the schema (or
/// its absence) has; the result declares `x`, parses cleanly, and has no
/// `undeclared-variable` left.
fn declare_x(source: &str) -> String {
    let fixed = whole(source, |input| {
        let at = source.rfind("{{x}}").expect("{{x}}") + 2;
        let d = check::Diagnostic::warning("undeclared-variable", Span::new(at, at + 1), "x");
        let actions = code_actions(input, std::slice::from_ref(&d), Span::empty(at));
        let action = actions
            .iter()
            .find(|a| a.title == "Declare `x` in input.schema")
            .unwrap_or_else(|| panic!("no action in {actions:?} for {source:?}"));
        apply(source, action)
    });
    whole(&fixed, |input| {
        assert!(
            input.parsed().errors.is_empty(),
            "{:?}\n{fixed}",
            input.parsed().errors
        );
        let schemas = facts::schemas(input);
        assert!(
            schemas.input_fields().is_some_and(|f| f.contains(&"x")),
            "{fixed}\n{schemas:?}"
        );
        assert!(
            !check::check_parsed(input)
                .iter()
                .any(|d| d.code == "undeclared-variable"),
            "{fixed}"
        );
    });
    fixed
}

#[test]
fn declaring_a_variable_creates_what_is_missing() {
    // A carriage return shows as `\r` (a snapshot cannot hold a bare one).
    let check =
        |source: &str, expect: Expect| expect.assert_eq(&declare_x(source).replace('\r', "\\r"));
    check(
        "Hi {{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        ---
        Hi {{x}}"#]],
    );
    check(
        "---\nmodel: a/b\n---\nHi {{x}}",
        expect![[r#"
        ---
        model: a/b
        input:
          schema:
            x: string
        ---
        Hi {{x}}"#]],
    );
    check(
        "---\ninput:\n  default:\n    x: hi\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          default:
            x: hi
          schema:
            x: string
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\nmodel: a/b\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        model: a/b
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema:\nmodel: a/b\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema:
            x: string
        model: a/b
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema: {a: string}\n---\n{{a}} {{x}}",
        expect![[r#"
            ---
            input:
              schema: {a: string, x: string}
            ---
            {{a}} {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema: {}\n---\n{{x}}",
        expect![[r#"
        ---
        input:
          schema: {x: string}
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput: {default: {x: 1}}\n---\n{{x}}",
        expect![[r#"
        ---
        input: {default: {x: 1}, schema: {x: string}}
        ---
        {{x}}"#]],
    );
    check(
        "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: string}\n---\n{{a}} {{x}}",
        expect![[r#"
            ---
            input:
              schema:
                type: object
                properties:
                  a: {type: string}
                  x: {type: string}
            ---
            {{a}} {{x}}"#]],
    );
    // CRLF files without a frontmatter, with an empty one, and without `input`.
    check(
        "{{x}}\r\n",
        expect![[r#"
        ---\r
        input:\r
          schema:\r
            x: string\r
        ---\r
        {{x}}\r
    "#]],
    );
    check(
        "---\r\n---\r\n{{x}}\r\n",
        expect![[r#"
        ---\r
        input:\r
          schema:\r
            x: string\r
        ---\r
        {{x}}\r
    "#]],
    );
    check(
        "---\r\nmodel: m\r\n---\r\n{{x}}\r\n",
        expect![[r#"
        ---\r
        model: m\r
        input:\r
          schema:\r
            x: string\r
        ---\r
        {{x}}\r
    "#]],
    );
    // CRLF and a schema as the last key: the inserted line ends in `\r\n` too.
    check(
        "---\r\ninput:\r\n  schema:\r\n    a: string\r\n---\r\n{{a}} {{x}}",
        expect![[r#"
            ---\r
            input:\r
              schema:\r
                a: string\r
                x: string\r
            ---\r
            {{a}} {{x}}"#]],
    );
}
