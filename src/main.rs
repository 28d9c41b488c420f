fn main() -> std::process::ExitCode {
    // Output piped into `head` ends quietly, as other Unix tools do, instead of a panic on a
    // broken pipe. Sockets are unaffected: std writes to them with MSG_NOSIGNAL.
    #[cfg(target_os = "linux")]
    // SAFETY: called first in main, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    qcdesk::cli::run()
}
