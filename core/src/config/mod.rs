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
use std::path::{Path, PathBuf};

pub mod editor;
pub mod file;

pub use file::{
    parse_file, EvalConfig, FileConfig, ModelsConfig, PriceConfig, ProviderConfig, ProviderField,
    FILE_NAME, MAX_ATTEMPTS, MAX_TIMEOUT_SECONDS,
};

use crate::catalog::{self, Price};
use crate::llm::cache::Cache;
use crate::llm::client::Client;
use crate::llm::limits::Limits;
use crate::llm::provider::{self, Provider, ProviderSettings};
use crate::llm::retry::RetryPolicy;
use crate::trust::{self, Origin, Route, Trust};
use file::field_lines;

/// Why the configuration could not be loaded or used: the file and line where there is
/// one, the cause as `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What is wrong in the config file at `path` (boxed: toml's error is large).
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        #[source]
        source: Box<file::Error>,
    },
    #[error("{}: [eval] belongs in a workspace's {FILE_NAME}; the user config holds [providers] and [models]", .path.display())]
    EvalInUserFile { path: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A `.env` line that does not parse, at byte `index` of `line` (when it is found).
    /// No source: dotenvy's message quotes the line, which may hold a key.
    #[error("{}: cannot parse the line at byte {index}", .path.display())]
    DotenvLine {
        path: PathBuf,
        line: Option<usize>,
        index: usize,
    },
    #[error("{}: {source}", .path.display())]
    Dotenv {
        path: PathBuf,
        #[source]
        source: dotenvy::Error,
    },
    /// The model-call cache (`[eval] cache`, or a symlinked `.promptls`) leads outside the
    /// workspace.
    #[error("the model-call cache {source}; nothing was written")]
    CacheOutside {
        #[source]
        source: crate::confine::OutsideWorkspace,
    },
    #[error(transparent)]
    CreateFolder(#[from] crate::folder::CannotCreate),
    /// An unknown provider, or the cache file.
    #[error(transparent)]
    Llm(#[from] crate::llm::Error),
}

/// For the callers that still pass errors on as text (`eval::run`, the front-ends).
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

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

/// The line of each `NAME=` in a `.env` text.
fn dotenv_lines(text: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((name, _)) = line.split_once('=') {
            out.entry(name.trim().to_string()).or_insert(i + 1);
        }
    }
    out
}

/// The workspace root for `start` (a file or folder): the nearest folder holding
/// `promptls.toml`, `.promptls` or `.git` (see `confine::workspace_root`).
pub fn find_root(start: &Path) -> PathBuf {
    crate::confine::workspace_root(start)
}

impl Config {
    /// The configuration of the workspace holding `start`. A broken `promptls.toml` or
    /// `.env` is an error naming the file and line.
    pub fn load(start: &Path) -> Result<Config, Error> {
        Config::load_root(&find_root(start))
    }

    pub fn load_root(root: &Path) -> Result<Config, Error> {
        Config::load_root_with_user(root, trust::user_config_file().as_deref())
    }

    /// The configuration of the workspace at `root` over the user's config file `user`
    /// (`None`: no user config).
    pub fn load_root_with_user(root: &Path, user: Option<&Path>) -> Result<Config, Error> {
        let mut origins = HashMap::new();
        let mut file = FileConfig::default();
        if let Some(user) = user {
            match std::fs::read_to_string(user) {
                Ok(text) => {
                    let user_file = parse_file(&text).map_err(|e| Error::File {
                        path: user.to_path_buf(),
                        source: Box::new(e),
                    })?;
                    if user_file.eval != EvalConfig::default() {
                        return Err(Error::EvalInUserFile {
                            path: user.to_path_buf(),
                        });
                    }
                    for ((name, field), line) in field_lines(&text) {
                        origins.insert(
                            (name, field),
                            Origin::User {
                                file: user.to_path_buf(),
                                line: Some(line),
                            },
                        );
                    }
                    file = user_file;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Read {
                        path: user.to_path_buf(),
                        source,
                    })
                }
            }
        }
        let path = root.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let workspace = parse_file(&text).map_err(|e| Error::File {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
                for ((name, field), line) in field_lines(&text) {
                    origins.insert(
                        (name.clone(), field),
                        Origin::Workspace {
                            file: path.clone(),
                            line: Some(line),
                            setting: format!("providers.{name}.{}", field.toml_name()),
                        },
                    );
                }
                file.overlay(workspace);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Read { path, source }),
        };
        let dotenv_path = root.join(".env");
        let mut dotenv = HashMap::new();
        let mut lines = HashMap::new();
        if dotenv_path.is_file() {
            let text = std::fs::read_to_string(&dotenv_path).unwrap_or_default();
            lines = dotenv_lines(&text);
            let error = |e| dotenv_error(&dotenv_path, &text, e);
            for entry in dotenvy::from_path_iter(&dotenv_path).map_err(error)? {
                let (k, v) = entry.map_err(error)?;
                dotenv.insert(k, v);
            }
        }
        let config = Config {
            root: root.to_path_buf(),
            file,
            dotenv,
            dotenv_lines: lines,
            env_override: None,
            origins,
            trust: Trust::of(root),
        };
        // Every key this workspace can see is masked wherever text is shown or written.
        register_secrets(&config);
        Ok(config)
    }

    /// A configuration that reads variables from `env` instead of the process (tests).
    pub fn with_env(mut self, env: HashMap<String, String>) -> Config {
        self.env_override = Some(env);
        self
    }

    /// A variable from the environment, else from the workspace `.env`.
    pub fn var(&self, name: &str) -> Option<String> {
        let from_env = match &self.env_override {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        from_env
            .filter(|v| !v.is_empty())
            .or_else(|| self.dotenv.get(name).cloned())
    }

    /// Where the variable `name` was found, for `doctor`: "environment", ".env" or none.
    pub fn var_source(&self, name: &str) -> Option<&'static str> {
        let in_env = match &self.env_override {
            Some(map) => map.get(name).is_some_and(|v| !v.is_empty()),
            None => std::env::var(name).is_ok_and(|v| !v.is_empty()),
        };
        if in_env {
            Some("environment")
        } else if self.dotenv.contains_key(name) {
            Some(".env")
        } else {
            None
        }
    }

    /// `model` with an alias replaced by the model it stands for.
    pub fn resolve_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.file
            .models
            .aliases
            .get(model)
            .map(String::as_str)
            .unwrap_or(model)
    }

    /// The provider of `provider/model`, with its URL and key. In an untrusted workspace
    /// a route the workspace chose for a user-level key comes back without the key and
    /// with `refused` set (`trust::judge`), and the client makes no call with it.
    pub fn provider(&self, name: &str) -> Result<Provider, Error> {
        let settings = self
            .file
            .providers
            .get(name)
            .map(|p| ProviderSettings {
                base_url: p.base_url.clone(),
                api_key_env: p.api_key_env.clone(),
            })
            .unwrap_or_default();
        let mut provider = Provider::resolve(name, &settings, &|var| self.var(var))?;
        if !self.trust.is_trusted() {
            if let Some(refusal) = self.refusal(name, &settings, &provider) {
                provider.key = None;
                provider.refused = Some(std::sync::Arc::new(refusal));
            }
        }
        Ok(provider)
    }

    /// Marks the workspace trusted or not (the editor's word, `promptls trust`).
    pub fn set_trust(&mut self, trust: Trust) {
        self.trust = trust;
    }

    /// Who set `field` of provider `name`.
    fn origin(&self, name: &str, field: ProviderField) -> Origin {
        self.origins
            .get(&(name.to_string(), field))
            .cloned()
            .unwrap_or(Origin::BuiltIn)
    }

    /// Where the value of the variable `name` came from.
    fn var_origin(&self, name: &str) -> Option<Origin> {
        match self.var_source(name)? {
            "environment" => Some(Origin::Environment),
            _ => Some(Origin::Workspace {
                file: self.root.join(".env"),
                line: self.dotenv_lines.get(name).copied(),
                setting: name.to_string(),
            }),
        }
    }

    /// Why `provider` may not carry its key from this untrusted workspace, if it may not.
    fn refusal(
        &self,
        name: &str,
        settings: &ProviderSettings,
        provider: &Provider,
    ) -> Option<trust::Refusal> {
        let known = provider::known_names().any(|k| k == name);
        let endpoint_origin = if settings.base_url.is_some() {
            self.origin(name, ProviderField::BaseUrl)
        } else {
            provider::base_url_var(name)
                .and_then(|var| self.var_origin(var))
                .unwrap_or(Origin::BuiltIn)
        };
        let key_var_origin = if settings.api_key_env.is_some() {
            self.origin(name, ProviderField::ApiKeyEnv)
        } else if known {
            Origin::BuiltIn
        } else {
            // An unknown provider's conventional variable (`NAME_API_KEY`) is chosen by
            // whoever named the provider, with its endpoint.
            endpoint_origin.clone()
        };
        let key_var = provider.key_env.clone().unwrap_or_default();
        let key_origin = provider
            .key
            .as_ref()
            .and_then(|_| self.var_origin(&key_var));
        trust::judge(
            &Route {
                provider: name,
                endpoint: &provider.base_url,
                endpoint_origin: &endpoint_origin,
                key_var: &key_var,
                key_var_origin: &key_var_origin,
                key_origin: key_origin.as_ref(),
            },
            &self.root,
        )
    }

    /// Whether calls to `name` need a key: a known cloud provider does; a local server or
    /// another endpoint does only when `promptls.toml` names its `api_key_env`.
    pub fn needs_key(&self, name: &str) -> bool {
        if provider::known_names().any(|k| k == name) {
            return provider::needs_key(name);
        }
        self.file
            .providers
            .get(name)
            .is_some_and(|p| p.api_key_env.is_some())
    }

    /// Each configured provider's limits (others use `Limits::default_for`).
    pub fn limits(&self) -> HashMap<String, Limits> {
        self.file
            .providers
            .iter()
            .map(|(name, p)| (name.clone(), self.limits_for_config(name, p)))
            .collect()
    }

    /// The limits `name` runs under.
    pub fn limits_for(&self, name: &str) -> Limits {
        match self.file.providers.get(name) {
            Some(p) => self.limits_for_config(name, p),
            None => Limits::default_for(name),
        }
    }

    fn limits_for_config(&self, name: &str, p: &ProviderConfig) -> Limits {
        let default = Limits::default_for(name);
        Limits {
            rpm: p.rpm.or(default.rpm),
            tpm: p.tpm.or(default.tpm),
            concurrency: p
                .concurrency
                .map(|c| c.max(1) as usize)
                .unwrap_or(default.concurrency),
        }
    }

    /// The price of `provider/model`: `promptls.toml` first, else the catalog.
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some((provider_name, name)) = provider::split_model(model) {
            let configured = self.file.providers.get(provider_name).and_then(|p| {
                // The longest configured prefix of the model name.
                p.prices
                    .iter()
                    .filter(|(m, _)| name.starts_with(m.as_str()))
                    .max_by_key(|(m, _)| m.len())
                    .map(|(_, price)| Price {
                        input: price.input,
                        output: price.output,
                    })
            });
            if configured.is_some() {
                return configured;
            }
        }
        catalog::price(model)
    }

    /// The model-call cache file, as configured (`cache_path_ensured` refuses one outside
    /// the workspace).
    pub fn cache_path(&self) -> PathBuf {
        let relative = self
            .file
            .eval
            .cache
            .clone()
            .unwrap_or_else(|| PathBuf::from(".promptls/cache.sqlite"));
        self.root.join(relative)
    }

    /// The retry policy: defaults, with `[eval] timeout` and `attempts` applied.
    /// A workspace file is untrusted: the timeout is capped at `MAX_TIMEOUT_SECONDS` and
    /// the attempts at `MAX_ATTEMPTS` (no absurd value panics or retries for ever).
    pub fn retry_policy(&self) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        if let Some(seconds) = self.file.eval.timeout.filter(|s| *s > 0.0) {
            policy.timeout =
                std::time::Duration::try_from_secs_f64(seconds.min(MAX_TIMEOUT_SECONDS))
                    .unwrap_or(policy.timeout);
        }
        if let Some(attempts) = self.file.eval.attempts {
            policy.attempts = attempts.clamp(1, MAX_ATTEMPTS);
        }
        policy
    }

    /// The cache file, with its folder created; refused when it (or a symlinked
    /// `.promptls`) leads outside the workspace.
    pub fn cache_path_ensured(&self) -> Result<PathBuf, Error> {
        let path = self.cache_path();
        let written = self
            .file
            .eval
            .cache
            .clone()
            .unwrap_or_else(|| PathBuf::from(".promptls/cache.sqlite"));
        crate::confine::confine_named(&self.root, &self.root, &written)
            .map_err(|source| Error::CacheOutside { source })?;
        if let Some(folder) = path.parent() {
            crate::folder::create(folder)?;
        }
        Ok(path)
    }

    /// The client for a run: this workspace's limits and retry policy, and its cache
    /// (`reads_cache: false` is `--no-cache`: every row is sent, answers still stored).
    pub fn client(&self, reads_cache: bool) -> Result<Client, Error> {
        let cache = Cache::open(&self.cache_path_ensured()?)?;
        let client = Client::with_limits(self.retry_policy(), self.limits()).with_cache(cache);
        Ok(if reads_cache {
            client
        } else {
            client.without_cache_reads()
        })
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

/// Registers (`secrets::register`) the value of every key variable `config` can see:
/// those of the providers promptls knows, the `api_key_env` of each provider in
/// `promptls.toml` (else its `NAME_API_KEY`), from the environment or the workspace
/// `.env`.
fn register_secrets(config: &Config) {
    let configured = config
        .file
        .providers
        .iter()
        .map(|(name, p)| match &p.api_key_env {
            Some(var) => var.clone(),
            None => format!("{}_API_KEY", name.to_ascii_uppercase()),
        });
    let vars = provider::key_vars().map(str::to_string).chain(configured);
    for var in vars {
        if let Some(value) = config.var(&var) {
            crate::secrets::register(&value);
        }
    }
}

/// The error for `error` reading the `.env` at `path` (`text`). dotenvy quotes the
/// offending line in some errors, and a `.env` line may hold a key: that error keeps only
/// where the line is.
fn dotenv_error(path: &Path, text: &str, error: dotenvy::Error) -> Error {
    match error {
        dotenvy::Error::LineParse(line, index) => {
            let first = line.lines().next().unwrap_or("").trim();
            Error::DotenvLine {
                path: path.to_path_buf(),
                line: text.lines().position(|l| l.trim() == first).map(|i| i + 1),
                index,
            }
        }
        source => Error::Dotenv {
            path: path.to_path_buf(),
            source,
        },
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

    #[test]
    fn absurd_timeouts_and_attempts_are_capped() {
        for (timeout, attempts) in [("1e20", 4294967295u64), ("inf", 0), ("1e-300", 1)] {
            let file = parse_file(&format!(
                "[eval]\ntimeout = {timeout}\nattempts = {attempts}\n"
            ))
            .unwrap();
            let policy = Config {
                file,
                ..Config::default()
            }
            .retry_policy();
            assert!(
                policy.timeout <= std::time::Duration::from_secs(3600),
                "{timeout}"
            );
            assert!((1..=MAX_ATTEMPTS).contains(&policy.attempts), "{attempts}");
        }
    }

    #[test]
    fn refuses_keys_and_names_unknown_fields() {
        let err = parse_file("[providers.groq]\napi_key = \"gsk_secret\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("api_key_env"), "{err}");
        assert!(!err.contains("gsk_secret"), "{err}");
        let err = parse_file("[providers.groq]\nrmp = 3\n").unwrap_err();
        assert!(
            matches!(err, file::Error::Toml { line: Some(2), .. }),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(err.contains("rmp"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn errors_keep_the_file_the_line_and_the_cause() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join(FILE_NAME);
        std::fs::write(
            &toml,
            "[eval]\nconcurrency = 2\n[providers.groq]\nrmp = 3\n",
        )
        .unwrap();
        let error = Config::load_root_with_user(dir.path(), None).unwrap_err();
        let Error::File { path, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &toml);
        assert!(
            matches!(**source, file::Error::Toml { line: Some(4), .. }),
            "{source:?}"
        );
        assert_eq!(error.to_string(), format!("{}: {source}", toml.display()));
        let toml_error = error.source().unwrap().source().unwrap();
        assert!(toml_error.is::<toml::de::Error>(), "{toml_error:?}");

        // A `.env` line that does not parse: its file and line, never its text.
        std::fs::write(&toml, "").unwrap();
        let dotenv = dir.path().join(".env");
        std::fs::write(&dotenv, "A=1\n# note\nB='sk-secret\n").unwrap();
        let error = Config::load_root_with_user(dir.path(), None).unwrap_err();
        let Error::DotenvLine { path, line, index } = &error else {
            panic!("{error:?}");
        };
        assert_eq!((path, *line), (&dotenv, Some(3)));
        assert_eq!(
            error.to_string(),
            format!(
                "{}: cannot parse the line at byte {index}",
                dotenv.display()
            )
        );
        assert!(error.source().is_none());
        assert!(!format!("{error:?}").contains("sk-secret"));
    }

    #[test]
    fn dotenv_fills_in_what_the_environment_lacks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "GROQ_API_KEY=from-dotenv\nOPENAI_API_KEY=\"dotenv-openai\"\n",
        )
        .unwrap();
        let config = Config::load(&dir.path().join("a.prompt"))
            .unwrap()
            .with_env(HashMap::from([(
                "OPENAI_API_KEY".into(),
                "from-env".into(),
            )]));
        assert_eq!(config.var("GROQ_API_KEY").as_deref(), Some("from-dotenv"));
        assert_eq!(config.var("OPENAI_API_KEY").as_deref(), Some("from-env"));
        assert_eq!(config.var_source("GROQ_API_KEY"), Some(".env"));
        assert_eq!(config.var_source("OPENAI_API_KEY"), Some("environment"));
        assert_eq!(
            config.provider("groq").unwrap().key.unwrap().expose(),
            "from-dotenv"
        );
        std::fs::write(
            dir.path().join(".env"),
            "GOOD=1\nthis is not = an env line\n",
        )
        .unwrap();
        let err = Config::load(&dir.path().join("a.prompt"))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".env"), "{err}");
    }
}
