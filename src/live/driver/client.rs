//! The app's Redis client reconnecting in a live run. The world's client
//! (`sim::client`) decides when an attempt is due, exactly as in the
//! simulator; this task makes each attempt against the real Redis (a new
//! connection to the primary as the app would find it: the Sentinels'
//! answer, or the server lbsim started) and reports whether it connected.
//! A connection that works replaces the app servers' connections, and the
//! users whose operations the client held are woken to send them.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{sleep, sleep_until};

use super::{SharedState, Target};
use crate::live::clock::LiveClock;
use crate::live::sentinel;

/// How often to look whether the client lost its connection.
const POLL: Duration = Duration::from_millis(1);

/// Makes the world's reconnect attempts until the end of the run; each
/// successful one bumps `reconnected`.
pub(super) async fn reconnect_loop(
    clock: LiveClock,
    target: Target,
    shared: SharedState,
    reconnected: watch::Sender<u64>,
) {
    let end = shared.borrow().world.end();
    while clock.now() < end {
        let Some(at) = shared.borrow().world.reconnect_due() else {
            sleep(POLL).await;
            continue;
        };
        sleep_until(clock.wall(at).into()).await;
        if shared.borrow().world.reconnect_due() != Some(at) {
            continue;
        }
        let accepted = connect(&target).await;
        let now = clock.now();
        shared.borrow_mut().world.reconnect_attempted(now, accepted);
        if accepted {
            reconnected.send_modify(|n| *n += 1);
        }
    }
}

/// One attempt: connect the app servers to the current primary. Refused
/// while it is down; a loading Redis accepts (its commands then answer
/// `-LOADING`).
async fn connect(target: &Target) -> bool {
    let url = match (&target.sentinels, &target.process) {
        (Some(sentinels), _) => match sentinel::master_port_async(&sentinels.urls()).await {
            Some(port) => crate::live::auth::local_url(port),
            None => return false,
        },
        (None, Some(process)) => process.borrow().url(),
        (None, None) => target.store.url(),
    };
    target.store.switch_to(&url).await.is_ok()
}
