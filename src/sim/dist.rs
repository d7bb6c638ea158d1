//! Distributions of durations: think times, service times, store latencies.
//!
//! A [`Dist`] is built only by scenario validation, from values that are
//! already checked (positive means, `p99 > median`, positive weights), so
//! sampling has no error path. Samples are whole nanoseconds.

use rand::Rng;
use rand::distr::{Distribution, Uniform};
use rand_distr::{Exp, LogNormal};

use super::time::SimDuration;

/// The 99th percentile of the standard normal distribution: a lognormal
/// with median `m` has p99 `m * exp(sigma * Z_99)`, which is how a lognormal
/// given as `{ median, p99 }` is turned into `sigma`.
const Z_99: f64 = 2.326_347_874_040_841;

/// A distribution of durations. Each variant keeps the parameters it was
/// given beside the `rand_distr` sampler built from them, so that means and
/// descriptions are exact.
#[derive(Clone, Debug)]
pub enum Dist {
    /// Always the same value.
    Constant(SimDuration),
    /// Memoryless: the classic model of think times and arrivals.
    Exponential {
        mean: SimDuration,
        sampler: Exp<f64>,
    },
    /// Uniform over `[min, max)`.
    Uniform {
        min: SimDuration,
        max: SimDuration,
        sampler: Uniform<f64>,
    },
    /// Lognormal, given by median and p99: a long right tail, the usual shape
    /// of measured latencies.
    LogNormal {
        median: SimDuration,
        p99: SimDuration,
        sampler: LogNormal<f64>,
    },
    /// A weighted choice between parts, for example 98% short clicks and 2%
    /// long coffee breaks. `cumulative[i]` is the total weight of parts
    /// `0..=i` divided by the total, so the last entry is 1.0.
    Mixture {
        cumulative: Vec<f64>,
        parts: Vec<Dist>,
    },
}

impl Dist {
    pub fn constant(value: SimDuration) -> Self {
        Dist::Constant(value)
    }

    /// Exponential with the given mean, which must be positive.
    pub fn exponential(mean: SimDuration) -> Self {
        debug_assert!(!mean.is_zero());
        let sampler = Exp::new(1.0 / mean.as_nanos() as f64).expect("checked positive mean");
        Dist::Exponential { mean, sampler }
    }

    /// Uniform over `[min, max)`, with `min < max`.
    pub fn uniform(min: SimDuration, max: SimDuration) -> Self {
        let sampler =
            Uniform::new(min.as_nanos() as f64, max.as_nanos() as f64).expect("checked min < max");
        Dist::Uniform { min, max, sampler }
    }

    /// Lognormal from its median and 99th percentile, with `0 < median < p99`.
    pub fn lognormal(median: SimDuration, p99: SimDuration) -> Self {
        let mu = (median.as_nanos() as f64).ln();
        let sigma = ((p99.as_nanos() as f64).ln() - mu) / Z_99;
        let sampler = LogNormal::new(mu, sigma).expect("checked median < p99");
        Dist::LogNormal {
            median,
            p99,
            sampler,
        }
    }

    /// A weighted mixture; weights must be positive and there must be at
    /// least one part.
    pub fn mixture(weighted: Vec<(f64, Dist)>) -> Self {
        let total: f64 = weighted.iter().map(|(w, _)| w).sum();
        let mut running = 0.0;
        let mut cumulative = Vec::with_capacity(weighted.len());
        let mut parts = Vec::with_capacity(weighted.len());
        for (weight, part) in weighted {
            running += weight;
            cumulative.push(running / total);
            parts.push(part);
        }
        // Guard against rounding leaving the last bound just below 1.0.
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Dist::Mixture { cumulative, parts }
    }

    /// Draws one duration.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        // Constants (the usual service time and store latency) without a
        // call: a request samples up to six times.
        match self {
            Dist::Constant(value) => *value,
            _ => self.sample_random(rng),
        }
    }

    /// Draws one duration from a distribution that is not a constant.
    fn sample_random<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        match self {
            Dist::Constant(value) => *value,
            Dist::Exponential { sampler, .. } => SimDuration::from_nanos_f64(sampler.sample(rng)),
            Dist::Uniform { sampler, .. } => SimDuration::from_nanos_f64(sampler.sample(rng)),
            Dist::LogNormal { sampler, .. } => SimDuration::from_nanos_f64(sampler.sample(rng)),
            Dist::Mixture { cumulative, parts } => {
                let u: f64 = rng.random();
                let index = cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(parts.len() - 1);
                parts[index].sample(rng)
            }
        }
    }

    /// The exact mean.
    pub fn mean(&self) -> SimDuration {
        SimDuration::from_nanos_f64(self.mean_nanos())
    }

    fn mean_nanos(&self) -> f64 {
        match self {
            Dist::Constant(value) => value.as_nanos() as f64,
            Dist::Exponential { mean, .. } => mean.as_nanos() as f64,
            Dist::Uniform { min, max, .. } => (min.as_nanos() as f64 + max.as_nanos() as f64) / 2.0,
            Dist::LogNormal { median, p99, .. } => {
                // mean = exp(mu + sigma^2 / 2) = median * exp(sigma^2 / 2)
                let m = median.as_nanos() as f64;
                let sigma = ((p99.as_nanos() as f64).ln() - m.ln()) / Z_99;
                m * (sigma * sigma / 2.0).exp()
            }
            Dist::Mixture { cumulative, parts } => {
                let mut previous = 0.0;
                let mut mean = 0.0;
                for (c, part) in cumulative.iter().zip(parts) {
                    mean += (c - previous) * part.mean_nanos();
                    previous = *c;
                }
                mean
            }
        }
    }
}

impl Dist {
    /// The distribution in words, e.g. `8s on average (exponential)`.
    pub fn in_words(&self) -> String {
        match self {
            Dist::Constant(value) => format!("exactly {value}"),
            Dist::Exponential { mean, .. } => format!("{mean} on average (exponential)"),
            Dist::Uniform { min, max, .. } => format!("between {min} and {max} (uniform)"),
            Dist::LogNormal { median, p99, .. } => {
                format!("{median} typically, {p99} at the 99th percentile (lognormal)")
            }
            Dist::Mixture { cumulative, parts } => {
                let mut previous = 0.0;
                let words: Vec<String> = cumulative
                    .iter()
                    .zip(parts)
                    .map(|(c, part)| {
                        let share = 100.0 * (c - previous);
                        previous = *c;
                        format!("{} of the time {}", percent(share), part.in_words())
                    })
                    .collect();
                words.join("; ")
            }
        }
    }
}

/// `98%`, `2.5%`.
fn percent(value: f64) -> String {
    let text = format!("{value:.1}");
    format!("{}%", text.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Purpose, stream};

    /// Draws `n` samples, one independent stream per draw as the engine does.
    fn samples(dist: &Dist, n: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                dist.sample(&mut stream(42, Purpose::Think, i, 0))
                    .as_nanos() as f64
            })
            .collect()
    }

    fn mean(xs: &[f64]) -> f64 {
        xs.iter().sum::<f64>() / xs.len() as f64
    }

    fn quantile(xs: &mut [f64], q: f64) -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[((xs.len() as f64 - 1.0) * q) as usize]
    }

    #[test]
    fn constant_is_constant() {
        let d = Dist::constant(SimDuration::from_millis(3));
        assert!(samples(&d, 100).iter().all(|&x| x == 3e6));
        assert_eq!(d.mean(), SimDuration::from_millis(3));
    }

    #[test]
    fn exponential_mean_and_median() {
        // Mean 8 s. With 100k draws the sample mean has standard error
        // 8/sqrt(100k) = 0.025 s, so 1% (0.08 s) is over three standard errors.
        // The median of an exponential is mean * ln 2 = 5.545 s.
        let d = Dist::exponential(SimDuration::from_secs(8));
        let mut xs = samples(&d, 100_000);
        assert!((mean(&xs) / 8e9 - 1.0).abs() < 0.01, "mean {}", mean(&xs));
        let median = quantile(&mut xs, 0.5);
        assert!((median / (8e9 * std::f64::consts::LN_2) - 1.0).abs() < 0.02);
    }

    #[test]
    fn uniform_stays_in_bounds_with_the_right_mean() {
        let d = Dist::uniform(SimDuration::from_secs(2), SimDuration::from_secs(4));
        let xs = samples(&d, 50_000);
        assert!(xs.iter().all(|&x| (2e9..4e9).contains(&x)));
        // sd of U(2,4) is 0.577 s; standard error over 50k is 0.0026 s.
        assert!((mean(&xs) - 3e9).abs() < 0.02e9);
        assert_eq!(d.mean(), SimDuration::from_secs(3));
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = Dist::lognormal(SimDuration::from_micros(400), SimDuration::from_millis(2));
        let mut xs = samples(&d, 200_000);
        let median = quantile(&mut xs, 0.5);
        let p99 = quantile(&mut xs, 0.99);
        // Sample quantiles of 200k draws are within a few percent.
        assert!((median / 400e3 - 1.0).abs() < 0.02, "median {median}");
        assert!((p99 / 2e6 - 1.0).abs() < 0.05, "p99 {p99}");
        let m = mean(&xs);
        assert!((m / d.mean().as_nanos() as f64 - 1.0).abs() < 0.02);
    }

    #[test]
    fn mixture_weights_parts() {
        // 98% constant 1 s, 2% constant 100 s: the share of 100 s draws is 2%
        // with standard error sqrt(0.02*0.98/100k) = 0.00044.
        let d = Dist::mixture(vec![
            (0.98, Dist::constant(SimDuration::from_secs(1))),
            (0.02, Dist::constant(SimDuration::from_secs(100))),
        ]);
        let xs = samples(&d, 100_000);
        let long = xs.iter().filter(|&&x| x == 100e9).count() as f64 / xs.len() as f64;
        assert!((long - 0.02).abs() < 0.002, "share {long}");
        assert_eq!(d.mean(), SimDuration::from_nanos(2_980_000_000));
    }
}
