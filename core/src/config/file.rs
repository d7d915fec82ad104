//! `promptls.toml` as written: its tables and fields, parsed without reading the
//! environment or reaching any model. Checks read it (model aliases) through the
//! workspace; `config` builds clients from it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Deserialize;

pub const FILE_NAME: &str = crate::confine::CONFIG_FILE;

/// The longest `[eval] timeout` honoured, in seconds (one hour).
pub const MAX_TIMEOUT_SECONDS: f64 = 3600.0;
/// The most `[eval] attempts` honoured.
pub const MAX_ATTEMPTS: u32 = 20;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub base_url: Option<String>,
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub concurrency: Option<u32>,
    /// USD per million tokens, by model name (after the provider).
    #[serde(default)]
    pub prices: BTreeMap<String, PriceConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    pub input: f64,
    pub output: f64,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Rows evaluated at once (each provider's own `concurrency` still applies).
    pub concurrency: Option<usize>,
    /// The judge model for `promptls.metric: judge` when the prompt names none.
    pub judge: Option<String>,
    /// The model-call cache, relative to the workspace root.
    pub cache: Option<PathBuf>,
    /// Seconds before a model call times out.
    pub timeout: Option<f64>,
    /// Attempts per call (retries plus one).
    pub attempts: Option<u32>,
}

/// `promptls.toml` as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    #[serde(default)]
    pub models: ModelsConfig,
    #[serde(default)]
    pub eval: EvalConfig,
}

/// The provider settings whose origin decides where a key may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderField {
    BaseUrl,
    ApiKeyEnv,
}

impl ProviderField {
    pub(super) fn toml_name(self) -> &'static str {
        match self {
            ProviderField::BaseUrl => "base_url",
            ProviderField::ApiKeyEnv => "api_key_env",
        }
    }
}

/// The lines of `providers.*.base_url` and `api_key_env` in a TOML file.
#[derive(Deserialize, Default)]
struct FieldSpans {
    #[serde(default)]
    providers: BTreeMap<String, ProviderSpans>,
}

#[derive(Deserialize, Default)]
struct ProviderSpans {
    base_url: Option<toml::Spanned<toml::Value>>,
    api_key_env: Option<toml::Spanned<toml::Value>>,
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `(provider, field) -> line` for the provider settings of a TOML text.
pub(super) fn field_lines(text: &str) -> HashMap<(String, ProviderField), usize> {
    let spans: FieldSpans = toml::from_str(text).unwrap_or_default();
    let mut out = HashMap::new();
    for (name, p) in spans.providers {
        for (field, span) in [
            (ProviderField::BaseUrl, p.base_url),
            (ProviderField::ApiKeyEnv, p.api_key_env),
        ] {
            if let Some(span) = span {
                out.insert((name.clone(), field), line_of(text, span.span().start));
            }
        }
    }
    out
}

impl FileConfig {
    /// `other` laid over `self`, field by field (the workspace over the user's config).
    pub(super) fn overlay(&mut self, other: FileConfig) {
        for (name, theirs) in other.providers {
            let mine = self.providers.entry(name).or_default();
            mine.base_url = theirs.base_url.or(mine.base_url.take());
            mine.api_key_env = theirs.api_key_env.or(mine.api_key_env.take());
            mine.rpm = theirs.rpm.or(mine.rpm);
            mine.tpm = theirs.tpm.or(mine.tpm);
            mine.concurrency = theirs.concurrency.or(mine.concurrency);
            mine.prices.extend(theirs.prices);
        }
        self.models.aliases.extend(other.models.aliases);
        self.eval = other.eval;
    }
}

/// What is wrong in a `promptls.toml` text (`config::Error::File` adds the file).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key written into the file, under `[providers.<provider>]`.
    #[error("providers.{provider}: keys do not belong in promptls.toml (it is meant to be committed); put the key in the environment or .env and name the variable with `api_key_env`")]
    KeyInFile { provider: String },
    /// TOML that does not parse or does not fit, at `line`; the message is toml's first
    /// line and its location.
    #[error("{}", one_line(&.source.to_string()))]
    Toml {
        line: Option<usize>,
        #[source]
        source: toml::de::Error,
    },
}

/// Parses `promptls.toml`; a key written into it is refused.
pub fn parse_file(text: &str) -> Result<FileConfig, Error> {
    // Look for `api_key = ...` before deserialising, so the error never quotes the value.
    if let Ok(table) = text.parse::<toml::Table>() {
        if let Some(toml::Value::Table(providers)) = table.get("providers") {
            for (name, p) in providers {
                if let Some(p) = p.as_table() {
                    if p.contains_key("api_key") || p.contains_key("key") {
                        return Err(Error::KeyInFile {
                            provider: name.clone(),
                        });
                    }
                }
            }
        }
    }
    toml::from_str::<FileConfig>(text).map_err(|source| Error::Toml {
        line: source.span().map(|span| line_of(text, span.start)),
        source,
    })
}

/// toml's messages span several lines with a source excerpt; keep the first line and the
/// location.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid TOML").trim().to_string();
    let last = message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('|') && !l.contains("-->"))
        .map(str::trim)
        .unwrap_or("");
    if last.is_empty() || last == first {
        first
    } else {
        format!("{first}: {last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_keys_and_names_unknown_fields() {
        let err = parse_file("[providers.groq]\napi_key = \"gsk_secret\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("api_key_env"), "{err}");
        assert!(!err.contains("gsk_secret"), "{err}");
        let err = parse_file("[providers.groq]\nrmp = 3\n").unwrap_err();
        assert!(matches!(err, Error::Toml { line: Some(2), .. }), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("rmp"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }
}
