//! Confinement: every path a workspace file names stays inside the workspace.
//!
//! Workspace files (prompts, partials, datasets, `promptls.toml`) are untrusted input: a
//! prompt may name `../../etc/passwd` as its dataset, a partial may be a symlink to a
//! file elsewhere, `promptls.toml` may put the cache anywhere. So every path one of
//! them names is resolved (against the naming file's folder, `..` and symlinks
//! followed, the longest existing prefix when the file does not exist yet) and refused
//! unless it ends inside the workspace root, which is resolved the same way. Paths the
//! user gives on the command line are not workspace input and are not confined.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The workspace configuration's file name (read by `config`).
pub const CONFIG_FILE: &str = "promptls.toml";

/// What makes a folder a workspace root: any of these entries in it.
pub const MARKERS: [&str; 3] = [CONFIG_FILE, ".promptls", ".git"];

/// Symlinks followed while resolving one path before it is refused (Linux's limit).
const MAX_SYMLINKS: u32 = 40;

/// The workspace root for `start` (a file or a folder): the nearest folder, from the
/// file's own folder up, that holds `promptls.toml`, `.promptls` or `.git`; else the
/// file's folder.
pub fn workspace_root(start: &Path) -> PathBuf {
    let folder = if start.is_dir() {
        start
    } else if start.is_file() || start.extension().is_some() {
        start.parent().unwrap_or(Path::new("."))
    } else {
        start
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let absolute = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
    absolute
        .ancestors()
        .find(|dir| {
            MARKERS
                .iter()
                .any(|m| std::fs::symlink_metadata(dir.join(m)).is_ok())
        })
        .unwrap_or(&absolute)
        .to_path_buf()
}

/// A path a workspace file names that leads outside the workspace. It names the path as
/// written, never what is in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideWorkspace {
    /// The path as the workspace file wrote it.
    pub path: String,
    /// The workspace root it had to stay in.
    pub root: PathBuf,
}

impl fmt::Display for OutsideWorkspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is outside the workspace {}",
            self.path,
            self.root.display()
        )
    }
}

impl std::error::Error for OutsideWorkspace {}

/// `path` (relative paths against the current folder) resolved, symlinks and `..`
/// followed, if that is inside `root`; else the error, naming `path` as given.
pub fn confine(root: &Path, path: &Path) -> Result<PathBuf, OutsideWorkspace> {
    let outside = || OutsideWorkspace {
        path: path.display().to_string(),
        root: root.to_path_buf(),
    };
    let root_real = resolve(root).ok_or_else(outside)?;
    let real = resolve(path).ok_or_else(outside)?;
    if real.starts_with(&root_real) {
        Ok(real)
    } else {
        Err(outside())
    }
}

/// `written`, a path named by a file in `folder`, confined to `root`; the error names
/// `written` as it was written.
pub fn confine_named(
    root: &Path,
    folder: &Path,
    written: impl AsRef<Path>,
) -> Result<PathBuf, OutsideWorkspace> {
    let written = written.as_ref();
    confine(root, &folder.join(written)).map_err(|e| OutsideWorkspace {
        path: written.display().to_string(),
        ..e
    })
}

/// `path` made absolute with every symlink and `..` resolved, as the system would
/// resolve it; components that do not exist yet are taken as written. `None` for a
/// symlink loop or a path that cannot be made absolute.
fn resolve(path: &Path) -> Option<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut budget = MAX_SYMLINKS;
    resolve_absolute(&absolute, &mut budget)
}

fn resolve_absolute(path: &Path, budget: &mut u32) -> Option<PathBuf> {
    // `out` never holds a symlink, so `..` is its parent.
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                let next = out.join(name);
                match std::fs::symlink_metadata(&next) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        *budget = budget.checked_sub(1)?;
                        let target = std::fs::read_link(&next).ok()?;
                        // A relative target is relative to the link's folder.
                        out = resolve_absolute(&out.join(target), budget)?;
                    }
                    _ => out = next,
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    use std::os::unix::fs::symlink;

    /// (workspace root, a folder beside it holding `secret.csv`), both under one tempdir.
    fn layout() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join(CONFIG_FILE), "").unwrap();
        std::fs::write(root.join("data/rows.csv"), "a\n1\n").unwrap();
        std::fs::write(outside.join("secret.csv"), "a\nMARKER\n").unwrap();
        (dir, root, outside)
    }

    #[test]
    fn inside_paths_are_kept() {
        let (_dir, root, _) = layout();
        let real_root = std::fs::canonicalize(&root).unwrap();
        assert_eq!(
            confine_named(&root, &root, "data/rows.csv").unwrap(),
            real_root.join("data/rows.csv")
        );
        // `..` that stays inside.
        assert_eq!(
            confine_named(&root, &root.join("data"), "../data/./rows.csv").unwrap(),
            real_root.join("data/rows.csv")
        );
        assert!(confine_named(&root, &root, ".").is_ok());
    }

    #[test]
    fn dot_dot_and_absolute_paths_are_refused() {
        let (_dir, root, outside) = layout();
        let err = confine_named(&root, &root, "../outside/secret.csv").unwrap_err();
        assert_eq!(err.path, "../outside/secret.csv");
        assert_eq!(err.root, root);
        assert_eq!(
            err.to_string(),
            format!(
                "`../outside/secret.csv` is outside the workspace {}",
                root.display()
            )
        );
        assert!(confine_named(&root, &root.join("data"), "../../outside/secret.csv").is_err());
        let absolute = outside.join("secret.csv");
        let err = confine_named(&root, &root, &absolute).unwrap_err();
        assert_eq!(err.path, absolute.display().to_string());
        assert!(confine_named(&root, &root, "/etc/passwd").is_err());
        // A sibling whose name starts like the root's is not inside it.
        std::fs::create_dir_all(root.with_file_name("ws2")).unwrap();
        assert!(confine_named(&root, &root, "../ws2/x.csv").is_err());
    }

    #[test]
    fn files_that_do_not_exist_yet_are_judged() {
        let (_dir, root, _) = layout();
        let real_root = std::fs::canonicalize(&root).unwrap();
        assert_eq!(
            confine_named(&root, &root, "new/dir/x.sqlite").unwrap(),
            real_root.join("new/dir/x.sqlite")
        );
        assert!(confine_named(&root, &root, "new/../../outside/x.sqlite").is_err());
        assert!(confine_named(&root, &root, "../outside/new/x.sqlite").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed() {
        let (_dir, root, outside) = layout();
        // A symlinked file.
        symlink(outside.join("secret.csv"), root.join("data/link.csv")).unwrap();
        assert!(confine_named(&root, &root, "data/link.csv").is_err());
        // A relative symlink.
        symlink("../../outside/secret.csv", root.join("data/rel.csv")).unwrap();
        assert!(confine_named(&root, &root, "data/rel.csv").is_err());
        // A symlinked folder, and `..` after it (the system resolves the link first).
        symlink(&outside, root.join("out")).unwrap();
        assert!(confine_named(&root, &root, "out/secret.csv").is_err());
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        symlink(outside.join("sub"), root.join("deep")).unwrap();
        assert!(confine_named(&root, &root, "deep/../secret.csv").is_err());
        // A dangling symlink to a file that would be created outside.
        symlink(outside.join("later.sqlite"), root.join("later.sqlite")).unwrap();
        assert!(confine_named(&root, &root, "later.sqlite").is_err());
        // A symlink that stays inside is fine.
        symlink(root.join("data/rows.csv"), root.join("alias.csv")).unwrap();
        assert!(confine_named(&root, &root, "alias.csv").is_ok());
        // A loop is refused, not followed forever.
        symlink(root.join("loop"), root.join("loop")).unwrap();
        assert!(confine_named(&root, &root, "loop/x").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_promptls_folder_is_outside() {
        let (_dir, root, outside) = layout();
        symlink(&outside, root.join(".promptls")).unwrap();
        assert!(confine_named(&root, &root, ".promptls").is_err());
        assert!(confine_named(&root, &root, ".promptls/cache.sqlite").is_err());
        // Dangling: the folder it names does not exist yet.
        std::fs::remove_file(root.join(".promptls")).unwrap();
        symlink(outside.join("made-later"), root.join(".promptls")).unwrap();
        assert!(confine_named(&root, &root, ".promptls/history.sqlite").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_root_is_resolved_on_both_sides() {
        // As /tmp -> /private/tmp on macOS: the root is named through a symlink.
        let (dir, root, _) = layout();
        let alias = dir.path().join("alias");
        symlink(&root, &alias).unwrap();
        assert!(confine_named(&alias, &alias, "data/rows.csv").is_ok());
        assert!(confine_named(&alias, &root, "data/rows.csv").is_ok());
        assert!(confine_named(&root, &alias.join("data"), "rows.csv").is_ok());
        assert!(confine_named(&alias, &alias, "../outside/secret.csv").is_err());
        // `alias/..` is the parent of the folder the link names, as the system reads it.
        assert!(confine_named(&alias, &alias, "../ws/data/rows.csv").is_ok());
    }

    #[test]
    fn the_root_is_the_nearest_marked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let top = std::fs::canonicalize(dir.path()).unwrap();
        let nested = top.join("a/b/c");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join("p.prompt"), "Hi").unwrap();
        // No marker anywhere under the tempdir: the file's folder (unless the tempdir
        // itself sits under a marked folder, which it does not on the test machines).
        if !top
            .ancestors()
            .any(|d| MARKERS.iter().any(|m| d.join(m).exists()))
        {
            assert_eq!(workspace_root(&nested.join("p.prompt")), nested);
        }
        std::fs::write(top.join(CONFIG_FILE), "").unwrap();
        assert_eq!(workspace_root(&nested.join("p.prompt")), top);
        // A nearer `.git` wins over a `promptls.toml` further up.
        std::fs::create_dir_all(top.join("a/.git")).unwrap();
        assert_eq!(workspace_root(&nested.join("p.prompt")), top.join("a"));
        // A `.git` file (a git worktree) counts, and so does `.promptls`.
        std::fs::write(top.join("a/b/.git"), "gitdir: elsewhere").unwrap();
        assert_eq!(workspace_root(&nested.join("p.prompt")), top.join("a/b"));
        std::fs::create_dir_all(nested.join(".promptls")).unwrap();
        assert_eq!(workspace_root(&nested.join("p.prompt")), nested);
        // A folder is its own start; a file not written yet starts at its folder.
        assert_eq!(workspace_root(&nested), nested);
        assert_eq!(workspace_root(&top.join("a/new.prompt")), top.join("a"));
    }
}
