//! The parts of a prompt an optimizer owns: the instruction (the literal text of the
//! first system section, or of the body before the first role marker when there is
//! none) and the few-shot demos between the `promptls:demos` comments. Everything else
//! in the file is left byte for byte as it was, so an optimized file differs from its
//! source only where the optimizer chose.

pub mod diff;

use crate::syntax::handlebars::{self, NodeKind, NodeRef};
use crate::syntax::{demos, Span};

/// One demo: a user turn and the model's answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Demo {
    pub input: String,
    pub output: String,
}

/// What an optimizer changes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Program {
    pub instruction: String,
    pub demos: Vec<Demo>,
}

/// Where those parts are in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// The instruction's text (without the whitespace around it).
    pub instruction: Span,
    /// The demos region (both markers included), if the file has one.
    pub demos: Option<Span>,
    /// Where a new demos region goes: after the instruction.
    pub insert_demos_at: usize,
    /// The demos written in the file.
    pub written: Vec<Demo>,
}

fn role_of(node: NodeRef) -> Option<String> {
    let NodeKind::Mustache(call) = node.kind() else {
        return None;
    };
    if call.simple_name() != Some("role") {
        return None;
    }
    match call.params().first().and_then(|e| e.as_string()) {
        Some(value) => Some(value.to_string()),
        _ => Some(String::new()),
    }
}

fn is_marker(node: NodeRef) -> bool {
    matches!(node.kind(), NodeKind::Comment(text) if text.trim() == demos::START)
}

/// Why a prompt's program cannot be read or written back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The template does not parse; the first error, at `span` (bytes of the file).
    #[error("the template has an error to fix first: {message}")]
    Template { span: Span, message: String },
    #[error("the prompt has no system section and starts with a role marker: add `{{{{role \"system\"}}}}` and an instruction for the optimizer to work on")]
    NoSystemSection,
}

/// For the callers that still pass errors on as text (`optimize`).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

/// Finds the instruction and the demos of `source`.
pub fn parts(source: &str) -> Result<Parts, Error> {
    let parsed = crate::syntax::parse(source);
    let body = parsed.template_span;
    let (template, errors) = handlebars::parse_template(&source[body.start..body.end], body.start);
    if let Some(e) = errors.first() {
        return Err(Error::Template {
            span: e.span,
            message: e.message.clone(),
        });
    }
    let nodes: Vec<NodeRef> = template.nodes().iter().collect();
    // The section: after the first system role marker, else from the start; it ends at
    // the next role marker or the demos region.
    let first_system = nodes
        .iter()
        .position(|&n| role_of(n).as_deref() == Some("system"));
    let first_role = nodes.iter().position(|&n| role_of(n).is_some());
    let start = match (first_system, first_role) {
        (Some(i), _) => i + 1,
        (None, Some(0)) => return Err(Error::NoSystemSection),
        (None, _) => 0,
    };
    let end = nodes[start..]
        .iter()
        .position(|&n| role_of(n).is_some() || is_marker(n))
        .map_or(nodes.len(), |i| start + i);
    // The instruction is the last run of literal text in the section (after a leading
    // partial such as a persona, say; a comment or mustache ends it, and stays).
    let section = &nodes[start..end];
    let last_text_run_start = section
        .iter()
        .rposition(|n| !matches!(n.kind(), NodeKind::Text(_)))
        .map_or(0, |i| i + 1);
    let run = &section[last_text_run_start..];
    let (run_start, run_end) = match (run.first(), run.last()) {
        (Some(a), Some(b)) => (a.span().start, b.span().end),
        _ => {
            let at = section.last().map_or(body.start, |n| n.span().end);
            (at, at)
        }
    };
    // Trim the whitespace around the instruction.
    let raw = &source[run_start..run_end];
    let lead = raw.len() - raw.trim_start().len();
    let trail = raw.len() - raw.trim_end().len();
    let instruction = if raw.trim().is_empty() {
        Span::new(run_end, run_end)
    } else {
        Span::new(run_start + lead, run_end - trail)
    };

    let (regions, _) = demos::demos(&template);
    let region = regions.into_iter().next();
    let written = region
        .as_ref()
        .map(|r| read_demos(source, &r.turns))
        .unwrap_or_default();
    Ok(Parts {
        instruction,
        demos: region.map(|r| r.span),
        insert_demos_at: instruction.end,
        written,
    })
}

/// Demos from a region's turns: each user turn with the model turn after it.
fn read_demos(source: &str, turns: &[demos::DemoTurn]) -> Vec<Demo> {
    let mut out = Vec::new();
    let mut pending: Option<String> = None;
    for turn in turns {
        let text = unescape(source[turn.content.start..turn.content.end].trim()).to_string();
        match turn.role.as_str() {
            "user" => pending = Some(text),
            "model" | "assistant" => {
                if let Some(input) = pending.take() {
                    out.push(Demo {
                        input,
                        output: text,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

impl Program {
    /// The program written in `source`.
    pub fn read(source: &str) -> Result<Program, Error> {
        let parts = parts(source)?;
        Ok(Program {
            instruction: unescape(&source[parts.instruction.start..parts.instruction.end])
                .into_owned(),
            demos: parts.written,
        })
    }

    /// `source` with this program's instruction and demos in place of its own. No demos
    /// removes the region.
    pub fn apply(&self, source: &str) -> Result<String, Error> {
        let parts = parts(source)?;
        let mut edits: Vec<(Span, String)> = Vec::new();
        let current = unescape(&source[parts.instruction.start..parts.instruction.end]);
        if current != self.instruction {
            let text = if parts.instruction.is_empty() {
                format!("\n{}", escape(&self.instruction))
            } else {
                escape(&self.instruction)
            };
            edits.push((parts.instruction, text));
        }
        let region = render_demos(&self.demos);
        match parts.demos {
            Some(span) if parts.written != self.demos => {
                // Removing the region removes its line too.
                let (span, text) = if region.is_empty() {
                    let end = if source[span.end..].starts_with('\n') {
                        span.end + 1
                    } else {
                        span.end
                    };
                    (Span::new(span.start, end), String::new())
                } else {
                    (span, region)
                };
                edits.push((span, text));
            }
            Some(_) => {}
            None if !region.is_empty() => {
                let at = parts.insert_demos_at;
                edits.push((
                    Span::new(at, at),
                    format!("\n{}", region.trim_end_matches('\n')),
                ));
            }
            None => {}
        }
        edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        let mut out = source.to_string();
        for (span, text) in edits {
            out.replace_range(span.start..span.end, &text);
        }
        Ok(out)
    }
}

/// The demos region: the markers and a user/model turn pair per demo.
pub fn render_demos(demos: &[Demo]) -> String {
    if demos.is_empty() {
        return String::new();
    }
    let mut out = format!("{{{{!-- {} --}}}}\n", demos::START);
    for demo in demos {
        out.push_str("{{role \"user\"}}\n");
        out.push_str(escape(demo.input.trim()).as_str());
        out.push_str("\n{{role \"model\"}}\n");
        out.push_str(escape(demo.output.trim()).as_str());
        out.push('\n');
    }
    out.push_str(&format!("{{{{!-- {} --}}}}", demos::END));
    out
}

/// Text as a template that renders it verbatim: `{{` becomes `\{{`.
pub fn escape(text: &str) -> String {
    text.replace("{{", "\\{{")
}

fn unescape(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\{{") {
        text.replace("\\{{", "{{").into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENTIMENT: &str = include_str!("../../../examples/sentiment/sentiment.prompt");

    #[test]
    fn reads_the_instruction_after_a_persona_and_the_demos() {
        let program = Program::read(SENTIMENT).unwrap();
        assert_eq!(
            program.instruction,
            "Classify the sentiment of the review as positive, negative or neutral.\nAnswer with the single word only."
        );
        assert_eq!(program.demos.len(), 2);
        assert_eq!(program.demos[1].output, "neutral");
        // Applying the program read changes nothing.
        assert_eq!(program.apply(SENTIMENT).unwrap(), SENTIMENT);
    }

    #[test]
    fn rewrites_only_what_it_owns() {
        let program = Program {
            instruction: "Say positive, negative or neutral. Watch for {{sarcasm}}.".into(),
            demos: vec![Demo {
                input: "Great, it broke.".into(),
                output: "negative".into(),
            }],
        };
        let out = program.apply(SENTIMENT).unwrap();
        assert!(out.contains("{{> persona tone=\"calm\"}}\nSay positive, negative or neutral. Watch for \\{{sarcasm}}.\n{{!-- promptls:demos --}}"), "{out}");
        assert!(out.contains("{{role \"user\"}}\nGreat, it broke.\n{{role \"model\"}}\nnegative\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}"), "{out}");
        assert!(out.starts_with(&SENTIMENT[..SENTIMENT.find("---\n{{role").unwrap()]));
        let back = Program::read(&out).unwrap();
        assert_eq!(back, program);
        // The file still checks clean and renders the escaped braces verbatim.
        let rendered = crate::render::Renderer::new()
            .compile(&out.replace("{{> persona tone=\"calm\"}}", ""))
            .unwrap();
        let data = crate::render::DataArgument::default();
        let text = serde_json::to_string(&rendered.render(&data, None).unwrap().to_json()).unwrap();
        assert!(text.contains("Watch for {{sarcasm}}."), "{text}");
    }

    #[test]
    fn adds_and_removes_the_region() {
        let plain =
            "---\nmodel: a/b\n---\n{{role \"system\"}}\nClassify.\n{{role \"user\"}}\n{{text}}\n";
        let with = Program {
            instruction: "Classify.".into(),
            demos: vec![Demo {
                input: "x".into(),
                output: "y".into(),
            }],
        };
        let out = with.apply(plain).unwrap();
        assert_eq!(out, "---\nmodel: a/b\n---\n{{role \"system\"}}\nClassify.\n{{!-- promptls:demos --}}\n{{role \"user\"}}\nx\n{{role \"model\"}}\ny\n{{!-- /promptls:demos --}}\n{{role \"user\"}}\n{{text}}\n");
        let without = Program {
            instruction: "Classify.".into(),
            demos: vec![],
        };
        assert_eq!(without.apply(&out).unwrap(), plain);
        // Without a system section the instruction is the text before the first role.
        let bare = "---\nmodel: a/b\n---\nClassify this: {{text}}\n";
        assert_eq!(Program::read(bare).unwrap().instruction, "");
        let bare2 = "---\nmodel: a/b\n---\nClassify the text.\n{{role \"user\"}}\n{{text}}\n";
        assert_eq!(
            Program::read(bare2).unwrap().instruction,
            "Classify the text."
        );
    }

    #[test]
    fn errors_keep_where_the_template_is_broken() {
        use std::error::Error as _;
        let source = "---\nmodel: m\n---\nHello {{#if x}}\n";
        let error = Program::read(source).unwrap_err();
        let Error::Template { span, message } = &error else {
            panic!("{error:?}");
        };
        assert!(span.start >= source.find("Hello").unwrap(), "{span:?}");
        assert_eq!(
            error.to_string(),
            format!("the template has an error to fix first: {message}")
        );
        assert!(error.source().is_none());
        let error = Program::read("{{role \"user\"}}Hi").unwrap_err();
        assert_eq!(error, Error::NoSystemSection);
        assert!(error
            .to_string()
            .contains("add `{{role \"system\"}}` and an instruction"));
    }
}
