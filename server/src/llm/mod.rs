//! Models and providers. For now: what is known about each model without calling it.

pub mod catalog;
