fn main() -> std::process::ExitCode {
    qcdesk::cli::run()
}
