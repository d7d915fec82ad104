//! workspace/executeCommand. Each command is a type with its id and its arguments; the
//! server advertises exactly `ALL`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::{self, Uri};

use super::analysis::{invalid_params, Snapshot};
use promptls_core::data::dataset::{self, RowError};
use promptls_core::render::{DataArgument, Renderer};

/// Declares the commands: the enum (one variant per command, holding its arguments), the
/// list the server advertises, parsing and the `Command` a lens or code action sends. The
/// list, the parser and the dispatch (an exhaustive `match` in `server.rs`) cannot drift
/// apart.
macro_rules! commands {
    ($($(#[$doc:meta])* $variant:ident($args:ty) = $id:literal,)*) => {
        pub enum Command {
            $($(#[$doc])* $variant($args),)*
        }

        impl Command {
            /// Every command the server executes.
            pub const ALL: &'static [&'static str] = &[$($id),*];

            pub fn id(&self) -> &'static str {
                match self {
                    $(Command::$variant(_) => $id,)*
                }
            }

            /// The command `id` with its first argument; an unknown id or bad arguments
            /// are invalid params.
            pub fn parse(id: &str, arguments: Vec<Value>) -> Result<Command> {
                let first = arguments.into_iter().next().unwrap_or(Value::Null);
                let bad = |e: serde_json::Error| invalid_params(format!("{id}: bad arguments: {e}"));
                match id {
                    $($id => serde_json::from_value(first).map(Command::$variant).map_err(bad),)*
                    other => Err(invalid_params(format!(
                        "unknown command `{other}`; this server runs {}",
                        Command::ALL.join(", ")
                    ))),
                }
            }

            fn arguments(&self) -> Value {
                let value = match self {
                    $(Command::$variant(args) => serde_json::to_value(args),)*
                };
                value.unwrap_or(Value::Null)
            }
        }
    };
}

commands! {
    /// What would be sent to the model (`RenderArgs`).
    Render(RenderArgs) = "promptls.render",
    /// Starts a background evaluation of the prompt (its open text) and returns at once
    /// with `{started: true}`.
    Evaluate(EvaluateArgs) = "promptls.evaluate",
    /// Stops the prompt's running evaluation.
    CancelEvaluation(UriArgs) = "promptls.cancelEvaluation",
    /// The last report of the prompt (the JSON of `promptls eval --format json`), or null.
    ShowEvaluation(UriArgs) = "promptls.showEvaluation",
    /// Starts an optimization in the background and returns `{started: true}` (or
    /// `{started: false, reason}`).
    Optimize(OptimizeArgs) = "promptls.optimize",
    /// Stops the prompt's running optimization.
    CancelOptimization(UriArgs) = "promptls.cancelOptimization",
    /// The prompt's versions with their scores and tags.
    ShowHistory(VersionArgs) = "promptls.showHistory",
    /// The diff between a version and the open text.
    CompareVersion(VersionArgs) = "promptls.compareVersion",
    /// Gives the open document the text of a version.
    RestoreVersion(VersionArgs) = "promptls.restoreVersion",
    /// Points a tag at a version.
    Promote(VersionArgs) = "promptls.promote",
}

impl Command {
    /// The protocol's `Command` that runs this one, titled `title` (for lenses and code
    /// actions).
    pub fn to_lsp(&self, title: impl Into<String>) -> ls_types::Command {
        ls_types::Command {
            title: title.into(),
            command: self.id().to_string(),
            arguments: Some(vec![self.arguments()]),
        }
    }
}

/// `promptls.render {uri, row?}`: what would be sent to the model, as Dotprompt's
/// rendered-prompt JSON (the same as `promptls render FILE --row N`; row is 1-based in the
/// prompt's dataset; without it the input is empty).
#[derive(Serialize, Deserialize)]
pub struct RenderArgs {
    pub uri: Uri,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// A command's only argument when it needs just the document.
#[derive(Serialize, Deserialize)]
pub struct UriArgs {
    pub uri: Uri,
}

impl UriArgs {
    pub fn of(uri: &Uri) -> UriArgs {
        UriArgs { uri: uri.clone() }
    }
}

/// `promptls.evaluate {uri, limit?}`.
#[derive(Serialize, Deserialize)]
pub struct EvaluateArgs {
    pub uri: Uri,
    /// At most this many rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `promptls.optimize {uri, optimizer?}`.
#[derive(Serialize, Deserialize)]
pub struct OptimizeArgs {
    pub uri: Uri,
    /// bootstrap, random, mipro or gepa; default `promptls.optimizer`, else bootstrap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
}

/// The history commands' `{uri, version?, tag?}`.
#[derive(Serialize, Deserialize)]
pub struct VersionArgs {
    pub uri: Uri,
    /// `v3`, a tag, a hash prefix; default `production`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For promote: the tag (default `production`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `promptls.render` (blocking: renders, and reads the dataset for a row).
pub fn render(snapshot: &Snapshot, args: RenderArgs) -> Result<Value> {
    let renderer = match snapshot.path.as_deref() {
        Some(path) => Renderer::for_file(path),
        None => Renderer::new(),
    };
    let compiled = snapshot
        .analysis()
        .compile(&renderer)
        .map_err(|e| invalid_params(format!("{} cannot be rendered: {e}", args.uri.as_str())))?;
    let mut data = DataArgument::default();
    if let Some(row) = args.row {
        let input = dataset_row(snapshot, row)?;
        data.input = input;
    }
    let rendered = compiled
        .render(&data, None)
        .map_err(|e| invalid_params(format!("{} cannot be rendered: {e}", args.uri.as_str())))?;
    Ok(rendered.to_json())
}

fn dataset_row(snapshot: &Snapshot, row: usize) -> Result<serde_json::Map<String, Value>> {
    let path = snapshot.path.as_deref().ok_or_else(|| {
        invalid_params("row: the prompt has no file path to find its dataset".into())
    })?;
    dataset::prompt_row(
        path,
        snapshot.analysis().settings().dataset_path(),
        row,
        "row",
    )
    .map_err(|e| match e {
        RowError::Usage(m) | RowError::Dataset(m) => invalid_params(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_a_lens_sends_parses_back_to_itself() {
        let uri: Uri = "file:///w/p.prompt".parse().unwrap();
        let sent = Command::Optimize(OptimizeArgs {
            uri: uri.clone(),
            optimizer: None,
        })
        .to_lsp("⚡ Optimize");
        assert_eq!(sent.command, "promptls.optimize");
        assert_eq!(
            sent.arguments,
            Some(vec![serde_json::json!({"uri": "file:///w/p.prompt"})])
        );
        let parsed = Command::parse(&sent.command, sent.arguments.unwrap()).unwrap();
        assert!(matches!(parsed, Command::Optimize(a) if a.uri == uri && a.optimizer.is_none()));
    }

    #[test]
    fn every_listed_command_parses_and_others_are_refused() {
        for id in Command::ALL {
            let args = vec![serde_json::json!({"uri": "file:///w/p.prompt"})];
            let command = Command::parse(id, args).unwrap();
            assert_eq!(command.id(), *id);
        }
        let unknown = Command::parse("promptls.nope", Vec::new()).err().unwrap();
        assert!(
            unknown.message.contains("promptls.evaluate"),
            "{}",
            unknown.message
        );
        let bad = Command::parse("promptls.evaluate", vec![serde_json::json!(3)]).err();
        assert!(bad.unwrap().message.contains("bad arguments"));
    }
}
