//! Wall-clock timing of a closure: warm-up runs first, then `iterations` timed runs; the median
//! and the minimum are reported.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Median and minimum of a set of timed runs.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Median run time.
    pub median: Duration,
    /// Fastest run.
    pub min: Duration,
    /// How many runs were timed.
    pub runs: usize,
}

impl Stats {
    /// Summarises `samples` (not empty).
    pub fn of(mut samples: Vec<Duration>) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        samples.sort();
        let n = samples.len();
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2
        };
        Stats {
            median,
            min: samples[0],
            runs: n,
        }
    }

    /// From seconds as floats (the Python reference reports those).
    pub fn from_secs(samples: &[f64]) -> Stats {
        Stats::of(
            samples
                .iter()
                .map(|s| Duration::from_secs_f64(*s))
                .collect(),
        )
    }
}

/// Runs `f` `warmup` times untimed, then `iterations` times timed.
pub fn measure<T>(warmup: usize, iterations: usize, mut f: impl FnMut() -> T) -> Stats {
    for _ in 0..warmup {
        black_box(f());
    }
    let samples = (0..iterations.max(1))
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    Stats::of(samples)
}

/// `d` in milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}
