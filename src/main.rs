fn main() -> std::process::ExitCode {
    supportd::cli::main()
}
