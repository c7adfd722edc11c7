fn main() -> std::process::ExitCode {
    paastis::cli::main()
}
