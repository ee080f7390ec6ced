//! Entry point of `cargo xtask`: parses the command line and reports errors as one line plus a hint.

fn main() -> std::process::ExitCode {
    xtask::main()
}
