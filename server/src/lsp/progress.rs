//! Background jobs (evaluations, optimizations) in the editor: they run on the core's
//! engine (`promptls_core::jobs`), and this module shows them. A job creates its
//! work-done progress (a token with `window/workDoneProgress/create`, when the client
//! supports it) and sends its begin; its `Status` updates go out as `$/progress` reports
//! and its end as the progress's end, from `follow`, in the order the engine gives them.
//! Without client support every call does nothing.
//!
//! If a job panics, `follow` does what the job would have done on its way out: it ends
//! the job's progress, tells the user with `window/showMessage` and refreshes the lenses.
//! The engine has freed the prompt already (the next start is not refused as "already
//! running"), and the server keeps serving either way.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::Client;

use super::state::{lock, Shared};
use promptls_core::jobs::{JobHandle, JobId, Update};

#[derive(Clone)]
pub struct Progress {
    client: Client,
    token: Option<ProgressToken>,
}

/// The progress token of job `id` of this process (`kind` is for people reading logs).
fn token_of(kind: &str, id: JobId) -> ProgressToken {
    NumberOrString::String(format!("promptls/{kind}/{}-{}", std::process::id(), id.0))
}

/// The job whose progress has `token` (`window/workDoneProgress/cancel`); `None` for a
/// token this process did not make.
pub fn job_of(token: &ProgressToken) -> Option<JobId> {
    let NumberOrString::String(token) = token else {
        return None;
    };
    let (_, numbers) = token.strip_prefix("promptls/")?.split_once('/')?;
    let (pid, id) = numbers.split_once('-')?;
    if pid.parse::<u32>().ok()? != std::process::id() {
        return None;
    }
    id.parse().ok().map(JobId)
}

impl Progress {
    /// Creates the progress of job `id` (of `kind`) if the client shows progress.
    pub async fn create(client: &Client, state: &Shared, kind: &str, id: JobId) -> Progress {
        let supported = lock(state).client.work_done_progress;
        let token = if supported {
            let token = token_of(kind, id);
            match client.create_work_done_progress(token.clone()).await {
                Ok(()) => Some(token),
                Err(e) => {
                    tracing::debug!("the client refused a progress token: {e}");
                    None
                }
            }
        } else {
            None
        };
        Progress {
            client: client.clone(),
            token,
        }
    }

    async fn send(&self, value: WorkDoneProgress) {
        if let Some(token) = &self.token {
            self.client
                .send_notification::<ProgressNotification>(ProgressParams {
                    token: token.clone(),
                    value: ProgressParamsValue::WorkDone(value),
                })
                .await;
        }
    }

    pub async fn begin(&self, title: String, message: String) {
        self.send(WorkDoneProgress::Begin(WorkDoneProgressBegin {
            title,
            cancellable: Some(true),
            message: Some(message),
            percentage: Some(0),
        }))
        .await;
    }

    pub async fn report(&self, message: String, percentage: Option<u32>) {
        self.send(WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(true),
            message: Some(message),
            percentage,
        }))
        .await;
    }

    pub async fn end(&self, message: String) {
        self.send(WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message),
        }))
        .await;
    }
}

/// A job's progress, once the job has begun it (a job that cannot start shows none).
pub type Begun = Arc<OnceLock<Progress>>;

/// What a job of the editor gives back: the message its progress ends with, and its
/// result.
pub struct Done<R> {
    pub end: String,
    pub value: R,
}

/// Shows the job of `handle` to its end: its progress as reports, then the end. Its
/// result, or `None` when it failed (a panic), which has then been told to the user.
pub async fn follow<R: 'static>(
    client: &Client,
    state: &Shared,
    mut handle: JobHandle<Done<R>>,
    begun: &Begun,
) -> Option<R> {
    let key = handle.key().clone();
    while let Some(update) = handle.next().await {
        match update {
            Update::Progress(status) => {
                if let (Some(progress), Some(message)) = (begun.get(), status.message) {
                    let percentage =
                        (status.total > 0).then(|| (status.done * 100 / status.total) as u32);
                    progress.report(message, percentage).await;
                }
            }
            Update::Finished(Ok(done)) => {
                if let Some(progress) = begun.get() {
                    progress.end(done.end).await;
                }
                return Some(done.value);
            }
            Update::Finished(Err(failure)) => {
                let why = failure.why();
                if let Some(progress) = begun.get() {
                    progress.end(format!("failed: internal error: {why}")).await;
                }
                client
                    .show_message(
                        MessageType::ERROR,
                        format!(
                            "{}: the {} failed with an internal error ({why}); the file is untouched and it can be started again",
                            file_name(&key.path),
                            key.kind.name()
                        ),
                    )
                    .await;
                refresh_lenses(client, state).await;
                return None;
            }
        }
    }
    None
}

pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Asks the client to ask for the lenses again (they show the jobs and their results).
pub async fn refresh_lenses(client: &Client, state: &Shared) {
    if lock(state).client.code_lens_refresh {
        if let Err(e) = client.code_lens_refresh().await {
            tracing::debug!("code lens refresh: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_job_and_other_tokens_name_none() {
        let token = token_of("evaluate", JobId(42));
        assert_eq!(job_of(&token), Some(JobId(42)));
        assert_eq!(job_of(&token_of("optimize", JobId(7))), Some(JobId(7)));
        let other_process = NumberOrString::String(format!(
            "promptls/evaluate/{}-42",
            std::process::id().wrapping_add(1)
        ));
        assert_eq!(job_of(&other_process), None);
        assert_eq!(job_of(&NumberOrString::Number(42)), None);
        assert_eq!(job_of(&NumberOrString::String("vscode/42".into())), None);
    }
}
