//! What the engine may look at outside the file it was given: the workspace's files (open
//! editor buffers first, in the language server) and its `promptls.toml`. Checks, and the
//! analysis of a document, take a `&dyn Workspace` instead of reading the disk, so the
//! editor, the command line and tests each answer from where their files are.

use std::path::Path;

use crate::config::file::{self, FileConfig};

/// Where the engine reads other files (partials, datasets, `promptls.toml`) from.
pub trait Workspace {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String>;

    /// The file to read as a stream (a large dataset need not be read whole); by
    /// default the text `read_to_string` gives.
    fn open(&self, path: &Path) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(std::io::Cursor::new(
            self.read_to_string(path)?.into_bytes(),
        )))
    }

    /// The `promptls.toml` of the workspace holding `start` (a file or folder), as written;
    /// `None` when there is none or it does not parse (`config` reports that).
    fn config_file(&self, start: &Path) -> Option<FileConfig> {
        let path = crate::confine::workspace_root(start).join(file::FILE_NAME);
        file::parse_file(&self.read_to_string(&path).ok()?).ok()
    }
}

/// The files on disk.
pub struct Disk;

impl Workspace for Disk {
    fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn open(&self, path: &Path) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        Ok(Box::new(std::fs::File::open(path)?))
    }
}
