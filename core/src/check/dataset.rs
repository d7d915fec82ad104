//! `promptls.dataset` and `promptls.target`: the file exists, parses, and has a column
//! for every required input field and for the target.

use super::{did_you_mean, CheckInput, Diagnostic};
use crate::analysis::Schemas;
use crate::data::dataset::{Dataset, Format, StreamError};
use crate::data::split::Split;
use crate::settings;

pub(super) fn check(
    input: &CheckInput,
    schemas: &Schemas,
    out: &mut Vec<Diagnostic>,
) -> Option<Dataset> {
    let root = input.parsed().frontmatter.as_ref()?;
    let settings = input.analysis.settings();
    if let Some(Ok(split)) = &settings.split {
        if let Split::Files { train, dev } = &split.value {
            for file in [train, dev] {
                if let Some(Err(e)) = input.resolve(file) {
                    out.push(Diagnostic::error(
                        "path-outside-workspace",
                        split.span,
                        format!("promptls.split {e}: only files inside the workspace are read"),
                    ));
                }
            }
        }
    }
    let target = settings::span_of(&settings.target);
    let dataset_node = match &settings.dataset {
        Some(Ok(dataset)) => dataset,
        Some(Err(_)) => return None,
        None => {
            if let Some(span) = target {
                out.push(Diagnostic::warning(
                    "target-without-dataset",
                    span,
                    "`promptls.target` names a column, but there is no `promptls.dataset`",
                ));
            }
            return None;
        }
    };
    let relative = dataset_node.value.as_str();
    let path = match input.resolve(relative)? {
        Ok(path) => path,
        Err(e) => {
            out.push(Diagnostic::error(
                "path-outside-workspace",
                dataset_node.span,
                format!("promptls.dataset {e}: only files inside the workspace are read"),
            ));
            return None;
        }
    };
    let missing = |why: String| {
        Diagnostic::error(
            "dataset-missing",
            dataset_node.span,
            format!(
                "dataset `{relative}`: {why} (looked for {})",
                path.display()
            ),
        )
    };
    let io_why = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "not found".to_string()
        } else {
            e.to_string()
        }
    };
    // Read as a stream: the file's text is never held whole beside its rows.
    let read = input
        .workspace
        .open(&path)
        .map_err(StreamError::Io)
        .and_then(|file| Dataset::read(file, Format::of(&path)));
    let dataset = match read {
        Ok(d) => d,
        Err(StreamError::Io(e)) => {
            out.push(missing(io_why(e)));
            return None;
        }
        // What reading the file as text says of it.
        Err(StreamError::NotUtf8(_)) => {
            out.push(missing("stream did not contain valid UTF-8".into()));
            return None;
        }
        Err(StreamError::Invalid(e)) => {
            out.push(Diagnostic::error(
                "dataset-invalid",
                dataset_node.span,
                format!("dataset `{relative}`, {e}"),
            ));
            return None;
        }
    };
    // Bad rows: each named with its line; the rest of the file is still used.
    for e in dataset.errors.iter().take(20) {
        out.push(Diagnostic::error(
            "dataset-invalid",
            dataset_node.span,
            format!("dataset `{relative}`, {e}"),
        ));
    }
    if dataset.errors.len() > 20 {
        out.push(Diagnostic::error(
            "dataset-invalid",
            dataset_node.span,
            format!(
                "dataset `{relative}`: {} more bad rows",
                dataset.errors.len() - 20
            ),
        ));
    }
    if dataset.rows.is_empty() {
        out.push(Diagnostic::warning(
            "dataset-empty",
            dataset_node.span,
            format!("dataset `{relative}` has no rows"),
        ));
    }
    let has = |c: &str| dataset.columns.iter().any(|col| col == c);
    if let (Some(fields), Some(schema)) = (schemas.input_fields(), &schemas.input) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let defaults = root.get("input").and_then(|i| i.get("default"));
        for field in fields {
            let has_default = defaults.is_some_and(|d| d.get(field).is_some());
            if required.contains(&field) && !has_default && !has(field) {
                let mut message = format!(
                    "dataset `{relative}` has no column `{field}`, which the input schema requires (columns: {})",
                    dataset.columns.join(", ")
                );
                if let Some(s) = did_you_mean(field, dataset.columns.iter().map(String::as_str)) {
                    message.push_str(&format!("; is `{s}` meant?"));
                }
                out.push(Diagnostic::error(
                    "dataset-missing-column",
                    dataset_node.span,
                    message,
                ));
            }
        }
    }
    if let Some(Ok(t)) = &settings.target {
        let name = t.value.as_str();
        if !has(name) {
            let mut d = Diagnostic::error(
                "dataset-missing-target",
                t.span,
                format!(
                    "dataset `{relative}` has no column `{name}` for the expected output (columns: {})",
                    dataset.columns.join(", ")
                ),
            );
            d = d.suggest(
                did_you_mean(name, dataset.columns.iter().map(String::as_str)),
                "Change",
                t.span,
            );
            out.push(d);
        }
    }
    Some(dataset)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::check::{check, Workspace};

    struct Files(Vec<(&'static str, &'static str)>);
    impl Workspace for Files {
        fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
            self.0
                .iter()
                .find(|(p, _)| Path::new(p) == path)
                .map(|(_, t)| t.to_string())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "missing"))
        }
    }

    fn run(prompt: &str, files: Files) -> Vec<String> {
        let path = PathBuf::from("/p/a.prompt");
        check(prompt, Some(&path), &files)
            .into_iter()
            .map(|d| {
                format!(
                    "{}@{}: {}",
                    d.code,
                    &prompt[d.span.start..d.span.end],
                    d.message
                )
            })
            .collect()
    }

    #[test]
    fn a_dataset_on_disk_is_streamed_with_the_same_findings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("promptls.toml"), "").unwrap();
        let path = dir.path().join("a.prompt");
        let data = dir.path().join("data.csv");
        let on_disk = |bytes: Option<&[u8]>| -> Vec<String> {
            match bytes {
                Some(bytes) => std::fs::write(&data, bytes).unwrap(),
                None => std::fs::remove_file(&data).unwrap(),
            }
            check(HEADER, Some(&path), &crate::check::Disk)
                .into_iter()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect()
        };
        assert_eq!(
            on_disk(Some(b"\xEF\xBB\xBFtext,label\nhi,pos\n")),
            Vec::<String>::new()
        );
        assert_eq!(
            on_disk(Some(b"text,label\nhi,pos\nbad\n")),
            ["dataset-invalid: dataset `data.csv`, line 3: row has 1 fields, the header has 2"]
        );
        // As reading the file as text said it.
        assert_eq!(
            on_disk(Some(b"text,label\nh\xFFi,pos\n")),
            [format!(
                "dataset-missing: dataset `data.csv`: stream did not contain valid UTF-8 (looked for {})",
                data.display()
            )]
        );
        assert_eq!(
            on_disk(None),
            [format!(
                "dataset-missing: dataset `data.csv`: not found (looked for {})",
                data.display()
            )]
        );
    }

    const HEADER: &str = "---\ninput:\n  schema:\n    text: string\n    lang?: string\npromptls.dataset: data.csv\npromptls.target: label\n---\n{{text}}{{lang}}";

    #[test]
    fn dataset_problems() {
        assert_eq!(
            run(HEADER, Files(vec![("/p/data.csv", "text,label\nhi,pos\n")])),
            Vec::<String>::new()
        );
        assert_eq!(
            run(HEADER, Files(vec![])),
            ["dataset-missing@data.csv: dataset `data.csv`: not found (looked for /p/data.csv)"]
        );
        assert_eq!(
            run(HEADER, Files(vec![("/p/data.csv", "txt,labels\nhi,pos\n")])),
            [
                "dataset-missing-column@data.csv: dataset `data.csv` has no column `text`, which the input schema requires (columns: txt, labels); is `txt` meant?",
                "dataset-missing-target@label: dataset `data.csv` has no column `label` for the expected output (columns: txt, labels); did you mean `labels`?",
            ]
        );
        assert_eq!(
            run(HEADER, Files(vec![("/p/data.csv", "text,label\nhi,pos,extra\n")])),
            [
                "dataset-invalid@data.csv: dataset `data.csv`, line 2: row has 3 fields, the header has 2",
                "dataset-empty@data.csv: dataset `data.csv` has no rows",
            ]
        );
        // Outside the workspace (the prompt's folder here): never read, so nothing of
        // the file shows.
        let outside = "---\npromptls.dataset: ../secret.csv\npromptls.split: {train: ../t.csv, dev: d.csv}\n---\nHi";
        assert_eq!(
            run(outside, Files(vec![("/secret.csv", "MARKER\n")])),
            [
                "path-outside-workspace@../secret.csv: promptls.dataset `../secret.csv` is outside the workspace /p: only files inside the workspace are read",
                "path-outside-workspace@{train: ../t.csv, dev: d.csv}: promptls.split `../t.csv` is outside the workspace /p: only files inside the workspace are read",
            ]
        );
        assert_eq!(
            run("---\npromptls.dataset: /secret.csv\n---\nHi", Files(vec![("/secret.csv", "MARKER\n")])),
            ["path-outside-workspace@/secret.csv: promptls.dataset `/secret.csv` is outside the workspace /p: only files inside the workspace are read"]
        );
        // A bad row among good ones: reported, and the good rows still count.
        assert_eq!(
            run(HEADER, Files(vec![("/p/data.csv", "text,label\nhi,pos\nbad\nyo,neg\n")])),
            ["dataset-invalid@data.csv: dataset `data.csv`, line 3: row has 1 fields, the header has 2"]
        );
    }
}
