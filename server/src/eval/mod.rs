//! Datasets and (later) evaluation.
