//! One model client per workspace root for a long-lived process (the editor, a service):
//! every evaluation of a workspace shares its client, so its pacing (rpm, tpm,
//! concurrency) and its response cache are the same for all of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::llm::client::Client;

/// The clients by workspace root; clones share them.
#[derive(Clone, Default)]
pub struct Clients {
    by_root: Arc<Mutex<HashMap<PathBuf, Arc<Client>>>>,
}

impl Clients {
    fn by_root(&self) -> MutexGuard<'_, HashMap<PathBuf, Arc<Client>>> {
        // Every update is one insert: a poisoned map is still consistent.
        self.by_root.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The client of the workspace at `root`, made with `make` on first use. `make` runs
    /// without the lock held (it opens the cache file); when two callers make one at
    /// once, the first stored is the one everybody gets.
    pub fn get_or_make<E>(
        &self,
        root: &Path,
        make: impl FnOnce() -> Result<Client, E>,
    ) -> Result<Arc<Client>, E> {
        if let Some(client) = self.by_root().get(root) {
            return Ok(client.clone());
        }
        let client = Arc::new(make()?);
        Ok(self
            .by_root()
            .entry(root.to_path_buf())
            .or_insert(client)
            .clone())
    }

    /// How many workspaces have a client.
    pub fn len(&self) -> usize {
        self.by_root().len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_root().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::retry::RetryPolicy;

    fn client() -> Result<Client, String> {
        Ok(Client::with_limits(RetryPolicy::default(), HashMap::new()))
    }

    #[test]
    fn one_client_per_root_made_once() {
        let clients = Clients::default();
        let a = clients.get_or_make(Path::new("/w/a"), client).unwrap();
        let again = clients
            .get_or_make(Path::new("/w/a"), || -> Result<Client, String> {
                panic!("made twice")
            })
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        let b = clients.get_or_make(Path::new("/w/b"), client).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        // Clones share the cache.
        let shared = clients.clone();
        let a2 = shared.get_or_make(Path::new("/w/a"), client).unwrap();
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!(clients.len(), 2);
    }

    #[test]
    fn a_failed_make_stores_nothing() {
        let clients = Clients::default();
        let failed = clients.get_or_make(Path::new("/w/a"), || -> Result<Client, String> {
            Err("no cache".into())
        });
        assert_eq!(failed.err().as_deref(), Some("no cache"));
        assert!(clients.is_empty());
        assert!(clients.get_or_make(Path::new("/w/a"), client).is_ok());
    }
}
