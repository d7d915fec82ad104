//! Who may send a credential where. A workspace is untrusted input: a repository someone
//! opens must not be able to send their keys to a host it chose. The rule, in one place
//! (`judge`): a credential goes only where a source at least as trusted as the credential
//! chose.
//!
//! - A key from the process environment (user level) goes to its provider's built-in
//!   endpoint, or to an endpoint set in the environment (`OPENAI_BASE_URL`...), the user's
//!   own config (`$XDG_CONFIG_HOME/promptls/config.toml`) or the editor's settings.
//! - A key from the workspace's own `.env` may go wherever the workspace's files say.
//! - A workspace file that would send a user-level key elsewhere, or that names a key
//!   variable it does not define itself, is refused, unless the user trusts the workspace:
//!   `promptls trust` records trusted roots in the user config folder (never in the
//!   workspace), and `PROMPTLS_TRUST_WORKSPACE=1` trusts it for one process.
//!
//! A call without a key (a local Ollama the workspace names) is always allowed.

use std::fmt;
use std::path::{Path, PathBuf};

/// Trusts the workspace for one process (CI, where the repository is yours). Read from
/// the process environment only, never from a workspace `.env`.
pub const TRUST_ENV: &str = "PROMPTLS_TRUST_WORKSPACE";

/// The user config folder: `$XDG_CONFIG_HOME/promptls`, else `~/.config/promptls`.
pub fn user_config_dir() -> Option<PathBuf> {
    let from_xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = from_xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|home| home.join(".config"))
    })?;
    Some(base.join("promptls"))
}

/// The user's own configuration file (same format as `promptls.toml`).
pub fn user_config_file() -> Option<PathBuf> {
    user_config_dir().map(|d| d.join("config.toml"))
}

/// Where a setting came from, from built in to workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// promptls's own default (a provider's documented endpoint and key variable).
    BuiltIn,
    /// The process environment.
    Environment,
    /// The user's config file.
    User { file: PathBuf, line: Option<usize> },
    /// The editor's settings. VS Code sends only the user's own values for provider
    /// settings in restricted mode; other editors read the user's config.
    Editor,
    /// A file of the workspace (`promptls.toml`, `.env`).
    Workspace {
        file: PathBuf,
        line: Option<usize>,
        /// The setting as written there (`providers.openai.base_url`, `OPENAI_BASE_URL`).
        setting: String,
    },
}

impl Origin {
    pub fn is_workspace(&self) -> bool {
        matches!(self, Origin::Workspace { .. })
    }
}

/// Where a provider's calls would go and with which key, and who chose each part.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    pub provider: &'a str,
    pub endpoint: &'a str,
    pub endpoint_origin: &'a Origin,
    /// The key's variable and who chose that name.
    pub key_var: &'a str,
    pub key_var_origin: &'a Origin,
    /// Where the key's value was found (`Environment` or the workspace `.env`); `None`
    /// when there is no key.
    pub key_origin: Option<&'a Origin>,
}

/// A model call refused because an untrusted workspace chose where a user-level key goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub root: PathBuf,
    /// The workspace file, line and setting that made the choice.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub setting: String,
    /// What the setting would have done.
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(
            f,
            ": `{}` {}; promptls does not trust the workspace {}, so no call was made. If you trust it, run `promptls trust {}` (or set {TRUST_ENV}=1 for one run)",
            self.setting,
            self.reason,
            self.root.display(),
            shell_word(&self.root)
        )
    }
}

impl std::error::Error for Refusal {}

fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The one rule: `None` when `route` may be used in an untrusted workspace at `root`.
pub fn judge(route: &Route<'_>, root: &Path) -> Option<Refusal> {
    let key_origin = route.key_origin?;
    if key_origin.is_workspace() {
        // The workspace's own key: it may send it where it likes.
        return None;
    }
    let refuse = |origin: &Origin, reason: String| match origin {
        Origin::Workspace {
            file,
            line,
            setting,
        } => Some(Refusal {
            root: root.to_path_buf(),
            file: file.clone(),
            line: *line,
            setting: setting.clone(),
            reason,
        }),
        _ => None,
    };
    if route.key_var_origin.is_workspace() {
        return refuse(
            route.key_var_origin,
            format!(
                "names the key variable {} for provider `{}`, which this workspace's .env does not define; its value comes from your environment",
                route.key_var, route.provider
            ),
        );
    }
    if route.endpoint_origin.is_workspace() {
        return refuse(
            route.endpoint_origin,
            format!(
                "would send your {} (from your environment) to {}, an endpoint this workspace chose",
                route.key_var, route.endpoint
            ),
        );
    }
    None
}

/// Why a workspace is trusted, or not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Trust {
    /// `PROMPTLS_TRUST_WORKSPACE=1` in the process environment.
    ByEnvironment,
    /// Recorded with `promptls trust` (the recorded folder, the root or one above it).
    Recorded(PathBuf),
    /// The editor says so (VS Code's workspace trust).
    ByEditor,
    /// Not trusted; the editor may say so explicitly.
    #[default]
    Untrusted,
}

impl Trust {
    pub fn is_trusted(&self) -> bool {
        !matches!(self, Trust::Untrusted)
    }

    /// The trust of the workspace at `root` for this process: the environment, then the
    /// user's list.
    pub fn of(root: &Path) -> Trust {
        if std::env::var(TRUST_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
            return Trust::ByEnvironment;
        }
        match TrustList::user().and_then(|list| list.covering(root)) {
            Some(folder) => Trust::Recorded(folder),
            None => Trust::Untrusted,
        }
    }

    /// A sentence for `doctor`.
    pub fn describe(&self, root: &Path) -> String {
        match self {
            Trust::ByEnvironment => format!("trusted for this process ({TRUST_ENV}=1)"),
            Trust::Recorded(folder) if folder == root => {
                "trusted (recorded with `promptls trust`)".to_string()
            }
            Trust::Recorded(folder) => format!(
                "trusted (recorded with `promptls trust {}`)",
                folder.display()
            ),
            Trust::ByEditor => "trusted by the editor".to_string(),
            Trust::Untrusted => format!(
                "not trusted: its files cannot send your own keys elsewhere (`promptls trust {}` to trust it)",
                shell_word(root)
            ),
        }
    }
}

/// Why the list of trusted folders could not be read or written: the file (or folder)
/// and the cause as `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A folder to trust that cannot be found (canonicalised).
    #[error("cannot trust {}: {source}", .folder.display())]
    Folder {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has no folder", .path.display())]
    NoFolder { path: PathBuf },
    #[error(transparent)]
    CreateFolder(#[from] crate::folder::CannotCreate),
    #[error("cannot write {}: {source}", .path.display())]
    Serialize {
        path: PathBuf,
        #[source]
        source: toml::ser::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Persist {
        path: PathBuf,
        #[source]
        source: tempfile::PersistError,
    },
}

/// The user's list of trusted folders: `trusted.toml` in the user config folder, one
/// `folders = [...]` array of absolute, canonical paths. A folder covers its subfolders.
#[derive(Debug, Clone)]
pub struct TrustList {
    pub file: PathBuf,
    pub folders: Vec<PathBuf>,
}

#[derive(serde::Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    folders: Vec<PathBuf>,
}

impl TrustList {
    /// The user's list, or `None` without a config folder or when it cannot be read.
    pub fn user() -> Option<TrustList> {
        let file = user_config_dir()?.join("trusted.toml");
        TrustList::load(&file).ok()
    }

    /// The list in `file` (empty when the file does not exist).
    pub fn load(file: &Path) -> Result<TrustList, Error> {
        let path = || file.to_path_buf();
        let folders = match std::fs::read_to_string(file) {
            Ok(text) => {
                toml::from_str::<TrustFile>(&text)
                    .map_err(|source| Error::Parse {
                        path: path(),
                        source,
                    })?
                    .folders
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(Error::Read {
                    path: path(),
                    source,
                })
            }
        };
        Ok(TrustList {
            file: file.to_path_buf(),
            folders,
        })
    }

    /// The recorded folder that covers `root` (the root itself or a folder above it).
    pub fn covering(&self, root: &Path) -> Option<PathBuf> {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        self.folders
            .iter()
            .filter(|f| root.starts_with(f))
            .max_by_key(|f| f.as_os_str().len())
            .cloned()
    }

    /// Adds `folder` (canonicalised); `false` when it was already there.
    pub fn add(&mut self, folder: &Path) -> Result<bool, Error> {
        let folder = std::fs::canonicalize(folder).map_err(|source| Error::Folder {
            folder: folder.to_path_buf(),
            source,
        })?;
        if self.folders.contains(&folder) {
            return Ok(false);
        }
        self.folders.push(folder);
        self.folders.sort();
        self.save()?;
        Ok(true)
    }

    /// Removes `folder`; `false` when it was not there.
    pub fn remove(&mut self, folder: &Path) -> Result<bool, Error> {
        let canonical = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf());
        let before = self.folders.len();
        self.folders.retain(|f| f != &canonical && f != folder);
        if self.folders.len() == before {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    /// Writes the list atomically (a temporary file renamed over it).
    fn save(&self) -> Result<(), Error> {
        let path = || self.file.clone();
        let folder = self
            .file
            .parent()
            .ok_or_else(|| Error::NoFolder { path: path() })?;
        crate::folder::create(folder)?;
        let text = toml::to_string(&TrustFile {
            folders: self.folders.clone(),
        })
        .map_err(|source| Error::Serialize {
            path: path(),
            source,
        })?;
        let text = format!(
            "# Workspaces whose files promptls lets choose where your keys go (`promptls trust`).\n{text}"
        );
        let write = |source| Error::Write {
            path: path(),
            source,
        };
        let mut temp = tempfile::NamedTempFile::new_in(folder).map_err(write)?;
        std::io::Write::write_all(&mut temp, text.as_bytes()).map_err(write)?;
        temp.persist(&self.file).map_err(|source| Error::Persist {
            path: path(),
            source,
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace(setting: &str) -> Origin {
        Origin::Workspace {
            file: PathBuf::from("/w/promptls.toml"),
            line: Some(2),
            setting: setting.into(),
        }
    }

    fn route<'a>(
        endpoint_origin: &'a Origin,
        key_var_origin: &'a Origin,
        key_origin: Option<&'a Origin>,
    ) -> Route<'a> {
        Route {
            provider: "openai",
            endpoint: "http://evil/v1",
            endpoint_origin,
            key_var: "OPENAI_API_KEY",
            key_var_origin,
            key_origin,
        }
    }

    #[test]
    fn user_keys_go_only_where_the_user_chose() {
        let root = Path::new("/w");
        let env = Origin::Environment;
        let built_in = Origin::BuiltIn;
        let url = workspace("providers.openai.base_url");
        let var = workspace("providers.openai.api_key_env");
        let dotenv = Origin::Workspace {
            file: PathBuf::from("/w/.env"),
            line: Some(1),
            setting: "OPENAI_API_KEY".into(),
        };
        let user = Origin::User {
            file: PathBuf::from("/home/u/.config/promptls/config.toml"),
            line: Some(3),
        };
        // Built-in, environment, user and editor endpoints take the user's key.
        for endpoint in [&built_in, &env, &user, &Origin::Editor] {
            assert_eq!(judge(&route(endpoint, &built_in, Some(&env)), root), None);
        }
        // A workspace endpoint with the user's key is refused, naming the setting.
        let refusal = judge(&route(&url, &built_in, Some(&env)), root).unwrap();
        assert_eq!(refusal.setting, "providers.openai.base_url");
        assert_eq!(refusal.line, Some(2));
        let text = refusal.to_string();
        assert!(text.starts_with("/w/promptls.toml:2: "), "{text}");
        assert!(text.contains("promptls trust /w"), "{text}");
        assert!(text.contains(TRUST_ENV), "{text}");
        // A workspace-chosen variable whose value is the user's is refused.
        let refusal = judge(&route(&built_in, &var, Some(&env)), root).unwrap();
        assert_eq!(refusal.setting, "providers.openai.api_key_env");
        // The workspace's own key may go where the workspace says.
        assert_eq!(judge(&route(&url, &var, Some(&dotenv)), root), None);
        // No key, nothing to leak.
        assert_eq!(judge(&route(&url, &var, None), root), None);
    }

    #[test]
    fn the_list_covers_subfolders_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("code/repo");
        std::fs::create_dir_all(repo.join("sub")).unwrap();
        let file = dir.path().join("config/promptls/trusted.toml");
        let mut list = TrustList::load(&file).unwrap();
        assert!(list.folders.is_empty());
        assert!(list.add(&repo).unwrap());
        assert!(!list.add(&repo).unwrap());
        let again = TrustList::load(&file).unwrap();
        let canonical = std::fs::canonicalize(&repo).unwrap();
        assert_eq!(again.folders, vec![canonical.clone()]);
        assert_eq!(again.covering(&repo.join("sub")), Some(canonical.clone()));
        assert_eq!(again.covering(dir.path()), None);
        let mut again = again;
        assert!(again.remove(&repo).unwrap());
        assert!(!again.remove(&repo).unwrap());
        assert!(TrustList::load(&file).unwrap().folders.is_empty());
    }

    #[test]
    fn list_errors_name_the_file_and_keep_the_cause() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("trusted.toml");
        std::fs::write(&file, "folders = 3\n").unwrap();
        let error = TrustList::load(&file).unwrap_err();
        let Error::Parse { path, source } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &file);
        assert_eq!(error.to_string(), format!("{}: {source}", file.display()));
        assert!(error.source().unwrap().is::<toml::de::Error>());

        let mut list = TrustList {
            file: file.clone(),
            folders: Vec::new(),
        };
        let missing = dir.path().join("missing");
        let error = list.add(&missing).unwrap_err();
        assert!(matches!(&error, Error::Folder { folder, .. } if folder == &missing));
        assert!(error
            .to_string()
            .starts_with(&format!("cannot trust {}: ", missing.display())));
        assert!(error.source().unwrap().is::<std::io::Error>());
    }
}
