//! Asking an apply to stop part way, the way a person (Ctrl-C) or a pipeline (SIGTERM, when a
//! job is cancelled) does. The command line turns the signals into a [`Stop`] request; the
//! apply then starts no new step, lets the steps under way finish (a step cut in half leaves a
//! resource AWS has made and plinth has not recorded), and ends as a failed apply does: its
//! report, the stack index and the lock are written and released as usual, so that the next
//! `plinth apply` finishes the job.

use tokio::sync::watch;

/// Whether a stop was asked for; cloned into everything that must heed it.
#[derive(Clone, Debug)]
pub struct Stop {
    asked: watch::Receiver<bool>,
}

/// The side that asks (the command line's signal handler).
#[derive(Debug)]
pub struct StopHandle {
    ask: watch::Sender<bool>,
}

impl Stop {
    /// A request and the handle that makes it.
    pub fn channel() -> (StopHandle, Stop) {
        let (ask, asked) = watch::channel(false);
        (StopHandle { ask }, Stop { asked })
    }

    /// A stop that is never asked for: library callers and tests without signals.
    pub fn never() -> Stop {
        let (handle, stop) = Stop::channel();
        // The value stays `false` with no sender left, and [`Stop::asked`] then never ends.
        drop(handle);
        stop
    }

    /// Whether a stop has been asked for.
    pub fn is_asked(&self) -> bool {
        *self.asked.borrow()
    }

    /// Ends once a stop is asked for (never, for [`Stop::never`]).
    pub async fn asked(&self) {
        let mut asked = self.asked.clone();
        if asked.wait_for(|asked| *asked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl StopHandle {
    pub fn ask(&self) {
        self.ask.send_replace(true);
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::never()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request reaches every clone, including those already waiting; `never` never ends.
    #[tokio::test]
    async fn a_request_reaches_every_clone() {
        let (handle, stop) = Stop::channel();
        let waiting = stop.clone();
        let waiter = tokio::spawn(async move { waiting.asked().await });
        assert!(!stop.is_asked());
        handle.ask();
        assert!(stop.is_asked());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiting clone heard the request")
            .unwrap();
        let never = Stop::never();
        assert!(!never.is_asked());
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), never.asked()).await;
        assert!(waited.is_err(), "a stop nobody can ask for never ends");
    }
}
