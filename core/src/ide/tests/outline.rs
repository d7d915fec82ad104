//! The outline (document symbols) and the folds.

use super::*;

#[test]
fn outline_and_folds() {
    expect![[r#"
        frontmatter (Frontmatter) 1:1-12:1 "---\nmodel: openai/gp"…"t_match\n---\n" selects 1:1-1:4 `---`
          model (Key) "openai/gpt-4o-mini" 2:1-2:26 `model: openai/gpt-4o-mini` selects 2:1-2:6 `model`
          input (Key) 3:1-7:1 "input:\n  schema:\n   "…"ne?: string\n" selects 3:1-3:6 `input`
          output (Key) 7:1-9:1 "output:\n  format: text\n" selects 7:1-7:7 `output`
          promptls.dataset (Key) "data.csv" 9:1-9:27 `promptls.dataset: data.csv` selects 9:1-9:17 `promptls.dataset`
          promptls.metric (Key) "exact_match" 10:1-10:29 `promptls.metric: exact_match` selects 10:1-10:16 `promptls.metric`
        system (Role) 12:1-20:1 "{{role \"system\"}}\n{{"…":demos --}}\n" selects 12:1-12:18 `{{role "system"}}`
          > persona (Partial) 13:1-13:24 `{{> persona tone=tone}}` selects 13:5-13:12 `persona`
          demos (Demos) "2 turns" 14:1-19:27 "{{!-- promptls:demos"…"s:demos --}}" selects 14:1-14:26 `{{!-- promptls:demos --}}`
            user (Role) "ok" 15:1-17:1 "{{role \"user\"}}\nok\n" selects 15:1-15:16 `{{role "user"}}`
            model (Role) "positive" 17:1-19:1 "{{role \"model\"}}\npositive\n" selects 17:1-17:17 `{{role "model"}}`
        user (Role) 20:1-22:9 "{{role \"user\"}}\n{{#i"…"f}}\n{{text}}" selects 20:1-20:16 `{{role "user"}}`
        fold Frontmatter 1:1-12:1 "---\nmodel: openai/gp"…"t_match\n---\n"
        fold Demos 14:1-19:27 "{{!-- promptls:demos"…"s:demos --}}"
    "#]].assert_eq(&show_outline(PROMPT));
}

#[test]
fn frontmatter_symbols_show_short_values() {
    let source = "---\nmodel: a/b\nconfig: {temperature: 0}\ninput:\n  schema:\n    x: string\nempty:\n---\n{{x}}";
    expect![[r#"
        frontmatter (Frontmatter) 1:1-9:1 "---\nmodel: a/b\nconfi"…"\nempty:\n---\n" selects 1:1-1:4 `---`
          model (Key) "a/b" 2:1-2:11 `model: a/b` selects 2:1-2:6 `model`
          config (Key) "{temperature: 0}" 3:1-3:25 `config: {temperature: 0}` selects 3:1-3:7 `config`
          input (Key) 4:1-7:1 "input:\n  schema:\n    x: string\n" selects 4:1-4:6 `input`
          empty (Key) 7:1-7:6 `empty` selects 7:1-7:6 `empty`
        fold Frontmatter 1:1-9:1 "---\nmodel: a/b\nconfi"…"\nempty:\n---\n"
    "#]].assert_eq(&show_outline(source));
    // Broken YAML: the frontmatter symbol and fold remain.
    expect![[r#"
        frontmatter (Frontmatter) 1:1-4:1 "---\na: [\n---\n" selects 1:1-1:4 `---`
        fold Frontmatter 1:1-4:1 "---\na: [\n---\n"
    "#]]
    .assert_eq(&show_outline("---\na: [\n---\nHi"));
}

#[test]
fn a_demo_turn_with_no_text_has_no_detail() {
    let source = "{{role \"system\"}}\n{{!-- promptls:demos --}}\n{{role \"user\"}}\n\n{{!-- /promptls:demos --}}\n";
    expect![[r#"
        system (Role) 1:1-6:1 "{{role \"system\"}}\n{{"…":demos --}}\n" selects 1:1-1:18 `{{role "system"}}`
          demos (Demos) "1 turn" 2:1-5:27 "{{!-- promptls:demos"…"s:demos --}}" selects 2:1-2:26 `{{!-- promptls:demos --}}`
            user (Role) 3:1-5:1 "{{role \"user\"}}\n\n" selects 3:1-3:16 `{{role "user"}}`
        fold Demos 2:1-5:27 "{{!-- promptls:demos"…"s:demos --}}"
    "#]].assert_eq(&show_outline(source));
}
