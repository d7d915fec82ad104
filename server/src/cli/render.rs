//! `promptls render FILE`: what would be sent to the model.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::files;
use promptls_core::data::dataset::{self, RowError};
use promptls_core::render::{DataArgument, Renderer};

#[derive(Args)]
pub struct RenderArgs {
    /// The .prompt file.
    file: PathBuf,
    /// Render data as JSON: {"input": {...}, "context": {...}, "messages": [...]}; `@PATH` reads it from a file.
    #[arg(long)]
    data: Option<String>,
    /// Take the input from row N (counting from 1) of the prompt's `promptls.dataset`;
    /// `--data` input values override the row's.
    #[arg(long, value_name = "N")]
    row: Option<usize>,
    #[arg(long, value_enum, default_value = "json")]
    format: RenderFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RenderFormat {
    Json,
    Text,
}

pub fn run(args: RenderArgs) -> i32 {
    match render(&args) {
        Ok(out) => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let written = match out {
                Output::Json(rendered) => serde_json::to_writer_pretty(&mut stdout, &rendered)
                    .map_err(std::io::Error::from)
                    .and_then(|()| stdout.write_all(b"\n")),
                Output::Text(text) => stdout.write_all(text.as_bytes()),
            };
            if written.and_then(|()| stdout.flush()).is_err() {
                return 2;
            }
            0
        }
        Err((code, message)) => {
            eprintln!("error: {message}");
            code
        }
    }
}

/// What `render` prints.
enum Output {
    /// Written as it is serialized: a large render never holds its JSON text whole.
    Json(promptls_core::render::RenderedPrompt),
    Text(String),
}

/// The output, or (exit code, message).
fn render(args: &RenderArgs) -> Result<Output, (i32, String)> {
    let usage = |m: String| (2, m);
    let bytes = std::fs::read(&args.file)
        .map_err(|e| usage(format!("cannot read {}: {e}", args.file.display())))?;
    let source =
        files::decode(bytes).map_err(|e| (1, format!("{}: {}", args.file.display(), e.message)))?;

    let mut data = match &args.data {
        None => DataArgument::default(),
        Some(text) => {
            let text = match text.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| usage(format!("cannot read {path}: {e}")))?,
                None => text.clone(),
            };
            serde_json::from_str(&text)
                .map_err(|e| usage(format!("--data is not valid render data: {e}")))?
        }
    };
    if let Some(n) = args.row {
        let row_input = dataset_row(&args.file, &source, n)?;
        let mut input = row_input;
        input.extend(std::mem::take(&mut data.input));
        data.input = input;
    }

    let renderer = Renderer::for_file(&args.file);
    let compiled = renderer
        .compile(&source)
        .map_err(|e| (1, format!("{}: {e}", args.file.display())))?;
    // The compiled prompt holds what it needs of the file: free the file before the
    // render (and `render_once` frees the tree before the messages).
    drop(source);
    let rendered = compiled
        .render_once(&data, None)
        .map_err(|e| (1, format!("{}: {e}", args.file.display())))?;
    Ok(match args.format {
        RenderFormat::Json => Output::Json(rendered),
        RenderFormat::Text => Output::Text(messages_as_text(
            rendered.messages.iter().map(|m| m.to_json()),
        )),
    })
}

/// The input values of row `n` (1-based) of the prompt's dataset.
fn dataset_row(
    file: &Path,
    source: &str,
    n: usize,
) -> Result<serde_json::Map<String, Value>, (i32, String)> {
    dataset::prompt_row(
        file,
        promptls_core::settings::PromptSettings::of_source(source).dataset_path(),
        n,
        "--row",
    )
    .map_err(|e| match e {
        RowError::Usage(message) => (2, message),
        RowError::Dataset(message) => (1, message),
    })
}

/// Messages as people read them: a header per message, text parts verbatim, other
/// parts as bracketed notes.
fn messages_as_text(messages: impl IntoIterator<Item = Value>) -> String {
    let mut out = String::new();
    for message in messages {
        // One message's JSON at a time, not the whole prompt's.
        let message = &message;
        let role = message.get("role").and_then(Value::as_str).unwrap_or("?");
        let purpose = message.pointer("/metadata/purpose").and_then(Value::as_str);
        match purpose {
            Some(p) => out.push_str(&format!("── {role} ({p}) ──\n")),
            None => out.push_str(&format!("── {role} ──\n")),
        }
        for part in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                out.push_str(text);
            } else if let Some(media) = part.get("media") {
                let url = media.get("url").and_then(Value::as_str).unwrap_or("");
                match media.get("contentType").and_then(Value::as_str) {
                    Some(t) => out.push_str(&format!("[media: {url} ({t})]")),
                    None => out.push_str(&format!("[media: {url}]")),
                }
            } else if let Some(purpose) = part.pointer("/metadata/purpose").and_then(Value::as_str)
            {
                out.push_str(&format!("[{purpose}]"));
            } else {
                out.push_str(&part.to_string());
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}
