//! workspace/executeCommand. Each command is a type with its id and its arguments; the
//! server advertises exactly `ALL`.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::Uri;

use super::analysis::{invalid_params, Snapshot};
use super::state::Shared;
use promptls_core::data::dataset::{self, RowError};
use promptls_core::render::{DataArgument, Renderer};

pub trait Command {
    const ID: &'static str;
    type Args: DeserializeOwned;
}

/// `promptls.render`: what would be sent to the model, as Dotprompt's rendered-prompt JSON
/// (the same as `promptls render FILE --row N`). Arguments: `{uri, row?}` (row is 1-based
/// in the prompt's dataset; without it the input is empty).
pub struct RenderPrompt;

#[derive(Deserialize)]
pub struct RenderArgs {
    pub uri: Uri,
    pub row: Option<usize>,
}

impl Command for RenderPrompt {
    const ID: &'static str = "promptls.render";
    type Args = RenderArgs;
}

/// Every command the server executes.
pub const ALL: &[&str] = &[
    RenderPrompt::ID,
    super::evaluation::Evaluate::ID,
    super::evaluation::CancelEvaluation::ID,
    super::evaluation::ShowEvaluation::ID,
    super::optimization::Optimize::ID,
    super::optimization::CancelOptimization::ID,
    super::history::ShowHistory::ID,
    super::history::CompareVersion::ID,
    super::history::RestoreVersion::ID,
    super::history::Promote::ID,
];

/// The first argument as `C::Args`.
pub fn args<C: Command>(arguments: Vec<Value>) -> Result<C::Args> {
    let first = arguments.into_iter().next().unwrap_or(Value::Null);
    serde_json::from_value(first)
        .map_err(|e| invalid_params(format!("{}: bad arguments: {e}", C::ID)))
}

pub fn render(state: &Shared, args: RenderArgs) -> Result<Value> {
    let snapshot = Snapshot::take(state, &args.uri)?;
    let renderer = match snapshot.path.as_deref() {
        Some(path) => Renderer::for_file(path),
        None => Renderer::new(),
    };
    let compiled = renderer
        .compile(&snapshot.text)
        .map_err(|e| invalid_params(format!("{} cannot be rendered: {e}", args.uri.as_str())))?;
    let mut data = DataArgument::default();
    if let Some(row) = args.row {
        let input = dataset_row(&snapshot, row)?;
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
        promptls_core::settings::PromptSettings::of_source(&snapshot.text).dataset_path(),
        row,
        "row",
    )
    .map_err(|e| match e {
        RowError::Usage(m) | RowError::Dataset(m) => invalid_params(m),
    })
}
