//! Opening a history file and bringing it to the schema this code writes.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{sql, Error, Store, FILE_NAME};
use crate::sqlite;

/// The schema this code writes; each earlier version has its step in `MIGRATIONS`.
pub const SCHEMA_VERSION: i64 = 1;

/// `MIGRATIONS[i]` takes a file from schema version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE prompts (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL
    );
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        prompt INTEGER NOT NULL REFERENCES prompts(id),
        number INTEGER NOT NULL,
        hash TEXT NOT NULL,
        content TEXT NOT NULL,
        origin TEXT NOT NULL,
        detail TEXT,
        created TEXT NOT NULL,
        author TEXT NOT NULL,
        UNIQUE (prompt, hash),
        UNIQUE (prompt, number)
    );
    CREATE TABLE parents (
        version INTEGER NOT NULL REFERENCES versions(id),
        parent INTEGER NOT NULL REFERENCES versions(id),
        PRIMARY KEY (version, parent)
    );
    CREATE TABLE heads (
        prompt INTEGER PRIMARY KEY REFERENCES prompts(id),
        version INTEGER NOT NULL REFERENCES versions(id)
    );
    CREATE TABLE scores (
        version INTEGER NOT NULL REFERENCES versions(id),
        dataset TEXT NOT NULL,
        metric TEXT NOT NULL,
        model TEXT NOT NULL,
        score REAL NOT NULL,
        rows INTEGER NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (version, dataset, metric, model)
    );
    CREATE TABLE tags (
        prompt INTEGER NOT NULL REFERENCES prompts(id),
        tag TEXT NOT NULL,
        version INTEGER NOT NULL REFERENCES versions(id),
        PRIMARY KEY (prompt, tag)
    );
    CREATE TABLE tag_moves (
        id INTEGER PRIMARY KEY,
        prompt INTEGER NOT NULL REFERENCES prompts(id),
        tag TEXT NOT NULL,
        from_version INTEGER REFERENCES versions(id),
        to_version INTEGER NOT NULL REFERENCES versions(id),
        author TEXT NOT NULL,
        at TEXT NOT NULL
    );
"];

const KIND: sqlite::Kind = sqlite::Kind {
    noun: "history",
    table: "versions",
    schema: SCHEMA_VERSION,
    remedy: "move it away (promptls makes a new one)",
};

impl Store {
    /// Opens (or creates) the history of the workspace at `root`.
    pub fn open(root: &Path) -> Result<Store, Error> {
        let folder = root.join(".promptls");
        // A `.promptls` symlinked out of the workspace is not followed.
        confine(root, true)?;
        crate::folder::create(&folder)?;
        Store::open_file(&folder.join(FILE_NAME), root)
    }

    /// The history of the workspace at `root` for reading only (listing, comparing,
    /// lenses): opened read-only, so it works where promptls may not write, and a
    /// missing history is an empty one (no file is created).
    pub fn open_read_only(root: &Path) -> Result<Store, Error> {
        // A `.promptls` symlinked out of the workspace is not read either.
        confine(root, false)?;
        let path = root.join(".promptls").join(FILE_NAME);
        if !path.exists() {
            let db = Connection::open_in_memory().map_err(sql)?;
            return Store::with_connection(db, root, true);
        }
        Store::open_file_with(&path, root, false)
    }

    /// Opens (or creates) the history file at `path`. A file that is not a promptls
    /// history is an error and is left exactly as it was; a history promptls may not
    /// write is opened read-only (what reads works, what writes fails).
    pub fn open_file(path: &Path, root: &Path) -> Result<Store, Error> {
        Store::open_file_with(path, root, true)
    }

    fn open_file_with(path: &Path, root: &Path, write: bool) -> Result<Store, Error> {
        let opened = sqlite::open(path, &KIND, write)?;
        Store::with_connection(opened.db, root, !opened.read_only).map_err(|e| Error::At {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// A store over `db`, brought to `SCHEMA_VERSION` when `migrate`.
    fn with_connection(db: Connection, root: &Path, migrate: bool) -> Result<Store, Error> {
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        db.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        let mut store = Store {
            db,
            root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            author: std::sync::OnceLock::new(),
        };
        if migrate {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Brings the file to `SCHEMA_VERSION`, one step per earlier version.
    fn migrate(&mut self) -> Result<(), Error> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (version, tables) = crate::sqlite::version_and_tables(&tx).map_err(sql)?;
        if version == 0 && tables > 0 {
            return Err(Error::OtherTables);
        }
        if version > SCHEMA_VERSION {
            return Err(Error::Newer { version });
        }
        for (from, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(step).map_err(sql)?;
            tx.pragma_update(None, "user_version", from as i64 + 1)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }
}

/// Refuses a `.promptls` that leads out of the workspace at `root`; `written`: whether it
/// was to be written (else read), for the message.
pub(super) fn confine(root: &Path, written: bool) -> Result<(), Error> {
    crate::confine::confine_named(root, root, ".promptls")
        .map(|_| ())
        .map_err(|source| Error::Outside { written, source })
}
