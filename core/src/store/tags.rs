//! Tags and their audit trail: every move is kept.

use std::path::Path;

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{now, sql, Error, Store, TagMove};

impl Store {
    /// Points `tag` at version `number`, recording the move.
    pub fn promote(
        &mut self,
        path: &Path,
        content: &str,
        number: i64,
        tag: &str,
    ) -> Result<TagMove, Error> {
        let author = self.author();
        self.promote_as(path, content, number, tag, &author)
    }

    /// `promote` with the move recorded as `author`'s (the server's API key name).
    pub fn promote_as(
        &mut self,
        path: &Path,
        content: &str,
        number: i64,
        tag: &str,
        author: &str,
    ) -> Result<TagMove, Error> {
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace()) {
            return Err(Error::BadTag(tag.to_string()));
        }
        let prompt = self.prompt_id(path, content)?.ok_or(Error::NoHistory)?;
        let author = author.to_string();
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
        let from = tagged_version(&tx, prompt, tag)?;
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
}

/// The id of the version `tag` points at for `prompt`, if the tag is set.
pub(super) fn tagged_version(
    db: &rusqlite::Connection,
    prompt: i64,
    tag: &str,
) -> Result<Option<i64>, Error> {
    db.query_row(
        "SELECT version FROM tags WHERE prompt = ?1 AND tag = ?2",
        params![prompt, tag],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql)
}
