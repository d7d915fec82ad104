//! The `promptls` command line. Exit codes: 0 clean, 1 problems found, 2 usage or I/O failure.
// The command line is the one place that prints; the LSP server (stdout = protocol) must not.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod check;
mod doctor;
mod eval;
mod files;
mod history;
mod job;
mod optimize;
mod render;
mod sarif;
mod score;
mod trust;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "promptls",
    version,
    about = "Check, render and evaluate Dotprompt .prompt files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check .prompt files (folders are searched recursively) for problems.
    Check(check::CheckArgs),
    /// Print what would be sent to the model for one prompt.
    Render(render::RenderArgs),
    /// Print the tree-sitter syntax tree of a file (what editors highlight and fold).
    Tree(TreeArgs),
    /// Run the language server over stdin/stdout (for editors).
    Lsp(LspArgs),
    /// Score existing outputs (JSON Lines with `prediction` and `reference`/`references`).
    Score(score::ScoreArgs),
    /// Run a prompt over its dataset and score it; exit 1 when a gate fails.
    Eval(eval::EvalArgs),
    /// Show which providers have keys, whether their endpoints answer, and the limits.
    Doctor(doctor::DoctorArgs),
    /// Find a better instruction and demos for a prompt (--write applies them).
    Optimize(optimize::OptimizeArgs),
    /// The versions of a prompt: scores, tags, origins.
    History(history::HistoryArgs),
    /// What changed between two versions (default: production and the working file).
    Diff(history::DiffArgs),
    /// Point a tag (production, staging, ...) at a version.
    Promote(history::PromoteArgs),
    /// Give the file the content of an earlier version.
    Restore(history::RestoreArgs),
    /// Trust a workspace: let its files choose where your keys go (--list, --remove).
    Trust(trust::TrustArgs),
}

#[derive(clap::Args)]
struct LspArgs {
    /// Log level for messages on stderr; the client's `logLevel` setting overrides it.
    /// Defaults to $PROMPTLS_LOG, else `warn`.
    #[arg(long, value_enum)]
    log_level: Option<LogLevelArg>,
    /// Accepted for compatibility with clients that pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevelArg {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(clap::Args)]
struct TreeArgs {
    /// The .prompt file.
    file: std::path::PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Sarif,
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Render(args) => render::run(args),
        Command::Tree(args) => tree(&args),
        Command::Lsp(args) => crate::lsp::run(lsp_log_level(&args)),
        Command::Score(args) => score::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::History(args) => history::history(args),
        Command::Diff(args) => history::diff(args),
        Command::Promote(args) => history::promote(args),
        Command::Restore(args) => history::restore(args),
        Command::Trust(args) => trust::run(args),
    }
}

/// The async runtime of a command that calls models; `Err` is the exit code after the
/// error was printed.
fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            2
        })
}

/// The log level from $PROMPTLS_LOG (default `warn`).
fn log_level_from_env() -> crate::lsp::LogLevel {
    use crate::lsp::LogLevel;
    match std::env::var("PROMPTLS_LOG").as_deref() {
        Ok("error") => LogLevel::Error,
        Ok("info") => LogLevel::Info,
        Ok("debug") => LogLevel::Debug,
        Ok("trace") => LogLevel::Trace,
        _ => LogLevel::Warn,
    }
}

fn lsp_log_level(args: &LspArgs) -> crate::lsp::LogLevel {
    use crate::lsp::LogLevel;
    match args.log_level {
        Some(LogLevelArg::Error) => LogLevel::Error,
        Some(LogLevelArg::Warn) => LogLevel::Warn,
        Some(LogLevelArg::Info) => LogLevel::Info,
        Some(LogLevelArg::Debug) => LogLevel::Debug,
        Some(LogLevelArg::Trace) => LogLevel::Trace,
        None => log_level_from_env(),
    }
}

fn tree(args: &TreeArgs) -> i32 {
    let source = match std::fs::read(&args.file).map(files::decode) {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            eprintln!("error: {}: {}", args.file.display(), e.message);
            return 1;
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.file.display());
            return 2;
        }
    };
    let tree = promptls_core::syntax::tree::parse_tree(&source);
    // A reader that stops early (`promptls tree FILE | head`) is not an error to panic on.
    let printed = std::io::Write::write_all(
        &mut std::io::stdout(),
        promptls_core::syntax::tree::pretty(&tree).as_bytes(),
    );
    if let Err(e) = printed {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write the tree: {e}");
            return 2;
        }
    }
    if tree.root_node().has_error() {
        1
    } else {
        0
    }
}
