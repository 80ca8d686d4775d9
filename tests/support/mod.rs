//! Support code shared by the whole-system tests.

pub mod proxy;
