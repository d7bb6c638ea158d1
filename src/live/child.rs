//! What every process lbsim starts gets before it runs: it dies with lbsim,
//! it does not see lbsim's Ctrl-C, and what it writes is private.
//!
//! Used for redis-server, Sentinel, HAProxy, nginx and lbsim's own app
//! servers (`stack`), so the rule is written once.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `command`'s child:
/// - get `SIGKILL` when lbsim dies (`PR_SET_PDEATHSIG`), even by SIGKILL;
/// - run in its own process group, so a Ctrl-C in the terminal reaches
///   lbsim only, which then stops the child itself;
/// - create files only its user can read (`umask 077`): a server's
///   configuration holds the password, its data holds sessions.
pub fn guard(command: &mut Command) {
    guard_with(command, libc::SIGKILL);
}

/// As `guard`, but the child gets `death_signal` when lbsim dies: for a
/// program whose own children must be stopped by it (nginx's master stops
/// its workers on SIGTERM; SIGKILL would leave them running).
pub fn guard_with(command: &mut Command, death_signal: i32) {
    command.process_group(0);
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are
    // allowed; prctl, umask, getppid and _exit are.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::umask(0o077);
            // lbsim may have died between fork and prctl.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// A future that resolves at the first Ctrl-C or SIGTERM. The handlers are
/// installed now, not when the future is first polled (as
/// `tokio::signal::ctrl_c()` would), so a signal that arrives while
/// servers are still starting also leads to a clean stop. Needs a Tokio
/// runtime.
pub fn stop_requested() -> io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
