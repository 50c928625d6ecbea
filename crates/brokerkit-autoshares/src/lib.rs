//! Typed async client for the AutoShares Trading API.

pub mod hooks;

#[rustfmt::skip]
#[allow(clippy::all, clippy::pedantic, unused_imports, dead_code)]
mod generated;

pub use generated::*;
