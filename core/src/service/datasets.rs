//! Uploaded datasets: checked whole before anything is kept (a file with a problem is
//! refused with its line, and nothing of it is stored), then written into `datasets/`
//! in the workspace (a new file, never over an existing one) and registered. A dataset's
//! id is its name made lowercase (`Sentiment Analysis` → `sentiment-analysis`), with
//! `-2`, `-3`, ... when that is taken.

use std::io::Write;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{names, Error, Service};
use crate::data::dataset::{Dataset as Rows, Format};
use crate::store::now;

/// Where uploads are written, in the workspace root.
pub const DATASETS_FOLDER: &str = "datasets";

/// Rows a dataset's answer shows.
const SAMPLE_ROWS: usize = 5;

/// An upload as it came.
pub struct Upload<'a> {
    pub name: &'a str,
    /// The uploaded file's name, for its format (`.jsonl`/`.ndjson` are JSON lines, `.csv`
    /// CSV; otherwise the content decides).
    pub file_name: Option<&'a str>,
    pub bytes: &'a [u8],
    pub input_fields: Vec<String>,
    pub output_fields: Vec<String>,
    /// The key's name.
    pub author: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    pub dataset_id: String,
    pub name: String,
    /// The file, relative to the workspace root.
    pub file: String,
    pub rows: usize,
    pub columns: Vec<String>,
    pub input_fields: Vec<String>,
    pub output_fields: Vec<String>,
    pub created: String,
    pub author: String,
    /// The first rows (only when one dataset is asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Vec<Map<String, Value>>>,
}

fn invalid(message: String) -> Error {
    Error::Invalid(message)
}

/// The format of an upload: its file name's, else JSON lines when it starts with `{`.
fn format_of(upload: &Upload) -> Format {
    match upload.file_name.map(|n| n.to_ascii_lowercase()) {
        Some(n) if n.ends_with(".csv") || n.ends_with(".tsv") => Format::Csv,
        Some(n) if n.ends_with(".jsonl") || n.ends_with(".ndjson") || n.ends_with(".json") => {
            Format::Jsonl
        }
        _ if upload.bytes.trim_ascii_start().starts_with(b"{") => Format::Jsonl,
        _ => Format::Csv,
    }
}

/// The rows of an upload, or the first problem with its line.
fn check(upload: &Upload, format: Format) -> Result<Rows, Error> {
    let shown = upload.file_name.unwrap_or("the file");
    if upload.name.trim().is_empty() || upload.name.chars().count() > 200 {
        return Err(invalid("`name` must be 1 to 200 characters".into()));
    }
    let text = std::str::from_utf8(upload.bytes).map_err(|e| {
        let line = upload.bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        invalid(format!("{shown} line {line}: the file is not UTF-8 text"))
    })?;
    let rows = Rows::parse(text, format).map_err(|e| invalid(format!("{shown}: {e}")))?;
    if let Some(e) = rows.errors.first() {
        let more = match rows.errors.len() {
            1 => String::new(),
            n => format!(" (and {} more bad lines)", n - 1),
        };
        return Err(invalid(format!("{shown} {e}{more}")));
    }
    if rows.rows.is_empty() {
        return Err(invalid(format!("{shown} has no rows")));
    }
    if upload.input_fields.is_empty() || upload.output_fields.is_empty() {
        return Err(invalid(
            "`input_fields` and `output_fields` must each name at least one column".into(),
        ));
    }
    for field in upload.input_fields.iter().chain(&upload.output_fields) {
        if !rows.columns.contains(field) {
            return Err(invalid(format!(
                "{shown} has no column `{field}` (its columns: {})",
                rows.columns.join(", ")
            )));
        }
    }
    if let Some(both) = upload
        .input_fields
        .iter()
        .find(|f| upload.output_fields.contains(f))
    {
        return Err(invalid(format!(
            "`{both}` is both an input and an output field"
        )));
    }
    for row in &rows.rows {
        for field in upload.input_fields.iter().chain(&upload.output_fields) {
            let empty = match row.values.get(field) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => {
                    s.trim().is_empty() && upload.output_fields.contains(field)
                }
                Some(_) => false,
            };
            if empty {
                return Err(invalid(format!(
                    "{shown} line {}: no value for `{field}`",
                    row.line
                )));
            }
        }
    }
    Ok(rows)
}

impl Service {
    /// Checks and keeps an upload; nothing is kept when it fails.
    pub fn upload_dataset(&self, upload: Upload) -> Result<Dataset, Error> {
        let format = format_of(&upload);
        let rows = check(&upload, format)?;
        let folder = self.root.join(DATASETS_FOLDER);
        crate::confine::confine_named(&self.root, &self.root, DATASETS_FOLDER)?;
        crate::folder::create(&folder)?;
        let extension = match format {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        };
        let mut temporary = tempfile::NamedTempFile::new_in(&folder).map_err(Error::io(&folder))?;
        temporary
            .write_all(upload.bytes)
            .and_then(|_| temporary.as_file().sync_all())
            .map_err(Error::io(temporary.path()))?;
        // A new file under the first free id: never over a file already there.
        let base = names::slug(upload.name);
        let mut n = 1;
        let (id, path) = loop {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            n += 1;
            let path = folder.join(format!("{id}.{extension}"));
            if self.dataset_row(&id)?.is_some() || path.exists() {
                continue;
            }
            match temporary.persist_noclobber(&path) {
                Ok(_) => break (id, path),
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    temporary = e.file;
                }
                Err(e) => return Err(Error::io(&path)(e.error)),
            }
        };
        let dataset = Dataset {
            dataset_id: id,
            name: upload.name.trim().to_string(),
            file: format!(
                "{DATASETS_FOLDER}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
            rows: rows.rows.len(),
            columns: rows.columns,
            input_fields: upload.input_fields,
            output_fields: upload.output_fields,
            created: now(),
            author: upload.author.to_string(),
            sample: None,
        };
        let inserted = self.db.with(|db| {
            db.execute(
                "INSERT INTO datasets (id, name, file, hash, rows, columns, input_fields, output_fields, created, author)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    dataset.dataset_id,
                    dataset.name,
                    dataset.file,
                    crate::store::dataset_hash(&path),
                    dataset.rows as i64,
                    Value::from(dataset.columns.clone()).to_string(),
                    Value::from(dataset.input_fields.clone()).to_string(),
                    Value::from(dataset.output_fields.clone()).to_string(),
                    dataset.created,
                    dataset.author,
                ],
            )
        });
        if let Err(e) = inserted {
            // Not registered: not kept either.
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        Ok(dataset)
    }

    pub fn datasets(&self) -> Result<Vec<Dataset>, Error> {
        self.db.with(|db| {
            let mut query = db.prepare(&format!("{SELECT} ORDER BY created DESC, id"))?;
            let rows = query.query_map([], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The dataset `id` with a sample of its rows.
    pub fn dataset(&self, id: &str) -> Result<Dataset, Error> {
        let (mut dataset, path) = self.dataset_file(id)?;
        let rows = Rows::load(&path).map_err(|e| Error::CannotRun(e.to_string()))?;
        dataset.sample = Some(
            rows.rows
                .into_iter()
                .take(SAMPLE_ROWS)
                .map(|r| r.values)
                .collect(),
        );
        Ok(dataset)
    }

    /// The dataset `id` and its file (which must still be in the workspace).
    pub fn dataset_file(&self, id: &str) -> Result<(Dataset, PathBuf), Error> {
        let dataset = self.dataset_row(id)?.ok_or_else(|| Error::NotFound {
            what: "dataset",
            id: id.to_string(),
        })?;
        let path = crate::confine::confine_named(&self.root, &self.root, &dataset.file)?;
        if !path.is_file() {
            return Err(Error::CannotRun(format!(
                "the file of dataset `{id}` ({}) is gone",
                dataset.file
            )));
        }
        Ok((dataset, path))
    }

    fn dataset_row(&self, id: &str) -> Result<Option<Dataset>, Error> {
        self.db.with(|db| {
            Ok(db
                .query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
                .optional()?)
        })
    }
}

const SELECT: &str = "SELECT id, name, file, rows, columns, input_fields, output_fields, created, author FROM datasets";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Dataset> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = r.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    Ok(Dataset {
        dataset_id: r.get(0)?,
        name: r.get(1)?,
        file: r.get(2)?,
        rows: r.get::<_, i64>(3)? as usize,
        columns: list(4)?,
        input_fields: list(5)?,
        output_fields: list(6)?,
        created: r.get(7)?,
        author: r.get(8)?,
        sample: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload<'a>(bytes: &'a [u8], file_name: &'a str) -> Upload<'a> {
        Upload {
            name: "Sentiment Analysis",
            file_name: Some(file_name),
            bytes,
            input_fields: vec!["text".into()],
            output_fields: vec!["sentiment".into()],
            author: "ci",
        }
    }

    #[test]
    fn an_upload_is_kept_under_a_free_id() {
        let dir = tempfile::tempdir().unwrap();
        let service = Service::open(dir.path()).unwrap();
        let csv = b"text,sentiment\ngood,positive\nbad,negative\n";
        let first = service.upload_dataset(upload(csv, "s.csv")).unwrap();
        assert_eq!(
            (first.dataset_id.as_str(), first.rows),
            ("sentiment-analysis", 2)
        );
        assert_eq!(first.file, "datasets/sentiment-analysis.csv");
        // A file of the user's own is never written over.
        std::fs::write(dir.path().join("datasets/sentiment-analysis-2.csv"), "mine").unwrap();
        let second = service.upload_dataset(upload(csv, "s.csv")).unwrap();
        assert_eq!(second.dataset_id, "sentiment-analysis-3");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("datasets/sentiment-analysis-2.csv")).unwrap(),
            "mine"
        );
        let listed = service.datasets().unwrap();
        assert_eq!(listed.len(), 2);
        let one = service.dataset("sentiment-analysis").unwrap();
        assert_eq!(one.sample.unwrap()[1]["text"], "bad");
        assert!(matches!(
            service.dataset("nope"),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line_and_nothing_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let service = Service::open(dir.path()).unwrap();
        let cases: &[(&[u8], &str, &str)] = &[
            (
                b"{\"text\": \"a\", \"sentiment\": \"positive\"}\n{\"text\": \n",
                "d.jsonl",
                "line 2",
            ),
            (
                b"text,sentiment\ngood,positive\nbad,\n",
                "d.csv",
                "line 3: no value for `sentiment`",
            ),
            (
                b"text,label\ngood,positive\n",
                "d.csv",
                "no column `sentiment`",
            ),
            (
                b"text,sentiment\ngood,pos\xffitive\n",
                "d.csv",
                "line 2: the file is not UTF-8",
            ),
            (b"text,sentiment\n", "d.csv", "has no rows"),
        ];
        for (bytes, name, expected) in cases {
            let error = service
                .upload_dataset(upload(bytes, name))
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        assert!(service.datasets().unwrap().is_empty());
        let kept: Vec<_> = std::fs::read_dir(dir.path().join("datasets"))
            .map(|d| d.collect())
            .unwrap_or_default();
        assert!(kept.is_empty(), "{kept:?}");
    }
}
