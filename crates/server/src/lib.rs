//! smartstock-server: the HTTPS system of record (DESIGN.md, "Parts" and "Security").
//!
//! Not built yet — issue #3 fills this crate. It exports nothing so that nothing can depend on a
//! server that does not exist.
