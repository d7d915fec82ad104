//! Which API a `provider/model` name talks to, where, and with which key. Keys follow
//! each ecosystem's conventions (`OPENAI_API_KEY` and `OPENAI_BASE_URL`, `GROQ_API_KEY`,
//! `GEMINI_API_KEY` or `GOOGLE_API_KEY`, `ANTHROPIC_API_KEY`, ...); settings may override
//! the base URL and the variable. A key is held as a `Secret`, which never prints.

use std::fmt;

/// The shape of the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST {base}/chat/completions` (OpenAI, Groq, Together, OpenRouter, vLLM,
    /// llama.cpp server, LM Studio, Ollama's `/v1`).
    OpenAi,
    /// `POST {base}/models/{model}:generateContent`.
    Gemini,
    /// `POST {base}/messages`.
    Anthropic,
}

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    /// As written before the slash: `openai`, `groq`, `gemini`...
    pub name: String,
    pub api: Api,
    /// Without a trailing slash.
    pub base_url: String,
    /// The environment variable the key came from (for messages), and the key.
    pub key_env: Option<String>,
    pub key: Option<Secret>,
    /// Set when an untrusted workspace chose where a user-level key would go: the key
    /// is withheld and the client refuses every call (`crate::trust`).
    pub refused: Option<std::sync::Arc<crate::trust::Refusal>>,
}

/// Overrides from settings (`promptls.toml`, editor settings).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderSettings {
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
}

/// A provider promptls knows by name.
struct Known {
    name: &'static str,
    api: Api,
    base_url: &'static str,
    /// Key variables, in order of preference.
    key_vars: &'static [&'static str],
    /// A variable that overrides the base URL.
    base_url_var: Option<&'static str>,
    /// Whether the endpoint refuses calls without a key (local servers usually do not).
    key_required: bool,
}

const KNOWN: &[Known] = &[
    Known {
        name: "openai",
        api: Api::OpenAi,
        base_url: "https://api.openai.com/v1",
        key_vars: &["OPENAI_API_KEY"],
        base_url_var: Some("OPENAI_BASE_URL"),
        key_required: true,
    },
    Known {
        name: "groq",
        api: Api::OpenAi,
        base_url: "https://api.groq.com/openai/v1",
        key_vars: &["GROQ_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
    Known {
        name: "together",
        api: Api::OpenAi,
        base_url: "https://api.together.xyz/v1",
        key_vars: &["TOGETHER_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
    Known {
        name: "openrouter",
        api: Api::OpenAi,
        base_url: "https://openrouter.ai/api/v1",
        key_vars: &["OPENROUTER_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
    Known {
        name: "ollama",
        api: Api::OpenAi,
        base_url: "http://localhost:11434/v1",
        key_vars: &[],
        base_url_var: Some("OLLAMA_BASE_URL"),
        key_required: false,
    },
    Known {
        name: "vllm",
        api: Api::OpenAi,
        base_url: "http://localhost:8000/v1",
        key_vars: &["VLLM_API_KEY"],
        base_url_var: None,
        key_required: false,
    },
    Known {
        name: "llamacpp",
        api: Api::OpenAi,
        base_url: "http://localhost:8080/v1",
        key_vars: &[],
        base_url_var: None,
        key_required: false,
    },
    Known {
        name: "lmstudio",
        api: Api::OpenAi,
        base_url: "http://localhost:1234/v1",
        key_vars: &[],
        base_url_var: None,
        key_required: false,
    },
    Known {
        name: "gemini",
        api: Api::Gemini,
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
    Known {
        name: "googleai",
        api: Api::Gemini,
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
    Known {
        name: "anthropic",
        api: Api::Anthropic,
        base_url: "https://api.anthropic.com/v1",
        key_vars: &["ANTHROPIC_API_KEY"],
        base_url_var: None,
        key_required: true,
    },
];

/// The providers promptls knows by name.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|k| k.name)
}

/// The variable that overrides a known provider's base URL (`OPENAI_BASE_URL`).
pub fn base_url_var(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|k| k.name == name)
        .and_then(|k| k.base_url_var)
}

/// Every key variable of the providers promptls knows (each once), whose values are
/// secrets to mask wherever text is shown or written.
pub fn key_vars() -> impl Iterator<Item = &'static str> {
    let mut seen: Vec<&'static str> = Vec::new();
    KNOWN
        .iter()
        .flat_map(|k| k.key_vars.iter().copied())
        .filter(move |var| {
            let new = !seen.contains(var);
            seen.push(var);
            new
        })
}

/// Whether the provider `name` (a known one) works without a key (local servers).
pub fn needs_key(name: &str) -> bool {
    KNOWN
        .iter()
        .find(|k| k.name == name)
        .is_none_or(|k| k.key_required)
}

/// Splits `provider/model`; the model may itself contain slashes (`openrouter/meta/llama`).
pub fn split_model(name: &str) -> Option<(&str, &str)> {
    let (provider, model) = name.split_once('/')?;
    (!provider.is_empty() && !model.is_empty()).then_some((provider, model))
}

impl Provider {
    /// The provider for `name`, with its key read through `env` (the process environment
    /// or a test's map). An unknown name is an OpenAI-compatible endpoint that needs a
    /// `base_url` in its settings.
    pub fn resolve(
        name: &str,
        settings: &ProviderSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Provider, super::Error> {
        let known = KNOWN.iter().find(|k| k.name == name);
        let api = known.map_or(Api::OpenAi, |k| k.api);
        let base_url = settings
            .base_url
            .clone()
            .or_else(|| known.and_then(|k| k.base_url_var).and_then(env))
            .or_else(|| known.map(|k| k.base_url.to_string()))
            .ok_or_else(|| super::Error::UnknownProvider {
                name: name.to_string(),
            })?;
        let candidates: Vec<String> = match &settings.api_key_env {
            Some(var) => vec![var.clone()],
            None => known
                .map(|k| k.key_vars.iter().map(|s| s.to_string()).collect())
                .unwrap_or_else(|| vec![format!("{}_API_KEY", name.to_ascii_uppercase())]),
        };
        let found = candidates.iter().find_map(|var| {
            env(var)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (var.clone(), v))
        });
        if let Some((_, key)) = &found {
            crate::secrets::register(key);
        }
        Ok(Provider {
            name: name.to_string(),
            api,
            base_url: base_url.trim_end_matches('/').to_string(),
            key_env: found
                .as_ref()
                .map(|(var, _)| var.clone())
                .or_else(|| candidates.first().cloned()),
            key: found.map(|(_, v)| Secret::new(v.trim())),
            refused: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn conventions_per_ecosystem() {
        let e = env(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("GOOGLE_API_KEY", "g-1"),
        ]);
        let openai = Provider::resolve("openai", &ProviderSettings::default(), &e).unwrap();
        assert_eq!(openai.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(openai.key.as_ref().map(Secret::expose), Some("sk-1"));
        let gemini = Provider::resolve("gemini", &ProviderSettings::default(), &e).unwrap();
        assert_eq!(
            (gemini.api, gemini.key_env.as_deref()),
            (Api::Gemini, Some("GOOGLE_API_KEY"))
        );
        let groq = Provider::resolve("groq", &ProviderSettings::default(), &e).unwrap();
        assert!(groq.key.is_none());
        assert_eq!(groq.key_env.as_deref(), Some("GROQ_API_KEY"));
        let custom = ProviderSettings {
            base_url: Some("http://h/v1".into()),
            api_key_env: Some("MY_KEY".into()),
        };
        let mine = Provider::resolve("mine", &custom, &env(&[("MY_KEY", "k")])).unwrap();
        assert_eq!((mine.api, mine.key.unwrap().expose()), (Api::OpenAi, "k"));
        assert!(Provider::resolve("mine", &ProviderSettings::default(), &e).is_err());
        assert_eq!(format!("{:?}", openai.key), "Some(Secret(***))");
        assert_eq!(
            split_model("openrouter/meta/llama-3"),
            Some(("openrouter", "meta/llama-3"))
        );
        assert_eq!(split_model("gpt-4o"), None);
    }

    #[test]
    fn key_vars_lists_every_known_variable_once() {
        let vars: Vec<&str> = key_vars().collect();
        for var in [
            "OPENAI_API_KEY",
            "GROQ_API_KEY",
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "ANTHROPIC_API_KEY",
            "TOGETHER_API_KEY",
            "OPENROUTER_API_KEY",
            "VLLM_API_KEY",
        ] {
            assert_eq!(
                vars.iter().filter(|v| **v == var).count(),
                1,
                "{var}: {vars:?}"
            );
        }
    }
}
