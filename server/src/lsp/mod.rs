//! `promptls lsp`: the language server over stdio. This is the only module that knows
//! LSP types; it translates the core's plain data (`check`, `ide`, `render`) into the
//! protocol. stdout carries only protocol messages; logs go to stderr.
//!
//! Concurrency: tower-lsp-server polls handlers concurrently but starts them in message
//! order, so every handler applies its edit to the document state (`session.rs`), or
//! takes its snapshot (`dispatch.rs`), before its first `.await`. Requests and checks run
//! on the blocking pool against a snapshot tagged with the document version; a result is
//! published only if the document is still at that version.

mod analysis;
mod capabilities;
mod checks;
mod commands;
mod config;
mod diagnostics;
mod dispatch;
mod document;
mod evaluation;
mod history;
mod memory;
mod navigation;
mod optimization;
mod position;
mod progress;
mod requests;
mod server;
mod session;
mod state;
mod transport;

use std::sync::atomic::Ordering;

use tower_lsp_server::{LspService, Server};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt;

pub use config::LogLevel;
/// The JSON-RPC framing guard, for the `transport` fuzz target.
pub use transport::{frame_all, Framer, MAX_FRAME};

/// Sets the log level while the server runs (from the client's settings).
#[derive(Clone)]
pub struct LogHandle(Option<reload::Handle<LevelFilter, tracing_subscriber::Registry>>);

impl LogHandle {
    pub fn set(&self, level: LogLevel) {
        if let Some(handle) = &self.0 {
            let _ = handle.modify(|filter| *filter = level_filter(level));
        }
    }
}

fn level_filter(level: LogLevel) -> LevelFilter {
    match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    }
}

/// One log line on its way to stderr: collected, then written with every known secret
/// masked (a message may quote a provider's answer or error).
struct RedactedStderr(Vec<u8>);

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedStderr {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0);
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            promptls_core::secrets::redact(&line).as_bytes(),
        );
    }
}

/// Logs to stderr (with secrets masked) at `level`, for the server and the model-calling
/// commands.
pub fn init_logging(level: LogLevel) -> LogHandle {
    let (filter, handle) = reload::Layer::new(level_filter(level));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(|| RedactedStderr(Vec::new()))
        .with_ansi(false)
        .with_target(false);
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()
        .is_ok();
    LogHandle(installed.then_some(handle))
}

/// Runs the server on stdin/stdout until `exit` or the end of stdin. Returns the process
/// exit code: 0 after `shutdown` then `exit` (or stdin closed after `shutdown`), 1 when
/// the client went away or sent `exit` without `shutdown` (as the protocol says).
pub fn run(level: LogLevel) -> i32 {
    let log = init_logging(level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The blocking pool runs the reads of stdin (one thread, always busy), the writes
        // to stdout, the requests, the checks (at most 3 at once: `CONCURRENT_CHECKS`)
        // and the evaluations and optimizations (one thread each while they run).
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return 2;
        }
    };
    let shutdown = runtime.block_on(async move {
        let (service, socket) = LspService::build(|client| server::Backend::new(client, log))
            .custom_method(transport::INVALID_MESSAGE, server::Backend::invalid_message)
            .custom_method(
                "window/workDoneProgress/cancel",
                server::Backend::work_done_progress_cancel,
            )
            .finish();
        let shutdown = service.inner().shutdown_flag();
        // The pipe between the guard and the server's reader holds at most 64 KiB: when
        // an editor sends faster than the server reads (200 files opened at once), the
        // guard waits instead of the pipe's buffer growing to its limit and staying that
        // large (1 MiB here grew a 2 MiB buffer, kept for the session: BENCHMARKS.md).
        let (guarded, input) = tokio::io::duplex(64 * 1024);
        tokio::spawn(transport::guard(tokio::io::stdin(), guarded));
        Server::new(input, tokio::io::stdout(), socket)
            .serve(service)
            .await;
        shutdown
    });
    // Background checks may still be running; they must not keep the process alive.
    runtime.shutdown_background();
    if shutdown.load(Ordering::SeqCst) {
        0
    } else {
        1
    }
}
