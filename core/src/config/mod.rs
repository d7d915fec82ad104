//! The workspace's configuration: `promptls.toml` at the workspace root, the workspace
//! `.env`, and the process environment. Keys are only ever read from the environment (or
//! `.env`): `promptls.toml` names the variable, never the key, and a key written there is
//! refused.
//!
//! ```toml
//! [providers.groq]
//! rpm = 30            # requests per minute
//! tpm = 6000          # tokens per minute
//! concurrency = 4     # calls in flight
//! prices = { "llama-3.1-8b-instant" = { input = 0.05, output = 0.08 } }  # USD per 1M tokens
//!
//! [providers.local]
//! base_url = "http://localhost:8000/v1"
//! api_key_env = "LOCAL_KEY"
//!
//! [models.aliases]
//! fast = "groq/llama-3.1-8b-instant"
//!
//! [eval]
//! concurrency = 8
//! judge = "openai/gpt-4o-mini"
//! cache = ".promptls/cache.sqlite"
//! ```
use std::collections::HashMap;
use std::path::PathBuf;

mod calls;
pub mod editor;
mod error;
pub mod file;
mod load;
mod providers;

pub use error::Error;
pub use file::{
    parse_file, EvalConfig, FileConfig, ModelsConfig, PriceConfig, ProviderConfig, ProviderField,
    FILE_NAME, MAX_ATTEMPTS, MAX_TIMEOUT_SECONDS,
};
pub use load::find_root;

use crate::trust::{Origin, Trust};

/// Everything a run needs to reach models: the file, `.env`, and the environment.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The workspace root: the nearest folder holding `promptls.toml`, `.promptls/` or
    /// `.git`, else the folder the search started from (`confine::workspace_root`).
    pub root: PathBuf,
    pub file: FileConfig,
    /// Variables from the workspace `.env` (the process environment wins over them).
    dotenv: HashMap<String, String>,
    /// The line of each variable in `.env`, for messages.
    dotenv_lines: HashMap<String, usize>,
    /// Overrides the process environment (tests); `None` reads the real one.
    env_override: Option<HashMap<String, String>>,
    /// Who set each provider's `base_url` and `api_key_env` (by provider, then field).
    origins: HashMap<(String, ProviderField), Origin>,
    /// Whether the workspace may choose where the user's own keys go.
    pub trust: Trust,
}

impl Config {
    /// `model` with an alias replaced by the model it stands for.
    pub fn resolve_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.file
            .models
            .aliases
            .get(model)
            .map(String::as_str)
            .unwrap_or(model)
    }

    /// Overrides from the editor's settings (they win over `promptls.toml`). The editor's
    /// settings are the user's: VS Code passes only the user's own provider settings in
    /// restricted mode.
    pub fn apply_editor_provider(&mut self, name: &str, editor: ProviderConfig) {
        let p = self.file.providers.entry(name.to_string()).or_default();
        if editor.base_url.is_some() {
            p.base_url = editor.base_url;
            self.origins
                .insert((name.to_string(), ProviderField::BaseUrl), Origin::Editor);
        }
        if editor.api_key_env.is_some() {
            p.api_key_env = editor.api_key_env;
            self.origins
                .insert((name.to_string(), ProviderField::ApiKeyEnv), Origin::Editor);
        }
        p.rpm = editor.rpm.or(p.rpm);
        p.tpm = editor.tpm.or(p.tpm);
        p.concurrency = editor.concurrency.or(p.concurrency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_providers_aliases_and_prices() {
        let file = parse_file(
            r#"
[providers.groq]
rpm = 60
concurrency = 2
prices = { "llama-3.1-8b" = { input = 0.5, output = 1.0 } }
[providers.local]
base_url = "http://127.0.0.1:9/v1"
api_key_env = "LOCAL_KEY"
[models.aliases]
fast = "groq/llama-3.1-8b-instant"
[eval]
concurrency = 3
"#,
        )
        .unwrap();
        let config = Config {
            root: PathBuf::from("/w"),
            file,
            ..Config::default()
        }
        .with_env(HashMap::from([("LOCAL_KEY".into(), "k-1".into())]));
        assert_eq!(config.resolve_model("fast"), "groq/llama-3.1-8b-instant");
        assert_eq!(config.resolve_model("groq/x"), "groq/x");
        let groq = config.limits_for("groq");
        assert_eq!((groq.rpm, groq.concurrency), (Some(60), 2));
        assert_eq!(config.limits_for("gemini").rpm, Some(15));
        let price = config.price("groq/llama-3.1-8b-instant").unwrap();
        assert_eq!((price.input, price.output), (0.5, 1.0));
        assert!(config.price("openai/gpt-4o-mini").is_some());
        let local = config.provider("local").unwrap();
        assert_eq!(local.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(local.key.unwrap().expose(), "k-1");
        assert_eq!(
            config.cache_path(),
            PathBuf::from("/w/.promptls/cache.sqlite")
        );
    }
}
