//! Models and providers: what is known about each model offline (`catalog`), which API a
//! `provider/model` name reaches (`provider`), the request and response bodies of each
//! API (`wire`), and calls over HTTP with retries (`client`, `retry`).

pub mod cache;
pub mod client;
pub mod limits;
pub mod provider;
pub mod retry;
pub mod wire;
