//! Recording versions and scores, and moving a prompt's head.

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{content_hash, identity, now, relative, sql, Error, Origin, Score, Store};

/// A version's origin, detail, time and author, as stored.
pub(super) struct About<'a> {
    pub(super) origin: &'a str,
    pub(super) detail: Option<String>,
    pub(super) created: &'a str,
    pub(super) author: &'a str,
}

/// Adds `content` as the next version of the prompt with row id `prompt`: its number and
/// row id.
pub(super) fn insert_version(
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

impl Store {
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

    pub(super) fn prompt_id(&self, path: &Path, content: &str) -> Result<Option<i64>, Error> {
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
