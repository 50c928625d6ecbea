//! Workspace test crate; the tests live in `tests/`.
