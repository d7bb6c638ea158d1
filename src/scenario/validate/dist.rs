//! Checking distributions (`constant`, `exponential`, `uniform`,
//! `lognormal`, `mixture`).

use toml::Spanned;

use super::super::raw::RawDist;
use super::{Result, Validator};
use crate::sim::dist::Dist;
use crate::sim::time::SimDuration;

/// How far a mixture's weights may sum from 1: rounding of decimal
/// fractions, not a different mixture.
pub const MIXTURE_TOLERANCE: f64 = 1e-9;

impl Validator<'_> {
    /// Checks a distribution; `in_mixture` allows the `weight` key.
    pub(super) fn dist(
        &self,
        raw: &Spanned<RawDist>,
        field: &str,
        in_mixture: bool,
    ) -> Result<Dist> {
        let d = raw.get_ref();
        let kind = d.dist.get_ref().as_str();
        let allowed: &[&str] = match kind {
            "constant" => &["value"],
            "exponential" => &["mean"],
            "uniform" => &["min", "max"],
            "lognormal" => &["median", "p99"],
            "mixture" => &["parts"],
            other => {
                return Err(self.err(
                    &d.dist,
                    &format!("{field}.dist"),
                    &format!(
                        "unknown distribution `{other}`; use constant, exponential, \
                         uniform, lognormal or mixture"
                    ),
                ));
            }
        };
        // Keys that belong to another kind of distribution are mistakes.
        let given: [(&str, Option<std::ops::Range<usize>>); 8] = [
            ("value", d.value.as_ref().map(Spanned::span)),
            ("mean", d.mean.as_ref().map(Spanned::span)),
            ("min", d.min.as_ref().map(Spanned::span)),
            ("max", d.max.as_ref().map(Spanned::span)),
            ("median", d.median.as_ref().map(Spanned::span)),
            ("p99", d.p99.as_ref().map(Spanned::span)),
            ("parts", d.parts.as_ref().map(|_| raw.span())),
            ("weight", d.weight.as_ref().map(Spanned::span)),
        ];
        for (key, span) in given {
            let Some(span) = span else { continue };
            if key == "weight" && in_mixture || allowed.contains(&key) {
                continue;
            }
            let message = if key == "weight" {
                "`weight` is only for the parts of a mixture".to_string()
            } else {
                format!(
                    "`{key}` does not apply to {} {kind} distribution (it takes {})",
                    crate::scenario::hints::article(kind),
                    allowed.join(", ")
                )
            };
            return Err(self
                .src
                .error(Some(span), &format!("{field}.{key}"), &message));
        }
        let need = |value: &Option<Spanned<String>>, key: &str| -> Result<SimDuration> {
            match value {
                Some(text) => self.duration(text, &format!("{field}.{key}")),
                None => Err(self.err(raw, field, &format!("a {kind} distribution needs `{key}`"))),
            }
        };
        Ok(match kind {
            "constant" => Dist::constant(need(&d.value, "value")?),
            "exponential" => {
                let mean = need(&d.mean, "mean")?;
                if mean.is_zero() {
                    return Err(self.err(
                        d.mean.as_ref().unwrap(),
                        &format!("{field}.mean"),
                        "must be longer than zero",
                    ));
                }
                Dist::exponential(mean)
            }
            "uniform" => {
                let (min, max) = (need(&d.min, "min")?, need(&d.max, "max")?);
                if min >= max {
                    return Err(self.err(
                        d.max.as_ref().unwrap(),
                        &format!("{field}.max"),
                        "must be greater than `min`",
                    ));
                }
                Dist::uniform(min, max)
            }
            "lognormal" => {
                let (median, p99) = (need(&d.median, "median")?, need(&d.p99, "p99")?);
                if median.is_zero() {
                    return Err(self.err(
                        d.median.as_ref().unwrap(),
                        &format!("{field}.median"),
                        "must be longer than zero",
                    ));
                }
                if p99 <= median {
                    return Err(self.err(
                        d.p99.as_ref().unwrap(),
                        &format!("{field}.p99"),
                        "must be greater than `median`",
                    ));
                }
                Dist::lognormal(median, p99)
            }
            _ => {
                let parts = d.parts.as_ref().filter(|p| !p.is_empty()).ok_or_else(|| {
                    self.err(raw, field, "a mixture needs a non-empty `parts` list")
                })?;
                let mut weighted = Vec::with_capacity(parts.len());
                for (i, part) in parts.iter().enumerate() {
                    let part_field = format!("{field}.parts[{i}]");
                    let weight = match &part.get_ref().weight {
                        Some(w) if w.get_ref().is_finite() && *w.get_ref() > 0.0 => *w.get_ref(),
                        Some(w) => {
                            return Err(self.err(
                                w,
                                &format!("{part_field}.weight"),
                                "must be a positive number",
                            ));
                        }
                        None => {
                            return Err(self.err(part, &part_field, "each part needs a `weight`"));
                        }
                    };
                    weighted.push((weight, self.dist(part, &part_field, true)?));
                }
                // Weights are shares, and shares that do not add up are a
                // slip (0.5 and 0.01 meant 0.99 and 0.01?); silently
                // normalising them would run a different mixture from the one
                // the author thinks they wrote. The tolerance absorbs decimal
                // fractions that are not exact in binary (0.1 + 0.2).
                let sum: f64 = weighted.iter().map(|(w, _)| w).sum();
                if (sum - 1.0).abs() > MIXTURE_TOLERANCE {
                    return Err(self.err(
                        raw,
                        &format!("{field}.parts"),
                        &format!(
                            "the weights sum to {sum}; they are shares and must sum to 1 \
                             (within {MIXTURE_TOLERANCE:e})"
                        ),
                    ));
                }
                Dist::mixture(weighted)
            }
        })
    }
}
