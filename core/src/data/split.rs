//! `promptls.split`: which dataset rows train (demos, bootstrapping) and which validate
//! (scores). Either a share of the rows chosen with a seed, or two files:
//!
//! ```yaml
//! promptls.split: 0.8                      # 80% train, seed 0
//! promptls.split: {train: 0.7, seed: 42}
//! promptls.split: {train: data/train.csv, dev: data/dev.csv}
//! ```
//!
//! Without `promptls.split` every row is both (the dataset is too small to split, or the
//! user evaluates only).

use serde_json::Value;

/// How the rows are divided.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// Every row trains and validates.
    All,
    /// `train` of the rows (0 < train < 1), chosen by a shuffle seeded with `seed`.
    Ratio { train: f64, seed: u64 },
    /// Two files, relative to the prompt.
    Files { train: String, dev: String },
}

/// What is wrong with a `promptls.split` value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("the train share must be between 0 and 1 (exclusive), not {0}")]
    ShareOutOfRange(f64),
    #[error("the train share must be a number")]
    ShareNotANumber,
    #[error("unknown split setting `{0}` (train, dev, seed)")]
    UnknownSetting(String),
    #[error("a split into files needs both `train` and `dev` paths")]
    FilesNeedBoth,
    #[error("`seed` must be a whole number 0 or more")]
    BadSeed,
    #[error("`promptls.split` needs `train` (a share, or a file with `dev`)")]
    NoTrain,
    #[error("`promptls.split` is a number (the train share) or a mapping")]
    NotASplit,
}

impl Split {
    /// Reads the `promptls.split` value (as JSON); `Err` says what is wrong with it.
    pub fn from_json(value: Option<&Value>) -> Result<Split, Error> {
        let Some(value) = value else {
            return Ok(Split::All);
        };
        let ratio = |v: &Value| -> Result<f64, Error> {
            match v.as_f64() {
                Some(r) if r > 0.0 && r < 1.0 => Ok(r),
                Some(r) => Err(Error::ShareOutOfRange(r)),
                None => Err(Error::ShareNotANumber),
            }
        };
        match value {
            Value::Number(_) => Ok(Split::Ratio {
                train: ratio(value)?,
                seed: 0,
            }),
            Value::Object(map) => {
                for key in map.keys() {
                    if !matches!(key.as_str(), "train" | "dev" | "seed") {
                        return Err(Error::UnknownSetting(key.clone()));
                    }
                }
                match (map.get("train"), map.get("dev")) {
                    (Some(Value::String(train)), Some(Value::String(dev))) => Ok(Split::Files {
                        train: train.clone(),
                        dev: dev.clone(),
                    }),
                    (Some(Value::String(_)), _) | (_, Some(Value::String(_))) => {
                        Err(Error::FilesNeedBoth)
                    }
                    (Some(train), None) => {
                        let seed = match map.get("seed") {
                            None => 0,
                            Some(s) => s.as_u64().ok_or(Error::BadSeed)?,
                        };
                        Ok(Split::Ratio {
                            train: ratio(train)?,
                            seed,
                        })
                    }
                    _ => Err(Error::NoTrain),
                }
            }
            _ => Err(Error::NotASplit),
        }
    }
}

/// SplitMix64: a small generator whose sequence never changes with a crate version, so
/// a seed picks the same rows forever.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0), without modulo bias.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// Row indices 0..rows split into (train, dev) by `train` share and `seed`: a seeded
/// Fisher-Yates shuffle, the first share trains (at least one row each when there are
/// two or more), each part in file order.
pub fn split_indices(rows: usize, train: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..rows).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..rows).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut cut = (rows as f64 * train).round() as usize;
    if rows >= 2 {
        cut = cut.clamp(1, rows - 1);
    }
    let (t, d) = order.split_at(cut.min(rows));
    let (mut t, mut d) = (t.to_vec(), d.to_vec());
    t.sort_unstable();
    d.sort_unstable();
    (t, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_DEV: [usize; 2] = [6, 7];
    use serde_json::json;

    #[test]
    fn reads_every_form() {
        assert_eq!(Split::from_json(None), Ok(Split::All));
        assert_eq!(
            Split::from_json(Some(&json!(0.8))),
            Ok(Split::Ratio {
                train: 0.8,
                seed: 0
            })
        );
        assert_eq!(
            Split::from_json(Some(&json!({"train": 0.7, "seed": 42}))),
            Ok(Split::Ratio {
                train: 0.7,
                seed: 42
            })
        );
        assert_eq!(
            Split::from_json(Some(&json!({"train": "a.csv", "dev": "b.csv"}))),
            Ok(Split::Files {
                train: "a.csv".into(),
                dev: "b.csv".into()
            })
        );
        for bad in [
            json!(1.5),
            json!(0),
            json!("x"),
            json!({"train": "a.csv"}),
            json!({"train": 0.5, "seed": -1}),
            json!({"trian": 0.5}),
        ] {
            assert!(Split::from_json(Some(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn splits_are_seeded_disjoint_and_complete() {
        let (t, d) = split_indices(10, 0.8, 7);
        assert_eq!((t.len(), d.len()), (8, 2));
        let mut all: Vec<usize> = t.iter().chain(&d).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(
            split_indices(10, 0.8, 7),
            (t.clone(), d.clone()),
            "same seed, same split"
        );
        assert_ne!(
            split_indices(10, 0.8, 8).1,
            d,
            "another seed, another split"
        );
        // The split for seed 7 is fixed forever (SplitMix64 is ours).
        assert_eq!(d, PINNED_DEV, "the rows seed 7 picks must not change");
        assert_eq!(
            split_indices(2, 0.99, 1).1.len(),
            1,
            "both sides keep a row"
        );
        assert_eq!(split_indices(0, 0.5, 1), (vec![], vec![]));
        assert_eq!(
            split_indices(1, 0.5, 1).0.len() + split_indices(1, 0.5, 1).1.len(),
            1
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        use std::error::Error as _;
        let error = Split::from_json(Some(&json!({"train": 1.5}))).unwrap_err();
        assert_eq!(error, Error::ShareOutOfRange(1.5));
        assert_eq!(
            error.to_string(),
            "the train share must be between 0 and 1 (exclusive), not 1.5"
        );
        assert!(error.source().is_none());
        assert_eq!(
            Split::from_json(Some(&json!({"train": 0.5, "tset": 1}))),
            Err(Error::UnknownSetting("tset".into()))
        );
    }
}
