//! Argument parsing and the subcommands of `infw`.

/// `println!` for the command's output: when standard output was closed
/// (`infw eval ... | head`), the command ends quietly with status 0, as
/// Unix tools do, instead of panicking on the broken pipe.
macro_rules! outln {
    () => { $crate::cli::write_out(format_args!("\n")) };
    ($($t:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($t)*))) };
}

/// `print!` with [`outln!`]'s handling of a closed standard output.
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::write_out(format_args!($($t)*)) };
}

mod augment;
mod baseline;
mod check;
mod context;
mod eval;
mod plot;
mod score;
mod train;

use clap::{Parser, Subcommand};
use inference_firewall::{Engine, Policy};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Rule tuning for inference-firewall.
#[derive(Parser, Debug)]
#[command(name = "infw", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate rule files and run every rule's examples.
    Check(check::Args),
    /// Evaluate one request body and explain the decision.
    Score(score::Args),
    /// Measure a rule file on a labelled corpus (JSON Lines).
    Eval(eval::Args),
    /// Train the compact classifier, with cross-validated figures.
    Train(train::Args),
    /// Build a baseline profile of the anomaly features from benign traffic.
    Baseline(baseline::Args),
}

/// An error that ends the command with exit code 2.
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check(a) => check::run(a),
        Command::Score(a) => score::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Train(a) => train::run(a),
        Command::Baseline(a) => baseline::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Fatal(msg)) => {
            eprintln!("infw: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Writes to standard output; a closed one ends the program (status 0),
/// another write error ends it with status 2 and says why.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("infw: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// Loads and compiles a rule file, or the embedded default pack when `path` is `None`.
pub fn load_engine(path: Option<&Path>) -> Result<Engine, Fatal> {
    match path {
        None => Ok(Engine::default_pack()?),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Fatal(format!("{}: cannot read: {e}", p.display())))?;
            Ok(Engine::new(Policy::from_json(
                &text,
                &p.display().to_string(),
            )?))
        }
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &PathBuf) -> Result<Vec<u8>, Fatal> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Fatal(format!("stdin: {e}")))?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(|e| Fatal(format!("{}: cannot read: {e}", path.display())))
    }
}

/// Wraps a text as an OpenAI chat completion request with one user message.
pub fn chat_request(text: &str) -> Vec<u8> {
    serde_json::json!({"model": "eval", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}
