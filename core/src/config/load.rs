//! Reading the configuration: the user's config file, the workspace's `promptls.toml` and
//! `.env`, and the process environment (which wins over `.env`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::file::field_lines;
use super::{parse_file, Config, Error, EvalConfig, FileConfig, FILE_NAME};
use crate::llm::provider;
use crate::trust::{self, Origin, Trust};

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
    use crate::config::file;

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
