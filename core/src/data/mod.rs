//! A prompt's data: its dataset (CSV or JSON Lines, streamed) and the split of its rows
//! into training and validation. Below `check` and `eval`, which both read datasets.

pub mod dataset;
pub mod split;
