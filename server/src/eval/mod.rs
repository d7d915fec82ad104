//! Datasets, metrics and (later) evaluation runs.

pub mod dataset;
pub mod metrics;
pub mod split;
