//! Dataset files named by `promptls.dataset`: CSV (with a header row) or JSONL, read
//! record by record (`stream`), so a caller that needs a count, the columns or one row
//! never holds the whole file.

use std::io::{BufReader, Read};
use std::path::Path;

use serde_json::{Map, Value};

mod formats;
mod row;
mod utf8;

use formats::{stream_csv, stream_jsonl};
pub use row::{prompt_row, RowError};
use utf8::Utf8Reader;

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

impl std::error::Error for DatasetError {}

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
        let file = std::fs::File::open(path).map_err(|e| StreamError::Io(e).of_file(path))?;
        Dataset::read(file, Format::of(path)).map_err(|e| e.of_file(path))
    }

    pub fn parse(text: &str, format: Format) -> Result<Dataset, DatasetError> {
        Dataset::read(text.as_bytes(), format).map_err(StreamError::into_dataset_error)
    }

    /// Every row and bad row of `reader`.
    pub fn read(reader: impl Read, format: Format) -> Result<Dataset, StreamError> {
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        let columns = stream(reader, format, &mut |record, _| {
            match record {
                Record::Row(row) => rows.push(row),
                Record::Bad(e) => errors.push(e),
            }
            true
        })?;
        Ok(Dataset {
            columns,
            rows,
            errors,
        })
    }

    /// The first rows of `reader`: those that end within `limits[0]` bytes, or when
    /// none does, within the next limit, and so on (the whole file past the last); it
    /// reads no further. JSONL columns that first appear further down are missing.
    pub fn head(reader: impl Read, format: Format, limits: &[u64]) -> Result<Dataset, StreamError> {
        let (mut rows, mut errors) = (Vec::new(), Vec::new());
        let mut limit = limits.iter().copied();
        let mut within = limit.next().unwrap_or(u64::MAX);
        let columns = stream(reader, format, &mut |record, end| {
            while rows.is_empty() && end > within {
                within = limit.next().unwrap_or(u64::MAX);
            }
            if end > within {
                return false;
            }
            match record {
                Record::Row(row) => rows.push(row),
                Record::Bad(e) => errors.push(e),
            }
            true
        })?;
        let columns = match format {
            Format::Csv => columns,
            // Only the columns of the rows kept (not of the one that ended the head).
            Format::Jsonl => {
                let mut seen: Vec<String> = Vec::new();
                for key in rows.iter().flat_map(|r| r.values.keys()) {
                    if !seen.contains(key) {
                        seen.push(key.clone());
                    }
                }
                seen
            }
        };
        Ok(Dataset {
            columns,
            rows,
            errors,
        })
    }
}

/// What a whole dataset holds, without its rows: what a hover or the row diagnostics
/// show.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub columns: Vec<String>,
    /// Rows read.
    pub rows: usize,
    pub errors: Vec<DatasetError>,
}

impl Summary {
    /// Reads all of `reader`, keeping no row.
    pub fn read(reader: impl Read, format: Format) -> Result<Summary, StreamError> {
        let (mut rows, mut errors) = (0, Vec::new());
        let columns = stream(reader, format, &mut |record, _| {
            match record {
                Record::Row(_) => rows += 1,
                Record::Bad(e) => errors.push(e),
            }
            true
        })?;
        Ok(Summary {
            columns,
            rows,
            errors,
        })
    }
}

/// One record of a dataset as it is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Row(Row),
    /// A row that cannot be read; the rows after it still are.
    Bad(DatasetError),
}

/// Why a dataset could not be read at all.
#[derive(Debug)]
pub enum StreamError {
    /// Reading the file failed.
    Io(std::io::Error),
    /// The file is not UTF-8: the offset of the first byte that is not.
    NotUtf8(u64),
    /// It cannot be parsed (a CSV without a header).
    Invalid(DatasetError),
}

impl StreamError {
    /// As `Dataset::load` reports it for the file at `path`.
    pub fn of_file(self, path: &Path) -> DatasetError {
        match self {
            StreamError::Io(e) => DatasetError {
                line: None,
                message: format!("cannot read {}: {e}", path.display()),
            },
            other => other.into_dataset_error(),
        }
    }

    /// As `Dataset::parse` reports it.
    pub fn into_dataset_error(self) -> DatasetError {
        match self {
            StreamError::Io(e) => DatasetError {
                line: None,
                message: e.to_string(),
            },
            StreamError::NotUtf8(byte) => DatasetError {
                line: None,
                message: format!("not UTF-8 (byte {byte})"),
            },
            StreamError::Invalid(e) => e,
        }
    }
}

/// Reads `reader` record by record, handing each row and bad row to `each` with the
/// bytes read through its end, and `each` says whether to go on. Returns the columns: the CSV header, or the JSONL keys in order of
/// first appearance in the rows read. Invalid UTF-8 anywhere in what is read fails it,
/// as reading the file as text would.
pub fn stream(
    reader: impl Read,
    format: Format,
    each: &mut dyn FnMut(Record, u64) -> bool,
) -> Result<Vec<String>, StreamError> {
    let checked = Utf8Reader::new(reader);
    let mut reader = BufReader::with_capacity(64 * 1024, checked);
    match format {
        Format::Csv => stream_csv(&mut reader, each),
        Format::Jsonl => stream_jsonl(&mut reader, each),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
        read: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    fn trickle(bytes: &[u8], step: usize) -> (Trickle<'_>, std::rc::Rc<std::cell::Cell<usize>>) {
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let t = Trickle {
            bytes,
            step,
            read: read.clone(),
        };
        (t, read)
    }

    #[test]
    fn utf8_is_checked_across_reads_at_the_offset_of_the_first_bad_byte() {
        let good = "text,label\n\"héllo — ünïcode 🎉\",pos\n".as_bytes();
        for step in [1, 2, 3, 5, 4096] {
            let d = Dataset::read(trickle(good, step).0, Format::Csv).unwrap();
            assert_eq!(
                d.rows[0].values["text"],
                json!("héllo — ünïcode 🎉"),
                "{step}"
            );
        }
        // A bad byte mid-file, and a character cut off at the end of the file.
        let mut bad = good.to_vec();
        bad.insert(20, 0xFF);
        let mut cut = good.to_vec();
        cut.extend_from_slice(&"🎉".as_bytes()[..2]);
        for bytes in [bad, cut] {
            let want = String::from_utf8(bytes.clone())
                .unwrap_err()
                .utf8_error()
                .valid_up_to();
            for step in [1, 3, 4096] {
                for format in [Format::Csv, Format::Jsonl] {
                    match Dataset::read(trickle(&bytes, step).0, format) {
                        Err(StreamError::NotUtf8(at)) => assert_eq!(at, want as u64),
                        other => panic!("{step}: {other:?}"),
                    }
                }
            }
        }
    }

    /// The head as it was read before streaming: whole-file text cut at the last line
    /// break within each limit, until a cut has a row.
    fn head_of_text(text: &str, format: Format, limits: &[u64]) -> Dataset {
        for &limit in limits {
            let limit = limit as usize;
            if text.len() <= limit {
                break;
            }
            let Some(cut) = text.as_bytes()[..limit].iter().rposition(|&b| b == b'\n') else {
                continue;
            };
            let d = Dataset::parse(&text[..=cut], format).unwrap();
            if !d.rows.is_empty() {
                return d;
            }
        }
        Dataset::parse(text, format).unwrap()
    }

    #[test]
    fn the_head_is_the_rows_within_the_first_limit_that_has_one_and_reads_no_further() {
        let mut jsonl = String::new();
        let mut csv = String::from("\u{FEFF}text,label\n");
        for i in 0..20_000 {
            // Rows of different lengths, a key that appears late, a bad line.
            let text = "x".repeat(i % 37);
            jsonl.push_str(&format!(
                "{{\"text\": \"{text}{i}\", \"label\": \"l{}\"",
                i % 3
            ));
            jsonl.push_str(if i == 90 { ", \"late\": 1}\n" } else { "}\n" });
            if i == 5 {
                jsonl.push_str("{oops\n");
            }
            csv.push_str(&format!("\"{text}, {i}\",l{}\n", i % 3));
        }
        // The first row alone is longer than the first limit.
        let long = format!(
            "{{\"text\": \"{}\"}}\n{{\"text\": \"b\"}}\n",
            "y".repeat(300)
        );
        for (text, format) in [
            (jsonl.as_str(), Format::Jsonl),
            (csv.as_str(), Format::Csv),
            (long.as_str(), Format::Jsonl),
        ] {
            for limits in [&[8 * 1024, 256 * 1024][..], &[100, 200][..], &[1 << 30][..]] {
                let (reader, read) = trickle(text.as_bytes(), 1000);
                let head = Dataset::head(reader, format, limits).unwrap();
                assert_eq!(head, head_of_text(text, format, limits), "{limits:?}");
                assert!(!head.rows.is_empty());
                if limits[0] < text.len() as u64 && head.rows.len() < 100 {
                    // What one buffer holds past the limit, not the whole file.
                    assert!(read.get() <= 256 * 1024 + 128 * 1024, "{}", read.get());
                }
            }
        }
        // Where the text was cut inside a quoted field spanning lines, that row came out
        // as a bad one; read as a stream, every row of the head is whole.
        let multiline = format!("text,label\n{}", "\"a\nb\",x\n".repeat(40));
        let head = Dataset::head(multiline.as_bytes(), Format::Csv, &[100]).unwrap();
        // 11 bytes of header, 8 bytes a row: 11 rows end within 100 bytes.
        assert!(head.errors.is_empty() && head.rows.len() == 11, "{head:?}");
        assert_eq!(head.rows[0].values["text"], json!("a\nb"));
    }

    #[test]
    fn a_summary_counts_what_the_whole_dataset_holds() {
        let text = "{\"a\": 1}\n\n{oops\n{\"a\": 2, \"b\": [1]}\r\n[1]\n{\"c\": 3}";
        let whole = Dataset::parse(text, Format::Jsonl).unwrap();
        let summary = Summary::read(text.as_bytes(), Format::Jsonl).unwrap();
        assert_eq!(summary.columns, whole.columns);
        assert_eq!(summary.rows, whole.rows.len());
        assert_eq!(summary.errors, whole.errors);
        assert_eq!((summary.rows, summary.columns.len()), (3, 3));
        assert_eq!(whole.rows[1].line, 4);
    }
}
