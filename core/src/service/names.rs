//! Names the API takes from its callers (key names, prompt ids, dataset ids, tags),
//! checked before any of them reaches a path or a query.

use super::Error;

/// A key's or a dataset's name part: 1 to 64 of `A-Z a-z 0-9 . _ - @`, not starting
/// with a dot.
pub fn check_simple(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} `{}` is not allowed: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`, not starting with `.`",
            shorten(name)
        )))
    }
}

/// A prompt id: its path in the prompts folder without `.prompt`, folders separated by
/// `/`; each part as `check_simple`, at most 8 parts and 200 bytes in all. So an id
/// never leaves the folder (no `..`, no absolute path, no hidden files).
pub fn check_prompt_id(id: &str) -> Result<(), Error> {
    let parts: Vec<&str> = id.split('/').collect();
    if id.len() > 200 || parts.len() > 8 {
        return Err(Error::Invalid(format!(
            "prompt id `{}` is too long",
            shorten(id)
        )));
    }
    for part in parts {
        check_simple("prompt id part", part)?;
    }
    Ok(())
}

/// A lowercase id made from a display name ("Sentiment Analysis" → `sentiment-analysis`).
pub fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    if slug.is_empty() {
        "dataset".to_string()
    } else {
        slug
    }
}

fn shorten(text: &str) -> String {
    crate::eval::gate::shorten(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_in_their_folder() {
        for bad in [
            "",
            "..",
            "../x",
            "a/../b",
            "/etc/passwd",
            ".hidden",
            "a b",
            "a\\b",
            "a//b",
        ] {
            assert!(check_prompt_id(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["sentiment", "team/sentiment.concise", "v2_final-1"] {
            check_prompt_id(good).unwrap();
        }
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Sentiment Analysis"), "sentiment-analysis");
        assert_eq!(slug("  ¿Qué? "), "qu");
        assert_eq!(slug("!!!"), "dataset");
    }
}
