//! Optimizers: they rewrite the instruction and the few-shot demos of a prompt (its
//! `Program`) to raise its score on the validation rows, calling models through the
//! shared client (paced, retried, cached) within a budget.

pub mod bootstrap;
mod budget;
pub mod gepa;
pub mod job;
pub mod mipro;
pub mod random;
pub mod session;
pub mod tpe;
