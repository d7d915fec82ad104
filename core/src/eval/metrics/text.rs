//! Text handling as the Python reference implementations do it, so scores agree to the
//! last bit: whitespace is what `str.isspace()` says, strings are sequences of code points.

/// Python's `str.isspace()`: Unicode White_Space plus the four ASCII separators
/// U+001C..U+001F, which Rust's `char::is_whitespace` does not count.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` without arguments.
pub fn py_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_space).filter(|w| !w.is_empty())
}

/// Python's `str.rstrip()` without arguments.
pub fn py_rstrip(text: &str) -> &str {
    text.trim_end_matches(is_py_space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_python() {
        let words: Vec<&str> = py_split(" a\tb\u{1c}c\u{a0}d\n").collect();
        assert_eq!(words, vec!["a", "b", "c", "d"]);
        assert_eq!(py_rstrip("x \u{1f}\n"), "x");
    }
}
