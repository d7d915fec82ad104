//! The served prompts: the `.prompt` files under `prompts/` in the workspace, each known
//! by its path there without `.prompt` (`sentiment`, `support/triage`). Created prompts
//! are new files (never over an existing one) recorded as the first version in the
//! history; reading answers from the history the editor and the command line share.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{names, Error, Service};
use crate::check::Severity;
use crate::store::{self, Origin, Score, SharedStore, Store, TagMove, Version};

pub const PROMPTS_FOLDER: &str = "prompts";

/// Prompts listed at most (a folder of more is cut at this many, in path order).
const MOST_PROMPTS: usize = 10_000;

/// A prompt to create: its `.prompt` text, or the parts to build one from.
pub enum NewPrompt {
    Source {
        name: String,
        source: String,
    },
    Template {
        name: String,
        template: String,
        model: String,
        input_fields: Vec<String>,
        output_field: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub prompt_id: String,
    pub name: String,
    pub file: String,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatestScore {
    pub version: i64,
    #[serde(flatten)]
    pub score: Score,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptSummary {
    pub prompt_id: String,
    pub name: String,
    pub file: String,
    pub versions: usize,
    /// The version with the file's content, if it was recorded.
    pub head: Option<i64>,
    pub tags: BTreeMap<String, i64>,
    /// The latest score per (dataset, metric, model).
    pub latest_scores: Vec<LatestScore>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptDetail {
    pub prompt_id: String,
    pub name: String,
    pub file: String,
    pub source: String,
    pub head: Option<i64>,
    pub versions: Vec<Version>,
    pub tag_moves: Vec<TagMove>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionContent {
    #[serde(flatten)]
    pub version: Version,
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PromptDiff {
    pub from: i64,
    pub to: i64,
    /// The part-aware diff as people read it.
    pub diff: String,
    pub changelog: String,
    pub parts: store::diff::PromptDiff,
}

/// A prompt's `.prompt` text built from a template: the input fields as strings, the
/// output field as the target, scored by exact match.
fn build(
    template: &str,
    model: &str,
    input_fields: &[String],
    output_field: &str,
) -> Result<String, Error> {
    let field = |what: &str, f: &str| {
        let ok = !f.is_empty()
            && f.len() <= 64
            && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !f.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{what} `{f}` is not allowed: use letters, digits and `_`, not starting with a digit"
            )))
        }
    };
    if input_fields.is_empty() {
        return Err(Error::Invalid(
            "`input_fields` must name at least one field".into(),
        ));
    }
    for f in input_fields {
        field("input field", f)?;
    }
    field("output field", output_field)?;
    if model.trim().is_empty() || model.contains(['\n', '"', '\'']) {
        return Err(Error::Invalid(format!("`model` `{model}` is not allowed")));
    }
    let schema: String = input_fields
        .iter()
        .map(|f| format!("    {f}: string\n"))
        .collect();
    Ok(format!(
        "---\nmodel: {model}\ninput:\n  schema:\n{schema}promptls.target: {output_field}\npromptls.metric: exact_match\n---\n{}{}",
        template,
        if template.ends_with('\n') { "" } else { "\n" }
    ))
}

/// The errors the checks find in `source` (warnings are fine), each with its line and
/// column, as one message.
fn problems(source: &str, path: &Path) -> Option<String> {
    let diagnostics = crate::check::check(source, Some(path), &crate::workspace::Disk);
    let index = crate::syntax::line_index::LineIndex::new(source);
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .take(5)
        .map(|d| {
            let at = index.line_col(d.span.start);
            format!("line {}, column {}: {}", at.line + 1, at.col + 1, d.message)
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

impl Service {
    /// The file of the prompt `id` (which must exist).
    pub fn prompt_path(&self, id: &str) -> Result<PathBuf, Error> {
        names::check_prompt_id(id)?;
        let path = self.prompts.join(format!("{id}.prompt"));
        crate::confine::confine_named(&self.root, &self.prompts, format!("{id}.prompt"))?;
        if !path.is_file() {
            return Err(Error::NotFound {
                what: "prompt",
                id: id.to_string(),
            });
        }
        Ok(path)
    }

    fn store(&self) -> Result<SharedStore, Error> {
        Ok(Store::shared(&self.root)?)
    }

    fn read(&self, path: &Path) -> Result<String, Error> {
        std::fs::read_to_string(path).map_err(Error::io(path))
    }

    /// Creates the prompt and records it as its first version (with the workspace's
    /// author, as every version; tag moves carry the key's name).
    pub fn create_prompt(&self, new: NewPrompt) -> Result<Created, Error> {
        let (id, source) = match new {
            NewPrompt::Source { name, source } => (name, source),
            NewPrompt::Template {
                name,
                template,
                model,
                input_fields,
                output_field,
            } => {
                let source = build(&template, &model, &input_fields, &output_field)?;
                (name, source)
            }
        };
        names::check_prompt_id(&id)?;
        let relative = format!("{id}.prompt");
        crate::confine::confine_named(&self.root, &self.prompts, &relative)?;
        let path = self.prompts.join(&relative);
        if let Some(why) = problems(&source, &path) {
            return Err(Error::Invalid(format!("{relative}: {why}")));
        }
        let folder = path.parent().unwrap_or(&self.prompts).to_path_buf();
        crate::folder::create(&folder)?;
        let mut temporary = tempfile::NamedTempFile::new_in(&folder).map_err(Error::io(&folder))?;
        temporary
            .write_all(source.as_bytes())
            .and_then(|_| temporary.as_file().sync_all())
            .map_err(Error::io(&path))?;
        match temporary.persist_noclobber(&path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Conflict(format!("a prompt `{id}` exists already")));
            }
            Err(e) => return Err(Error::io(&path)(e.error)),
        }
        let version = self
            .store()?
            .with(|s| s.record(&path, &source, &Origin::Edit, None))
            .map(|(n, _)| n)?;
        Ok(Created {
            prompt_id: id.clone(),
            name: id,
            file: format!("{PROMPTS_FOLDER}/{relative}"),
            version,
        })
    }

    /// Every served prompt, in path order.
    pub fn prompts(&self) -> Result<Vec<PromptSummary>, Error> {
        let mut ids = Vec::new();
        if self.prompts.is_dir() {
            collect(&self.prompts, "", 0, &mut ids);
        }
        ids.sort();
        ids.truncate(MOST_PROMPTS);
        let store = Store::shared_for_reading(&self.root)?;
        let mut out = Vec::new();
        for id in ids {
            let path = self.prompts.join(format!("{id}.prompt"));
            let Ok(source) = self.read(&path) else {
                continue;
            };
            let versions = store.with(|s| s.history(&path, &source))?;
            let hash = store::content_hash(&source);
            let mut tags = BTreeMap::new();
            let mut latest: BTreeMap<(String, String, String), LatestScore> = BTreeMap::new();
            for v in &versions {
                for t in &v.tags {
                    tags.insert(t.clone(), v.number);
                }
                for s in &v.scores {
                    let key = (s.dataset.clone(), s.metric.clone(), s.model.clone());
                    let newer = latest
                        .get(&key)
                        .is_none_or(|l| l.score.created <= s.created);
                    if newer {
                        latest.insert(
                            key,
                            LatestScore {
                                version: v.number,
                                score: s.clone(),
                            },
                        );
                    }
                }
            }
            out.push(PromptSummary {
                head: versions.iter().find(|v| v.hash == hash).map(|v| v.number),
                versions: versions.len(),
                file: format!("{PROMPTS_FOLDER}/{id}.prompt"),
                name: id.clone(),
                prompt_id: id,
                tags,
                latest_scores: latest.into_values().collect(),
            });
        }
        Ok(out)
    }

    pub fn prompt(&self, id: &str) -> Result<PromptDetail, Error> {
        let path = self.prompt_path(id)?;
        let source = self.read(&path)?;
        let store = Store::shared_for_reading(&self.root)?;
        let (versions, tag_moves) = store
            .with(|s| Ok::<_, Error>((s.history(&path, &source)?, s.tag_moves(&path, &source)?)))?;
        let hash = store::content_hash(&source);
        Ok(PromptDetail {
            prompt_id: id.to_string(),
            name: id.to_string(),
            file: format!("{PROMPTS_FOLDER}/{id}.prompt"),
            head: versions.iter().find(|v| v.hash == hash).map(|v| v.number),
            source,
            versions,
            tag_moves,
        })
    }

    /// The version `selector` names (`3`, `v3`, a tag, `head`, a hash prefix).
    pub fn prompt_version(&self, id: &str, selector: &str) -> Result<VersionContent, Error> {
        let path = self.prompt_path(id)?;
        let source = self.read(&path)?;
        let store = Store::shared_for_reading(&self.root)?;
        store.with(|s| {
            let number = s
                .resolve(&path, &source, selector)
                .map_err(not_found(selector))?;
            let version = s
                .history(&path, &source)?
                .into_iter()
                .find(|v| v.number == number)
                .ok_or_else(|| not_found(selector)(store::Error::NoVersion(number)))?;
            let content = s.content(&path, &source, number)?;
            Ok(VersionContent { version, content })
        })
    }

    /// What changed from `from` to `to` (selectors; default: the head's parent, and the
    /// head).
    pub fn prompt_diff(
        &self,
        id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<PromptDiff, Error> {
        let to = self.prompt_version(id, to.unwrap_or("head"))?;
        let from = match from {
            Some(selector) => self.prompt_version(id, selector)?,
            None => {
                let parent = to
                    .version
                    .parents
                    .first()
                    .copied()
                    .unwrap_or(to.version.number);
                self.prompt_version(id, &parent.to_string())?
            }
        };
        let parts = store::diff::diff(
            &from.content,
            &to.content,
            &from.version.scores,
            &to.version.scores,
        );
        Ok(PromptDiff {
            from: from.version.number,
            to: to.version.number,
            diff: store::diff::render(
                &parts,
                &format!("v{}", from.version.number),
                &format!("v{}", to.version.number),
            ),
            changelog: store::diff::changelog(&parts),
            parts,
        })
    }

    /// Points `tag` at the version `selector` names, as `author`.
    pub fn tag_prompt(
        &self,
        id: &str,
        tag: &str,
        selector: &str,
        author: &str,
    ) -> Result<TagMove, Error> {
        let path = self.prompt_path(id)?;
        let source = self.read(&path)?;
        self.store()?.with(|s| {
            let number = s
                .resolve(&path, &source, selector)
                .map_err(not_found(selector))?;
            s.promote_as(&path, &source, number, tag, author)
                .map_err(|e| match e {
                    store::Error::BadTag(t) => Error::Invalid(format!("`{t}` is not a tag name")),
                    other => other.into(),
                })
        })
    }
}

/// A selector that names no version is a 404, other store errors stay what they are.
fn not_found(selector: &str) -> impl FnOnce(store::Error) -> Error + '_ {
    move |e| match e {
        store::Error::NoSuchVersion { .. }
        | store::Error::NotRecorded { .. }
        | store::Error::NoVersion(_)
        | store::Error::NoHistory => Error::NotFound {
            what: "version",
            id: selector.to_string(),
        },
        other => other.into(),
    }
}

/// The prompt ids under `folder` (`prefix` is its id path), not following symlinks, at
/// most 8 folders deep, without hidden files and partials (`_name.prompt`).
fn collect(folder: &Path, prefix: &str, depth: usize, ids: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        if ids.len() >= MOST_PROMPTS {
            return;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && depth < 7 {
            collect(&entry.path(), &format!("{prefix}{name}/"), depth + 1, ids);
        } else if kind.is_file() {
            if let Some(stem) = name.strip_suffix(".prompt") {
                let id = format!("{prefix}{stem}");
                if names::check_prompt_id(&id).is_ok() {
                    ids.push(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_prompt_checks_clean_and_has_its_target() {
        let source = build(
            "Sentiment of: {{text}}",
            "openai/gpt-4o-mini",
            &["text".into()],
            "sentiment",
        )
        .unwrap();
        assert!(
            problems(&source, Path::new("/w/prompts/x.prompt")).is_none(),
            "{source}"
        );
        assert!(source.contains("promptls.target: sentiment\n"));
        assert!(build("x", "m\n", &["t".into()], "s").is_err());
        assert!(build("x", "a/b", &["1x".into()], "s").is_err());
    }

    #[test]
    fn created_prompts_are_new_files_with_a_first_version() {
        let dir = tempfile::tempdir().unwrap();
        let service = Service::open(dir.path()).unwrap();
        let new = || NewPrompt::Template {
            name: "team/sentiment".into(),
            template: "Classify: {{text}}".into(),
            model: "openai/gpt-4o-mini".into(),
            input_fields: vec!["text".into()],
            output_field: "sentiment".into(),
        };
        let created = service.create_prompt(new()).unwrap();
        assert_eq!(
            (created.file.as_str(), created.version),
            ("prompts/team/sentiment.prompt", 1)
        );
        assert!(matches!(
            service.create_prompt(new()),
            Err(Error::Conflict(_))
        ));
        let listed = service.prompts().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].prompt_id.as_str(), listed[0].head),
            ("team/sentiment", Some(1))
        );
        let moved = service
            .tag_prompt("team/sentiment", "production", "v1", "alice")
            .unwrap();
        assert_eq!((moved.author.as_str(), moved.to), ("alice", 1));
        let detail = service.prompt("team/sentiment").unwrap();
        assert_eq!(detail.versions[0].tags, vec!["production".to_string()]);
        assert!(matches!(
            service.prompt_version("team/sentiment", "v9"),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(service.prompt("../x"), Err(Error::Invalid(_))));
        let bad = NewPrompt::Source {
            name: "broken".into(),
            source: "---\nmodel: a/b\n---\n{{#if x}}never closed\n".into(),
        };
        let error = service.create_prompt(bad).unwrap_err().to_string();
        assert!(error.contains("line 4"), "{error}");
        assert!(!dir.path().join("prompts/broken.prompt").exists());
    }
}
