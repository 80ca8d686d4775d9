//! The SmartStock desktop app. Everything lives in the library (`smartstock_app`) so that tests
//! and benchmarks reach the same code.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    smartstock_app::run();
}
