//! Hovers: on frontmatter keys and values, schema fields at any depth, variables.

use super::*;

#[test]
fn hovers() {
    let out = show_hovers(
        PROMPT,
        &[
            ("model:", 1),
            ("openai/gpt-4o-mini", 3),
            ("{{text}}", 3),
            ("#if", 2),
            ("> persona", 3),
            ("exact_match", 2),
            ("promptls.dataset", 10),
            ("data.csv", 2),
            ("format:", 1),
            ("\"system\"", 2),
            // Nothing at plain text.
            ("positive\n{{!--", 2),
        ],
    );
    expect![[r###"
        ## "model:"+1
        2:1-2:6 `model`
        `model`: The model to call, as `provider/model` (e.g. `groq/llama-3.1-8b-instant`, `openai/gpt-4o-mini`, `googleai/gemini-2.0-flash`).
        ## "openai/gpt-4o-mini"+3
        2:8-2:26 `openai/gpt-4o-mini`
        **openai/gpt-4o-mini**

        Provider: OpenAI

        Context window: 128,000 tokens

        List price per million tokens: $0.15 input, $0.6 output
        ## "{{text}}"+3
        22:3-22:7 `text`
        input `text`: string

        the review

        Dataset, first row: `Great phone`
        ## "#if"+2
        21:4-21:6 `if`
        ```handlebars
        {{#if cond}}...{{else}}...{{/if}}
        ```
        Renders the block when `cond` is truthy (JavaScript truthiness; empty arrays are falsy).
        ## "> persona"+3
        13:5-13:12 `persona`
        partial `persona` (/w/_persona.prompt)

        ```handlebars
        You are {{tone}}.
        ```
        ## "exact_match"+2
        10:18-10:29 `exact_match`
        metric `exact_match`: 1 when the answer equals the target (after trimming and normalisation), else 0.
        ## "promptls.dataset"+10
        9:1-9:17 `promptls.dataset`
        `promptls.dataset`: path of a CSV or JSONL file, relative to the prompt.

        Rows are the inputs for evaluation and optimization: CSV with a header row, or JSON Lines. Columns match `input.schema` fields.
        ## "data.csv"+2
        9:19-9:27 `data.csv`
        Dataset `/w/data.csv`: 1 row; columns `text`, `label`
        ## "format:"+1
        8:3-8:9 `format`
        `output.format`: The answer's format: `text`, `json`, `array`, `enum`, `jsonl` or `media`. With `json`, promptls validates demos (and model outputs) against `output.schema`.
        ## "\"system\""+2
        12:8-12:16 `"system"`
        role `system`: Instructions for the model; sent first.
        ## "positive\n{{!--"+2
        (no hover)
    "###]].assert_eq(&out);
}

#[test]
fn schema_fields_hover_at_any_depth() {
    let source = "---\ninput:\n  schema:\n    who(object):\n      name: string, full name\n    tags?(array): string\noutput:\n  format: json\n  schema:\n    phone?: string, as written\n    people(array):\n      age: integer\n---\n{{who.name}} {{tags}}";
    let out = show_hovers(
        source,
        &[
            ("phone?", 1),
            ("age:", 1),
            ("name: string", 1),
            ("tags?", 1),
        ],
    );
    expect![[r###"
        ## "phone?"+1
        10:5-10:11 `phone?`
        output field `phone`: string (optional)

        as written
        ## "age:"+1
        12:7-12:10 `age`
        output field `people.age`: integer
        ## "name: string"+1
        5:7-5:11 `name`
        input field `who.name`: string

        full name
        ## "tags?"+1
        6:5-6:17 `tags?(array)`
        input `tags`: array of string (optional)
    "###]]
    .assert_eq(&out);
    let json = "---\ninput:\n  schema:\n    type: object\n    properties:\n      a: {type: integer, description: count}\n---\n{{a}}";
    expect![[r###"
        ## "a: {"+0
        6:7-6:8 `a`
        input field `a`: integer (optional)

        count
    "###]]
    .assert_eq(&show_hovers(json, &[("a: {", 0)]));
}

#[test]
fn hovers_on_data_variables_and_root_paths() {
    let source = "---\ninput:\n  schema:\n    text: string, the review\n    xs(array): string\n---\n{{#each xs}}{{@index}} {{this}} {{@root.text}}{{/each}}";
    let out = show_hovers(source, &[("@index", 2), ("this}}", 1), ("@root.text", 7)]);
    expect![[r###"
        ## "@index"+2
        7:15-7:21 `@index`
        `@index`: Inside `{{#each}}`: the item's position, counting from 0.
        ## "this}}"+1
        7:26-7:30 `this`
        `this`: The current context: the prompt's input at the top, the item inside `{{#each}}`, the value inside `{{#with}}`.
        ## "@root.text"+7
        7:35-7:45 `@root.text`
        input `text`: string

        the review
    "###]].assert_eq(&out);
    expect![[r#"
        /w/p.prompt 4:5-4:9 `text`
    "#]]
    .assert_eq(&show_definition(&cursor_in(source, "@root.text", 7), &[]));
}
