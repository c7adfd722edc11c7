fn main() -> std::process::ExitCode {
    paastis::main()
}
