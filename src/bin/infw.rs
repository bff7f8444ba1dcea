//! `infw`: validate, try and measure rule files from the command line.
//!
//! A shell over the same engine the proxy runs: what `infw score` says about
//! a request is what the plugin decides. Exit codes: 0 success, 1 a check
//! failed (an example that does not behave, a request that would be blocked
//! with `--fail-on-block`), 2 an error (unreadable file, invalid rule file,
//! bad arguments).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
