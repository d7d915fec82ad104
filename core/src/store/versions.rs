//! Reading versions: the list, a selector's version, its content, and the lens summary.

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use super::{content_hash, sql, Error, Score, Store, Version};

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
}
