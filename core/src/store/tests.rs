use super::time::civil_from_days;
use super::*;
use crate::sqlite;

#[test]
fn timestamps_are_rfc3339() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_420), (2025, 11, 28));
    let t = now();
    assert_eq!(t.len(), 24, "{t}");
    assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
}

#[test]
fn errors_say_what_went_wrong_and_keep_the_sqlite_cause() {
    use std::error::Error as _;
    let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
    let busy = sql(failure(rusqlite::ffi::SQLITE_BUSY));
    assert!(matches!(busy, Error::Busy(_)), "{busy:?}");
    assert_eq!(
        busy.to_string(),
        "the history is busy (another promptls is writing it); try again"
    );
    sqlite::assert_sqlite_code(busy.source(), rusqlite::ErrorCode::DatabaseBusy);
    let read_only = Error::from(failure(rusqlite::ffi::SQLITE_READONLY));
    assert!(matches!(read_only, Error::ReadOnly(_)), "{read_only:?}");
    let other = sql(failure(rusqlite::ffi::SQLITE_CORRUPT));
    assert!(other.to_string().starts_with("history: "), "{other}");

    // A file that is not a history: the path and the reason are kept.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(".promptls");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join(FILE_NAME), b"not a database at all").unwrap();
    let error = Store::open(dir.path()).err().unwrap();
    let Error::File(sqlite::Error::Foreign { path, noun, .. }) = &error else {
        panic!("{error:?}");
    };
    assert_eq!((path, *noun), (&folder.join(FILE_NAME), "history"));
    assert!(
        error.to_string().contains("is not a promptls history"),
        "{error}"
    );
    assert!(error.source().unwrap().is::<sqlite::Foreign>());

    let missing = Error::NotRecorded {
        path: PathBuf::from("a.prompt"),
    };
    assert_eq!(
        missing.to_string(),
        "a.prompt has no history yet (run `promptls eval` or save it in the editor)"
    );
    assert!(missing.source().is_none());
}

#[test]
fn a_shared_store_is_opened_once_per_root_and_reading_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".promptls").join(FILE_NAME);
    let prompt = dir.path().join("a.prompt");

    // Reading a workspace without a history: empty, and nothing is created.
    let reader = Store::shared_for_reading(dir.path()).unwrap();
    assert!(reader
        .with(|s| s.history(&prompt, "hi").unwrap())
        .is_empty());
    assert!(!dir.path().join(".promptls").exists());

    // The first write opens and migrates; later opens, for writing or reading, and
    // through another spelling of the root, share that connection.
    let writer = Store::shared(dir.path()).unwrap();
    assert!(file.is_file());
    let again = Store::shared(&dir.path().join(".")).unwrap();
    assert!(writer.same(&again));
    let reader = Store::shared_for_reading(dir.path()).unwrap();
    assert!(writer.same(&reader));
    writer
        .with(|s| s.record(&prompt, "hi", &Origin::Edit, None))
        .unwrap();
    assert_eq!(reader.with(|s| s.history(&prompt, "hi").unwrap()).len(), 1);

    // A history deleted underneath is opened again, not written into the unlinked file.
    std::fs::remove_dir_all(dir.path().join(".promptls")).unwrap();
    let fresh = Store::shared(dir.path()).unwrap();
    assert!(!fresh.same(&writer));
    assert!(fresh.with(|s| s.history(&prompt, "hi").unwrap()).is_empty());
    assert!(file.is_file());
}

#[cfg(unix)]
#[test]
fn a_shared_store_refuses_a_history_folder_outside_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join(".promptls")).unwrap();
    for result in [
        Store::shared(dir.path()),
        Store::shared_for_reading(dir.path()),
    ] {
        assert!(matches!(result, Err(Error::Outside { .. })));
    }
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}
