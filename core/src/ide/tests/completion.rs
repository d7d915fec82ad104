//! Completions: frontmatter keys and values, models, the template, schemas.

use super::*;

/// The completions at each cursor, each under a `## ` header with the line typed.
fn completions_at(sources: &[&str]) -> String {
    let mut out = String::new();
    for source in sources {
        let offset = source.find("$0").expect("a $0 cursor");
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..]
            .find('\n')
            .map_or(source.len(), |i| offset + i);
        writeln!(out, "## {:?}", &source[line_start..line_end]).unwrap();
        out.push_str(&show_completions(source));
    }
    out
}

#[test]
fn completes_frontmatter_keys() {
    let out = completions_at(&[
        // Keys already written are not offered again; the one being typed is.
        "---\nmodel: a/b\ninput:\n  schema:\n    x: string\n$0\n---\nHi",
        "---\nmodel: a/b\nmod$0\n---\n",
        // The key on the cursor's own line does not count as written.
        "---\nmodel$0: a/b\n---\n",
        "---\nmod$0\n---\nHi",
        // Unterminated frontmatter, half a key.
        "---\npromptls.me$0",
        "---\noutput:\n  fo$0\n---\n",
    ]);
    expect![[r###"
        ## "$0"
        replaces 6:1-6:1 ``
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "mod$0"
        replaces 3:1-3:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "model$0: a/b"
        replaces 2:1-2:6 `model`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "mod$0"
        replaces 2:1-2:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "promptls.me$0"
        replaces 2:1-2:12 `promptls.me`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        model (Key) inserts "model: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
        ## "  fo$0"
        replaces 3:3-3:5 `fo`
        format (Key) inserts "format: "
        schema (Key) inserts "schema: "
        jsonSchema (Key) inserts "jsonSchema: "
        constrained (Key) inserts "constrained: "
        contentType (Key) inserts "contentType: "
        instructions (Key) inserts "instructions: "
    "###]].assert_eq(&out);
}

#[test]
fn completes_frontmatter_values() {
    let out = completions_at(&[
        "---\noutput:\n  format: js$0\n---\n",
        "---\npromptls.metric: $0\n---\n",
        "---\npromptls.optimizer: {name: mi$0}\n---\n",
        "---\npromptls.optimizer: {name: mipro, tri$0}\n---\n",
        "---\npromptls.optimizer: $0\n---\n",
        "---\npromptls.dataset: data.csv\npromptls.target: $0\n---\n",
    ]);
    expect![[r###"
        ## "  format: js$0"
        replaces 3:11-3:13 `js`
        text (Value)
        json (Value)
        array (Value)
        enum (Value)
        jsonl (Value)
        media (Value)
        ## "promptls.metric: $0"
        replaces 2:18-2:18 ``
        exact_match (Metric)
        f1 (Metric)
        bleu (Metric)
        chrf (Metric)
        chrf++ (Metric)
        rouge1 (Metric)
        rouge2 (Metric)
        rougeL (Metric)
        rougeLsum (Metric)
        contains (Metric)
        regex (Metric)
        json_match (Metric)
        judge (Metric)
        ## "promptls.optimizer: {name: mi$0}"
        replaces 2:28-2:30 `mi`
        bootstrap (Optimizer)
        random (Optimizer)
        mipro (Optimizer)
        gepa (Optimizer)
        ## "promptls.optimizer: {name: mipro, tri$0}"
        replaces 2:35-2:38 `tri`
        name (Key) inserts "name: "
        trials (Key) inserts "trials: "
        demos (Key) inserts "demos: "
        auto (Key) inserts "auto: "
        seed (Key) inserts "seed: "
        max_bootstrapped_demos (Key) inserts "max_bootstrapped_demos: "
        max_labeled_demos (Key) inserts "max_labeled_demos: "
        minibatch (Key) inserts "minibatch: "
        minibatch_size (Key) inserts "minibatch_size: "
        threshold (Key) inserts "threshold: "
        max_calls (Key) inserts "max_calls: "
        max_cost (Key) inserts "max_cost: "
        ## "promptls.optimizer: $0"
        replaces 2:21-2:21 ``
        bootstrap (Optimizer)
        random (Optimizer)
        mipro (Optimizer)
        gepa (Optimizer)
        ## "promptls.target: $0"
        replaces 3:18-3:18 ``
        text (Column)
        label (Column)
    "###]]
    .assert_eq(&out);
}

#[test]
fn completes_models() {
    // Every model of the catalog; the list is long, so only its size and the ones
    // starting with what is typed.
    with_cursor("---\nmodel: gr$0\n---\n", |input, offset| {
        let items = completions(input, offset);
        let groq: Vec<CompletionItem> = items
            .iter()
            .filter(|i| i.label.starts_with("gr"))
            .cloned()
            .collect();
        let out = format!(
            "{} items, {} starting with `gr`:\n{}",
            items.len(),
            groq.len(),
            render_completions(input, groq)
        );
        expect![[r#"
            16 items, 3 starting with `gr`:
            replaces 2:8-2:10 `gr`
            groq/llama-3.1-8b-instant (Model)
            groq/llama-3.3-70b-versatile (Model)
            groq/gemma2-9b-it (Model)
        "#]]
        .assert_eq(&out);
    });
}

#[test]
fn completes_in_the_template() {
    let out = completions_at(&[
        &cursor_at("{{text}}", 2),
        "{{role \"us$0",
        "Hi {{#e$0",
        // Not inside a mustache: nothing.
        "Hello wor$0ld",
        // The word typed is what the completion replaces.
        "---\ninput:\n  schema:\n    name: string\n---\nHi {{na$0",
        "Hi {{#if$0",
    ]);
    expect![[r###"
        ## "{{$0text}}"
        replaces 22:3-22:3 ``
        text (Variable)
        tone (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{role \"us$0"
        replaces 1:9-1:11 `us`
        system (Role)
        user (Role)
        model (Role)
        tool (Role)
        ## "Hi {{#e$0"
        replaces 1:7-1:8 `e`
        if (Snippet) {{#if cond}}...{{else}}...{{/if}} snippet "if ${1:value}}}\n$0\n{{/if}}"
        unless (Snippet) {{#unless cond}}...{{/unless}} snippet "unless ${1:value}}}\n$0\n{{/unless}}"
        each (Snippet) {{#each items}}...{{/each}} snippet "each ${1:value}}}\n$0\n{{/each}}"
        with (Snippet) {{#with value}}...{{/with}} snippet "with ${1:value}}}\n$0\n{{/with}}"
        ifEquals (Snippet) {{#ifEquals a b}}...{{/ifEquals}} snippet "ifEquals ${1:a} ${2:b}}}\n$0\n{{/ifEquals}}"
        unlessEquals (Snippet) {{#unlessEquals a b}}...{{/unlessEquals}} snippet "unlessEquals ${1:a} ${2:b}}}\n$0\n{{/unlessEquals}}"
        ## "Hello wor$0ld"
        (no completions)
        ## "Hi {{na$0"
        replaces 6:6-6:8 `na`
        name (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "Hi {{#if$0"
        replaces 1:7-1:9 `if`
        if (Snippet) {{#if cond}}...{{else}}...{{/if}} snippet "if ${1:value}}}\n$0\n{{/if}}"
        unless (Snippet) {{#unless cond}}...{{/unless}} snippet "unless ${1:value}}}\n$0\n{{/unless}}"
        each (Snippet) {{#each items}}...{{/each}} snippet "each ${1:value}}}\n$0\n{{/each}}"
        with (Snippet) {{#with value}}...{{/with}} snippet "with ${1:value}}}\n$0\n{{/with}}"
        ifEquals (Snippet) {{#ifEquals a b}}...{{/ifEquals}} snippet "ifEquals ${1:a} ${2:b}}}\n$0\n{{/ifEquals}}"
        unlessEquals (Snippet) {{#unlessEquals a b}}...{{/unlessEquals}} snippet "unlessEquals ${1:a} ${2:b}}}\n$0\n{{/unlessEquals}}"
    "###]].assert_eq(&out);
}

#[test]
fn picoschema_types_complete_in_schemas() {
    let out = completions_at(&[
        "---\ninput:\n  schema:\n    text: str$0\n---\n{{text}}",
        "---\noutput:\n  schema:\n    who(object):\n      name: $0\n---\n",
        // JSON Schema: types after `type:` only.
        "---\ninput:\n  schema:\n    properties:\n      a:\n        type: $0\n---\n",
        "---\ninput:\n  schema:\n    properties:\n      a: $0\n---\n",
        // Not in other sections.
        "---\nconfig:\n  temperature: $0\n---\n",
    ]);
    expect![[r###"
        ## "    text: str$0"
        replaces 4:11-4:14 `str`
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        null (Value)
        any (Value)
        ## "      name: $0"
        replaces 5:13-5:13 ``
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        null (Value)
        any (Value)
        ## "        type: $0"
        replaces 6:15-6:15 ``
        string (Value)
        number (Value)
        integer (Value)
        boolean (Value)
        object (Value)
        array (Value)
        null (Value)
        ## "      a: $0"
        (no completions)
        ## "  temperature: $0"
        (no completions)
    "###]]
    .assert_eq(&out);
}

#[test]
fn completion_inside_each_offers_the_item() {
    let prompt = "---\ninput:\n  schema:\n    title: string\n    people(array):\n      name: string\n      age: integer\n---\n{{title}}\n";
    let out = completions_at(&[
        &format!("{prompt}{{{{#each people as |p|}}}}\n  {{{{na$0"),
        // After the block closes, or in its `{{else}}`, the input again.
        &format!("{prompt}{{{{#each people}}}}{{{{name}}}}{{{{/each}}}} {{{{$0"),
        &format!("{prompt}{{{{#each people}}}}x{{{{else}}}} {{{{$0"),
        // `if` keeps the context.
        &format!("{prompt}{{{{#if title}}}} {{{{$0"),
    ]);
    expect![[r###"
        ## "  {{na$0"
        replaces 11:5-11:7 `na`
        @index (Variable) the item's position, from 0
        @first (Variable) true for the first item
        @last (Variable) true for the last item
        @key (Variable) the key, when iterating an object
        this (Variable) the current `each` item
        name (Variable) field
        age (Variable) field
        p (Variable) `each` block parameter
        @root.title (Variable) the prompt's input
        @root.people (Variable) the prompt's input
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#each people}}{{name}}{{/each}} {{$0"
        replaces 10:37-10:37 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#each people}}x{{else}} {{$0"
        replaces 10:29-10:29 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
        ## "{{#if title}} {{$0"
        replaces 10:17-10:17 ``
        title (Variable)
        people (Variable)
        role (Helper) {{role "system"|"user"|"model"|"tool"}} snippet "role \"${1|system,user,model,tool|}\"}}"
        history (Helper) {{history}}
        section (Helper) {{section "name"}} snippet "section \"$1\"}}"
        media (Helper) {{media url=... contentType=...}} snippet "media url=$1}}"
        json (Helper) {{json value indent=2}} snippet "json $1}}"
        lookup (Helper) {{lookup object key}} snippet "lookup ${1:object} ${2:key}}}"
        log (Helper) {{log value}} snippet "log $1}}"
    "###]].assert_eq(&out);
}

#[test]
fn frontmatter_after_leading_comments() {
    let source = "# a comment\n\n---\nmodel: a/b # which model\nmod$0\n---\nHi";
    expect![[r###"
        ## "mod$0"
        replaces 5:1-5:4 `mod`
        name (Key) inserts "name: "
        variant (Key) inserts "variant: "
        version (Key) inserts "version: "
        description (Key) inserts "description: "
        tools (Key) inserts "tools: "
        toolDefs (Key) inserts "toolDefs: "
        config (Key) snippet "config:\n  temperature: ${1:0}"
        input (Key) snippet "input:\n  schema:\n    ${1:name}: ${2:string}"
        output (Key) snippet "output:\n  format: ${1|text,json,array,enum,jsonl,media|}"
        metadata (Key) inserts "metadata: "
        maxTurns (Key) inserts "maxTurns: "
        toolChoice (Key) inserts "toolChoice: "
        returnToolRequests (Key) inserts "returnToolRequests: "
        promptls.dataset (Key) inserts "promptls.dataset: "
        promptls.target (Key) inserts "promptls.target: "
        promptls.metric (Key) inserts "promptls.metric: "
        promptls.teacher (Key) inserts "promptls.teacher: "
        promptls.optimizer (Key) snippet "promptls.optimizer: {name: ${1|mipro,bootstrap,random,gepa|}, trials: ${2:20}, demos: ${3:3}}"
        promptls.split (Key) inserts "promptls.split: "
        promptls.judge (Key) inserts "promptls.judge: "
        promptls.threshold (Key) inserts "promptls.threshold: "
    "###]].assert_eq(&completions_at(&[source]));
    let text = source.replacen("$0", "", 1);
    expect![[r#"
        Comment 1:1-1:12 `# a comment`
        Delimiter 3:1-3:4 `---`
        Comment 4:12-4:25 `# which model`
        Delimiter 6:1-6:4 `---`
    "#]]
    .assert_eq(&show_tokens(&text));
    expect![[r#"
        frontmatter (Frontmatter) 3:1-7:1 "---\nmodel: a/b # which model\nmod\n---\n" selects 3:1-3:4 `---`
        fold Frontmatter 3:1-7:1 "---\nmodel: a/b # which model\nmod\n---\n"
    "#]].assert_eq(&show_outline(&text));
    // `#` inside quotes or a word is no comment.
    expect![[r#"
        Delimiter 1:1-1:4 `---`
        Key 2:1-2:2 `a`
        String 2:4-2:11 `"x # y"`
        Key 3:1-3:2 `b`
        String 3:4-3:7 `c#d`
        Delimiter 4:1-4:4 `---`
    "#]]
    .assert_eq(&show_tokens("---\na: \"x # y\"\nb: c#d\n---\n"));
}
