//! Go to definition, document links and the files a prompt depends on.

use super::*;

#[test]
fn definitions() {
    let out: String = [
        ("> persona", 4),
        ("data.csv", 1),
        ("{{text}}", 3),
        ("positive\n{{!--", 1),
    ]
    .iter()
    .map(|(needle, within)| {
        format!(
            "## {needle:?}+{within}\n{}",
            show_definition(&cursor_at(needle, *within), &[])
        )
    })
    .collect();
    expect![[r###"
        ## "> persona"+4
        /w/_persona.prompt
        ## "data.csv"+1
        /w/data.csv
        ## "{{text}}"+3
        /w/p.prompt 5:5-5:9 `text`
        ## "positive\n{{!--"+1
        (no definition)
    "###]]
    .assert_eq(&out);
}

#[test]
fn definitions_in_the_dataset() {
    let extra = [
        ("/w/q.csv", "\u{feff}id, \"the text\",label\r\n1,a,b\n"),
        (
            "/w/r.jsonl",
            "\n{\"id\": 1, \"question\": \"é?\", \"label\": \"x\"}\n",
        ),
    ];
    let out: String = [
        "---\npromptls.dataset: q.csv\npromptls.target: lab$0el\n---\n",
        "---\npromptls.dataset: q.csv\npromptls.target: the text$0\n---\n",
        // Without a schema a variable is a column.
        "---\npromptls.dataset: r.jsonl\n---\n{{ques$0tion}}",
        "---\npromptls.dataset: r.jsonl\n---\n{{nope$0}}",
        // With a schema, a variable the schema lacks has no definition.
        "---\ninput:\n  schema:\n    a: string\npromptls.dataset: r.jsonl\n---\n{{a}}{{ques$0tion}}",
    ]
    .iter()
    .map(|source| {
        let line = source.lines().find(|l| l.contains("$0")).unwrap();
        format!("## {line:?}\n{}", show_definition(source, &extra))
    })
    .collect();
    expect![[r###"
        ## "promptls.target: lab$0el"
        /w/q.csv 1:17-1:22 `label`
        ## "promptls.target: the text$0"
        /w/q.csv 1:7-1:15 `the text`
        ## "{{ques$0tion}}"
        /w/r.jsonl 2:12-2:20 `question`
        ## "{{nope$0}}"
        (no definition)
        ## "{{a}}{{ques$0tion}}"
        (no definition)
    "###]]
    .assert_eq(&out);
}

#[test]
fn links_and_dependencies() {
    let show = |source: &str, path: &str| {
        analyze(source, path, &[], |input, _| {
            let mut out = String::new();
            for l in links(input) {
                writeln!(
                    out,
                    "link {} → {}",
                    at(input.source(), l.span),
                    l.target.display()
                )
                .unwrap();
            }
            for d in dependencies(input) {
                writeln!(out, "depends on {}", d.display()).unwrap();
            }
            out
        })
    };
    expect![[r#"
        link 9:19-9:27 `data.csv` → /w/data.csv
        link 13:5-13:12 `persona` → /w/_persona.prompt
        depends on /w/_persona.prompt
        depends on /w/data.csv
    "#]]
    .assert_eq(&show(PROMPT, PATH));
    // A variant depends on its base; a missing partial is still a dependency.
    expect![[r#"
        link 1:8-1:15 `missing` → /w/_missing.prompt
        depends on /w/_missing.prompt
        depends on /w/p.prompt
    "#]]
    .assert_eq(&show("Hi {{> missing}}", "/w/p.short.prompt"));
}
