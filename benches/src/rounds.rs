//! Interleaved rounds: brokerkit and the baseline take turns (alternating which goes first),
//! so a machine that slows down or speeds up during the run affects both alike. Each round
//! yields one ratio; the report is the median of the rounds.

use std::future::Future;
use std::time::{Duration, Instant};

/// The timings of one comparison.
#[derive(Debug, Clone)]
pub struct Compared {
    pub brokerkit: Vec<Duration>,
    pub baseline: Vec<Duration>,
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl Compared {
    /// Median of brokerkit's time over the baseline's, round by round (lower is better).
    pub fn time_ratio(&self) -> f64 {
        median(
            self.brokerkit
                .iter()
                .zip(&self.baseline)
                .map(|(b, h)| b.as_secs_f64() / h.as_secs_f64())
                .collect(),
        )
    }

    /// Median of brokerkit's throughput over the baseline's (higher is better).
    pub fn speed_ratio(&self) -> f64 {
        1.0 / self.time_ratio()
    }

    pub fn brokerkit_median(&self) -> Duration {
        Duration::from_secs_f64(median(
            self.brokerkit.iter().map(Duration::as_secs_f64).collect(),
        ))
    }

    pub fn baseline_median(&self) -> Duration {
        Duration::from_secs_f64(median(
            self.baseline.iter().map(Duration::as_secs_f64).collect(),
        ))
    }
}

/// Runs `rounds` rounds; in each, one timed run of `brokerkit` and one of `baseline` (each run
/// is whatever work the closure does, e.g. 200 calls), in alternating order. One untimed run
/// of each first warms connections and caches.
pub async fn interleave<A, FA, B, FB>(rounds: usize, mut brokerkit: A, mut baseline: B) -> Compared
where
    A: FnMut() -> FA,
    FA: Future<Output = ()>,
    B: FnMut() -> FB,
    FB: Future<Output = ()>,
{
    brokerkit().await;
    baseline().await;
    let mut out = Compared {
        brokerkit: Vec::with_capacity(rounds),
        baseline: Vec::with_capacity(rounds),
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            out.brokerkit.push(timed(brokerkit()).await);
            out.baseline.push(timed(baseline()).await);
        } else {
            out.baseline.push(timed(baseline()).await);
            out.brokerkit.push(timed(brokerkit()).await);
        }
    }
    out
}

async fn timed<F: Future<Output = ()>>(f: F) -> Duration {
    let start = Instant::now();
    f.await;
    start.elapsed()
}
