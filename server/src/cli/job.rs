//! The command line's side of a job on the core's engine (`promptls_core::jobs`): start
//! the work as a job, hand its progress to the caller's bar, cancel it on the first
//! Ctrl-C, and give back its result, or why there is none (a panic inside the job among
//! them, contained by the engine).

use std::future::Future;

use promptls_core::jobs::{AlreadyRunning, Failure, JobContext, JobKey, Jobs, Status, Update};

/// Why a job gave no result.
#[derive(Debug, thiserror::Error)]
pub(super) enum JobFailed {
    /// The command runs its jobs one after the other, so this is a bug, not a user error.
    #[error(transparent)]
    NotStarted(AlreadyRunning),
    #[error("{}: the {} failed with an internal error ({})", .key.path.display(), .key.kind.name(), .failure.why())]
    Failed { key: JobKey, failure: Failure },
}

/// Runs `work` as a job on `key` in `jobs` (from within the runtime) and waits for its
/// end, calling `on_progress` with each status it reports.
pub(super) async fn run<T, F, Fut>(
    jobs: &Jobs,
    key: JobKey,
    work: F,
    mut on_progress: impl FnMut(&Status),
) -> Result<T, JobFailed>
where
    T: Send + 'static,
    F: FnOnce(JobContext) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut handle = jobs
        .start(key.clone(), |context| {
            let work = work(context);
            async move {
                // The tests' way to make a job panic (debug builds only).
                promptls_core::jobs::test_fault();
                work.await
            }
        })
        .map_err(JobFailed::NotStarted)?;
    // One listener for the whole job: a signal between two listeners would be lost.
    // After the first Ctrl-C the handler stays installed, so a second one does nothing
    // while the job winds down (as before the engine).
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut listening = true;
    loop {
        // `next` is a channel receive, which loses nothing when the other branch wins.
        tokio::select! {
            update = handle.next() => match update {
                Some(Update::Progress(status)) => on_progress(&status),
                Some(Update::Finished(result)) => {
                    return result.map_err(|failure| JobFailed::Failed { key, failure });
                }
                None => {
                    return Err(JobFailed::Failed { key, failure: Failure::Aborted });
                }
            },
            signal = &mut interrupt, if listening => {
                listening = false;
                if signal.is_ok() {
                    handle.cancel();
                }
            }
        }
    }
}
