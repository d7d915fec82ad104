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
    bpe.encode_ordinary(text).len()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn counts_openai_tokens_exactly() {
        assert_eq!(count_tokens(Tokenizer::Cl100k, "hello world"), 2);
        assert_eq!(count_tokens(Tokenizer::Estimate, "abcdefg"), 3);
    }
}
