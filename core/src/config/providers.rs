//! Which provider a model call goes to and with which key: the provider's settings, and
//! in an untrusted workspace the refusal of a route it chose for a user-level key.

use super::{Config, Error, ProviderField};
use crate::llm::provider::{self, Provider, ProviderSettings};
use crate::trust::{self, Origin, Route, Trust};

impl Config {
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
}
