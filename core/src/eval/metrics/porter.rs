//! The Porter stemmer as NLTK's `PorterStemmer()` applies it (its default
//! NLTK_EXTENSIONS mode), which is what rouge-score's `use_stemmer=True` uses. Words here
//! are rouge-score tokens: ASCII lowercase letters and digits.

/// Irregular forms NLTK maps directly.
const POOL: &[(&str, &str)] = &[
    ("sky", "sky"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("tying", "tie"),
    ("news", "news"),
    ("innings", "inning"),
    ("inning", "inning"),
    ("outings", "outing"),
    ("outing", "outing"),
    ("cannings", "canning"),
    ("canning", "canning"),
    ("howe", "howe"),
    ("proceed", "proceed"),
    ("exceed", "exceed"),
    ("succeed", "succeed"),
];

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Whether each letter is a consonant: `y` is one at the start or after a vowel.
fn consonants(word: &[u8]) -> Vec<bool> {
    let mut flags: Vec<bool> = Vec::with_capacity(word.len());
    for (i, &c) in word.iter().enumerate() {
        let flag = if is_vowel(c) {
            false
        } else if c == b'y' {
            i == 0 || !flags[i - 1]
        } else {
            true
        };
        flags.push(flag);
    }
    flags
}

fn is_consonant(word: &[u8], i: usize) -> bool {
    consonants(&word[..=i])[i]
}

/// m in [C](VC)^m[V]: how many vowel-consonant sequences.
fn measure(stem: &[u8]) -> usize {
    consonants(stem)
        .windows(2)
        .filter(|w| !w[0] && w[1])
        .count()
}

fn contains_vowel(stem: &[u8]) -> bool {
    !consonants(stem).iter().all(|c| *c)
}

fn ends_double_consonant(word: &[u8]) -> bool {
    let n = word.len();
    n >= 2 && word[n - 1] == word[n - 2] && is_consonant(word, n - 1)
}

fn ends_cvc(word: &[u8]) -> bool {
    let n = word.len();
    (n >= 3
        && is_consonant(word, n - 3)
        && !is_consonant(word, n - 2)
        && is_consonant(word, n - 1)
        && !matches!(word[n - 1], b'w' | b'x' | b'y'))
        || (n == 2 && !is_consonant(word, 0) && is_consonant(word, 1))
}

type Condition<'a> = Option<&'a dyn Fn(&[u8]) -> bool>;

/// The first rule whose suffix the word has decides: replaced if its condition holds on
/// the stem, otherwise the word stays. `*d` means "ends in a double consonant".
fn apply_rules(word: &[u8], rules: &[(&str, &[u8], Condition)]) -> Vec<u8> {
    for (suffix, replacement, condition) in rules {
        if *suffix == "*d" && ends_double_consonant(word) {
            let stem = &word[..word.len() - 2];
            return if condition.is_none_or(|c| c(stem)) {
                [stem, replacement].concat()
            } else {
                word.to_vec()
            };
        }
        if word.ends_with(suffix.as_bytes()) {
            let stem = &word[..word.len() - suffix.len()];
            return if condition.is_none_or(|c| c(stem)) {
                [stem, replacement].concat()
            } else {
                word.to_vec()
            };
        }
    }
    word.to_vec()
}

fn positive(stem: &[u8]) -> bool {
    measure(stem) > 0
}

fn step1a(word: &[u8]) -> Vec<u8> {
    if word.ends_with(b"ies") && word.len() == 4 {
        return [&word[..1], b"ie"].concat();
    }
    apply_rules(
        word,
        &[
            ("sses", b"ss", None),
            ("ies", b"i", None),
            ("ss", b"ss", None),
            ("s", b"", None),
        ],
    )
}

fn step1b(word: &[u8]) -> Vec<u8> {
    if word.ends_with(b"ied") {
        let stem = &word[..word.len() - 3];
        return if word.len() == 4 {
            [stem, b"ie"].concat()
        } else {
            [stem, b"i"].concat()
        };
    }
    if word.ends_with(b"eed") {
        let stem = &word[..word.len() - 3];
        return if measure(stem) > 0 {
            [stem, b"ee"].concat()
        } else {
            word.to_vec()
        };
    }
    let mut intermediate = None;
    for suffix in [&b"ed"[..], b"ing"] {
        if word.ends_with(suffix) {
            let stem = &word[..word.len() - suffix.len()];
            if contains_vowel(stem) {
                intermediate = Some(stem);
                break;
            }
        }
    }
    let Some(stem) = intermediate else {
        return word.to_vec();
    };
    let last = stem.last().copied();
    let double: &dyn Fn(&[u8]) -> bool = &|_| !matches!(last, Some(b'l' | b's' | b'z'));
    let add_e: &dyn Fn(&[u8]) -> bool = &|s| measure(s) == 1 && ends_cvc(s);
    let last_letter = last.map(|c| vec![c]).unwrap_or_default();
    apply_rules(
        stem,
        &[
            ("at", b"ate", None),
            ("bl", b"ble", None),
            ("iz", b"ize", None),
            ("*d", &last_letter, Some(double)),
            ("", b"e", Some(add_e)),
        ],
    )
}

fn step1c(word: &[u8]) -> Vec<u8> {
    let condition: &dyn Fn(&[u8]) -> bool = &|s| s.len() > 1 && is_consonant(s, s.len() - 1);
    apply_rules(word, &[("y", b"i", Some(condition))])
}

fn step2(word: &[u8]) -> Vec<u8> {
    if word.ends_with(b"alli") && positive(&word[..word.len() - 4]) {
        return step2(&[&word[..word.len() - 4], b"al"].concat());
    }
    let p: Condition = Some(&positive);
    let logi: &dyn Fn(&[u8]) -> bool = &|_| positive(&word[..word.len().saturating_sub(3)]);
    apply_rules(
        word,
        &[
            ("ational", b"ate", p),
            ("tional", b"tion", p),
            ("enci", b"ence", p),
            ("anci", b"ance", p),
            ("izer", b"ize", p),
            ("bli", b"ble", p),
            ("alli", b"al", p),
            ("entli", b"ent", p),
            ("eli", b"e", p),
            ("ousli", b"ous", p),
            ("ization", b"ize", p),
            ("ation", b"ate", p),
            ("ator", b"ate", p),
            ("alism", b"al", p),
            ("iveness", b"ive", p),
            ("fulness", b"ful", p),
            ("ousness", b"ous", p),
            ("aliti", b"al", p),
            ("iviti", b"ive", p),
            ("biliti", b"ble", p),
            ("fulli", b"ful", p),
            ("logi", b"log", Some(logi)),
        ],
    )
}

fn step3(word: &[u8]) -> Vec<u8> {
    let p: Condition = Some(&positive);
    apply_rules(
        word,
        &[
            ("icate", b"ic", p),
            ("ative", b"", p),
            ("alize", b"al", p),
            ("iciti", b"ic", p),
            ("ical", b"ic", p),
            ("ful", b"", p),
            ("ness", b"", p),
        ],
    )
}

fn step4(word: &[u8]) -> Vec<u8> {
    let m: &dyn Fn(&[u8]) -> bool = &|s| measure(s) > 1;
    let ion: &dyn Fn(&[u8]) -> bool = &|s| measure(s) > 1 && matches!(s.last(), Some(b's' | b't'));
    let g: Condition = Some(m);
    apply_rules(
        word,
        &[
            ("al", b"", g),
            ("ance", b"", g),
            ("ence", b"", g),
            ("er", b"", g),
            ("ic", b"", g),
            ("able", b"", g),
            ("ible", b"", g),
            ("ant", b"", g),
            ("ement", b"", g),
            ("ment", b"", g),
            ("ent", b"", g),
            ("ion", b"", Some(ion)),
            ("ou", b"", g),
            ("ism", b"", g),
            ("ate", b"", g),
            ("iti", b"", g),
            ("ous", b"", g),
            ("ive", b"", g),
            ("ize", b"", g),
        ],
    )
}

fn step5a(word: &[u8]) -> Vec<u8> {
    if let Some(stem) = word.strip_suffix(b"e") {
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_cvc(stem)) {
            return stem.to_vec();
        }
    }
    word.to_vec()
}

fn step5b(word: &[u8]) -> Vec<u8> {
    let condition: &dyn Fn(&[u8]) -> bool = &|_| measure(&word[..word.len().saturating_sub(1)]) > 1;
    apply_rules(word, &[("ll", b"l", Some(condition))])
}

/// NLTK's `PorterStemmer().stem(word)` for a lowercase ASCII word.
pub fn stem(word: &str) -> String {
    if let Some((_, s)) = POOL.iter().find(|(w, _)| *w == word) {
        return s.to_string();
    }
    if word.len() <= 2 || !word.is_ascii() {
        return word.to_string();
    }
    let mut w = step1a(word.as_bytes());
    w = step1b(&w);
    w = step1c(&w);
    w = step2(&w);
    w = step3(&w);
    w = step4(&w);
    w = step5a(&w);
    w = step5b(&w);
    String::from_utf8(w).expect("ASCII in, ASCII out")
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn classic_examples() {
        for (word, expected) in [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "tie"),
            ("cats", "cat"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("hopping", "hop"),
            ("filing", "file"),
            ("happy", "happi"),
            ("relational", "relat"),
            ("generalization", "gener"),
            ("dying", "die"),
            ("controll", "control"),
        ] {
            assert_eq!(stem(word), expected, "{word}");
        }
    }
}
