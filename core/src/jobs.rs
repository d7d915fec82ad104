//! Background jobs (evaluations, optimizations) for any front-end: at most one job per
//! prompt and kind at a time, each on a tokio task of its own with a cancellation token,
//! progress reported as plain `Status` values, and a panic contained: it ends the job
//! with `Failure::Panicked` instead of taking the process (or the prompt's slot) with it.
//!
//! The order of the end is fixed: the key is freed before the job's `Finished` update is
//! sent, so a front-end reacting to the end (a lens refresh, a new start) sees the job
//! gone. A job frees only its own slot, never a newer job's on the same key.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Evaluation,
    Optimization,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Evaluation => "evaluation",
            Kind::Optimization => "optimization",
        }
    }
}

/// What a job runs on: one at a time per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobKey {
    pub path: PathBuf,
    pub kind: Kind,
}

/// A job's number, unique within its `Jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// How far a job is, as the job last reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Rows or trials done, and of how many (0: not known).
    pub done: usize,
    pub total: usize,
    /// What a person would be shown ("3/5 rows · mean exact_match 0.667").
    pub message: Option<String>,
    /// The best score so far (optimizations).
    pub best: Option<f64>,
}

/// Why a job ended without its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The job panicked; the text is the panic's message.
    #[error("internal error: panic: {0}")]
    Panicked(String),
    /// The job's task was stopped from outside (the runtime shutting down).
    #[error("internal error: it was stopped")]
    Aborted,
}

impl Failure {
    /// The cause without the "internal error: " prefix ("panic: ...").
    pub fn why(&self) -> String {
        match self {
            Failure::Panicked(text) => format!("panic: {text}"),
            Failure::Aborted => "it was stopped".to_string(),
        }
    }
}

/// A second start on a key whose job still runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} of {} is already running", .0.kind.name(), .0.path.display())]
pub struct AlreadyRunning(pub JobKey);

/// What a job's handle receives, in order: progress, then one `Finished`.
#[derive(Debug)]
pub enum Update<T> {
    Progress(Status),
    Finished(Result<T, Failure>),
}

/// A job's result on its way to the handle, which knows its type (the registry does not).
type AnyResult = Box<dyn std::any::Any + Send>;

struct Entry {
    id: JobId,
    cancel: CancellationToken,
    status: Status,
}

#[derive(Default)]
struct Inner {
    running: Mutex<HashMap<JobKey, Entry>>,
    next: AtomicU64,
}

/// The registry of running jobs; clones share it.
#[derive(Clone, Default)]
pub struct Jobs {
    inner: Arc<Inner>,
}

impl Inner {
    fn running(&self) -> MutexGuard<'_, HashMap<JobKey, Entry>> {
        // Every update is one assignment: a poisoned map is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Frees `key` if job `id` still holds it.
    fn free(&self, key: &JobKey, id: JobId) {
        let mut running = self.running();
        if running.get(key).is_some_and(|e| e.id == id) {
            running.remove(key);
        }
    }
}

impl Jobs {
    /// Starts `work` on `key` on a task of its own (from within a tokio runtime), unless
    /// a job runs on `key` already.
    pub fn start<T, F, Fut>(&self, key: JobKey, work: F) -> Result<JobHandle<T>, AlreadyRunning>
    where
        T: Send + 'static,
        F: FnOnce(JobContext) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let id = JobId(self.inner.next.fetch_add(1, Ordering::Relaxed) + 1);
        let cancel = CancellationToken::new();
        {
            let mut running = self.inner.running();
            if running.contains_key(&key) {
                return Err(AlreadyRunning(key));
            }
            running.insert(
                key.clone(),
                Entry {
                    id,
                    cancel: cancel.clone(),
                    status: Status::default(),
                },
            );
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let context = JobContext {
            id,
            key: key.clone(),
            cancel: cancel.clone(),
            inner: self.inner.clone(),
            updates: tx.clone(),
        };
        let future = work(context);
        let inner = self.inner.clone();
        let job_key = key.clone();
        tokio::spawn(async move {
            let result = match tokio::spawn(future).await {
                Ok(value) => Ok(value),
                Err(error) if error.is_panic() => {
                    Err(Failure::Panicked(panic_text(error.into_panic())))
                }
                Err(_) => Err(Failure::Aborted),
            };
            if let Err(failure) = &result {
                tracing::error!(
                    "the {} of {} failed: {failure}",
                    job_key.kind.name(),
                    job_key.path.display()
                );
            }
            // Freed before the end goes out (see the module's comment).
            inner.free(&job_key, id);
            let _ = tx.send(Update::Finished(
                result.map(|value| Box::new(value) as AnyResult),
            ));
        });
        Ok(JobHandle {
            id,
            key,
            cancel,
            updates: rx,
            result: std::marker::PhantomData,
        })
    }

    /// The job running on `key` and its last status.
    pub fn status(&self, key: &JobKey) -> Option<(JobId, Status)> {
        self.inner
            .running()
            .get(key)
            .map(|e| (e.id, e.status.clone()))
    }

    pub fn is_running(&self, key: &JobKey) -> bool {
        self.inner.running().contains_key(key)
    }

    /// Asks the job on `key` to stop; whether one was running.
    pub fn cancel(&self, key: &JobKey) -> bool {
        self.inner
            .running()
            .get(key)
            .map(|e| e.cancel.cancel())
            .is_some()
    }

    /// Asks the job `id` to stop; whether it was running.
    pub fn cancel_by_id(&self, id: JobId) -> bool {
        self.inner
            .running()
            .values()
            .find(|e| e.id == id)
            .map(|e| e.cancel.cancel())
            .is_some()
    }

    /// Asks every job to stop (shutdown).
    pub fn cancel_all(&self) {
        for entry in self.inner.running().values() {
            entry.cancel.cancel();
        }
    }
}

/// What a running job holds: its token and the way to report progress.
pub struct JobContext {
    id: JobId,
    key: JobKey,
    cancel: CancellationToken,
    inner: Arc<Inner>,
    updates: mpsc::UnboundedSender<Update<AnyResult>>,
}

impl JobContext {
    pub fn id(&self) -> JobId {
        self.id
    }

    pub fn key(&self) -> &JobKey {
        &self.key
    }

    /// Cancelled when a front-end cancels the job.
    pub fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Records `status` as the job's (what `Jobs::status` reads) and sends it to the
    /// handle. Callable from any thread, e.g. a row's callback.
    pub fn report(&self, status: Status) {
        if self.note(status.clone()) {
            let _ = self.updates.send(Update::Progress(status));
        }
    }

    /// Records `status` as the job's without sending it to the handle (what a front-end
    /// shows when asked, not as progress: say, the row count once the plan is made);
    /// whether the job still holds its key.
    pub fn note(&self, status: Status) -> bool {
        let mut running = self.inner.running();
        match running.get_mut(&self.key) {
            Some(entry) if entry.id == self.id => {
                entry.status = status;
                true
            }
            // The job has ended: nothing to record any more.
            _ => false,
        }
    }
}

/// The front-end's side of one job: its updates in order and its result.
pub struct JobHandle<T> {
    id: JobId,
    key: JobKey,
    cancel: CancellationToken,
    updates: mpsc::UnboundedReceiver<Update<AnyResult>>,
    result: std::marker::PhantomData<fn() -> T>,
}

impl<T: 'static> JobHandle<T> {
    pub fn id(&self) -> JobId {
        self.id
    }

    pub fn key(&self) -> &JobKey {
        &self.key
    }

    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The job's next update; `None` after `Finished`.
    pub async fn next(&mut self) -> Option<Update<T>> {
        Some(match self.updates.recv().await? {
            Update::Progress(status) => Update::Progress(status),
            Update::Finished(result) => Update::Finished(result.map(|value| {
                *value
                    .downcast::<T>()
                    .expect("a job's result has the job's type")
            })),
        })
    }

    /// Waits for the end, passing over progress.
    pub async fn result(mut self) -> Result<T, Failure> {
        loop {
            match self.next().await {
                Some(Update::Finished(result)) => return result,
                Some(Update::Progress(_)) => {}
                None => return Err(Failure::Aborted),
            }
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// A fault for the tests of the front-ends' handling of a panicking job, in debug
/// builds only: with `PROMPTLS_TEST_PANIC_IN_JOB=1` the first job of the process to
/// call this panics. Release builds have no hook.
#[cfg(debug_assertions)]
pub fn test_fault() {
    use std::sync::atomic::AtomicBool;
    static FIRED: AtomicBool = AtomicBool::new(false);
    if std::env::var_os("PROMPTLS_TEST_PANIC_IN_JOB").is_some_and(|v| v == "1")
        && !FIRED.swap(true, Ordering::SeqCst)
    {
        panic!("PROMPTLS_TEST_PANIC_IN_JOB");
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn test_fault() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, kind: Kind) -> JobKey {
        JobKey {
            path: PathBuf::from(name),
            kind,
        }
    }

    #[tokio::test]
    async fn one_job_per_key_and_the_key_is_free_after_the_end() {
        let jobs = Jobs::default();
        let a = key("a.prompt", Kind::Evaluation);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let first = jobs
            .start(a.clone(), |_| async move {
                let _ = wait.await;
                7
            })
            .unwrap();
        let again = jobs.start(a.clone(), |_| async { 0 }).err();
        assert_eq!(again, Some(AlreadyRunning(a.clone())));
        // Another kind on the same prompt, or another prompt, is its own key.
        let other = jobs
            .start(key("a.prompt", Kind::Optimization), |_| async { 1 })
            .unwrap();
        assert_eq!(other.result().await, Ok(1));
        release.send(()).unwrap();
        assert_eq!(first.result().await, Ok(7));
        assert!(!jobs.is_running(&a));
        assert!(jobs.start(a, |_| async { 2 }).is_ok());
    }

    #[tokio::test]
    async fn progress_is_the_status_and_arrives_before_the_end() {
        let jobs = Jobs::default();
        let a = key("a.prompt", Kind::Evaluation);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let mut handle = jobs
            .start(a.clone(), |ctx| async move {
                ctx.report(Status {
                    done: 3,
                    total: 5,
                    ..Status::default()
                });
                let _ = wait.await;
                "done"
            })
            .unwrap();
        let Some(Update::Progress(status)) = handle.next().await else {
            panic!("progress first");
        };
        assert_eq!((status.done, status.total), (3, 5));
        assert_eq!(jobs.status(&a), Some((handle.id(), status)));
        release.send(()).unwrap();
        let Some(Update::Finished(result)) = handle.next().await else {
            panic!("then the end");
        };
        assert_eq!(result.unwrap(), "done");
        assert!(handle.next().await.is_none());
    }

    #[tokio::test]
    async fn a_noted_status_is_read_but_not_sent() {
        let jobs = Jobs::default();
        let a = key("a.prompt", Kind::Evaluation);
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let (noted, seen) = tokio::sync::oneshot::channel::<()>();
        let mut handle = jobs
            .start(a.clone(), |ctx| async move {
                assert!(ctx.note(Status {
                    total: 5,
                    ..Status::default()
                }));
                let _ = noted.send(());
                let _ = wait.await;
            })
            .unwrap();
        seen.await.unwrap();
        assert_eq!(jobs.status(&a).map(|(_, s)| s.total), Some(5));
        release.send(()).unwrap();
        // The first update is the end: the noted status was not sent.
        assert!(matches!(
            handle.next().await,
            Some(Update::Finished(Ok(())))
        ));
    }

    #[tokio::test]
    async fn cancel_reaches_the_job_by_key_by_id_and_all() {
        let jobs = Jobs::default();
        let wait = |ctx: JobContext| async move {
            ctx.cancel_token().cancelled().await;
            "cancelled"
        };
        let a = jobs.start(key("a", Kind::Evaluation), wait).unwrap();
        let b = jobs.start(key("b", Kind::Evaluation), wait).unwrap();
        let c = jobs.start(key("c", Kind::Optimization), wait).unwrap();
        assert!(jobs.cancel(&key("a", Kind::Evaluation)));
        assert_eq!(a.result().await, Ok("cancelled"));
        assert!(!jobs.cancel(&key("a", Kind::Evaluation)));
        assert!(jobs.cancel_by_id(b.id()));
        assert_eq!(b.result().await, Ok("cancelled"));
        assert!(!jobs.cancel_by_id(JobId(999)));
        jobs.cancel_all();
        assert_eq!(c.result().await, Ok("cancelled"));
    }

    #[tokio::test]
    async fn a_panic_is_a_failure_and_the_key_is_freed_before_the_end_goes_out() {
        let jobs = Jobs::default();
        let a = key("a.prompt", Kind::Evaluation);
        let handle = jobs
            .start(a.clone(), |_| async {
                if true {
                    panic!("boom");
                }
                0
            })
            .unwrap();
        let result = handle.result().await;
        assert_eq!(result, Err(Failure::Panicked("boom".into())));
        assert_eq!(
            result.unwrap_err().to_string(),
            "internal error: panic: boom"
        );
        // The end has been received: the key is free already.
        assert!(!jobs.is_running(&a));
        assert!(jobs.start(a, |_| async { 1 }).is_ok());
    }

    #[tokio::test]
    async fn an_older_job_never_frees_a_newer_jobs_slot() {
        let jobs = Jobs::default();
        let a = key("a.prompt", Kind::Evaluation);
        let old = jobs.start(a.clone(), |_| async {}).unwrap();
        let old_id = old.id();
        old.result().await.unwrap();
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let new = jobs
            .start(a.clone(), |_| async move {
                let _ = wait.await;
            })
            .unwrap();
        // The old job's free, done again, leaves the new one running.
        jobs.inner.free(&a, old_id);
        assert_eq!(jobs.status(&a).map(|(id, _)| id), Some(new.id()));
        release.send(()).unwrap();
        new.result().await.unwrap();
    }
}
