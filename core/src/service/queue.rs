//! The persisted job queue: every job is a row in the server state from the moment it
//! is accepted, so a restart finds what was queued and what was running (and runs it
//! again: the model-call cache makes the calls already answered free), and a job
//! reported done has its result stored in the same transaction that marks it done.

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Error, ServerDb};
use crate::store::now;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Evaluation,
    Optimization,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Evaluation => "evaluation",
            JobKind::Optimization => "optimization",
        }
    }

    fn from_name(name: &str) -> JobKind {
        match name {
            "evaluation" => JobKind::Evaluation,
            _ => JobKind::Optimization,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    fn from_name(name: &str) -> JobState {
        match name {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Failed,
        }
    }

    /// Whether the job is over (nothing will change it again).
    pub fn is_over(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];
}

/// How far a job is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Rows (evaluations) or trials (optimizations) done, and of how many (0: not known).
    pub done: usize,
    pub total: usize,
    /// The optimizer's trial.
    pub trial: usize,
    pub best_score: Option<f64>,
    /// Model calls made and what they cost so far.
    pub calls: u64,
    pub cost_usd: f64,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub job_id: String,
    pub kind: JobKind,
    pub status: JobState,
    /// The prompt's id and the dataset's.
    pub prompt: String,
    pub dataset: String,
    /// What the job was asked (the optimizer's settings, the metric).
    pub config: Value,
    pub author: String,
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Times it was started (more than 1: it was interrupted and run again).
    pub attempts: i64,
    pub progress: Progress,
    pub error: Option<String>,
}

const SELECT: &str = "SELECT id, kind, state, prompt, dataset, config, author, created, started, finished, attempts, progress, error FROM jobs";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let json = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    Ok(Job {
        job_id: r.get(0)?,
        kind: JobKind::from_name(&r.get::<_, String>(1)?),
        status: JobState::from_name(&r.get::<_, String>(2)?),
        prompt: r.get(3)?,
        dataset: r.get(4)?,
        config: serde_json::from_str(&json(5)?).unwrap_or(Value::Null),
        author: r.get(6)?,
        created: r.get(7)?,
        started: r.get(8)?,
        finished: r.get(9)?,
        attempts: r.get(10)?,
        progress: serde_json::from_str(&json(11)?).unwrap_or_default(),
        error: r.get(12)?,
    })
}

fn new_id() -> Result<String, Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Invalid(format!("no random numbers for a job id: {e}")))?;
    Ok(format!(
        "job_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

impl ServerDb {
    /// Accepts a job; it waits in the queue until a worker takes it.
    pub fn enqueue(
        &self,
        kind: JobKind,
        prompt: &str,
        dataset: &str,
        config: &Value,
        author: &str,
    ) -> Result<Job, Error> {
        let id = new_id()?;
        self.with(|db| {
            db.execute(
                "INSERT INTO jobs (id, kind, state, prompt, dataset, config, author, created, progress)
                 VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    kind.name(),
                    prompt,
                    dataset,
                    config.to_string(),
                    author,
                    now(),
                    serde_json::to_string(&Progress::default()).unwrap_or_default()
                ],
            )?;
            Ok::<_, Error>(())
        })?;
        self.job(&id)
    }

    pub fn job(&self, id: &str) -> Result<Job, Error> {
        self.with(|db| {
            db.query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
                .optional()
        })?
        .ok_or_else(|| Error::NotFound {
            what: "job",
            id: id.to_string(),
        })
    }

    /// The newest `most` jobs, newest first.
    pub fn jobs(&self, most: usize) -> Result<Vec<Job>, Error> {
        self.with(|db| {
            let mut query = db.prepare(&format!("{SELECT} ORDER BY seq DESC LIMIT ?1"))?;
            let rows = query.query_map([most as i64], from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The stored result of a job that succeeded.
    pub fn job_result(&self, id: &str) -> Result<Value, Error> {
        let job = self.job(id)?;
        if job.status != JobState::Succeeded {
            return Err(Error::Conflict(format!(
                "job {id} is {}: it has no result{}",
                job.status.name(),
                if job.status.is_over() { "" } else { " yet" }
            )));
        }
        let text: Option<String> = self
            .with(|db| db.query_row("SELECT result FROM jobs WHERE id = ?1", [id], |r| r.get(0)))?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null))
    }

    /// Takes the oldest queued job that `busy` does not refuse (a prompt that has a job
    /// of that kind running waits), marking it running.
    pub fn claim(&self, busy: &dyn Fn(&str, JobKind) -> bool) -> Result<Option<Job>, Error> {
        self.with(|db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let waiting = {
                let mut query =
                    tx.prepare(&format!("{SELECT} WHERE state = 'queued' ORDER BY seq LIMIT 200"))?;
                let rows = query.query_map([], from_row)?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            let Some(mut job) = waiting.into_iter().find(|j| !busy(&j.prompt, j.kind)) else {
                return Ok(None);
            };
            let started = now();
            tx.execute(
                "UPDATE jobs SET state = 'running', started = ?2, attempts = attempts + 1 WHERE id = ?1",
                params![job.job_id, started],
            )?;
            tx.commit()?;
            job.status = JobState::Running;
            job.started = Some(started);
            job.attempts += 1;
            Ok(Some(job))
        })
    }

    pub fn set_progress(&self, id: &str, progress: &Progress) -> Result<(), Error> {
        self.with(|db| {
            db.execute(
                "UPDATE jobs SET progress = ?2 WHERE id = ?1 AND state = 'running'",
                params![id, serde_json::to_string(progress).unwrap_or_default()],
            )?;
            Ok(())
        })
    }

    /// Ends a running job: its state, result (when it succeeded) and error in one
    /// transaction.
    pub fn finish(
        &self,
        id: &str,
        state: JobState,
        progress: &Progress,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<(), Error> {
        self.with(|db| {
            db.execute(
                "UPDATE jobs SET state = ?2, finished = ?3, progress = ?4, result = ?5, error = ?6 WHERE id = ?1",
                params![
                    id,
                    state.name(),
                    now(),
                    serde_json::to_string(progress).unwrap_or_default(),
                    result.map(Value::to_string),
                    error.map(|e| crate::secrets::redact(e).into_owned())
                ],
            )?;
            Ok(())
        })
    }

    /// Puts a running job back in the queue (a drain that could not wait for it): the
    /// next start runs it again.
    pub fn requeue(&self, id: &str) -> Result<(), Error> {
        self.with(|db| {
            db.execute(
                "UPDATE jobs SET state = 'queued' WHERE id = ?1 AND state = 'running'",
                [id],
            )?;
            Ok(())
        })
    }

    /// At start-up: the jobs a stopped server left running go back in the queue; returns
    /// how many.
    pub fn requeue_interrupted(&self) -> Result<usize, Error> {
        self.with(|db| {
            Ok(db.execute(
                "UPDATE jobs SET state = 'queued' WHERE state = 'running'",
                [],
            )?)
        })
    }

    /// Cancels a queued job; `false` when it is not queued (any more).
    pub fn cancel_queued(&self, id: &str) -> Result<bool, Error> {
        self.with(|db| {
            Ok(db.execute(
                "UPDATE jobs SET state = 'cancelled', finished = ?2 WHERE id = ?1 AND state = 'queued'",
                params![id, now()],
            )? == 1)
        })
    }

    /// Jobs queued or running for `author`.
    pub fn active_jobs(&self, author: &str) -> Result<usize, Error> {
        self.with(|db| {
            Ok(db.query_row(
                "SELECT count(*) FROM jobs WHERE author = ?1 AND state IN ('queued', 'running')",
                [author],
                |r| r.get::<_, i64>(0),
            )? as usize)
        })
    }

    /// How many jobs are in each state.
    pub fn job_counts(&self) -> Result<Vec<(JobState, usize)>, Error> {
        self.with(|db| {
            let mut query = db.prepare("SELECT state, count(*) FROM jobs GROUP BY state")?;
            let found: Vec<(String, i64)> = query
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            Ok(JobState::ALL
                .iter()
                .map(|s| {
                    let n = found
                        .iter()
                        .find(|(name, _)| name == s.name())
                        .map_or(0, |(_, n)| *n as usize);
                    (*s, n)
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_claimed_in_order_skipping_busy_prompts_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let db = ServerDb::open(dir.path()).unwrap();
        let config = serde_json::json!({"optimizer_type": "bootstrap"});
        let a = db
            .enqueue(JobKind::Optimization, "a", "d", &config, "ci")
            .unwrap();
        let b = db
            .enqueue(JobKind::Optimization, "a", "d", &config, "ci")
            .unwrap();
        let c = db
            .enqueue(JobKind::Evaluation, "c", "d", &config, "ci")
            .unwrap();
        assert_eq!(db.active_jobs("ci").unwrap(), 3);
        let first = db.claim(&|_, _| false).unwrap().unwrap();
        assert_eq!(
            (first.job_id.as_str(), first.attempts),
            (a.job_id.as_str(), 1)
        );
        // `a` is busy: `b` waits, `c` goes.
        let next = db.claim(&|p, _| p == "a").unwrap().unwrap();
        assert_eq!(next.job_id, c.job_id);
        assert!(db.claim(&|p, _| p == "a").unwrap().is_none());
        let progress = Progress {
            done: 2,
            total: 4,
            ..Progress::default()
        };
        db.finish(
            &c.job_id,
            JobState::Succeeded,
            &progress,
            Some(&serde_json::json!({"score": 1})),
            None,
        )
        .unwrap();
        assert_eq!(db.job_result(&c.job_id).unwrap()["score"], 1);
        assert!(matches!(db.job_result(&a.job_id), Err(Error::Conflict(_))));
        drop(db);
        // A restart: the running job goes back in the queue, and runs again first.
        let db = ServerDb::open(dir.path()).unwrap();
        assert_eq!(db.requeue_interrupted().unwrap(), 1);
        let again = db.claim(&|_, _| false).unwrap().unwrap();
        assert_eq!(
            (again.job_id.as_str(), again.attempts),
            (a.job_id.as_str(), 2)
        );
        assert!(db.cancel_queued(&b.job_id).unwrap());
        assert!(!db.cancel_queued(&b.job_id).unwrap());
        let counts = db.job_counts().unwrap();
        assert_eq!(
            counts
                .iter()
                .map(|(s, n)| (s.name(), *n))
                .collect::<Vec<_>>(),
            [
                ("queued", 0),
                ("running", 1),
                ("succeeded", 1),
                ("failed", 0),
                ("cancelled", 1)
            ]
        );
    }
}
