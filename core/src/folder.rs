//! Creating the folders promptls writes its own files into (the history's and the cache's
//! `.promptls`, the user's config folder), with an error that keeps the folder and the
//! I/O error.

use std::path::{Path, PathBuf};

/// A folder that could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create {}: {source}", .path.display())]
pub struct CannotCreate {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// `std::fs::create_dir_all(path)`, its error naming `path`.
pub fn create(path: &Path) -> Result<(), CannotCreate> {
    std::fs::create_dir_all(path).map_err(|source| CannotCreate {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_error_names_the_folder_and_keeps_the_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let error = create(&file.join("sub")).unwrap_err();
        assert_eq!(error.path, file.join("sub"));
        assert_eq!(
            error.to_string(),
            format!(
                "cannot create {}: {}",
                file.join("sub").display(),
                error.source
            )
        );
        assert!(error.source().unwrap().is::<std::io::Error>());
    }
}
