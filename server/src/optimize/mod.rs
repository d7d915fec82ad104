//! Optimizers: they rewrite the instruction and the few-shot demos of a prompt (its
//! `Program`) to raise its score on a dataset.

pub mod program;
