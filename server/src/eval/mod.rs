//! Datasets and (later) evaluation runs.

pub mod dataset;
