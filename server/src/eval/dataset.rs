//! Dataset files named by `promptls.dataset`: CSV (with a header row) or JSONL.

use std::path::Path;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Column names in file order (CSV header, or keys in order of first appearance).
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    /// Rows that could not be read, each with its line; the other rows still load.
    pub errors: Vec<DatasetError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line of the row in the file, for messages.
    pub line: usize,
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetError {
    /// 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for DatasetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Dataset {
    pub fn load(path: &Path) -> Result<Dataset, DatasetError> {
        let bytes = std::fs::read(path).map_err(|e| DatasetError {
            line: None,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| DatasetError {
            line: None,
            message: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Dataset::parse(&text, Format::of(path))
    }

    pub fn parse(text: &str, format: Format) -> Result<Dataset, DatasetError> {
        match format {
            Format::Csv => parse_csv(text),
            Format::Jsonl => parse_jsonl(text),
        }
    }
}

/// Why a prompt's dataset row could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The request was wrong: no `promptls.dataset`, or the row is out of range.
    Usage(String),
    /// The dataset could not be read or parsed.
    Dataset(String),
}

/// The input values of row `n` (1-based) of the dataset named by the prompt `source` at
/// `file`; `what` names the row argument in messages (`--row`, `row`).
pub fn prompt_row(
    file: &Path,
    source: &str,
    n: usize,
    what: &str,
) -> Result<Map<String, Value>, RowError> {
    let parsed = crate::syntax::parse(source);
    let relative = parsed
        .frontmatter
        .as_ref()
        .and_then(|fm| crate::settings::get(fm, "dataset"))
        .and_then(|d| d.as_str())
        .ok_or_else(|| {
            RowError::Usage(format!(
                "{what} needs `promptls.dataset` in {}",
                file.display()
            ))
        })?;
    let folder = file.parent().unwrap_or(Path::new("."));
    let root = crate::confine::workspace_root(file);
    crate::confine::confine_named(&root, folder, relative)
        .map_err(|e| RowError::Usage(format!("{}: promptls.dataset {e}", file.display())))?;
    let path = folder.join(relative);
    let dataset =
        Dataset::load(&path).map_err(|e| RowError::Dataset(format!("{}: {e}", path.display())))?;
    let count = dataset.rows.len();
    if n == 0 || n > count {
        return Err(RowError::Usage(format!(
            "{what} {n} is out of range: {} has {count} rows (counting from 1)",
            path.display()
        )));
    }
    Ok(dataset
        .rows
        .into_iter()
        .nth(n - 1)
        .map(|r| r.values)
        .unwrap_or_default())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// `.jsonl`/`.ndjson`/`.json` read as JSON lines; everything else as CSV.
    pub fn of(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("jsonl" | "ndjson" | "json") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

fn parse_csv(text: &str) -> Result<Dataset, DatasetError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if columns.iter().all(String::is_empty) {
        return Err(DatasetError {
            line: Some(1),
            message: "the CSV has no header row".into(),
        });
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            // A malformed row is skipped and reported; a reader that cannot go on stops.
            Err(e) if e.is_io_error() => return Err(csv_error(&e)),
            Err(e) => {
                errors.push(csv_error(&e));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let values = columns
            .iter()
            .zip(record.iter())
            .map(|(c, v)| (c.clone(), Value::String(v.to_string())))
            .collect();
        rows.push(Row { line, values });
    }
    Ok(Dataset {
        columns,
        rows,
        errors,
    })
}

fn csv_error(e: &csv::Error) -> DatasetError {
    let line = e.position().map(|p| p.line() as usize);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
        _ => e.to_string(),
    };
    DatasetError { line, message }
}

fn parse_jsonl(text: &str) -> Result<Dataset, DatasetError> {
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => {
                errors.push(DatasetError {
                    line: Some(line_no),
                    message: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let Value::Object(values) = value else {
            errors.push(DatasetError {
                line: Some(line_no),
                message: "each line must be a JSON object".into(),
            });
            continue;
        };
        for key in values.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        rows.push(Row {
            line: line_no,
            values,
        });
    }
    Ok(Dataset {
        columns,
        rows,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_csv_with_quotes_and_bom() {
        let d = Dataset::parse(
            "\u{FEFF}text,label\n\"a, b\",pos\n\"multi\nline\",neg\n",
            Format::Csv,
        )
        .unwrap();
        assert_eq!(d.columns, ["text", "label"]);
        assert_eq!(d.rows.len(), 2);
        assert_eq!(d.rows[0].values["text"], json!("a, b"));
        assert_eq!(d.rows[1].values["text"], json!("multi\nline"));
        assert_eq!(d.rows[1].line, 3);
    }

    #[test]
    fn csv_rows_with_the_wrong_width_are_reported_and_skipped() {
        let d = Dataset::parse("a,b\n1,2\n1,2,3\n4,5\n6\n", Format::Csv).unwrap();
        let values: Vec<&Value> = d.rows.iter().map(|r| &r.values["a"]).collect();
        assert_eq!(values, [&json!("1"), &json!("4")]);
        let lines: Vec<Option<usize>> = d.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(3), Some(5)]);
        assert!(d.errors[0].message.contains("3 fields"), "{}", d.errors[0]);
    }

    #[test]
    fn reads_jsonl_and_reports_bad_lines() {
        let d = Dataset::parse("{\"a\": 1}\n\n{\"a\": 2, \"b\": [1]}\n", Format::Jsonl).unwrap();
        assert_eq!(d.columns, ["a", "b"]);
        assert_eq!(d.rows[1].line, 3);
        // Bad lines are reported with their line; the rest still loads.
        let d = Dataset::parse("{\"a\": 1}\n{oops\n[1]\n{\"a\": 3}\n", Format::Jsonl).unwrap();
        assert_eq!(d.rows.len(), 2);
        assert_eq!(d.rows[1].line, 4);
        let lines: Vec<Option<usize>> = d.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![Some(2), Some(3)]);
        assert!(d.errors[1].message.contains("JSON object"));
    }

    #[test]
    fn reports_ragged_csv_rows() {
        let d = Dataset::parse("a,b\n1,2\n3\n", Format::Csv).unwrap();
        assert_eq!(d.rows.len(), 1);
        let e = &d.errors[0];
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(e.message.contains("1 fields"), "{e:?}");
    }
}
