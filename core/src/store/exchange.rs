//! Export and import of the whole history as JSON, to share it (e.g. in git).

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};

use super::record::{insert_version, About};
use super::{content_hash, now, sql, Error, Store, SCHEMA_VERSION};

impl Store {
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
                let current = super::tags::tagged_version(&tx, prompt, tag)?;
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
