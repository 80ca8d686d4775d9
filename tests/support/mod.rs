//! Support code shared by the whole-system tests.
#![allow(dead_code)]

pub mod proxy;
