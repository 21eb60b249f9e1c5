fn main() -> std::process::ExitCode {
    // Candle sizes its compute pool from RAYON_NUM_THREADS, else from the physical cores it
    // detects — on many VPSes half of the vCPUs the seller pays for. Default to all of them.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        // SAFETY: this is the first statement of the program: no other thread exists yet,
        // so nothing can read the environment while it changes.
        #[expect(unsafe_code, reason = "set_var before any thread exists (see SAFETY)")]
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        }
    }
    // Everything supportd creates (database, index, buyers' files, exports, backups) is for the
    // service account only: 0600 files, 0700 folders, whatever the library that writes them.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    supportd::cli::main()
}
