//! The `insync` binary: parse, run, exit code. All logic is in the library.

fn main() -> std::process::ExitCode {
    insync::cli::main()
}
