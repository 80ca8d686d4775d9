//! The client sync engine: push the outbox, pull pages, follow the event stream, retry with
//! backoff, resolve conflicts (DESIGN.md, "Sync").
//!
//! Not built yet — issue #4 fills this crate. It exports nothing so that nothing can depend on a
//! sync engine that does not exist.
