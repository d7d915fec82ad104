//! Background jobs (evaluations, optimizations) run on a task of their own under a
//! supervisor. If a job panics, the supervisor does what the job would have done on
//! its way out: it ends the job's work-done progress, frees the prompt (so the next
//! start is not refused as "already running"), tells the user with `window/showMessage`
//! and refreshes the lenses. The server itself keeps serving either way.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::*;

use super::state::{lock, Shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Evaluation,
    Optimization,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Evaluation => "evaluation",
            Kind::Optimization => "optimization",
        }
    }
}

/// A number for a new job, unique within the process (`Running::job`).
pub fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `job` (the job `id` of `kind` on the prompt at `path`) in the background.
pub fn spawn(
    client: tower_lsp_server::Client,
    state: Shared,
    path: PathBuf,
    kind: Kind,
    id: u64,
    job: impl Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        let Err(error) = tokio::spawn(job).await else {
            return;
        };
        let why = if error.is_panic() {
            panic_text(error.into_panic())
        } else {
            "it was stopped".to_string()
        };
        tracing::error!("the {} of {} panicked: {why}", kind.name(), path.display());
        // Free the prompt, if the job still holds it (and not a newer one).
        let token = {
            let mut st = lock(&state);
            st.evals.get_mut(&path).and_then(|entry| {
                let slot = match kind {
                    Kind::Evaluation => &mut entry.running,
                    Kind::Optimization => &mut entry.optimizing,
                };
                if slot.as_ref().is_some_and(|r| r.job == id) {
                    slot.take().and_then(|r| r.token)
                } else {
                    None
                }
            })
        };
        if let Some(token) = token {
            client
                .send_notification::<ProgressNotification>(ProgressParams {
                    token,
                    value: ProgressParamsValue::WorkDone(WorkDoneProgress::End(
                        WorkDoneProgressEnd {
                            message: Some(format!("failed: internal error: {why}")),
                        },
                    )),
                })
                .await;
        }
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        client
            .show_message(
                MessageType::ERROR,
                format!(
                    "{name}: the {} failed with an internal error ({why}); the file is untouched and it can be started again",
                    kind.name()
                ),
            )
            .await;
        super::evaluation::refresh_after_live(&client, &state).await;
    });
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

/// The job engine's fault for the tests (debug builds only); one hook, one "fired" flag.
pub use promptls_core::jobs::test_fault;
