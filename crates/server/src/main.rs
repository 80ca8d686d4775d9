//! smartstock-server: the command line (serve, init, user management). Everything it does is a
//! call into the library; this file only parses arguments and reports errors.

fn main() {}
