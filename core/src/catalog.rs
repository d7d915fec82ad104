//! What promptls knows about models offline: context windows and tokenizers.
//! Model names are `provider/model` (litellm style).

/// How to count a model's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenizer {
    /// OpenAI's o200k_base (GPT-4o, GPT-4.1, GPT-5, o-series).
    O200k,
    /// OpenAI's cl100k_base (GPT-4, GPT-3.5).
    Cl100k,
    /// Not known here: estimated from the text length.
    Estimate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    pub context_window: usize,
    pub tokenizer: Tokenizer,
}

/// (model name prefix after the provider, context window, tokenizer); the longest
/// matching prefix wins.
const MODELS: &[(&str, usize, Tokenizer)] = &[
    ("gpt-5", 400_000, Tokenizer::O200k),
    ("gpt-4.1", 1_047_576, Tokenizer::O200k),
    ("gpt-4o", 128_000, Tokenizer::O200k),
    ("o1", 200_000, Tokenizer::O200k),
    ("o3", 200_000, Tokenizer::O200k),
    ("o4-mini", 200_000, Tokenizer::O200k),
    ("gpt-4-turbo", 128_000, Tokenizer::Cl100k),
    ("gpt-4", 8_192, Tokenizer::Cl100k),
    ("gpt-3.5-turbo", 16_385, Tokenizer::Cl100k),
    ("llama-3.1-8b-instant", 131_072, Tokenizer::Estimate),
    ("llama-3.3-70b-versatile", 131_072, Tokenizer::Estimate),
    ("llama3-8b-8192", 8_192, Tokenizer::Estimate),
    ("llama3-70b-8192", 8_192, Tokenizer::Estimate),
    ("gemma2-9b-it", 8_192, Tokenizer::Estimate),
    ("mixtral-8x7b-32768", 32_768, Tokenizer::Estimate),
    ("gemini-2.5", 1_048_576, Tokenizer::Estimate),
    ("gemini-2.0", 1_048_576, Tokenizer::Estimate),
    ("gemini-1.5-pro", 2_097_152, Tokenizer::Estimate),
    ("gemini-1.5-flash", 1_048_576, Tokenizer::Estimate),
    ("claude-", 200_000, Tokenizer::Estimate),
];

/// What is known about `provider/model`, if anything.
pub fn lookup(model: &str) -> Option<ModelInfo> {
    let name = model.rsplit_once('/').map_or(model, |(_, m)| m);
    MODELS
        .iter()
        .filter(|(prefix, _, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())
        .map(|&(_, context_window, tokenizer)| ModelInfo {
            context_window,
            tokenizer,
        })
}

/// Bytes per token assumed when the tokenizer is unknown: English BPE averages about 4
/// characters a token; 3 errs towards warning early.
pub const ESTIMATE_BYTES_PER_TOKEN: usize = 3;

/// Tokens in `text` for a model with this tokenizer.
pub fn count_tokens(tokenizer: Tokenizer, text: &str) -> usize {
    let bpe = match tokenizer {
        Tokenizer::O200k => tiktoken_rs::o200k_base_singleton(),
        Tokenizer::Cl100k => tiktoken_rs::cl100k_base_singleton(),
        Tokenizer::Estimate => return text.len().div_ceil(ESTIMATE_BYTES_PER_TOKEN),
    };
    // In pieces of about 64 KiB, so a long prompt's tokens are never all held at once.
    // A piece ends after a newline followed by a visible ASCII character, where the
    // tokenizers' pre-split ends a word anyway, so the sum is the whole text's count.
    let mut count = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let end = piece_end(rest, 64 * 1024);
        count += bpe.encode_ordinary(&rest[..end]).len();
        rest = &rest[end..];
    }
    count
}

/// Where the first piece of `text` of at least `min` bytes ends: just after a `\n` whose
/// next character is a visible ASCII one (or the end of the text).
fn piece_end(text: &str, min: usize) -> usize {
    let bytes = text.as_bytes();
    let mut from = min.min(bytes.len());
    while let Some(p) = memchr::memchr(b'\n', &bytes[from..]) {
        let at = from + p + 1;
        match bytes.get(at) {
            None => return bytes.len(),
            Some(c) if c.is_ascii_graphic() => return at,
            Some(_) => from = at,
        }
    }
    bytes.len()
}

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// List prices per million tokens (input, output) by model name prefix after the
/// provider, as the providers published them in 2025 (standard tier, no caching or batch
/// discounts). Prices change: this is for hovers and cost estimates, and a provider's
/// `promptls.toml` prices override it. The longest matching prefix wins.
const PRICES: &[(&str, &str, f64, f64)] = &[
    ("openai", "gpt-5-nano", 0.05, 0.40),
    ("openai", "gpt-5-mini", 0.25, 2.00),
    ("openai", "gpt-5", 1.25, 10.00),
    ("openai", "gpt-4.1-nano", 0.10, 0.40),
    ("openai", "gpt-4.1-mini", 0.40, 1.60),
    ("openai", "gpt-4.1", 2.00, 8.00),
    ("openai", "gpt-4o-mini", 0.15, 0.60),
    ("openai", "gpt-4o", 2.50, 10.00),
    ("openai", "o4-mini", 1.10, 4.40),
    ("openai", "o3-mini", 1.10, 4.40),
    ("openai", "gpt-3.5-turbo", 0.50, 1.50),
    ("groq", "llama-3.1-8b-instant", 0.05, 0.08),
    ("groq", "llama-3.3-70b-versatile", 0.59, 0.79),
    ("groq", "gemma2-9b-it", 0.20, 0.20),
    ("googleai", "gemini-2.5-pro", 1.25, 10.00),
    ("googleai", "gemini-2.5-flash", 0.30, 2.50),
    ("googleai", "gemini-2.0-flash", 0.10, 0.40),
    ("googleai", "gemini-1.5-flash", 0.075, 0.30),
    ("anthropic", "claude-opus-4", 15.00, 75.00),
    ("anthropic", "claude-sonnet-4", 3.00, 15.00),
    ("anthropic", "claude-3-5-sonnet", 3.00, 15.00),
    ("anthropic", "claude-3-5-haiku", 0.80, 4.00),
    ("anthropic", "claude-3-haiku", 0.25, 1.25),
];

/// Provider names that mean the same API (Genkit says `googleai`, others `gemini`).
fn canonical_provider(provider: &str) -> &str {
    match provider {
        "gemini" | "google" | "googleai" | "vertexai" => "googleai",
        other => other,
    }
}

/// The list price of `provider/model`, if known.
pub fn price(model: &str) -> Option<Price> {
    let (provider, name) = model.split_once('/')?;
    let provider = canonical_provider(provider);
    PRICES
        .iter()
        .filter(|(p, prefix, ..)| *p == provider && name.starts_with(prefix))
        .max_by_key(|(_, prefix, ..)| prefix.len())
        .map(|&(_, _, input, output)| Price { input, output })
}

/// Well-known model names, for completion.
pub const KNOWN_MODELS: &[&str] = &[
    "groq/llama-3.1-8b-instant",
    "groq/llama-3.3-70b-versatile",
    "groq/gemma2-9b-it",
    "openai/gpt-4o-mini",
    "openai/gpt-4o",
    "openai/gpt-4.1-mini",
    "openai/gpt-4.1",
    "openai/gpt-5-mini",
    "openai/gpt-5",
    "openai/o4-mini",
    "googleai/gemini-2.0-flash",
    "googleai/gemini-2.5-flash",
    "googleai/gemini-2.5-pro",
    "anthropic/claude-3-5-haiku-latest",
    "anthropic/claude-sonnet-4-0",
    "ollama/llama3.2",
];

/// Who serves `provider/model`, in words.
pub fn provider_name(model: &str) -> Option<&'static str> {
    let (provider, _) = model.split_once('/')?;
    Some(match canonical_provider(provider) {
        "openai" => "OpenAI",
        "groq" => "Groq (OpenAI-compatible API)",
        "googleai" => "Google Gemini",
        "anthropic" => "Anthropic",
        "ollama" => "Ollama (local, OpenAI-compatible `/v1`)",
        "together" => "Together AI (OpenAI-compatible)",
        "openrouter" => "OpenRouter (OpenAI-compatible)",
        "vllm" => "vLLM (OpenAI-compatible)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_in_pieces_is_counting_the_whole() {
        let mut text = String::new();
        let lines = [
            "The quick brown fox.",
            "  indented line",
            "",
            "\tTabbed",
            "ünïcödé and 123456",
            "x",
        ];
        let mut i = 0usize;
        while text.len() < 300_000 {
            text.push_str(lines[i % lines.len()]);
            text.push_str(if i.is_multiple_of(7) { "\r\n" } else { "\n" });
            i += 1;
        }
        for (tokenizer, bpe) in [
            (Tokenizer::O200k, tiktoken_rs::o200k_base_singleton()),
            (Tokenizer::Cl100k, tiktoken_rs::cl100k_base_singleton()),
        ] {
            assert_eq!(
                count_tokens(tokenizer, &text),
                bpe.encode_ordinary(&text).len()
            );
        }
        assert!(piece_end(&text, 64 * 1024) < text.len());
    }

    #[test]
    fn finds_models_by_longest_prefix() {
        assert_eq!(
            lookup("openai/gpt-4o-mini").unwrap().context_window,
            128_000
        );
        assert_eq!(lookup("openai/gpt-4").unwrap().context_window, 8_192);
        assert_eq!(
            lookup("openai/gpt-4-turbo-2024").unwrap().context_window,
            128_000
        );
        assert_eq!(
            lookup("groq/llama-3.1-8b-instant").unwrap().tokenizer,
            Tokenizer::Estimate
        );
        assert!(lookup("ollama/some-local-model").is_none());
    }

    #[test]
    fn prices_by_provider_and_longest_prefix() {
        assert_eq!(price("openai/gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(price("openai/gpt-4o").unwrap().output, 10.0);
        assert_eq!(price("gemini/gemini-2.0-flash").unwrap().input, 0.10);
        assert!(price("groq/gpt-4o").is_none());
        assert!(price("gpt-4o").is_none());
    }

    #[test]
    fn counts_openai_tokens_exactly() {
        assert_eq!(count_tokens(Tokenizer::Cl100k, "hello world"), 2);
        assert_eq!(count_tokens(Tokenizer::Estimate, "abcdefg"), 3);
    }
}
