//! The editor's settings over a workspace's configuration: the providers, the model
//! aliases and the workspace trust the editor sends (its settings are the user's, so they
//! win over `promptls.toml`). Plain data in, a `Config` out; the editor's protocol types
//! stay in the front-end.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Config, Error, ProviderConfig};
use crate::trust::Trust;

/// What of the editor's settings reaches the workspace configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditorSettings {
    /// By provider name; `prices` are not an editor setting (left empty).
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Short names for `provider/model`, added to (and over) the file's.
    pub aliases: BTreeMap<String, String>,
    /// The editor's workspace trust; `None`: the editor does not say, the config's own
    /// trust (`promptls trust`) stands.
    pub workspace_trusted: Option<bool>,
}

/// The configuration of the workspace holding `path`, with `editor` over it.
pub fn load(path: &Path, editor: &EditorSettings) -> Result<Config, Error> {
    let mut config = Config::load(path)?;
    apply(&mut config, editor);
    Ok(config)
}

/// Puts `editor` over `config`.
pub fn apply(config: &mut Config, editor: &EditorSettings) {
    for (name, provider) in &editor.providers {
        config.apply_editor_provider(name, provider.clone());
    }
    match editor.workspace_trusted {
        Some(true) => config.set_trust(Trust::ByEditor),
        Some(false) => config.set_trust(Trust::Untrusted),
        None => {}
    }
    for (alias, model) in &editor.aliases {
        config
            .file
            .models
            .aliases
            .insert(alias.clone(), model.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editors_settings_win_and_what_it_leaves_out_stays() {
        let mut config = Config::default();
        config.file.providers.insert(
            "groq".into(),
            ProviderConfig {
                base_url: Some("http://file/v1".into()),
                rpm: Some(10),
                tpm: Some(500),
                ..ProviderConfig::default()
            },
        );
        config
            .file
            .models
            .aliases
            .insert("fast".into(), "groq/small".into());
        config
            .file
            .models
            .aliases
            .insert("smart".into(), "openai/big".into());
        config.trust = Trust::ByEnvironment;
        let editor = EditorSettings {
            providers: BTreeMap::from([(
                "groq".to_string(),
                ProviderConfig {
                    base_url: Some("http://editor/v1".into()),
                    rpm: Some(30),
                    ..ProviderConfig::default()
                },
            )]),
            aliases: BTreeMap::from([("fast".to_string(), "groq/tiny".to_string())]),
            workspace_trusted: None,
        };
        apply(&mut config, &editor);
        let groq = &config.file.providers["groq"];
        assert_eq!(groq.base_url.as_deref(), Some("http://editor/v1"));
        assert_eq!((groq.rpm, groq.tpm), (Some(30), Some(500)));
        assert_eq!(config.file.models.aliases["fast"], "groq/tiny");
        assert_eq!(config.file.models.aliases["smart"], "openai/big");
        // No word from the editor on trust: the config's stands.
        assert_eq!(config.trust, Trust::ByEnvironment);
    }

    #[test]
    fn the_editors_trust_is_the_workspaces() {
        let mut config = Config::default();
        let mut editor = EditorSettings {
            workspace_trusted: Some(true),
            ..EditorSettings::default()
        };
        apply(&mut config, &editor);
        assert_eq!(config.trust, Trust::ByEditor);
        editor.workspace_trusted = Some(false);
        apply(&mut config, &editor);
        assert_eq!(config.trust, Trust::Untrusted);
    }
}
