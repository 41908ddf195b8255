//! Bounded waits: every wait has a time limit and, when it runs out, says what it saw last.

use std::time::{Duration, Instant};

/// Polls `probe` every 250 ms until it returns `Ok`, for at most `limit`; panics with the last
/// `Err` it returned otherwise.
pub fn until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        let last = match probe() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if start.elapsed() >= limit {
            panic!("timed out after {limit:?} waiting for {what}; last seen: {last}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
