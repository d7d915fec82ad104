//! Datasets, metrics, and evaluation runs.

pub mod gate;
pub mod interval;
pub mod judge;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod report;
pub mod run;
