//! Ctrl-C and SIGTERM during `apply` and `destroy` ([`crate::stop`]): the first asks the apply
//! to stop, so that it ends as a failed apply does (report, stack index, lock released) and
//! the next apply finishes the job; the second ends the process at once, as a kill would.

use crate::stop::Stop;

/// Listens for the signals on the runtime for the rest of the process; the returned [`Stop`]
/// is asked on the first.
pub fn stop_on_signals() -> Stop {
    let (handle, stop) = Stop::channel();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut heard = 0;
        loop {
            let signal = tokio::select! {
                heard = tokio::signal::ctrl_c() => match heard {
                    Ok(()) => "Interrupt",
                    // No handler could be installed: the signal keeps its default action.
                    Err(_) => return,
                },
                () = terminated(&mut term) => "SIGTERM",
            };
            heard += 1;
            if heard == 1 {
                eprintln!(
                    "\n{signal} received: no new change starts; the changes under way finish, then the report is printed and the stack's lock released. A second Ctrl-C or SIGTERM stops at once."
                );
                handle.ask();
            } else {
                eprintln!(
                    "\nStopped at once: the changes under way may or may not have been made, and the stack's lock, if it has one, is left in place. `plinth unlock` releases it; `plinth plan` then shows where the account stands."
                );
                std::process::exit(130);
            }
        }
    });
    stop
}

/// Ends when SIGTERM arrives (never where it cannot be heard).
async fn terminated(term: &mut Option<tokio::signal::unix::Signal>) {
    match term {
        Some(term) => {
            term.recv().await;
        }
        None => std::future::pending().await,
    }
}
