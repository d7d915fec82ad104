//! Dotprompt's rendered messages as each API's request body, and each API's response as
//! text and token counts. Pure functions: no HTTP here.

use serde_json::{json, Map, Value};

use super::provider::Api;

/// What to ask a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The model name after the provider (`llama-3.1-8b-instant`).
    pub model: String,
    /// Dotprompt's rendered messages: `{role, content: [{text} | {media: {url, contentType}}]}`.
    pub messages: Vec<Value>,
    /// The prompt's `config` (`temperature`, `maxOutputTokens`, `topP`, `topK`,
    /// `stopSequences`; other keys pass through to OpenAI-compatible APIs).
    pub config: Map<String, Value>,
    /// `output.format: json`: ask for JSON where the API can.
    pub json_output: bool,
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    pub text: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One message's text and media, in order.
enum Piece {
    Text(String),
    Media {
        url: String,
        content_type: Option<String>,
    },
}

fn pieces(message: &Value) -> Vec<Piece> {
    let mut out = Vec::new();
    for part in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            out.push(Piece::Text(text.to_string()));
        } else if let Some(url) = part.pointer("/media/url").and_then(Value::as_str) {
            out.push(Piece::Media {
                url: url.to_string(),
                content_type: part
                    .pointer("/media/contentType")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
    }
    out
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
}

fn text_of(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            Piece::Media { .. } => None,
        })
        .collect()
}

/// The request body for `api`.
pub fn body(api: Api, request: &ChatRequest) -> Value {
    match api {
        Api::OpenAi => openai_body(request),
        Api::Gemini => gemini_body(request),
        Api::Anthropic => anthropic_body(request),
    }
}

fn openai_body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            let role = match role(m) {
                "model" => "assistant",
                other => other,
            };
            let parts = pieces(m);
            let content = if parts.iter().all(|p| matches!(p, Piece::Text(_))) {
                Value::String(text_of(&parts))
            } else {
                Value::Array(
                    parts
                        .iter()
                        .map(|p| match p {
                            Piece::Text(t) => json!({"type": "text", "text": t}),
                            Piece::Media { url, .. } => {
                                json!({"type": "image_url", "image_url": {"url": url}})
                            }
                        })
                        .collect(),
                )
            };
            json!({"role": role, "content": content})
        })
        .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("messages".into(), Value::Array(messages));
    for (key, value) in &request.config {
        let name = match key.as_str() {
            "maxOutputTokens" => "max_tokens",
            "topP" => "top_p",
            "topK" => "top_k",
            "stopSequences" => "stop",
            other => other,
        };
        body.insert(name.into(), value.clone());
    }
    if request.json_output {
        body.insert("response_format".into(), json!({"type": "json_object"}));
    }
    Value::Object(body)
}

/// The non-system messages as turns, consecutive messages of one role merged (Gemini
/// and Anthropic take the system text apart and want turns to alternate).
fn turns(
    messages: &[Value],
    map_role: impl Fn(&str) -> &'static str,
) -> Vec<(&'static str, Vec<Piece>)> {
    let mut out: Vec<(&'static str, Vec<Piece>)> = Vec::new();
    for m in messages.iter().filter(|m| role(m) != "system") {
        let role = map_role(role(m));
        let parts = pieces(m);
        match out.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => out.push((role, parts)),
        }
    }
    out
}

fn system_text(messages: &[Value]) -> String {
    messages
        .iter()
        .filter(|m| role(m) == "system")
        .map(|m| text_of(&pieces(m)))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn gemini_body(request: &ChatRequest) -> Value {
    let contents: Vec<Value> = turns(&request.messages, |r| if r == "model" { "model" } else { "user" })
        .into_iter()
        .map(|(role, parts)| {
            let parts: Vec<Value> = parts
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => json!({"text": t}),
                    Piece::Media { url, content_type } => json!({"fileData": {
                        "fileUri": url,
                        "mimeType": content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
                    }}),
                })
                .collect();
            json!({"role": role, "parts": parts})
        })
        .collect();
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    let system = system_text(&request.messages);
    if !system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    let mut generation = Map::new();
    for key in [
        "temperature",
        "maxOutputTokens",
        "topP",
        "topK",
        "stopSequences",
        "candidateCount",
    ] {
        if let Some(v) = request.config.get(key) {
            generation.insert(key.into(), v.clone());
        }
    }
    if request.json_output {
        generation.insert("responseMimeType".into(), json!("application/json"));
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Value::Object(body)
}

/// Anthropic requires `max_tokens`; this is used when the prompt sets none.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u64 = 1024;

fn anthropic_body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = turns(&request.messages, |r| {
        if r == "model" {
            "assistant"
        } else {
            "user"
        }
    })
    .into_iter()
    .map(|(role, parts)| {
        let content: Vec<Value> = parts
            .iter()
            .map(|p| match p {
                Piece::Text(t) => json!({"type": "text", "text": t}),
                Piece::Media { url, .. } => {
                    json!({"type": "image", "source": {"type": "url", "url": url}})
                }
            })
            .collect();
        json!({"role": role, "content": content})
    })
    .collect();
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let max_tokens = request
        .config
        .get("maxOutputTokens")
        .and_then(Value::as_u64)
        .unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max_tokens));
    let system = system_text(&request.messages);
    if !system.is_empty() {
        body.insert("system".into(), json!(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    for (from, to) in [
        ("temperature", "temperature"),
        ("topP", "top_p"),
        ("topK", "top_k"),
        ("stopSequences", "stop_sequences"),
    ] {
        if let Some(v) = request.config.get(from) {
            body.insert(to.into(), v.clone());
        }
    }
    Value::Object(body)
}

/// The answer in a response body, or what is wrong with it.
pub fn parse(api: Api, body: &Value) -> Result<ChatResponse, super::Error> {
    let missing = |field| super::Error::NoAnswer { field };
    let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    match api {
        Api::OpenAi => {
            let text = body
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("choices[0].message.content"))?;
            Ok(ChatResponse {
                text: text.to_string(),
                prompt_tokens: count(body.pointer("/usage/prompt_tokens")),
                completion_tokens: count(body.pointer("/usage/completion_tokens")),
            })
        }
        Api::Gemini => {
            let parts = body
                .pointer("/candidates/0/content/parts")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("candidates[0].content.parts"))?;
            Ok(ChatResponse {
                text: parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect(),
                prompt_tokens: count(body.pointer("/usageMetadata/promptTokenCount")),
                completion_tokens: count(body.pointer("/usageMetadata/candidatesTokenCount")),
            })
        }
        Api::Anthropic => {
            let content = body
                .get("content")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("content"))?;
            Ok(ChatResponse {
                text: content
                    .iter()
                    .filter(|c| c.get("type").and_then(Value::as_str) == Some("text"))
                    .filter_map(|c| c.get("text").and_then(Value::as_str))
                    .collect(),
                prompt_tokens: count(body.pointer("/usage/input_tokens")),
                completion_tokens: count(body.pointer("/usage/output_tokens")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json_output: bool) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            messages: vec![
                json!({"role": "system", "content": [{"text": "Be brief."}]}),
                json!({"role": "user", "content": [{"text": "Hi "}, {"text": "there"}]}),
                json!({"role": "model", "content": [{"text": "positive"}]}),
                json!({"role": "user", "content": [{"text": "Look:"}, {"media": {"url": "https://x/a.png", "contentType": "image/png"}}]}),
                json!({"role": "user", "content": [{"text": "and?"}]}),
            ],
            config: serde_json::from_value(
                json!({"temperature": 0, "maxOutputTokens": 5, "stopSequences": ["\n"]}),
            )
            .unwrap(),
            json_output,
        }
    }

    #[test]
    fn openai_shape() {
        let b = body(Api::OpenAi, &request(true));
        assert_eq!(
            b["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(
            b["messages"][1],
            json!({"role": "user", "content": "Hi there"})
        );
        assert_eq!(b["messages"][2]["role"], "assistant");
        assert_eq!(
            b["messages"][3]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "https://x/a.png"}})
        );
        assert_eq!(
            (
                b["max_tokens"].clone(),
                b["stop"].clone(),
                b["temperature"].clone()
            ),
            (json!(5), json!(["\n"]), json!(0))
        );
        assert_eq!(b["response_format"], json!({"type": "json_object"}));
        assert!(body(Api::OpenAi, &request(false))
            .get("response_format")
            .is_none());
    }

    #[test]
    fn gemini_shape() {
        let b = body(Api::Gemini, &request(true));
        assert_eq!(
            b["systemInstruction"],
            json!({"parts": [{"text": "Be brief."}]})
        );
        let roles: Vec<&str> = b["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            ["user", "model", "user"],
            "consecutive user turns merged"
        );
        assert_eq!(
            b["contents"][2]["parts"][1]["fileData"]["mimeType"],
            "image/png"
        );
        assert_eq!(
            b["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 5);
    }

    #[test]
    fn anthropic_shape() {
        let b = body(Api::Anthropic, &request(true));
        assert_eq!(b["system"], "Be brief.");
        assert_eq!(b["max_tokens"], 5);
        assert_eq!(b["messages"][1]["role"], "assistant");
        assert_eq!(b["messages"][2]["content"][1]["type"], "image");
        assert_eq!(b["stop_sequences"], json!(["\n"]));
        let mut r = request(false);
        r.config.clear();
        assert_eq!(
            body(Api::Anthropic, &r)["max_tokens"],
            ANTHROPIC_DEFAULT_MAX_TOKENS
        );
    }

    #[test]
    fn parses_each_response() {
        let openai = json!({"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 3, "completion_tokens": 1}});
        assert_eq!(
            parse(Api::OpenAi, &openai).unwrap(),
            ChatResponse {
                text: "ok".into(),
                prompt_tokens: 3,
                completion_tokens: 1
            }
        );
        let gemini = json!({"candidates": [{"content": {"parts": [{"text": "o"}, {"text": "k"}]}}], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}});
        assert_eq!(parse(Api::Gemini, &gemini).unwrap().text, "ok");
        let anthropic = json!({"content": [{"type": "text", "text": "ok"}], "usage": {"input_tokens": 5, "output_tokens": 1}});
        assert_eq!(parse(Api::Anthropic, &anthropic).unwrap().prompt_tokens, 5);
        let missing = parse(Api::OpenAi, &json!({"error": "x"})).unwrap_err();
        assert!(matches!(
            missing,
            crate::llm::Error::NoAnswer {
                field: "choices[0].message.content"
            }
        ));
        assert_eq!(
            missing.to_string(),
            "no `choices[0].message.content` in the response"
        );
    }
}
