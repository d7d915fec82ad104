//! Finding `.prompt` files, reading them as text, and replacing one atomically.

use std::path::{Path, PathBuf};

/// Every `.prompt` file under `paths` (files named directly are taken whatever their
/// extension), sorted, without duplicates. Hidden folders and `node_modules`/`target`
/// are skipped.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            let root =
                std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?;
            walk(path, &root, &mut out).map_err(|e| format!("{}: {e}", path.display()))?;
        } else {
            out.push(path.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The `.prompt` files under `dir`. A symbolic link is followed only to a file inside
/// `root` (the folder named on the command line): a repository's link to a file
/// elsewhere (`evil.prompt -> ~/.ssh/id_rsa`) is skipped with a warning, never read.
fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "target" {
                walk(&path, root, out)?;
            }
        } else if name.ends_with(".prompt") {
            if kind.is_symlink() {
                let inside = std::fs::canonicalize(&path)
                    .is_ok_and(|target| target.starts_with(root) && target.is_file());
                if !inside {
                    eprintln!(
                        "warning: skipped {}: a link to a file outside {}",
                        path.display(),
                        root.display()
                    );
                    continue;
                }
            }
            out.push(path);
        }
    }
    Ok(())
}

/// Why a file could not be read as prompt text, and where.
pub struct NotText {
    pub offset: usize,
    pub message: String,
    /// The text up to the problem (what a snippet can show).
    pub readable: String,
}

/// The file's text, or why it is not text: binary (a NUL byte) or invalid UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotText> {
    if let Some(offset) = bytes.iter().take(8192).position(|&b| b == 0) {
        return Err(NotText {
            offset: 0,
            message: format!(
                "this is a binary file (NUL byte at {offset}), not a .prompt text file"
            ),
            readable: String::new(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let readable = String::from_utf8_lossy(&e.as_bytes()[..offset]).into_owned();
        NotText {
            offset,
            message: format!("invalid UTF-8 at byte {offset}; .prompt files must be UTF-8"),
            readable,
        }
    })
}

/// Why a prompt file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", .path.display())]
    NotText { path: PathBuf, message: String },
}

/// The text of the prompt file at `path`.
pub fn read_prompt(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(bytes).map_err(|e| ReadError::NotText {
        path: path.to_path_buf(),
        message: e.message,
    })
}

/// Why a file could not be replaced; nothing of it was changed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write next to {}: {source}", .path.display())]
    Temporary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot replace {}: {source}", .path.display())]
    Replace {
        path: PathBuf,
        #[source]
        source: tempfile::PersistError,
    },
}

/// Writes `text` to a temporary file next to `path`, then renames it over `path`, so the
/// file is never half-written.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), WriteError> {
    use std::io::Write;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp =
        tempfile::NamedTempFile::new_in(folder).map_err(|source| WriteError::Temporary {
            path: path.to_path_buf(),
            source,
        })?;
    temp.write_all(text.as_bytes())
        .and_then(|_| temp.as_file().sync_all())
        .map_err(|source| WriteError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(temp.path(), meta.permissions());
    }
    temp.persist(path).map_err(|source| WriteError::Replace {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(())
}
