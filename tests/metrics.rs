//! promptls's tier-2 metrics against the numbers sacrebleu 2.x and rouge-score 0.1.2
//! produce for the same pairs (tests/fixtures/metrics.json, written by
//! scripts/metrics_fixture.py): agreement within 1e-12 relative.

use promptls_core::eval::metrics::{self, bleu, chrf, rouge, Metric, Options};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("the metric fixture is committed");
    serde_json::from_str(&text).expect("the fixture is JSON")
}

fn agrees(ours: f64, theirs: f64) -> bool {
    ours == theirs || (ours - theirs).abs() <= 1e-12 * ours.abs().max(theirs.abs())
}

#[test]
fn row_scores_agree_with_sacrebleu_and_rouge_score() {
    let fixture = fixture();
    let pairs = fixture["pairs"].as_array().unwrap();
    assert!(pairs.len() >= 300, "the fixture has {} pairs", pairs.len());
    let mut checked = 0;
    let mut disagreements = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let prediction = pair["prediction"].as_str().unwrap();
        let references: Vec<&str> = pair["references"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let stemmed =
            |kind: rouge::Kind| rouge::rouge_multi_with(kind, &references, prediction, true);
        let ours = [
            ("bleu", bleu::sentence_bleu(prediction, &references)),
            ("chrf", chrf::sentence_chrf(prediction, &references, 0)),
            ("chrf++", chrf::sentence_chrf(prediction, &references, 2)),
            (
                "rouge1",
                rouge::rouge_multi(rouge::Kind::Rouge1, &references, prediction),
            ),
            (
                "rouge2",
                rouge::rouge_multi(rouge::Kind::Rouge2, &references, prediction),
            ),
            (
                "rougeL",
                rouge::rouge_multi(rouge::Kind::RougeL, &references, prediction),
            ),
            (
                "rougeLsum",
                rouge::rouge_multi(rouge::Kind::RougeLsum, &references, prediction),
            ),
            ("rouge1_stemmed", stemmed(rouge::Kind::Rouge1)),
            ("rouge2_stemmed", stemmed(rouge::Kind::Rouge2)),
            ("rougeL_stemmed", stemmed(rouge::Kind::RougeL)),
            ("rougeLsum_stemmed", stemmed(rouge::Kind::RougeLsum)),
        ];
        for (name, value) in ours {
            let theirs = pair[name].as_f64().unwrap();
            if !agrees(value, theirs) {
                disagreements.push(format!(
                    "pair {i} {name}: ours {value}, reference {theirs}; {pair}"
                ));
            }
            // The 0..1 row score the evaluation uses is the same number.
            let options = Options {
                rouge_stemmer: name.ends_with("_stemmed"),
                ..Options::default()
            };
            let metric = Metric::from_name(name.trim_end_matches("_stemmed")).unwrap();
            let row = metrics::score_row(metric, prediction, &references, &options).unwrap();
            let scale = if name.starts_with("rouge") {
                1.0
            } else {
                100.0
            };
            if !agrees(row, theirs / scale) {
                disagreements.push(format!(
                    "pair {i} {name} as a row score: {row} vs {}",
                    theirs / scale
                ));
            }
            checked += 1;
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {checked} scores disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    println!(
        "metrics: {checked} row scores agree with sacrebleu {} / rouge-score {}",
        fixture["sacrebleu"], fixture["rouge_score"]
    );
}

#[test]
fn porter_stems_agree_with_nltk() {
    let fixture = fixture();
    let stems = fixture["porter_stems"]
        .as_object()
        .expect("porter_stems in the fixture");
    assert!(stems.len() > 3000, "{} words", stems.len());
    let wrong: Vec<String> = stems
        .iter()
        .filter_map(|(word, expected)| {
            let ours = promptls_core::eval::metrics::porter::stem(word);
            (ours != expected.as_str().unwrap())
                .then(|| format!("{word}: ours {ours}, nltk {expected}"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} stems differ:\n{}",
        wrong.len(),
        stems.len(),
        wrong.join("\n")
    );
}

#[test]
fn corpus_scores_agree_with_sacrebleu() {
    let fixture = fixture();
    let pairs = fixture["pairs"].as_array().unwrap();
    let rows = || {
        pairs.iter().map(|p| {
            (
                p["prediction"].as_str().unwrap(),
                p["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect::<Vec<_>>(),
            )
        })
    };
    let corpus = &fixture["corpus"];
    let checks = [
        ("bleu", bleu::corpus_bleu(rows())),
        ("chrf", chrf::corpus_chrf(rows(), 0)),
        ("chrf++", chrf::corpus_chrf(rows(), 2)),
    ];
    for (name, ours) in checks {
        let theirs = corpus[name].as_f64().unwrap();
        assert!(
            agrees(ours, theirs),
            "corpus {name}: ours {ours}, sacrebleu {theirs}"
        );
        let metric = Metric::from_name(name).unwrap();
        assert!(agrees(
            metrics::aggregate(metric, rows(), &[]),
            theirs / 100.0
        ));
    }
}

#[test]
fn score_command_prints_rows_and_the_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("outputs.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"prediction": "The cat sat on the mat.", "references": ["A cat sat on a mat.", "The cat is on the mat."]}"#,
            "\n",
            r#"{"prediction": "positive", "reference": "Positive"}"#,
            "\n\nnot json\n",
            r#"{"prediction": "x"}"#,
            "\n",
        ),
    )
    .unwrap();
    let run = |metric: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_promptls"))
            .args(["score", "--metric", metric])
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run("bleu");
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad lines make the exit status 1"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("outputs.jsonl:4: not JSON"), "{stderr}");
    assert!(
        stderr.contains("outputs.jsonl:5: no `reference`"),
        "{stderr}"
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["row"], 1);
    assert!(agrees(
        lines[0]["score"].as_f64().unwrap(),
        62.23329772884783 / 100.0
    ));
    assert_eq!(lines[1]["line"], 2);
    let last = &lines[2];
    assert_eq!(
        (
            last["metric"].as_str(),
            last["rows"].as_u64(),
            last["errors"].as_u64()
        ),
        (Some("bleu"), Some(2), Some(2))
    );
    let corpus = bleu::corpus_bleu([
        (
            "The cat sat on the mat.",
            vec!["A cat sat on a mat.", "The cat is on the mat."],
        ),
        ("positive", vec!["Positive"]),
    ]);
    assert!(agrees(last["score"].as_f64().unwrap(), corpus / 100.0));

    let exact = run("exact_match");
    let text = String::from_utf8(exact.stdout).unwrap();
    assert!(
        text.lines().last().unwrap().contains(r#""score":0.5"#),
        "{text}"
    );
    let unknown = run("nope");
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn score_rows_matches_row_by_row_scoring() {
    let fixture = fixture();
    let pairs = fixture["pairs"].as_array().unwrap();
    let rows: Vec<(&str, Vec<&str>)> = pairs
        .iter()
        .map(|p| {
            (
                p["prediction"].as_str().unwrap(),
                p["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    let options = Options::default();
    for name in [
        "exact_match",
        "f1",
        "bleu",
        "chrf",
        "rougeL",
        "rougeLsum",
        "contains",
    ] {
        let metric = Metric::from_name(name).unwrap();
        let (scores, aggregate) = metrics::score_rows(metric, &rows, &options);
        let one_by_one: Vec<f64> = rows
            .iter()
            .map(|(p, r)| metrics::score_row(metric, p, r, &options).unwrap())
            .collect();
        let parallel: Vec<f64> = scores.into_iter().map(Result::unwrap).collect();
        assert_eq!(parallel, one_by_one, "{name}");
        let expected = metrics::aggregate(metric, rows.iter().cloned(), &one_by_one);
        assert!(
            agrees(aggregate, expected),
            "{name}: {aggregate} vs {expected}"
        );
    }
    assert!(agrees(
        metrics::score_rows(Metric::Bleu, &rows, &options).1,
        fixture["corpus"]["bleu"].as_f64().unwrap() / 100.0
    ));
    // A row that cannot be scored keeps its error; the others still count.
    let bad = vec![("x", vec!["("]), ("abc", vec!["b"])];
    let (scores, aggregate) = metrics::score_rows(Metric::Regex, &bad, &options);
    assert!(scores[0].is_err());
    assert_eq!((scores[1].as_ref().ok(), aggregate), (Some(&1.0), 1.0));
}
