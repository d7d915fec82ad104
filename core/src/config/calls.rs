//! What model calls run under: each provider's limits, the prices, the retry policy, the
//! response cache, and the client built from them.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{Config, Error, ProviderConfig, MAX_ATTEMPTS, MAX_TIMEOUT_SECONDS};
use crate::catalog::{self, Price};
use crate::llm::cache::Cache;
use crate::llm::client::Client;
use crate::llm::limits::Limits;
use crate::llm::provider;
use crate::llm::retry::RetryPolicy;

impl Config {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_file;

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
}
