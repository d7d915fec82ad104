//! The server's own state in `.promptls/server.sqlite`: API keys, datasets and jobs. A
//! file of its own rather than tables in the history, so an editor or a command line of
//! an older promptls still opens the history of a served workspace.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, TransactionBehavior};

use super::Error;
use crate::sqlite;

pub const FILE_NAME: &str = "server.sqlite";

const SCHEMA_VERSION: i64 = 1;

/// `MIGRATIONS[i]` takes a file from schema version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE api_keys (
        name TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        scope TEXT NOT NULL,
        created TEXT NOT NULL,
        revoked TEXT
    );
    CREATE TABLE datasets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        hash TEXT NOT NULL,
        rows INTEGER NOT NULL,
        columns TEXT NOT NULL,
        input_fields TEXT NOT NULL,
        output_fields TEXT NOT NULL,
        created TEXT NOT NULL,
        author TEXT NOT NULL
    );
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        prompt TEXT NOT NULL,
        dataset TEXT NOT NULL,
        config TEXT NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        started TEXT,
        finished TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        progress TEXT NOT NULL,
        result TEXT,
        error TEXT
    );
    CREATE INDEX jobs_by_state ON jobs (state, seq);
"];

const KIND: sqlite::Kind = sqlite::Kind {
    noun: "server state",
    table: "api_keys",
    schema: SCHEMA_VERSION,
    remedy: "move it away (promptls serve makes a new one)",
};

/// The open server state; clones share one connection, one caller at a time.
#[derive(Clone)]
pub struct ServerDb(Arc<Mutex<Connection>>);

impl ServerDb {
    /// Opens (or creates) the server state of the workspace at `root` for writing: a
    /// server that cannot write its state cannot take a job, so read-only is an error.
    pub fn open(root: &Path) -> Result<ServerDb, Error> {
        // A `.promptls` symlinked out of the workspace is not followed.
        crate::confine::confine_named(root, root, ".promptls")?;
        let folder = root.join(".promptls");
        crate::folder::create(&folder)?;
        let path = folder.join(FILE_NAME);
        let opened = sqlite::open(&path, &KIND, true)?;
        if opened.read_only {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the server state cannot be written",
                ),
            });
        }
        let mut db = opened.db;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut db)?;
        Ok(ServerDb(Arc::new(Mutex::new(db))))
    }

    /// Runs `f` on the connection.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Connection) -> T) -> T {
        // A panic inside `f` leaves no transaction open (rusqlite rolls back on drop).
        let mut db = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut db)
    }

    /// Whether the state can be written now (for a readiness check): a write that is
    /// rolled back.
    pub fn writable(&self) -> Result<(), Error> {
        self.with(|db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("UPDATE api_keys SET name = name WHERE 0", [])?;
            tx.rollback()?;
            Ok(())
        })
    }
}

fn migrate(db: &mut Connection) -> Result<(), Error> {
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (version, tables) = sqlite::version_and_tables(&tx)?;
    let foreign = |why: &str| Error::Invalid(format!("{FILE_NAME}: {why}; {}", KIND.remedy));
    if version == 0 && tables > 0 {
        return Err(foreign("it is not a promptls server state"));
    }
    if version > SCHEMA_VERSION {
        return Err(foreign(&format!(
            "it was written by a newer promptls (schema {version})"
        )));
    }
    for (from, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
