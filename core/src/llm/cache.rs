//! The model-call cache: SQLite, keyed by a digest of provider, model, parameters and
//! rendered messages, so a repeated run costs no calls and, after an edit, only rows
//! whose rendered prompt changed are sent. Keys and base URLs are not part of the key
//! and are never stored.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::wire::{ChatRequest, ChatResponse};
use super::Error;

/// The schema version this code writes; older files are migrated on open.
pub(super) const SCHEMA_VERSION: i64 = 1;

const KIND: crate::sqlite::Kind = crate::sqlite::Kind {
    noun: "cache",
    table: "calls",
    schema: SCHEMA_VERSION,
    remedy: "move it away or set [eval] cache in promptls.toml",
};

pub struct Cache {
    db: Connection,
    /// A cache promptls may not write (a read-only file or folder): answers are read
    /// from it, new ones are not stored.
    read_only: bool,
}

/// The cache key of a call: the provider name and the whole request (model, messages,
/// config, JSON mode), as canonical JSON, hashed.
pub fn key(provider: &str, request: &ChatRequest) -> String {
    /// The hashed JSON: `{"provider", "model", "messages", "config", "json"}` in this
    /// order, serialised straight into the hasher (no copy of the messages).
    #[derive(serde::Serialize)]
    struct Canonical<'a> {
        provider: &'a str,
        model: &'a str,
        messages: &'a [Value],
        config: &'a serde_json::Map<String, Value>,
        json: bool,
    }
    let mut hasher = Sha256::new();
    let canonical = Canonical {
        provider,
        model: &request.model,
        messages: &request.messages,
        config: &request.config,
        json: request.json_output,
    };
    serde_json::to_writer(&mut hasher, &canonical).expect("JSON values serialise");
    let digest = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// A stored answer from its row (`text, prompt_tokens, completion_tokens`), with secrets
/// masked (answers are masked before they are stored; a cache written by an earlier
/// promptls may not be).
fn response_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChatResponse> {
    Ok(ChatResponse {
        text: crate::secrets::redact_owned(r.get(0)?),
        prompt_tokens: r.get::<_, i64>(1)? as u64,
        completion_tokens: r.get::<_, i64>(2)? as u64,
    })
}

impl Cache {
    /// Opens (or creates) the cache at `path`. A file that is not a promptls cache is an
    /// error and is left exactly as it was; a cache promptls may not write is read only.
    pub fn open(path: &Path) -> Result<Cache, Error> {
        Cache::open_with(path, true)
    }

    /// `open`, read-only when `write` is false (as it is where promptls may not write).
    fn open_with(path: &Path, write: bool) -> Result<Cache, Error> {
        let opened = crate::sqlite::open(path, &KIND, write)?;
        if opened.read_only {
            tracing::warn!(
                "{} is read-only: answers are read from it but not stored",
                path.display()
            );
            return Ok(Cache {
                db: opened.db,
                read_only: true,
            });
        }
        Cache::init(opened.db).map_err(|e| Error::CacheAt {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    pub fn in_memory() -> Cache {
        Cache::init(Connection::open_in_memory().expect("an in-memory SQLite opens"))
            .expect("a new cache initialises")
    }

    /// Creates the table of a new cache (the file is already in WAL mode).
    fn init(mut db: Connection) -> Result<Cache, Error> {
        let sql = Error::CacheSql;
        db.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        // In WAL mode NORMAL keeps the file consistent through a crash of the process
        // (only power loss can drop the last answers, which are then asked again);
        // FULL would fsync after every stored answer.
        db.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        // Checked and created in one write transaction: two processes opening a new cache
        // at once must not both create it.
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (version, tables) = crate::sqlite::version_and_tables(&tx).map_err(sql)?;
        if version == 0 && tables > 0 {
            return Err(Error::NotACache);
        }
        if version > SCHEMA_VERSION {
            return Err(Error::CacheNewer { version });
        }
        if version < 1 {
            tx.execute_batch(
                "CREATE TABLE calls (
                     key TEXT PRIMARY KEY,
                     provider TEXT NOT NULL,
                     model TEXT NOT NULL,
                     text TEXT NOT NULL,
                     prompt_tokens INTEGER NOT NULL,
                     completion_tokens INTEGER NOT NULL,
                     created TEXT NOT NULL DEFAULT (datetime('now'))
                 );
                 PRAGMA user_version = 1;",
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(Cache {
            db,
            read_only: false,
        })
    }

    pub fn get(&self, key: &str) -> Option<ChatResponse> {
        // Statements are prepared once per connection (a re-run looks up every row).
        let mut statement = self
            .db
            .prepare_cached(
                "SELECT text, prompt_tokens, completion_tokens FROM calls WHERE key = ?1",
            )
            .ok()?;
        statement
            .query_row(params![key], response_of)
            .optional()
            .ok()
            .flatten()
    }

    /// The answers to many keys, read in one transaction (a re-run looks up every row).
    pub fn get_many(&mut self, keys: &[&str]) -> Vec<Option<ChatResponse>> {
        let Ok(transaction) = self.db.transaction() else {
            return keys.iter().map(|k| self.get(k)).collect();
        };
        let mut out = Vec::with_capacity(keys.len());
        {
            let Ok(mut statement) = transaction.prepare_cached(
                "SELECT text, prompt_tokens, completion_tokens FROM calls WHERE key = ?1",
            ) else {
                return vec![None; keys.len()];
            };
            for key in keys {
                let found = statement
                    .query_row(params![key], response_of)
                    .optional()
                    .ok()
                    .flatten();
                out.push(found);
            }
        }
        let _ = transaction.commit();
        out
    }

    pub fn put(
        &self,
        key: &str,
        provider: &str,
        model: &str,
        response: &ChatResponse,
    ) -> Result<(), Error> {
        if self.read_only {
            return Ok(());
        }
        self.db
            .prepare_cached(
                "INSERT OR REPLACE INTO calls (key, provider, model, text, prompt_tokens, completion_tokens)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut statement| {
                statement.execute(params![key, provider, model, response.text, response.prompt_tokens as i64, response.completion_tokens as i64])
            })
            .map(|_| ())
            .map_err(Error::CacheWrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_the_digest_of_the_canonical_json() {
        // The key format is stored in every cache file: it must not drift.
        let r = request("héllo");
        let canonical = json!({
            "provider": "groq",
            "model": r.model,
            "messages": r.messages,
            "config": Value::Object(r.config.clone()),
            "json": r.json_output,
        });
        let want: String = Sha256::digest(canonical.to_string().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(key("groq", &r), want);
    }

    fn request(text: &str) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![json!({"role": "user", "content": [{"text": text}]})],
            config: serde_json::from_value(json!({"temperature": 0})).unwrap(),
            json_output: false,
        }
    }

    #[test]
    fn keys_change_with_anything_that_changes_the_answer() {
        let base = key("groq", &request("hi"));
        assert_eq!(base, key("groq", &request("hi")));
        assert_ne!(base, key("openai", &request("hi")));
        assert_ne!(base, key("groq", &request("hi!")));
        let mut r = request("hi");
        r.config.insert("temperature".into(), json!(0.7));
        assert_ne!(base, key("groq", &r));
        let mut r = request("hi");
        r.json_output = true;
        assert_ne!(base, key("groq", &r));
        assert_eq!(base.len(), 64);
    }

    #[test]
    fn stores_and_reads_back_and_refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.sqlite");
        let answer = ChatResponse {
            text: "positive".into(),
            prompt_tokens: 10,
            completion_tokens: 1,
        };
        {
            let cache = Cache::open(&path).unwrap();
            assert_eq!(cache.get("k"), None);
            cache.put("k", "groq", "m", &answer).unwrap();
        }
        assert_eq!(Cache::open(&path).unwrap().get("k"), Some(answer.clone()));

        // Read-only: answers are read, new ones are not stored, the file is unchanged.
        let before = std::fs::read(&path).unwrap();
        let read_only = Cache::open_with(&path, false).unwrap();
        assert_eq!(read_only.get("k"), Some(answer.clone()));
        read_only.put("k2", "groq", "m", &answer).unwrap();
        assert_eq!(read_only.get("k2"), None);
        drop(read_only);
        assert_eq!(std::fs::read(&path).unwrap(), before);

        let foreign = dir.path().join("other.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE mine (x);")
            .unwrap();
        let before = std::fs::read(&foreign).unwrap();
        let error = Cache::open(&foreign).err().unwrap().to_string();
        assert!(
            error.contains("other.sqlite is not a promptls cache"),
            "{error}"
        );
        assert!(
            error.contains("move it away or set [eval] cache"),
            "{error}"
        );
        assert_eq!(
            std::fs::read(&foreign).unwrap(),
            before,
            "not a byte changed"
        );
        for sidecar in ["other.sqlite-wal", "other.sqlite-shm"] {
            assert!(!dir.path().join(sidecar).exists(), "{sidecar}");
        }

        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"this is not sqlite at all, just text").unwrap();
        let error = Cache::open(&junk).err().unwrap().to_string();
        assert!(
            error.contains("junk.sqlite is not a promptls cache"),
            "{error}"
        );
        assert_eq!(
            std::fs::read(&junk).unwrap(),
            b"this is not sqlite at all, just text"
        );
    }

    #[test]
    fn errors_keep_the_path_and_the_cause() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"this is not sqlite at all, just text").unwrap();
        let error = Cache::open(&junk).err().unwrap();
        let Error::CacheFile(crate::sqlite::Error::Foreign { path, noun, .. }) = &error else {
            panic!("{error:?}");
        };
        assert_eq!((path, *noun), (&junk, "cache"));
        // `CacheFile` is transparent: its source is the file's reason.
        assert!(error
            .source()
            .unwrap()
            .to_string()
            .starts_with("not a SQLite database"));

        let written = Error::CacheWrite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        assert!(
            written.to_string().starts_with("cannot write the cache: "),
            "{written}"
        );
        crate::sqlite::assert_sqlite_code(written.source(), rusqlite::ErrorCode::DiskFull);
        let at = Error::CacheAt {
            path: junk.clone(),
            source: Box::new(Error::CacheNewer { version: 9 }),
        };
        assert_eq!(
            at.to_string(),
            format!(
                "{}: the cache has schema version 9, newer than this promptls (1)",
                junk.display()
            )
        );
        // The boxed inner error is the source (it downcasts as the `Box`).
        let inner = at.source().unwrap().downcast_ref::<Box<Error>>().unwrap();
        assert!(matches!(**inner, Error::CacheNewer { version: 9 }));
    }
}
