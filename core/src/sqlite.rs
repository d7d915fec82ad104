//! Opening promptls's own SQLite files (the model-call cache, the history) without ever
//! changing someone else's: an existing file is first opened read-only and only looked
//! at (its `user_version` and tables; no journal-mode change, no write, no `-wal` or
//! `-shm` for a file in rollback mode), and only a file of ours is then opened for writing
//! and switched to WAL. A file or folder promptls may not write is used read-only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, MAIN_DB};

/// What kind of promptls file is opened, for the checks and the messages.
pub struct Kind {
    /// `cache`, `history`.
    pub noun: &'static str,
    /// A table every file of this kind has from schema version 1 on.
    pub table: &'static str,
    /// The schema version this promptls writes.
    pub schema: i64,
    /// What to do about a file that is not ours, e.g. "move it away or set [eval] cache".
    pub remedy: &'static str,
}

/// An open file of ours.
pub struct Opened {
    pub db: Connection,
    /// Its `user_version` (0 for a new, empty file).
    pub version: i64,
    /// Whether it was opened read-only (asked for, or the file or folder is not
    /// writable); then its schema is this promptls's.
    pub read_only: bool,
}

const READ_ONLY: OpenFlags =
    OpenFlags::SQLITE_OPEN_READ_ONLY.union(OpenFlags::SQLITE_OPEN_NO_MUTEX);

/// Why a promptls SQLite file could not be opened; the path is kept, and the SQLite error
/// is the `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Asked to read a file that is not there.
    #[error("{} does not exist", .path.display())]
    Missing { path: PathBuf },
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot open {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Could not be read (busy, I/O).
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Not a promptls `noun` file; it was left untouched.
    #[error(
        "{} is not a promptls {noun} ({why}); {remedy}; it was left untouched",
        .path.display()
    )]
    Foreign {
        path: PathBuf,
        noun: &'static str,
        remedy: &'static str,
        #[source]
        why: Foreign,
    },
    /// A read-only file this promptls would have to upgrade.
    #[error(
        "{} is read-only and has schema version {version}; this promptls needs {needs} (let it write the file once)",
        .path.display()
    )]
    ReadOnlyOld {
        path: PathBuf,
        version: i64,
        needs: i64,
    },
}

/// Why a file is not ours.
#[derive(Debug, thiserror::Error)]
pub enum Foreign {
    #[error("not a SQLite database: {0}")]
    NotADatabase(#[source] rusqlite::Error),
    #[error("it has other tables")]
    OtherTables,
    #[error("schema version {version} but no `{table}` table")]
    NoTable { version: i64, table: &'static str },
    #[error("schema version {version}, newer than this promptls ({schema}); upgrade promptls")]
    Newer { version: i64, schema: i64 },
}

/// Opens `path` as a `kind` file: created when missing (if `write`), checked read-only
/// when it exists, then opened for writing in WAL mode if `write` and the file and its
/// folder allow it, else read-only. A file that is not a promptls `kind` is an error
/// naming it, and is left exactly as it was.
pub fn open(path: &Path, kind: &Kind, write: bool) -> Result<Opened, Error> {
    let at = || path.to_path_buf();
    if !path.exists() {
        if !write {
            return Err(Error::Missing { path: at() });
        }
        let create = |source| Error::Create { path: at(), source };
        let db = Connection::open(path).map_err(create)?;
        wal(&db).map_err(create)?;
        return Ok(Opened {
            db,
            version: 0,
            read_only: false,
        });
    }
    let reader = read_only(path, false).map_err(|source| Error::Open { path: at(), source })?;
    let version = inspect(&reader, kind).map_err(|why| match why {
        Inspection::Foreign(why) => Error::Foreign {
            path: at(),
            noun: kind.noun,
            remedy: kind.remedy,
            why,
        },
        Inspection::Failed(source) => Error::Read { path: at(), source },
    })?;
    if write {
        match writer(path) {
            Ok(db) => {
                return Ok(Opened {
                    db,
                    version,
                    read_only: false,
                })
            }
            Err(source) if !denied(&source) => return Err(Error::Open { path: at(), source }),
            Err(_) => {}
        }
    }
    if version < kind.schema {
        return Err(Error::ReadOnlyOld {
            path: at(),
            version,
            needs: kind.schema,
        });
    }
    Ok(Opened {
        db: reader,
        version,
        read_only: true,
    })
}

/// A read-only connection whose first read worked. A WAL file in a folder where its
/// `-shm` cannot be created is read as immutable (no one can be writing it there).
pub fn read_only(path: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    let db = if immutable {
        let uri = format!("file:{}?immutable=1", uri_path(path));
        Connection::open_with_flags(uri, READ_ONLY | OpenFlags::SQLITE_OPEN_URI)?
    } else {
        Connection::open_with_flags(path, READ_ONLY)?
    };
    db.busy_timeout(Duration::from_secs(10))?;
    match db.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())) {
        Err(e) if !immutable && e.sqlite_error_code() == Some(ErrorCode::CannotOpen) => {
            read_only(path, true)
        }
        // Other failures (not a database) are for `inspect` to name.
        _ => Ok(db),
    }
}

enum Inspection {
    /// Not ours: why.
    Foreign(Foreign),
    /// Could not be read (busy, I/O).
    Failed(rusqlite::Error),
}

/// The file's `user_version` and how many tables it has (a file of ours at version 0
/// has none: it is new).
pub fn version_and_tables(db: &Connection) -> rusqlite::Result<(i64, i64)> {
    let version = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let tables = db.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    Ok((version, tables))
}

/// The file's schema version, if it is a promptls `kind` this promptls can use; reads
/// only.
fn inspect(db: &Connection, kind: &Kind) -> Result<i64, Inspection> {
    let read = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Inspection::Foreign(Foreign::NotADatabase(e)),
        _ => Inspection::Failed(e),
    };
    let (version, tables) = version_and_tables(db).map_err(read)?;
    let has_table: bool = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [kind.table],
            |r| r.get::<_, i64>(0),
        )
        .map_err(read)?
        > 0;
    if version == 0 && tables > 0 {
        return Err(Inspection::Foreign(Foreign::OtherTables));
    }
    if version > 0 && !has_table {
        return Err(Inspection::Foreign(Foreign::NoTable {
            version,
            table: kind.table,
        }));
    }
    if version > kind.schema {
        return Err(Inspection::Foreign(Foreign::Newer {
            version,
            schema: kind.schema,
        }));
    }
    Ok(version)
}

/// The file opened for writing, in WAL mode; `Err` when it cannot be written.
fn writer(path: &Path) -> rusqlite::Result<Connection> {
    // No CREATE: the file exists (and was checked); it is not made again if it went away.
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // SQLite opens a write-protected file read-only without a word.
    if db.is_readonly(MAIN_DB)? {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            Some("the file is write-protected".into()),
        ));
    }
    wal(&db)?;
    Ok(db)
}

fn wal(db: &Connection) -> rusqlite::Result<()> {
    db.busy_timeout(Duration::from_secs(10))?;
    db.pragma_update(None, "journal_mode", "WAL")
}

/// Whether `e` says the file or its folder may not be written (then it is read-only).
fn denied(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied)
    )
}

/// `path` for a `file:` URI: `%`, `?` and `#` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3f"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
}

/// Asserts that `error` is a SQLite error with `code` (tests of the errors that keep one
/// as their `source()`).
#[cfg(test)]
pub(crate) fn assert_sqlite_code(
    error: Option<&(dyn std::error::Error + 'static)>,
    code: ErrorCode,
) {
    let sqlite = error.and_then(|e| e.downcast_ref::<rusqlite::Error>());
    assert_eq!(
        sqlite.and_then(rusqlite::Error::sqlite_error_code),
        Some(code),
        "{error:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        noun: "thing",
        table: "things",
        schema: 1,
        remedy: "move it away",
    };

    fn ours(path: &Path) {
        let opened = open(path, &KIND, true).unwrap();
        opened
            .db
            .execute_batch(
                "CREATE TABLE things (x); INSERT INTO things VALUES (42); PRAGMA user_version = 1;",
            )
            .unwrap();
    }

    fn sidecars(path: &Path) -> Vec<String> {
        ["-wal", "-shm", "-journal"]
            .iter()
            .map(|s| format!("{}{s}", path.display()))
            .filter(|p| Path::new(p).exists())
            .collect()
    }

    #[test]
    fn foreign_and_junk_files_are_refused_without_a_byte_changed() {
        let dir = tempfile::tempdir().unwrap();
        let foreign = dir.path().join("foreign.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch(
                "PRAGMA journal_mode = DELETE; CREATE TABLE mine (x); INSERT INTO mine VALUES (1);",
            )
            .unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database, just some text in a file").unwrap();
        let versioned = dir.path().join("versioned.sqlite");
        Connection::open(&versioned)
            .unwrap()
            .execute_batch("CREATE TABLE other (x); PRAGMA user_version = 1;")
            .unwrap();
        for path in [&foreign, &junk, &versioned] {
            let before = std::fs::read(path).unwrap();
            for write in [true, false] {
                let error = open(path, &KIND, write).err().unwrap().to_string();
                assert!(error.contains("is not a promptls thing"), "{error}");
                assert!(error.contains("move it away"), "{error}");
                assert!(error.contains(&path.display().to_string()), "{error}");
            }
            assert_eq!(std::fs::read(path).unwrap(), before, "{}", path.display());
            assert!(sidecars(path).is_empty(), "{:?}", sidecars(path));
        }
    }

    #[test]
    fn our_files_open_for_writing_or_read_only_and_immutable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ours.sqlite");
        ours(&path);
        let rw = open(&path, &KIND, true).unwrap();
        assert!(!rw.read_only);
        assert_eq!(rw.version, 1);
        drop(rw);
        let before = std::fs::read(&path).unwrap();
        let ro = open(&path, &KIND, false).unwrap();
        assert!(ro.read_only);
        let x: i64 = ro
            .db
            .query_row("SELECT x FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 42);
        let refused = ro
            .db
            .execute("INSERT INTO things VALUES (1)", [])
            .unwrap_err();
        assert_eq!(refused.sqlite_error_code(), Some(ErrorCode::ReadOnly));
        drop(ro);
        // As it is read in a folder promptls may not write (no -shm can be made there).
        let immutable = read_only(&path, true).unwrap();
        let x: i64 = immutable
            .query_row("SELECT x FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 42);
        drop(immutable);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // A read-only file of an older schema cannot be used (it cannot be upgraded).
        let old = dir.path().join("old.sqlite");
        std::fs::write(&old, b"").unwrap();
        let error = open(&old, &KIND, false).err().unwrap();
        assert!(matches!(
            error,
            Error::ReadOnlyOld {
                version: 0,
                needs: 1,
                ..
            }
        ));
        assert!(error.to_string().contains("read-only"), "{error}");
        assert!(open(&dir.path().join("missing.sqlite"), &KIND, false).is_err());
        assert!(!dir.path().join("missing.sqlite").exists());
        assert!(denied(&rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_READONLY),
            None
        )));
    }

    #[test]
    fn errors_keep_the_path_and_the_sqlite_cause() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database, just some text in a file").unwrap();
        let error = open(&junk, &KIND, false).err().unwrap();
        let Error::Foreign { path, why, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &junk);
        assert!(matches!(why, Foreign::NotADatabase(_)), "{why:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "{} is not a promptls thing ({why}); move it away; it was left untouched",
                junk.display()
            )
        );
        let why = error.source().unwrap();
        assert!(
            why.to_string().starts_with("not a SQLite database: "),
            "{why}"
        );
        assert_sqlite_code(why.source(), ErrorCode::NotADatabase);
        let missing = open(&dir.path().join("missing.sqlite"), &KIND, false)
            .err()
            .unwrap();
        assert_eq!(
            missing.to_string(),
            format!(
                "{} does not exist",
                dir.path().join("missing.sqlite").display()
            )
        );
        assert!(missing.source().is_none());
    }
}
