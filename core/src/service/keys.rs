//! API keys: made by `promptls serve keys create`, shown once, stored as their SHA-256
//! (a key is 160 random bits, so a fast hash is enough: there is nothing to guess from
//! it), each with a scope. Revoked keys stay listed, and their names stay taken, so the
//! tag audit trail's authors stay unambiguous.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{names, Error, ServerDb};
use crate::store::now;

/// What a key may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every `GET`.
    Read,
    /// Also uploads, prompts, evaluations and optimization jobs.
    Run,
    /// Also promotions, tags and keys.
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Run => "run",
            Scope::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Scope> {
        Some(match name {
            "read" => Scope::Read,
            "run" => Scope::Run,
            "admin" => Scope::Admin,
            _ => return None,
        })
    }

    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKey {
    pub name: String,
    pub scope: Scope,
    pub created: String,
    pub revoked: Option<String>,
}

/// What every key starts with, so a leaked one is recognisable (and secret scanners can
/// be taught it).
const PREFIX: &str = "pls_";

fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl ServerDb {
    /// Makes a key named `name`; returns the key, which is not stored.
    pub fn create_key(&self, name: &str, scope: Scope) -> Result<String, Error> {
        names::check_simple("key name", name)?;
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Invalid(format!("no random numbers for a key: {e}")))?;
        let key = format!(
            "{PREFIX}{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        self.with(|db| {
            let taken: Option<String> = db
                .query_row("SELECT name FROM api_keys WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            if taken.is_some() {
                return Err(Error::Conflict(format!(
                    "a key named `{name}` exists already (revoked keys keep their names)"
                )));
            }
            db.execute(
                "INSERT INTO api_keys (name, hash, scope, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, hash(&key), scope.name(), now()],
            )?;
            Ok(key)
        })
    }

    pub fn keys(&self) -> Result<Vec<ApiKey>, Error> {
        self.with(|db| {
            let mut query = db.prepare(
                "SELECT name, scope, created, revoked FROM api_keys ORDER BY created, name",
            )?;
            let rows = query.query_map([], |r| {
                Ok(ApiKey {
                    name: r.get(0)?,
                    scope: Scope::from_name(&r.get::<_, String>(1)?).unwrap_or(Scope::Read),
                    created: r.get(2)?,
                    revoked: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Revokes the key named `name`: it is refused from the next request on.
    pub fn revoke_key(&self, name: &str) -> Result<(), Error> {
        self.with(|db| {
            let changed = db.execute(
                "UPDATE api_keys SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
                params![name, now()],
            )?;
            if changed == 1 {
                return Ok(());
            }
            let exists: Option<String> = db
                .query_row("SELECT name FROM api_keys WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?;
            match exists {
                Some(_) => Err(Error::Conflict(format!(
                    "the key `{name}` is revoked already"
                ))),
                None => Err(Error::NotFound {
                    what: "key",
                    id: name.to_string(),
                }),
            }
        })
    }

    /// The key `key` belongs to, unless it is unknown or revoked.
    pub fn verify_key(&self, key: &str) -> Result<Option<ApiKey>, Error> {
        if !key.starts_with(PREFIX) || key.len() > 100 {
            return Ok(None);
        }
        let hash = hash(key);
        self.with(|db| {
            Ok(db
                .query_row(
                    "SELECT name, scope, created FROM api_keys WHERE hash = ?1 AND revoked IS NULL",
                    [hash],
                    |r| {
                        Ok(ApiKey {
                            name: r.get(0)?,
                            scope: Scope::from_name(&r.get::<_, String>(1)?).unwrap_or(Scope::Read),
                            created: r.get(2)?,
                            revoked: None,
                        })
                    },
                )
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_shown_once_stored_hashed_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let db = ServerDb::open(dir.path()).unwrap();
        let key = db.create_key("ci", Scope::Run).unwrap();
        assert!(key.starts_with("pls_") && key.len() == 44, "{key}");
        let file = std::fs::read(dir.path().join(".promptls/server.sqlite")).unwrap();
        assert!(
            !file.windows(key.len()).any(|w| w == key.as_bytes()),
            "the key is stored in clear"
        );
        let found = db.verify_key(&key).unwrap().unwrap();
        assert_eq!((found.name.as_str(), found.scope), ("ci", Scope::Run));
        assert!(db.verify_key("pls_0000").unwrap().is_none());
        assert!(matches!(
            db.create_key("ci", Scope::Admin),
            Err(Error::Conflict(_))
        ));
        db.revoke_key("ci").unwrap();
        assert!(db.verify_key(&key).unwrap().is_none());
        assert!(matches!(db.revoke_key("ci"), Err(Error::Conflict(_))));
        assert!(matches!(db.revoke_key("nope"), Err(Error::NotFound { .. })));
        assert!(db.keys().unwrap()[0].revoked.is_some());
    }

    #[test]
    fn scopes_include_the_ones_before() {
        assert!(Scope::Admin.allows(Scope::Run) && Scope::Run.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Run) && !Scope::Run.allows(Scope::Admin));
    }
}
