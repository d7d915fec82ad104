//! The secret values this process knows, and `redact`, which masks them in any text
//! before it is written or shown. The values are the provider keys promptls reads (every
//! key variable of a known provider and every `api_key_env` of `promptls.toml`, from the
//! environment or the workspace `.env`), registered when a workspace configuration is
//! loaded and when a provider's key is read. `redact` replaces each occurrence of a value,
//! and of any prefix of it of `MIN_CHARS` characters or more (a key cut by a truncation),
//! by `***`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

/// What a secret (or a part of one) is replaced by.
pub const MASK: &str = "***";

/// Values shorter than this (in characters) are not registered, and shorter prefixes of a
/// value are not masked: they would mask ordinary words.
pub const MIN_CHARS: usize = 8;

/// Whether any value is registered: `redact` is a load and a borrow until one is.
static ANY: AtomicBool = AtomicBool::new(false);
static KNOWN: RwLock<Vec<Box<str>>> = RwLock::new(Vec::new());

/// Remembers `value` (trimmed) as a secret of this process; values shorter than
/// `MIN_CHARS` characters are ignored.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_CHARS {
        return;
    }
    let known = |list: &[Box<str>]| list.iter().any(|k| &**k == value);
    if known(&KNOWN.read().unwrap_or_else(|p| p.into_inner())) {
        return;
    }
    let mut list = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    if !known(&list) {
        list.push(value.into());
        ANY.store(true, Ordering::Release);
    }
}

/// `text` with every registered secret, and every prefix of one of `MIN_CHARS`
/// characters or more, replaced by `***`. Borrows `text` when there is nothing to mask.
pub fn redact(text: &str) -> Cow<'_, str> {
    if !ANY.load(Ordering::Acquire) {
        return Cow::Borrowed(text);
    }
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    redact_with(text, &known)
}

/// `redact` for an owned string: the same string when there is nothing to mask.
pub fn redact_owned(text: String) -> String {
    let masked = match redact(&text) {
        Cow::Owned(masked) => Some(masked),
        Cow::Borrowed(_) => None,
    };
    masked.unwrap_or(text)
}

/// `redact` against the given secrets (each at least `MIN_CHARS` characters).
fn redact_with<'t>(text: &'t str, secrets: &[Box<str>]) -> Cow<'t, str> {
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for secret in secrets {
        let head = secret
            .char_indices()
            .nth(MIN_CHARS)
            .map_or(secret.len(), |(i, _)| i);
        let finder = memchr::memmem::Finder::new(&secret.as_bytes()[..head]);
        let mut from = 0;
        // Every occurrence, overlapping ones too: `abababab-x` must be found in
        // `ababababab-x`, past the first (shorter) match.
        while let Some(i) = finder.find(&bytes[from..]) {
            let start = from + i;
            let mut len = bytes[start..]
                .iter()
                .zip(secret.as_bytes())
                .take_while(|(a, b)| a == b)
                .count();
            // A common prefix may end inside a character both share the first bytes of.
            while !secret.is_char_boundary(len) {
                len -= 1;
            }
            ranges.push((start, start + len));
            from = start + 1;
        }
    }
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut ranges = ranges.into_iter().peekable();
    while let Some((start, mut end)) = ranges.next() {
        // Overlapping or touching occurrences are masked as one.
        while let Some(&(next_start, next_end)) = ranges.peek() {
            if next_start > end {
                break;
            }
            end = end.max(next_end);
            ranges.next();
        }
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(secrets: &[&str], text: &str) -> String {
        let secrets: Vec<Box<str>> = secrets.iter().map(|s| (*s).into()).collect();
        redact_with(text, &secrets).into_owned()
    }

    const KEY: &str = "sk-live-0123456789abcdefXYZ";

    #[test]
    fn masks_the_whole_value_everywhere() {
        assert_eq!(
            with(&[KEY], &format!("Bearer {KEY}, again {KEY}.")),
            "Bearer ***, again ***."
        );
        assert_eq!(with(&[KEY], KEY), "***");
    }

    #[test]
    fn masks_a_prefix_of_eight_or_more_characters() {
        // An excerpt cut in the middle of the key.
        let cut = format!("invalid key {}…", &KEY[..12]);
        assert_eq!(with(&[KEY], &cut), "invalid key ***…");
        assert_eq!(with(&[KEY], &format!("x{}y", &KEY[..8])), "x***y");
        // The prefix ends where the text stops agreeing with the key.
        assert_eq!(
            with(&[KEY], "key sk-live-0123-and-more"),
            "key ***-and-more"
        );
    }

    #[test]
    fn leaves_prefixes_shorter_than_eight_characters() {
        let text = format!("short {} and {}", &KEY[..7], &KEY[..3]);
        assert_eq!(with(&[KEY], &text), text);
        assert!(matches!(
            redact_with("nothing here", &[KEY.into()]),
            Cow::Borrowed(_)
        ));
        // Not a prefix: the key's middle is not masked.
        let middle = &KEY[5..20];
        assert_eq!(with(&[KEY], middle), middle);
    }

    #[test]
    fn masks_several_secrets_and_overlapping_ones() {
        let other = "gsk_ABCDEFGHIJKLMNOP";
        assert_eq!(
            with(&[KEY, other], &format!("{other} then {KEY}")),
            "*** then ***"
        );
        // Two secrets sharing a start: the longer match wins, masked once.
        let longer = format!("{KEY}-extended");
        assert_eq!(with(&[KEY, &longer], &format!("<{longer}>")), "<***>");
        // Back to back.
        assert_eq!(with(&[KEY, other], &format!("{KEY}{other}!")), "***!");
        // An occurrence overlapping a shorter match of the same prefix (a search that
        // resumed after the first match would leave `ab-xyz`).
        assert_eq!(with(&["abababab-xyz"], "ababababab-xyz!"), "***!");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let key = "ключ-секрет-значение";
        // Eight characters of Cyrillic are 15 bytes; seven are not masked.
        let eight: String = key.chars().take(8).collect();
        let seven: String = key.chars().take(7).collect();
        assert_eq!(with(&[key], &format!("[{eight}]")), "[***]");
        assert_eq!(with(&[key], &format!("[{seven}]")), format!("[{seven}]"));
        // A text that shares the first byte of the next character stops before it.
        assert_eq!(with(&[key], &format!("{eight}с")), "***с");
    }

    #[test]
    fn the_registry_ignores_short_values_and_borrows_when_clean() {
        register("short");
        register("  zq-test-registry-value-1  ");
        assert_eq!(redact("x zq-test-registry-value-1 y"), "x *** y");
        assert_eq!(redact("x short y"), "x short y");
        assert!(matches!(redact("plain text"), Cow::Borrowed(_)));
        assert_eq!(redact_owned("cut: zq-test-regi".to_string()), "cut: ***");
    }
}
