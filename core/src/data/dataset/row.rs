//! One row of a prompt's dataset, by number, for rendering the prompt with it.

use std::path::Path;

use serde_json::{Map, Value};

use super::{stream, Format, Record, StreamError};

/// Why a prompt's dataset row could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The request was wrong: no `promptls.dataset`, or the row is out of range.
    Usage(String),
    /// The dataset could not be read or parsed.
    Dataset(String),
}

/// The input values of row `n` (1-based) of `dataset`, the `promptls.dataset` of the
/// prompt at `file`; `what` names the row argument in messages (`--row`, `row`).
pub fn prompt_row(
    file: &Path,
    dataset: Option<&str>,
    n: usize,
    what: &str,
) -> Result<Map<String, Value>, RowError> {
    let relative = dataset.ok_or_else(|| {
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
    let failed =
        |e: StreamError| RowError::Dataset(format!("{}: {}", path.display(), e.of_file(&path)));
    let file = std::fs::File::open(&path).map_err(|e| failed(StreamError::Io(e)))?;
    // Read up to row `n` only; the count of a shorter file is what is left.
    let (mut count, mut found) = (0, None);
    stream(file, Format::of(&path), &mut |record, _| {
        if let Record::Row(row) = record {
            count += 1;
            if count == n {
                found = Some(row.values);
            }
        }
        found.is_none()
    })
    .map_err(failed)?;
    match found {
        Some(values) if n > 0 => Ok(values),
        _ => Err(RowError::Usage(format!(
            "{what} {n} is out of range: {} has {count} rows (counting from 1)",
            path.display()
        ))),
    }
}
