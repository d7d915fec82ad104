//! The rendered prompt against the model's context window. The check renders the prompt
//! with the dataset's longest row (or no input) and counts tokens exactly where the
//! tokenizer is known (OpenAI models), else estimates from the length.

use super::{CheckInput, Diagnostic};
use crate::catalog::{self, Tokenizer};
use crate::data::dataset::Dataset;
use crate::render::messages::Message;
use crate::render::{DataArgument, Renderer};

pub(super) fn check(input: &CheckInput, dataset: Option<&Dataset>, out: &mut Vec<Diagnostic>) {
    let Some(root) = &input.parsed().frontmatter else {
        return;
    };
    let Some(model_node) = root.get("model") else {
        return;
    };
    let Some(model) = model_node.as_str() else {
        return;
    };
    let Some(info) = catalog::lookup(model) else {
        return;
    };
    let max_output = root
        .get("config")
        .and_then(|c| c.get("maxOutputTokens").or_else(|| c.get("max_tokens")))
        .and_then(|m| m.to_json().as_u64())
        .unwrap_or(0) as usize;

    // A render that would stop at a partial limit is reported already; do not run it.
    if out
        .iter()
        .any(|d| d.code == "partial-expansion" || d.code == "partial-recursion")
    {
        return;
    }
    let texts = match rendered_text(input, dataset) {
        Ok(texts) => texts,
        Err(why) => {
            out.push(Diagnostic::error(
                "render-limit",
                model_node.span,
                format!("the prompt cannot be rendered{}: {why}", rows_text(dataset)),
            ));
            return;
        }
    };
    // A BPE token covers at least one byte, so a text shorter than the window in bytes
    // fits for sure; only long texts pay for counting.
    let mut len = 0;
    texts.each(|t| len += t.len());
    if len + max_output <= info.context_window {
        return;
    }
    // Part by part, as the model receives them (a token never spans two).
    let mut tokens = 0;
    texts.each(|t| tokens += catalog::count_tokens(info.tokenizer, t));
    if tokens + max_output <= info.context_window {
        return;
    }
    let how = match info.tokenizer {
        Tokenizer::Estimate => "about",
        _ => "",
    };
    let rows = rows_text(dataset);
    let output = if max_output > 0 {
        format!(" plus {max_output} output tokens")
    } else {
        String::new()
    };
    out.push(Diagnostic::warning(
        "context-window",
        model_node.span,
        format!(
            "the rendered prompt{rows} is {how}{}{tokens} tokens{output}, over the {} token context window of `{model}`",
            if how.is_empty() { "" } else { " " },
            info.context_window
        ),
    ));
}

fn rows_text(dataset: Option<&Dataset>) -> &'static str {
    if dataset.is_some_and(|d| !d.rows.is_empty()) {
        " with the longest dataset row"
    } else {
        ""
    }
}

/// The text the model would receive, part by part.
enum Texts<'a> {
    Rendered(Vec<Message>),
    /// The raw template, when rendering fails (other checks report why).
    Raw(&'a str),
}

impl Texts<'_> {
    /// Each text part of each rendered message (borrowed: nothing is joined or copied).
    fn each(&self, mut f: impl FnMut(&str)) {
        match self {
            Texts::Rendered(messages) => messages.iter().flat_map(Message::text_parts).for_each(f),
            Texts::Raw(text) => f(text),
        }
    }
}

/// All the text the model would receive, rendered with the longest dataset row; the raw
/// template when rendering fails (other checks report why), except for a render over
/// one of the renderer's limits (`Err`, with why).
fn rendered_text<'a>(
    input: &'a CheckInput,
    dataset: Option<&Dataset>,
) -> Result<Texts<'a>, String> {
    let longest = dataset.and_then(|d| {
        d.rows.iter().max_by_key(|r| {
            r.values
                .values()
                .map(|v| v.to_string().len())
                .sum::<usize>()
        })
    });
    let data = DataArgument {
        input: longest.map(|r| r.values.clone()).unwrap_or_default(),
        ..Default::default()
    };
    let renderer = input.path().map(Renderer::for_file).unwrap_or_default();
    // The analysis's own tree: a large template is not parsed (and held) twice.
    let rendered = input
        .analysis
        .compile(&renderer)
        .and_then(|c| c.render_once(&data, None));
    match rendered {
        Ok(prompt) => Ok(Texts::Rendered(prompt.messages)),
        Err(crate::render::RenderError::Limit(why)) => Err(why),
        Err(_) => Ok(Texts::Raw(input.parsed().template_text(input.source()))),
    }
}

#[cfg(test)]
mod tests {
    use crate::check::testing::render;

    #[test]
    fn warns_when_over_the_window() {
        let long = "word ".repeat(9000);
        let src = format!("---\nmodel: openai/gpt-4\n---\n{long}");
        assert_eq!(
            render(&src),
            ["context-window@openai/gpt-4: the rendered prompt is 9000 tokens, over the 8192 token context window of `openai/gpt-4`"]
        );
        let src = format!(
            "---\nmodel: openai/gpt-4\nconfig: {{maxOutputTokens: 4000}}\n---\n{}",
            "word ".repeat(5000)
        );
        assert_eq!(
            render(&src),
            ["context-window@openai/gpt-4: the rendered prompt is 5000 tokens plus 4000 output tokens, over the 8192 token context window of `openai/gpt-4`"]
        );
        let src = format!(
            "---\nmodel: groq/llama3-8b-8192\n---\n{}",
            "x".repeat(30_000)
        );
        assert_eq!(
            render(&src),
            ["context-window@groq/llama3-8b-8192: the rendered prompt is about 10000 tokens, over the 8192 token context window of `groq/llama3-8b-8192`"]
        );
        assert!(render(&format!("---\nmodel: openai/gpt-4o\n---\n{long}")).is_empty());
    }
}
