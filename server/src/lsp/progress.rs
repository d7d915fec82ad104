//! Work-done progress for background jobs (evaluations, optimizations): a token created
//! with `window/workDoneProgress/create` when the client supports it, then `$/progress`
//! begin, reports and end. Without client support every call does nothing.

use tower_lsp_server::ls_types::notification::Progress as ProgressNotification;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::Client;

use super::state::{lock, Shared};

pub struct Progress {
    client: Client,
    token: Option<ProgressToken>,
}

/// A token unique within the process.
fn next_token(kind: &str) -> ProgressToken {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NumberOrString::String(format!(
        "promptls/{kind}/{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

impl Progress {
    /// Creates a progress token for a job of `kind` if the client shows progress.
    pub async fn create(client: &Client, state: &Shared, kind: &str) -> Progress {
        let supported = lock(state).client.work_done_progress;
        let token = if supported {
            let token = next_token(kind);
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

    pub fn token(&self) -> Option<ProgressToken> {
        self.token.clone()
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
