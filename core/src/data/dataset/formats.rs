//! Reading each dataset format record by record: CSV with a header row, and JSON Lines.

use std::io::BufRead;

use serde_json::Value;

use super::utf8::io_error;
use super::{DatasetError, Record, Row, StreamError};

pub(super) fn stream_csv(
    reader: &mut impl BufRead,
    each: &mut dyn FnMut(Record, u64) -> bool,
) -> Result<Vec<String>, StreamError> {
    // A byte order mark is not part of the first column's name.
    let bom = reader
        .fill_buf()
        .map_err(io_error)?
        .starts_with(b"\xEF\xBB\xBF");
    if bom {
        reader.consume(3);
    }
    let skipped = if bom { 3 } else { 0 };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(reader);
    // Only for I/O errors (`is_io_error`).
    let fails = |e: csv::Error| match e.into_kind() {
        csv::ErrorKind::Io(e) => io_error(e),
        other => StreamError::Invalid(DatasetError {
            line: None,
            message: format!("{other:?}"),
        }),
    };
    let columns: Vec<String> = match reader.headers() {
        Ok(headers) => headers.iter().map(|h| h.trim().to_string()).collect(),
        Err(e) if e.is_io_error() => return Err(fails(e)),
        Err(e) => return Err(StreamError::Invalid(csv_error(&e))),
    };
    if columns.iter().all(String::is_empty) {
        return Err(StreamError::Invalid(DatasetError {
            line: Some(1),
            message: "the CSV has no header row".into(),
        }));
    }
    let mut record = csv::StringRecord::new();
    loop {
        let read = match reader.read_record(&mut record) {
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let values = columns
                    .iter()
                    .zip(record.iter())
                    .map(|(c, v)| (c.clone(), Value::String(v.to_string())))
                    .collect();
                Record::Row(Row { line, values })
            }
            Ok(false) => break,
            // A reader that cannot go on stops.
            Err(e) if e.is_io_error() => return Err(fails(e)),
            // A malformed row is skipped and reported.
            Err(e) => Record::Bad(csv_error(&e)),
        };
        if !each(read, skipped + reader.position().byte()) {
            break;
        }
    }
    Ok(columns)
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

pub(super) fn stream_jsonl(
    reader: &mut impl BufRead,
    each: &mut dyn FnMut(Record, u64) -> bool,
) -> Result<Vec<String>, StreamError> {
    let mut columns: Vec<String> = Vec::new();
    let mut bytes = Vec::new();
    let mut line_no = 0;
    let mut end = 0u64;
    loop {
        bytes.clear();
        let read = reader.read_until(b'\n', &mut bytes).map_err(io_error)?;
        if read == 0 {
            break;
        }
        end += read as u64;
        line_no += 1;
        // As `str::lines`: a line ends at `\n` or `\r\n`.
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        // The reader let only UTF-8 through.
        let line = std::str::from_utf8(&bytes).unwrap_or_default();
        if line.trim().is_empty() {
            continue;
        }
        let record = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(values)) => {
                for key in values.keys() {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
                Record::Row(Row {
                    line: line_no,
                    values,
                })
            }
            Ok(_) => Record::Bad(DatasetError {
                line: Some(line_no),
                message: "each line must be a JSON object".into(),
            }),
            Err(e) => Record::Bad(DatasetError {
                line: Some(line_no),
                message: format!("invalid JSON: {e}"),
            }),
        };
        if !each(record, end) {
            break;
        }
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use crate::data::dataset::{Dataset, Format};
    use serde_json::{json, Value};

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
