//! Server settings, from `initializationOptions` and `workspace/didChangeConfiguration`.
//! Both accept the settings object itself or wrapped as `{"promptls": {...}}` (VS Code
//! sends the section; Neovim users often send the bare table). Unknown keys are ignored;
//! a value of the wrong type is reported and the rest still applies.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use promptls_core::config::editor::EditorSettings;
use promptls_core::config::ProviderConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityOverride {
    Error,
    Warning,
    Info,
    Hint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Checks {
    /// Diagnostic codes not to report (e.g. `unused-variable`).
    pub disabled: HashSet<String>,
    /// Severity per diagnostic code.
    pub severity: BTreeMap<String, SeverityOverride>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Models {
    /// Short names for `provider/model` (e.g. `fast` -> `groq/llama-3.1-8b-instant`).
    pub aliases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Provider {
    pub base_url: Option<String>,
    /// The environment variable with the key (never the key itself).
    pub api_key_env: Option<String>,
    /// Requests per minute.
    pub rpm: Option<u32>,
    /// Tokens per minute.
    pub tpm: Option<u32>,
    /// Requests in flight at once.
    pub concurrency: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Evaluate {
    /// Evaluate a prompt when it is saved (at most `row_budget` rows).
    pub on_save: bool,
    pub row_budget: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Config {
    pub log_level: Option<LogLevel>,
    pub evaluate: Evaluate,
    pub checks: Checks,
    pub models: Models,
    pub providers: BTreeMap<String, Provider>,
    /// The editor's workspace trust (VS Code: `false` in restricted mode). `None`: the
    /// editor does not say, and `promptls trust` decides.
    pub workspace_trusted: Option<bool>,
}

impl Config {
    /// Reads settings; `Err` names the part that was wrong (the caller keeps the old one).
    pub fn from_json(value: &Value) -> Result<Config, String> {
        let settings = match value.get("promptls") {
            Some(inner) if inner.is_object() => inner,
            _ => value,
        };
        if settings.is_null() {
            return Ok(Config::default());
        }
        Config::deserialize(settings).map_err(|e| format!("promptls settings: {e}"))
    }

    /// What of these settings goes over a workspace's configuration
    /// (`promptls_core::config::editor`).
    pub fn editor_settings(&self) -> EditorSettings {
        EditorSettings {
            providers: self
                .providers
                .iter()
                .map(|(name, p)| {
                    let provider = ProviderConfig {
                        base_url: p.base_url.clone(),
                        api_key_env: p.api_key_env.clone(),
                        rpm: p.rpm,
                        tpm: p.tpm,
                        concurrency: p.concurrency,
                        prices: Default::default(),
                    };
                    (name.clone(), provider)
                })
                .collect(),
            aliases: self.models.aliases.clone(),
            workspace_trusted: self.workspace_trusted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_bare_and_wrapped_settings() {
        let bare = json!({"checks": {"disabled": ["unused-variable"], "severity": {"context-window": "error"}},
                          "models": {"aliases": {"fast": "groq/llama-3.1-8b-instant"}},
                          "providers": {"groq": {"baseUrl": "http://127.0.0.1:9/v1", "rpm": 30}},
                          "logLevel": "debug", "somethingNew": 1});
        let a = Config::from_json(&bare).unwrap();
        let b = Config::from_json(&json!({ "promptls": bare })).unwrap();
        assert_eq!(a, b);
        assert!(a.checks.disabled.contains("unused-variable"));
        assert_eq!(a.checks.severity["context-window"], SeverityOverride::Error);
        assert_eq!(a.models.aliases["fast"], "groq/llama-3.1-8b-instant");
        assert_eq!(a.providers["groq"].rpm, Some(30));
        assert_eq!(a.log_level, Some(LogLevel::Debug));
        assert_eq!(Config::from_json(&Value::Null).unwrap(), Config::default());
    }

    #[test]
    fn the_editor_settings_carry_providers_aliases_and_trust() {
        let config = Config::from_json(&json!({
            "models": {"aliases": {"fast": "groq/llama-3.1-8b-instant"}},
            "providers": {"groq": {"baseUrl": "http://127.0.0.1:9/v1", "apiKeyEnv": "K",
                                   "rpm": 30, "tpm": 600, "concurrency": 2}},
            "workspaceTrusted": false}))
        .unwrap();
        let editor = config.editor_settings();
        let groq = &editor.providers["groq"];
        assert_eq!(groq.base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(groq.api_key_env.as_deref(), Some("K"));
        assert_eq!(
            (groq.rpm, groq.tpm, groq.concurrency),
            (Some(30), Some(600), Some(2))
        );
        assert_eq!(editor.aliases["fast"], "groq/llama-3.1-8b-instant");
        assert_eq!(editor.workspace_trusted, Some(false));
    }

    #[test]
    fn wrong_types_are_reported() {
        let err = Config::from_json(&json!({"checks": {"disabled": "all"}})).unwrap_err();
        assert!(err.contains("promptls settings"), "{err}");
    }
}
