//! Compatibility proof: every example, with every row of its dataset, rendered by the
//! reference npm `dotprompt` package (Node) and by promptls must give the same result:
//! messages and metadata alike.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use promptls_core::data::dataset::Dataset;
use promptls_core::render::{DataArgument, Renderer};
use promptls_core::{settings, syntax};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn prompts(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            prompts(&path, out);
        } else if path.extension().is_some_and(|e| e == "prompt")
            && !path.file_name().unwrap().to_string_lossy().starts_with('_')
        {
            out.push(path);
        }
    }
}

/// (file, data) pairs: each example with each dataset row, or with no input.
fn cases() -> Vec<(PathBuf, DataArgument)> {
    let mut files = Vec::new();
    prompts(&repo().join("examples"), &mut files);
    files.sort();
    assert!(files.len() >= 3, "examples missing: {files:?}");
    let mut cases = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let parsed = syntax::parse(&source);
        let dataset = parsed
            .frontmatter
            .as_ref()
            .and_then(|fm| settings::get(fm, "dataset"))
            .and_then(|d| d.as_str())
            .map(|rel| Dataset::load(&file.parent().unwrap().join(rel)).unwrap());
        match dataset {
            Some(d) => {
                for row in d.rows {
                    cases.push((
                        file.clone(),
                        DataArgument {
                            input: row.values,
                            ..Default::default()
                        },
                    ));
                }
            }
            None => cases.push((file.clone(), DataArgument::default())),
        }
    }
    cases
}

/// Equal as JSON, with numbers compared by value (the reference has no 1 vs 1.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn examples_render_like_the_npm_reference() {
    let compat = repo().join("tests/compat");
    // Missing data fails the test, in CI or not: a skipped comparison proves nothing.
    assert!(
        compat.join("node_modules/dotprompt").exists(),
        "the reference renderer (npm `dotprompt`) is not installed in {}: \
         run `npm ci --prefix tests/compat` (scripts/test does)",
        compat.join("node_modules").display()
    );
    let cases = cases();
    let mut child = Command::new("node")
        .arg(compat.join("render.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    {
        let mut stdin = child.stdin.take().unwrap();
        for (file, data) in &cases {
            writeln!(stdin, "{}", json!({"file": file, "data": data})).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "node failed");
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());

    let mut failures = Vec::new();
    for ((file, data), answer) in cases.iter().zip(&answers) {
        let reference = answer
            .get("ok")
            .unwrap_or_else(|| panic!("reference failed on {file:?}: {answer}"));
        let source = std::fs::read_to_string(file).unwrap();
        let ours = Renderer::for_file(file)
            .compile(&source)
            .and_then(|c| c.render(data, None))
            .map(|r| r.to_json())
            .unwrap_or_else(|e| json!({"error": e.to_string()}));
        if !same(&ours, reference) {
            failures.push(format!(
                "{} with {}:\n  promptls:  {ours}\n  reference: {reference}",
                file.display(),
                json!(data.input)
            ));
        }
    }
    println!(
        "compat: {}/{} renders identical to npm dotprompt",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
