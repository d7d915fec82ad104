//! One store per workspace root per process: the first use opens the file (a write
//! migrates it), later uses share that connection. A read of a workspace without a
//! history creates nothing; once a write has opened the file, readers use the same
//! connection.
//!
//! The file's identity (device and inode) is taken at opening and checked at every use,
//! so a history deleted or replaced underneath (a test removing `.promptls`, a user
//! moving the file away) is opened again instead of writing into an unlinked file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::{Error, Store, FILE_NAME};

/// A store shared in the process; `with` runs a closure on it, one caller at a time.
#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<Store>>);

impl SharedStore {
    pub fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        // A panic inside a closure leaves no transaction open (rusqlite rolls back on
        // drop), so the store stays usable.
        let mut store = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut store)
    }

    /// Whether both handles are the same store (the same connection).
    pub fn same(&self, other: &SharedStore) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

struct Entry {
    store: SharedStore,
    /// Opened for writing (migrated), else read-only.
    writable: bool,
    file: Identity,
}

/// What tells one file from another at the same path.
#[derive(PartialEq, Clone, Copy)]
struct Identity {
    device: u64,
    inode: u64,
}

impl Identity {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(Identity {
            device: meta.dev(),
            inode: meta.ino(),
        })
    }

    // Elsewhere only a missing file is noticed; a file replaced in place keeps its entry.
    #[cfg(not(unix))]
    fn of(path: &Path) -> Option<Identity> {
        path.is_file().then_some(Identity {
            device: 0,
            inode: 0,
        })
    }
}

fn registry() -> MutexGuard<'static, HashMap<PathBuf, Entry>> {
    static STORES: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

impl Store {
    /// The process's store of the workspace at `root` for writing: opened (or created)
    /// and migrated on first use, as `Store::open` does.
    pub fn shared(root: &Path) -> Result<SharedStore, Error> {
        Store::shared_with(root, true)
    }

    /// The process's store of the workspace at `root` for reading, as
    /// `Store::open_read_only`: the writer's connection when there is one, else the file
    /// opened read-only; a missing history is an empty one and no file is created.
    pub fn shared_for_reading(root: &Path) -> Result<SharedStore, Error> {
        Store::shared_with(root, false)
    }

    fn shared_with(root: &Path, write: bool) -> Result<SharedStore, Error> {
        let key = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let file = key.join(".promptls").join(FILE_NAME);
        let mut stores = registry();
        let current = Identity::of(&file);
        // Confined on every use, a shared handle too: `.promptls` may be a symlink now.
        super::schema::confine(root, write)?;
        if let Some(entry) = stores.get(&key) {
            if Some(entry.file) == current && (entry.writable || !write) {
                return Ok(entry.store.clone());
            }
        }
        let store = if write {
            Store::open(root)?
        } else {
            Store::open_read_only(root)?
        };
        let store = SharedStore(Arc::new(Mutex::new(store)));
        match Identity::of(&file) {
            Some(file) => {
                stores.insert(
                    key,
                    Entry {
                        store: store.clone(),
                        writable: write,
                        file,
                    },
                );
            }
            None => {
                stores.remove(&key);
            }
        }
        Ok(store)
    }
}
