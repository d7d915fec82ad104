//! The version history of prompts, in SQLite at `.promptls/history.sqlite` in the
//! workspace root. A version is a content-addressed snapshot of a prompt file; versions
//! form a DAG (an edit's parent is the prompt's previous recorded version, an optimizer's
//! result is a child of the version it started from, and returning to earlier content
//! reuses that version). Scores are kept per (version, dataset hash, metric, model); tags
//! (`production`, `staging`, custom) point at versions and every move is kept.
//!
//! Writers are short `BEGIN IMMEDIATE` transactions with a busy timeout, so several
//! servers and command-line runs share one file. A file that is not a promptls history is
//! refused and left untouched.

pub mod diff;

use std::path::{Path, PathBuf};

use crate::sqlite;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

pub const FILE_NAME: &str = "history.sqlite";

const KIND: sqlite::Kind = sqlite::Kind {
    noun: "history",
    table: "versions",
    schema: SCHEMA_VERSION,
    remedy: "move it away (promptls makes a new one)",
};

/// How a version came to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Saved by a person (or recorded by an eval run).
    Edit,
    /// Written by an optimizer: its name, settings and what it spent.
    Optimizer { name: String, detail: Value },
    /// Imported from an export.
    Import,
}

impl Origin {
    fn kind(&self) -> &'static str {
        match self {
            Origin::Edit => "edit",
            Origin::Optimizer { .. } => "optimizer",
            Origin::Import => "import",
        }
    }

    /// The stored detail, with secrets masked (it may quote a model's words).
    fn detail(&self) -> Option<String> {
        match self {
            Origin::Optimizer { name, detail } => Some(crate::secrets::redact_owned(
                json!({"optimizer": name, "detail": detail}).to_string(),
            )),
            _ => None,
        }
    }
}

/// A score of a version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub dataset: String,
    pub metric: String,
    pub model: String,
    pub score: f64,
    pub rows: i64,
    pub created: String,
}

impl Score {
    /// A score measured now on the dataset at `dataset`.
    pub fn new(dataset: &Path, metric: &str, model: &str, score: f64, rows: usize) -> Score {
        Score {
            dataset: dataset_hash(dataset),
            metric: metric.to_string(),
            model: model.to_string(),
            score,
            rows: rows as i64,
            created: now(),
        }
    }

    /// A score from the columns `dataset, metric, model, score, rows, created` starting
    /// at `first`.
    fn from_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Score> {
        Ok(Score {
            dataset: r.get(first)?,
            metric: r.get(first + 1)?,
            model: r.get(first + 2)?,
            score: r.get(first + 3)?,
            rows: r.get(first + 4)?,
            created: r.get(first + 5)?,
        })
    }
}

/// A version as the history lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Version {
    /// `v1`, `v2`, ... per prompt.
    pub number: i64,
    pub hash: String,
    pub parents: Vec<i64>,
    pub origin: String,
    pub detail: Option<Value>,
    pub created: String,
    pub author: String,
    pub tags: Vec<String>,
    pub scores: Vec<Score>,
    #[serde(skip)]
    pub id: i64,
}

/// A tag move, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagMove {
    pub tag: String,
    pub from: Option<i64>,
    pub to: i64,
    pub author: String,
    pub at: String,
}

pub struct Store {
    db: Connection,
    root: PathBuf,
    /// Who records, found once (it may ask git).
    author: std::sync::OnceLock<String>,
}

/// The hash of a prompt's content.
pub fn content_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A dataset's hash (its bytes), for scores.
pub fn dataset_hash(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let digest = Sha256::digest(&bytes);
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
        }
        Err(_) => "missing".into(),
    }
}

/// Who records: git's `user.email` in the workspace, else the OS user.
pub fn author(root: &Path) -> String {
    let git = std::process::Command::new("git")
        .args(["config", "user.email"])
        .current_dir(root)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    git.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Now, as an RFC 3339 UTC timestamp.
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A prompt's identity: its frontmatter `name`, else its path relative to the root.
pub fn identity(root: &Path, path: &Path, source: &str) -> String {
    let parsed = crate::syntax::parse(source);
    if let Some(name) = parsed
        .frontmatter_json()
        .and_then(|fm| fm.get("name").and_then(Value::as_str).map(str::to_string))
    {
        return format!("name:{name}");
    }
    format!("path:{}", relative(root, path))
}

fn relative(root: &Path, path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    absolute
        .strip_prefix(root)
        .unwrap_or(&absolute)
        .to_string_lossy()
        .replace('\\', "/")
}

/// What went wrong with the history: the file (`File`, with its path), SQLite (busy,
/// read-only, other; the rusqlite error is the `source()`), or what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `.promptls` that leads out of the workspace; `written`: whether it was to be
    /// written (else read).
    #[error("the history folder {source}; nothing was {}", if *.written { "written" } else { "read" })]
    Outside {
        written: bool,
        #[source]
        source: crate::confine::OutsideWorkspace,
    },
    #[error(transparent)]
    CreateFolder(#[from] crate::folder::CannotCreate),
    /// Opening the file (not there, not ours, cannot be read).
    #[error(transparent)]
    File(#[from] sqlite::Error),
    /// Preparing an opened file failed.
    #[error("{}: {source}", .path.display())]
    At {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error("the history is busy (another promptls is writing it); try again")]
    Busy(#[source] rusqlite::Error),
    #[error("the history is read-only here (promptls may not write the file or its folder)")]
    ReadOnly(#[source] rusqlite::Error),
    #[error("history: {0}")]
    Sql(#[source] rusqlite::Error),
    #[error("not a promptls history (it has other tables); it was left untouched")]
    OtherTables,
    #[error("the history has schema version {version}, newer than this promptls ({SCHEMA_VERSION}); upgrade promptls")]
    Newer { version: i64 },
    #[error("the prompt has no history")]
    NoHistory,
    #[error("{} has no history yet (run `promptls eval` or save it in the editor)", .path.display())]
    NotRecorded { path: PathBuf },
    #[error("no version `{selector}` of {} (give v3, a tag, or a hash prefix)", .path.display())]
    NoSuchVersion { selector: String, path: PathBuf },
    #[error("no version v{0}")]
    NoVersion(i64),
    #[error("`{0}` is not a tag name (no spaces)")]
    BadTag(String),
    #[error("not a promptls history export (no `promptls_history`)")]
    NotAnExport,
    /// An export's prompt or version without a field it needs.
    #[error("{what} without `{field}`")]
    ExportField {
        what: &'static str,
        field: &'static str,
    },
    #[error("version {hash} of {identity}: its content does not match its hash")]
    HashMismatch { hash: String, identity: String },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        sql(e)
    }
}

/// For the callers that still pass errors on as text (`optimize`, `eval::run`).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// A version's origin, detail, time and author, as stored.
struct About<'a> {
    origin: &'a str,
    detail: Option<String>,
    created: &'a str,
    author: &'a str,
}

/// Adds `content` as the next version of the prompt with row id `prompt`: its number and
/// row id.
fn insert_version(
    tx: &rusqlite::Transaction,
    prompt: i64,
    hash: &str,
    content: &str,
    about: About,
) -> Result<(i64, i64), Error> {
    let number: i64 = tx
        .query_row(
            "SELECT coalesce(max(number), 0) + 1 FROM versions WHERE prompt = ?1",
            [prompt],
            |r| r.get(0),
        )
        .map_err(sql)?;
    let About {
        origin,
        detail,
        created,
        author,
    } = about;
    tx.execute(
        "INSERT INTO versions (prompt, number, hash, content, origin, detail, created, author)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![prompt, number, hash, content, origin, detail, created, author],
    )
    .map_err(sql)?;
    Ok((number, tx.last_insert_rowid()))
}

fn sql(e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) => Error::Busy(e),
        Some(rusqlite::ErrorCode::ReadOnly) => Error::ReadOnly(e),
        _ => Error::Sql(e),
    }
}

impl Store {
    /// Opens (or creates) the history of the workspace at `root`.
    pub fn open(root: &Path) -> Result<Store, Error> {
        let folder = root.join(".promptls");
        // A `.promptls` symlinked out of the workspace is not followed.
        crate::confine::confine_named(root, root, ".promptls").map_err(|source| {
            Error::Outside {
                written: true,
                source,
            }
        })?;
        crate::folder::create(&folder)?;
        Store::open_file(&folder.join(FILE_NAME), root)
    }

    /// The history of the workspace at `root` for reading only (listing, comparing,
    /// lenses): opened read-only, so it works where promptls may not write, and a
    /// missing history is an empty one (no file is created).
    pub fn open_read_only(root: &Path) -> Result<Store, Error> {
        // A `.promptls` symlinked out of the workspace is not read either.
        crate::confine::confine_named(root, root, ".promptls").map_err(|source| {
            Error::Outside {
                written: false,
                source,
            }
        })?;
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

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn author(&self) -> String {
        self.author
            .get_or_init(|| crate::secrets::redact_owned(author(&self.root)))
            .clone()
    }

    /// Records `content` of the prompt at `path`: the existing version with that content,
    /// or a new one whose parent is `parent` (default: the prompt's head). The prompt's
    /// head moves to it. Returns the version number and whether it is new.
    pub fn record(
        &mut self,
        path: &Path,
        content: &str,
        origin: &Origin,
        parent: Option<i64>,
    ) -> Result<(i64, bool), Error> {
        let identity = identity(&self.root, path, content);
        let rel = relative(&self.root, path);
        let hash = content_hash(content);
        let author = self.author();
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let prompt = match tx
            .query_row(
                "SELECT id FROM prompts WHERE identity = ?1",
                [&identity],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(sql)?
        {
            Some(id) => {
                tx.execute(
                    "UPDATE prompts SET path = ?1 WHERE id = ?2",
                    params![rel, id],
                )
                .map_err(sql)?;
                id
            }
            None => {
                // A renamed file: another prompt's head has this content and its file is
                // gone; it keeps its history under the new identity.
                let renamed: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT p.id, p.path FROM prompts p JOIN heads h ON h.prompt = p.id
                         JOIN versions v ON v.id = h.version WHERE v.hash = ?1",
                        [&hash],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(sql)?;
                match renamed.filter(|(_, old)| !self.root.join(old).exists()) {
                    Some((id, _)) => {
                        tx.execute(
                            "UPDATE prompts SET identity = ?1, path = ?2 WHERE id = ?3",
                            params![identity, rel, id],
                        )
                        .map_err(sql)?;
                        id
                    }
                    None => {
                        tx.execute(
                            "INSERT INTO prompts (identity, path) VALUES (?1, ?2)",
                            params![identity, rel],
                        )
                        .map_err(sql)?;
                        tx.last_insert_rowid()
                    }
                }
            }
        };
        let existing: Option<(i64, i64)> = tx
            .query_row(
                "SELECT id, number FROM versions WHERE prompt = ?1 AND hash = ?2",
                params![prompt, hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql)?;
        let head: Option<i64> = tx
            .query_row(
                "SELECT version FROM heads WHERE prompt = ?1",
                [prompt],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        let (id, number, new) = match existing {
            Some((id, number)) => (id, number, false),
            None => {
                let (number, id) = insert_version(
                    &tx,
                    prompt,
                    &hash,
                    content,
                    About {
                        origin: origin.kind(),
                        detail: origin.detail(),
                        created: &now(),
                        author: &author,
                    },
                )?;
                let parent_id = match parent {
                    Some(n) => tx
                        .query_row(
                            "SELECT id FROM versions WHERE prompt = ?1 AND number = ?2",
                            params![prompt, n],
                            |r| r.get::<_, i64>(0),
                        )
                        .optional()
                        .map_err(sql)?,
                    None => head,
                };
                if let Some(p) = parent_id {
                    tx.execute(
                        "INSERT INTO parents (version, parent) VALUES (?1, ?2)",
                        params![id, p],
                    )
                    .map_err(sql)?;
                }
                (id, number, true)
            }
        };
        tx.execute(
            "INSERT INTO heads (prompt, version) VALUES (?1, ?2)
             ON CONFLICT(prompt) DO UPDATE SET version = excluded.version",
            params![prompt, id],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok((number, new))
    }

    fn prompt_id(&self, path: &Path, content: &str) -> Result<Option<i64>, Error> {
        let identity = identity(&self.root, path, content);
        self.db
            .query_row(
                "SELECT id FROM prompts WHERE identity = ?1",
                [&identity],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)
    }

    /// Records `content` as `record` does and, when given, its score; returns the
    /// version number.
    pub fn record_scored(
        &mut self,
        path: &Path,
        content: &str,
        origin: &Origin,
        parent: Option<i64>,
        score: Option<&Score>,
    ) -> Result<i64, Error> {
        let (n, _) = self.record(path, content, origin, parent)?;
        if let Some(score) = score {
            self.record_score(path, content, n, score)?;
        }
        Ok(n)
    }

    /// Stores a score of version `number` of the prompt at `path`.
    pub fn record_score(
        &mut self,
        path: &Path,
        content: &str,
        number: i64,
        score: &Score,
    ) -> Result<(), Error> {
        let prompt = self.prompt_id(path, content)?.ok_or(Error::NoHistory)?;
        self.db
            .execute(
                "INSERT INTO scores (version, dataset, metric, model, score, rows, created)
                 SELECT id, ?3, ?4, ?5, ?6, ?7, ?8 FROM versions WHERE prompt = ?1 AND number = ?2
                 ON CONFLICT(version, dataset, metric, model) DO UPDATE SET score = excluded.score, rows = excluded.rows, created = excluded.created",
                params![prompt, number, score.dataset, score.metric, score.model, score.score, score.rows, score.created],
            )
            .map_err(sql)?;
        Ok(())
    }

    /// Every version of the prompt, oldest first.
    pub fn history(&self, path: &Path, content: &str) -> Result<Vec<Version>, Error> {
        let Some(prompt) = self.prompt_id(path, content)? else {
            return Ok(Vec::new());
        };
        let mut statement = self
            .db
            .prepare_cached(
                "SELECT id, number, hash, origin, detail, created, author FROM versions WHERE prompt = ?1 ORDER BY number",
            )
            .map_err(sql)?;
        let mut versions: Vec<Version> = statement
            .query_map([prompt], |r| {
                Ok(Version {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    hash: r.get(2)?,
                    origin: r.get(3)?,
                    detail: r
                        .get::<_, Option<String>>(4)?
                        .and_then(|d| serde_json::from_str(&d).ok()),
                    created: r.get(5)?,
                    author: r.get(6)?,
                    parents: Vec::new(),
                    tags: Vec::new(),
                    scores: Vec::new(),
                })
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let index: std::collections::HashMap<i64, usize> = versions
            .iter()
            .enumerate()
            .map(|(i, v)| (v.id, i))
            .collect();
        let number_of: std::collections::HashMap<i64, i64> =
            versions.iter().map(|v| (v.id, v.number)).collect();
        let mut parents = self
            .db
            .prepare_cached(
                "SELECT p.version, p.parent FROM parents p JOIN versions v ON v.id = p.version WHERE v.prompt = ?1",
            )
            .map_err(sql)?;
        for row in parents
            .query_map([prompt], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .map_err(sql)?
        {
            let (v, p) = row.map_err(sql)?;
            if let (Some(&i), Some(&n)) = (index.get(&v), number_of.get(&p)) {
                versions[i].parents.push(n);
            }
        }
        let mut tags = self
            .db
            .prepare_cached("SELECT version, tag FROM tags WHERE prompt = ?1 ORDER BY tag")
            .map_err(sql)?;
        for row in tags
            .query_map([prompt], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sql)?
        {
            let (v, t) = row.map_err(sql)?;
            if let Some(&i) = index.get(&v) {
                versions[i].tags.push(t);
            }
        }
        let mut scores = self
            .db
            .prepare_cached(
                "SELECT s.version, s.dataset, s.metric, s.model, s.score, s.rows, s.created FROM scores s
                 JOIN versions v ON v.id = s.version WHERE v.prompt = ?1 ORDER BY s.created",
            )
            .map_err(sql)?;
        for row in scores
            .query_map([prompt], |r| {
                Ok((r.get::<_, i64>(0)?, Score::from_row(r, 1)?))
            })
            .map_err(sql)?
        {
            let (v, s) = row.map_err(sql)?;
            if let Some(&i) = index.get(&v) {
                versions[i].scores.push(s);
            }
        }
        Ok(versions)
    }

    /// The number of the version `selector` names: `v3`, `3`, a tag, `head`, or a hash
    /// prefix.
    pub fn resolve(&self, path: &Path, content: &str, selector: &str) -> Result<i64, Error> {
        let prompt = self
            .prompt_id(path, content)?
            .ok_or_else(|| Error::NotRecorded {
                path: path.to_path_buf(),
            })?;
        let by_number = selector
            .strip_prefix('v')
            .unwrap_or(selector)
            .parse::<i64>()
            .ok();
        let query = |sql_text: &str, arg: &dyn rusqlite::ToSql| -> Result<Option<i64>, Error> {
            self.db
                .query_row(sql_text, params![prompt, arg], |r| r.get(0))
                .optional()
                .map_err(sql)
        };
        if let Some(n) = by_number {
            if let Some(found) = query(
                "SELECT number FROM versions WHERE prompt = ?1 AND number = ?2",
                &n,
            )? {
                return Ok(found);
            }
        }
        if selector == "head" {
            if let Some(found) = query(
                "SELECT v.number FROM heads h JOIN versions v ON v.id = h.version WHERE h.prompt = ?1 AND ?2 = 'head'",
                &selector,
            )? {
                return Ok(found);
            }
        }
        if let Some(found) = query(
            "SELECT v.number FROM tags t JOIN versions v ON v.id = t.version WHERE t.prompt = ?1 AND t.tag = ?2",
            &selector,
        )? {
            return Ok(found);
        }
        if selector.len() >= 4 && selector.chars().all(|c| c.is_ascii_hexdigit()) {
            let pattern = format!("{selector}%");
            if let Some(found) = query(
                "SELECT number FROM versions WHERE prompt = ?1 AND hash LIKE ?2",
                &pattern,
            )? {
                return Ok(found);
            }
        }
        Err(Error::NoSuchVersion {
            selector: selector.to_string(),
            path: path.to_path_buf(),
        })
    }

    /// The content of version `number`.
    pub fn content(&self, path: &Path, content: &str, number: i64) -> Result<String, Error> {
        let prompt = self.prompt_id(path, content)?.ok_or(Error::NoHistory)?;
        self.db
            .query_row(
                "SELECT content FROM versions WHERE prompt = ?1 AND number = ?2",
                params![prompt, number],
                |r| r.get(0),
            )
            .map_err(sql)
    }

    /// Points `tag` at version `number`, recording the move.
    pub fn promote(
        &mut self,
        path: &Path,
        content: &str,
        number: i64,
        tag: &str,
    ) -> Result<TagMove, Error> {
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace()) {
            return Err(Error::BadTag(tag.to_string()));
        }
        let prompt = self.prompt_id(path, content)?.ok_or(Error::NoHistory)?;
        let author = self.author();
        let at = now();
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let to: i64 = tx
            .query_row(
                "SELECT id FROM versions WHERE prompt = ?1 AND number = ?2",
                params![prompt, number],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?
            .ok_or(Error::NoVersion(number))?;
        let from: Option<i64> = tx
            .query_row(
                "SELECT version FROM tags WHERE prompt = ?1 AND tag = ?2",
                params![prompt, tag],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO tags (prompt, tag, version) VALUES (?1, ?2, ?3)
             ON CONFLICT(prompt, tag) DO UPDATE SET version = excluded.version",
            params![prompt, tag, to],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT INTO tag_moves (prompt, tag, from_version, to_version, author, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![prompt, tag, from, to, author, at],
        )
        .map_err(sql)?;
        let from_number: Option<i64> = match from {
            Some(id) => tx
                .query_row("SELECT number FROM versions WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?,
            None => None,
        };
        tx.commit().map_err(sql)?;
        Ok(TagMove {
            tag: tag.to_string(),
            from: from_number,
            to: number,
            author,
            at,
        })
    }

    /// Every tag move of the prompt, oldest first.
    pub fn tag_moves(&self, path: &Path, content: &str) -> Result<Vec<TagMove>, Error> {
        let Some(prompt) = self.prompt_id(path, content)? else {
            return Ok(Vec::new());
        };
        let mut statement = self
            .db
            .prepare_cached(
                "SELECT m.tag, f.number, t.number, m.author, m.at FROM tag_moves m
                 LEFT JOIN versions f ON f.id = m.from_version JOIN versions t ON t.id = m.to_version
                 WHERE m.prompt = ?1 ORDER BY m.id",
            )
            .map_err(sql)?;
        let moves = statement
            .query_map([prompt], |r| {
                Ok(TagMove {
                    tag: r.get(0)?,
                    from: r.get(1)?,
                    to: r.get(2)?,
                    author: r.get(3)?,
                    at: r.get(4)?,
                })
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        Ok(moves)
    }

    /// Moves the prompt's head to version `number` (what a restore or a return to earlier
    /// content does: the next edit is its child).
    pub fn set_head(&mut self, path: &Path, content: &str, number: i64) -> Result<(), Error> {
        let prompt = self.prompt_id(path, content)?.ok_or(Error::NoHistory)?;
        self.db
            .execute(
                "INSERT INTO heads (prompt, version) SELECT ?1, id FROM versions WHERE prompt = ?1 AND number = ?2
                 ON CONFLICT(prompt) DO UPDATE SET version = excluded.version",
                params![prompt, number],
            )
            .map_err(sql)?;
        Ok(())
    }
}

/// What the editor's first-line lens and hover need, by indexed lookups only (a prompt
/// may have thousands of versions).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The version with the working content, if it was recorded.
    pub number: Option<i64>,
    pub tags: Vec<String>,
    /// Its latest score.
    pub score: Option<Score>,
    /// The production version: number, its score on the same dataset, metric and model
    /// (else its latest), and its content.
    pub production: Option<(i64, Option<Score>, String)>,
}

impl Store {
    /// The lens summary of the prompt at `path` with working `content`; `None` without
    /// history.
    pub fn summary(&self, path: &Path, content: &str) -> Result<Option<Summary>, Error> {
        let Some(prompt) = self.prompt_id(path, content)? else {
            return Ok(None);
        };
        let hash = content_hash(content);
        let current: Option<i64> = self
            .db
            .prepare_cached("SELECT id FROM versions WHERE prompt = ?1 AND hash = ?2")
            .and_then(|mut s| s.query_row(params![prompt, hash], |r| r.get(0)).optional())
            .map_err(sql)?;
        let latest_score = |version: i64, like: Option<&Score>| -> Result<Option<Score>, Error> {
            let mut statement = self
                .db
                .prepare_cached(
                    "SELECT dataset, metric, model, score, rows, created FROM scores WHERE version = ?1
                     ORDER BY (dataset = ?2 AND metric = ?3 AND model = ?4) DESC, created DESC LIMIT 1",
                )
                .map_err(sql)?;
            let (d, m, o) = like.map_or(("", "", ""), |s| {
                (s.dataset.as_str(), s.metric.as_str(), s.model.as_str())
            });
            statement
                .query_row(params![version, d, m, o], |r| Score::from_row(r, 0))
                .optional()
                .map_err(sql)
        };
        let (number, tags, score) = match current {
            Some(id) => {
                let number: i64 = self
                    .db
                    .query_row("SELECT number FROM versions WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .map_err(sql)?;
                let mut statement = self
                    .db
                    .prepare_cached("SELECT tag FROM tags WHERE version = ?1 ORDER BY tag")
                    .map_err(sql)?;
                let tags = statement
                    .query_map([id], |r| r.get(0))
                    .map_err(sql)?
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(sql)?;
                (Some(number), tags, latest_score(id, None)?)
            }
            None => (None, Vec::new(), None),
        };
        let production: Option<(i64, i64, String)> = self
            .db
            .prepare_cached(
                "SELECT v.id, v.number, v.content FROM tags t JOIN versions v ON v.id = t.version
                 WHERE t.prompt = ?1 AND t.tag = 'production'",
            )
            .and_then(|mut s| {
                s.query_row([prompt], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(sql)?;
        let production = match production {
            Some((id, n, text)) => Some((n, latest_score(id, score.as_ref())?, text)),
            None => None,
        };
        Ok(Some(Summary {
            number,
            tags,
            score,
            production,
        }))
    }

    /// Every prompt's history as JSON, to share (e.g. in git): versions with their content,
    /// parents by hash, scores, tags and tag moves.
    pub fn export(&self) -> Result<Value, Error> {
        let mut prompts = Vec::new();
        let mut list = self
            .db
            .prepare("SELECT id, identity, path FROM prompts ORDER BY id")
            .map_err(sql)?;
        let rows: Vec<(i64, String, String)> = list
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        for (id, identity, path) in rows {
            let mut versions = self
                .db
                .prepare(
                    "SELECT v.number, v.hash, v.content, v.origin, v.detail, v.created, v.author,
                            (SELECT group_concat(p2.hash) FROM parents p JOIN versions p2 ON p2.id = p.parent WHERE p.version = v.id)
                     FROM versions v WHERE v.prompt = ?1 ORDER BY v.number",
                )
                .map_err(sql)?;
            let versions: Vec<Value> = versions
                .query_map([id], |r| {
                    Ok(json!({
                        "number": r.get::<_, i64>(0)?,
                        "hash": r.get::<_, String>(1)?,
                        "content": r.get::<_, String>(2)?,
                        "origin": r.get::<_, String>(3)?,
                        "detail": r.get::<_, Option<String>>(4)?.and_then(|d| serde_json::from_str::<Value>(&d).ok()),
                        "created": r.get::<_, String>(5)?,
                        "author": r.get::<_, String>(6)?,
                        "parents": r.get::<_, Option<String>>(7)?.map(|p| p.split(',').map(str::to_string).collect::<Vec<_>>()).unwrap_or_default(),
                    }))
                })
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let mut scores = self
                .db
                .prepare(
                    "SELECT v.hash, s.dataset, s.metric, s.model, s.score, s.rows, s.created FROM scores s
                     JOIN versions v ON v.id = s.version WHERE v.prompt = ?1",
                )
                .map_err(sql)?;
            let scores: Vec<Value> = scores
                .query_map([id], |r| {
                    Ok(json!({"hash": r.get::<_, String>(0)?, "dataset": r.get::<_, String>(1)?, "metric": r.get::<_, String>(2)?,
                              "model": r.get::<_, String>(3)?, "score": r.get::<_, f64>(4)?, "rows": r.get::<_, i64>(5)?, "created": r.get::<_, String>(6)?}))
                })
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            let mut tags = self
                .db
                .prepare("SELECT t.tag, v.hash FROM tags t JOIN versions v ON v.id = t.version WHERE t.prompt = ?1")
                .map_err(sql)?;
            let tags: serde_json::Map<String, Value> = tags
                .query_map([id], |r| {
                    Ok((r.get::<_, String>(0)?, Value::String(r.get(1)?)))
                })
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            prompts.push(json!({"identity": identity, "path": path, "versions": versions, "scores": scores, "tags": tags}));
        }
        Ok(json!({"promptls_history": SCHEMA_VERSION, "prompts": prompts}))
    }

    /// Merges an export: versions missing here are added (numbered after the local
    /// ones, parents by hash), scores and tags too (a tag that moves is recorded).
    /// Returns (versions added, versions already here).
    pub fn import(&mut self, export: &Value) -> Result<(usize, usize), Error> {
        if export
            .get("promptls_history")
            .and_then(Value::as_i64)
            .is_none()
        {
            return Err(Error::NotAnExport);
        }
        let author = self.author();
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (mut added, mut known) = (0, 0);
        for p in export["prompts"].as_array().into_iter().flatten() {
            let identity = p["identity"].as_str().ok_or(Error::ExportField {
                what: "a prompt",
                field: "identity",
            })?;
            let path = p["path"].as_str().unwrap_or("");
            tx.execute(
                "INSERT OR IGNORE INTO prompts (identity, path) VALUES (?1, ?2)",
                params![identity, path],
            )
            .map_err(sql)?;
            let prompt: i64 = tx
                .query_row(
                    "SELECT id FROM prompts WHERE identity = ?1",
                    [identity],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            let id_of = |tx: &rusqlite::Transaction, hash: &str| -> Result<Option<i64>, Error> {
                tx.query_row(
                    "SELECT id FROM versions WHERE prompt = ?1 AND hash = ?2",
                    params![prompt, hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql)
            };
            for v in p["versions"].as_array().into_iter().flatten() {
                let field = |field| Error::ExportField {
                    what: "a version",
                    field,
                };
                let hash = v["hash"].as_str().ok_or_else(|| field("hash"))?;
                let content = v["content"].as_str().ok_or_else(|| field("content"))?;
                if content_hash(content) != hash {
                    return Err(Error::HashMismatch {
                        hash: hash.to_string(),
                        identity: identity.to_string(),
                    });
                }
                if id_of(&tx, hash)?.is_some() {
                    known += 1;
                    continue;
                }
                let (_, id) = insert_version(
                    &tx,
                    prompt,
                    hash,
                    content,
                    About {
                        origin: v["origin"].as_str().unwrap_or("import"),
                        detail: v
                            .get("detail")
                            .filter(|d| !d.is_null())
                            .map(Value::to_string),
                        created: v["created"].as_str().unwrap_or(""),
                        author: v["author"].as_str().unwrap_or(""),
                    },
                )?;
                for parent in v["parents"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    if let Some(pid) = id_of(&tx, parent)? {
                        tx.execute(
                            "INSERT OR IGNORE INTO parents (version, parent) VALUES (?1, ?2)",
                            params![id, pid],
                        )
                        .map_err(sql)?;
                    }
                }
                tx.execute(
                    "INSERT OR IGNORE INTO heads (prompt, version) VALUES (?1, ?2)",
                    params![prompt, id],
                )
                .map_err(sql)?;
                added += 1;
            }
            for s in p["scores"].as_array().into_iter().flatten() {
                if let Some(vid) = id_of(&tx, s["hash"].as_str().unwrap_or(""))? {
                    tx.execute(
                        "INSERT OR IGNORE INTO scores (version, dataset, metric, model, score, rows, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![vid, s["dataset"].as_str().unwrap_or(""), s["metric"].as_str().unwrap_or(""), s["model"].as_str().unwrap_or(""),
                                s["score"].as_f64().unwrap_or(0.0), s["rows"].as_i64().unwrap_or(0), s["created"].as_str().unwrap_or("")],
                    )
                    .map_err(sql)?;
                }
            }
            for (tag, hash) in p["tags"].as_object().into_iter().flatten() {
                let Some(vid) = id_of(&tx, hash.as_str().unwrap_or(""))? else {
                    continue;
                };
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM tags WHERE prompt = ?1 AND tag = ?2",
                        params![prompt, tag],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                if current != Some(vid) {
                    tx.execute(
                        "INSERT INTO tags (prompt, tag, version) VALUES (?1, ?2, ?3) ON CONFLICT(prompt, tag) DO UPDATE SET version = excluded.version",
                        params![prompt, tag, vid],
                    )
                    .map_err(sql)?;
                    tx.execute(
                        "INSERT INTO tag_moves (prompt, tag, from_version, to_version, author, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![prompt, tag, current, vid, format!("{author} (import)"), now()],
                    )
                    .map_err(sql)?;
                }
            }
        }
        tx.commit().map_err(sql)?;
        Ok((added, known))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_420), (2025, 11, 28));
        let t = now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn errors_say_what_went_wrong_and_keep_the_sqlite_cause() {
        use std::error::Error as _;
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        let busy = sql(failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(matches!(busy, Error::Busy(_)), "{busy:?}");
        assert_eq!(
            busy.to_string(),
            "the history is busy (another promptls is writing it); try again"
        );
        sqlite::assert_sqlite_code(busy.source(), rusqlite::ErrorCode::DatabaseBusy);
        let read_only = Error::from(failure(rusqlite::ffi::SQLITE_READONLY));
        assert!(matches!(read_only, Error::ReadOnly(_)), "{read_only:?}");
        let other = sql(failure(rusqlite::ffi::SQLITE_CORRUPT));
        assert!(other.to_string().starts_with("history: "), "{other}");

        // A file that is not a history: the path and the reason are kept.
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join(".promptls");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join(FILE_NAME), b"not a database at all").unwrap();
        let error = Store::open(dir.path()).err().unwrap();
        let Error::File(sqlite::Error::Foreign { path, noun, .. }) = &error else {
            panic!("{error:?}");
        };
        assert_eq!((path, *noun), (&folder.join(FILE_NAME), "history"));
        assert!(
            error.to_string().contains("is not a promptls history"),
            "{error}"
        );
        assert!(error.source().unwrap().is::<sqlite::Foreign>());

        let missing = Error::NotRecorded {
            path: PathBuf::from("a.prompt"),
        };
        assert_eq!(
            missing.to_string(),
            "a.prompt has no history yet (run `promptls eval` or save it in the editor)"
        );
        assert!(missing.source().is_none());
    }
}
