//! Support code shared by the whole-system tests: the fault-injecting proxy, the real server
//! binary as a child process, and a file-backed credential store for client processes.

pub mod credentials;
pub mod fixture;
pub mod proxy;
pub mod server_process;
