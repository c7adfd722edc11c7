//! A histogram written on every request without a shared cache line.
//!
//! prometheus-client's `Histogram` takes a mutex on every observe: with two
//! worker threads answering requests, the lock and the data behind it are
//! written by both cores on every request, and each write takes the cache
//! line from the other core. Here each
//! thread adds to its own stripe, a block of cache lines no other stripe
//! shares, and a scrape sums the stripes: the text exposition is the same
//! as a `Histogram`'s (same buckets, same lines).
//!
//! A scrape that runs during an observe may count it in a bucket and not
//! yet in the sum (the stripes are read one cell at a time, not under a
//! lock); the next scrape has both.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::stripe::{STRIPES, stripe};
use crossbeam_utils::CachePadded;

/// Cells per line: 128 bytes, `CachePadded`'s alignment on x86-64 (which
/// fetches cache lines in adjacent pairs).
const CELLS: usize = 16;

type Line = CachePadded<[AtomicU64; CELLS]>;

/// A classic histogram: `observe` as `Histogram::observe`, encoded as
/// a `Histogram` with the same buckets. Clones share the observations.
#[derive(Clone, Debug)]
pub(crate) struct StripedHistogram {
    inner: Arc<Inner>,
}

struct Inner {
    /// The upper bounds, `+Inf` last (as `Histogram::new` makes them).
    bounds: Box<[f64]>,
    /// Lines per stripe: a stripe's cells are one count per bound, then the
    /// sum (an `f64`'s bits). The count of observations is the sum of the
    /// buckets', since each observation falls in exactly one.
    per_stripe: usize,
    lines: Box<[Line]>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripedHistogram").field("bounds", &self.bounds).finish_non_exhaustive()
    }
}

impl StripedHistogram {
    /// With these upper bounds, and `+Inf`; non-finite bounds are dropped,
    /// as `Histogram::new` drops them.
    pub(crate) fn new(buckets: impl IntoIterator<Item = f64>) -> StripedHistogram {
        let bounds: Box<[f64]> =
            buckets.into_iter().filter(|bound| bound.is_finite()).chain(std::iter::once(f64::INFINITY)).collect();
        // The bounds' counts and the sum.
        let per_stripe = (bounds.len() + 1).div_ceil(CELLS);
        let lines = (0..per_stripe * STRIPES).map(|_| Line::default()).collect();
        StripedHistogram { inner: Arc::new(Inner { bounds, per_stripe, lines }) }
    }

    pub(crate) fn observe(&self, v: f64) {
        let inner = &*self.inner;
        // The first bucket whose bound is at least `v`; `+Inf` for a `NaN`,
        // as `Histogram` does.
        let last = inner.bounds.len() - 1;
        let bucket = inner.bounds.iter().position(|bound| *bound >= v).unwrap_or(last);
        let stripe = stripe();
        inner.cell(stripe, bucket).fetch_add(1, Relaxed);
        // A stripe is shared only by threads STRIPES apart, so this loop
        // nearly always succeeds at once.
        let _ = inner
            .cell(stripe, inner.bounds.len())
            .fetch_update(Relaxed, Relaxed, |sum| Some((f64::from_bits(sum) + v).to_bits()));
    }

    /// Sum, count and each bucket's own count (not cumulative), as
    /// `MetricEncoder::encode_histogram` takes them.
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let mut buckets: Vec<(f64, u64)> = inner.bounds.iter().map(|bound| (*bound, 0)).collect();
        let mut sum = 0.0;
        for stripe in 0..STRIPES {
            for (i, (_, count)) in buckets.iter_mut().enumerate() {
                *count += inner.cell(stripe, i).load(Relaxed);
            }
            sum += f64::from_bits(inner.cell(stripe, inner.bounds.len()).load(Relaxed));
        }
        let count = buckets.iter().map(|(_, count)| count).sum();
        (sum, count, buckets)
    }
}

impl Inner {
    fn cell(&self, stripe: usize, index: usize) -> &AtomicU64 {
        &self.lines[stripe * self.per_stripe + index / CELLS][index % CELLS]
    }
}

impl TypedMetric for StripedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for StripedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    use prometheus_client::registry::Registry;

    fn buckets() -> impl Iterator<Item = f64> {
        exponential_buckets(0.000_001, 2.0, 17)
    }

    #[test]
    fn concurrent_observes_sum_exactly() {
        let histogram = StripedHistogram::new(buckets());
        let (threads, each) = (8, 10_000u64);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let histogram = histogram.clone();
                scope.spawn(move || {
                    for i in 0..each {
                        // Powers of two: every partial sum is exact, in any order.
                        histogram.observe(if (i + t) % 2 == 0 { 0.5 } else { 0.000_003_814_697_265_625 });
                    }
                });
            }
        });
        let (sum, count, buckets) = histogram.snapshot();
        let total = threads * each;
        assert_eq!(count, total);
        assert_eq!(sum, (total / 2) as f64 * 0.5 + (total / 2) as f64 * 0.000_003_814_697_265_625);
        // 2^-18 s falls in the bucket of 4 µs (0.000_004 >= 3.81 µs), 0.5 s in the 65.5 ms .. +Inf one.
        let counts: Vec<u64> = buckets.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts.iter().sum::<u64>(), total);
        assert_eq!(counts[2], total / 2);
        assert_eq!(counts[counts.len() - 1], total / 2);
    }

    /// The text of a registry with one family of each, observed alike.
    fn encoded(observe: impl Fn(&dyn Fn(&'static str, f64))) -> (String, String) {
        let mut striped_registry = Registry::with_prefix("paastis");
        let striped = Family::<Vec<(&'static str, &'static str)>, StripedHistogram>::new_with_constructor(|| {
            StripedHistogram::new(buckets())
        });
        striped_registry.register("policy_call_duration_seconds", "Policy call time, by phase", striped.clone());
        let mut reference_registry = Registry::with_prefix("paastis");
        let reference =
            Family::<Vec<(&'static str, &'static str)>, Histogram>::new_with_constructor(|| Histogram::new(buckets()));
        reference_registry.register("policy_call_duration_seconds", "Policy call time, by phase", reference.clone());
        observe(&|phase, v| {
            striped.get_or_create(&vec![("phase", phase)]).observe(v);
            reference.get_or_create(&vec![("phase", phase)]).observe(v);
        });
        let text = |registry: &Registry| {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
            out
        };
        (text(&striped_registry), text(&reference_registry))
    }

    #[test]
    fn encodes_as_a_histogram_does() {
        let (striped, reference) = encoded(|observe| {
            for v in [0.000_001, 0.000_001_5, 0.000_002, 0.000_7, 0.065, 3.0, 0.0, 1e-9, 0.1 + 0.2] {
                observe("request", v);
            }
        });
        assert_eq!(striped, reference);
        assert!(striped.contains(r#"paastis_policy_call_duration_seconds_count{phase="request"} 9"#), "{striped}");
        assert!(
            striped.contains(r#"paastis_policy_call_duration_seconds_bucket{le="+Inf",phase="request"} 9"#),
            "{striped}"
        );
        // One phase at a time: a family's series come in its hash map's
        // order, which differs between two families.
        let (striped, reference) = encoded(|observe| observe("tick", 0.002));
        assert_eq!(striped, reference);

        let (striped, reference) = encoded(|_| {});
        assert_eq!(striped, reference);
    }

    #[test]
    fn a_nan_lands_in_the_last_bucket_as_in_a_histogram() {
        let (striped, reference) = encoded(|observe| {
            observe("request", f64::NAN);
            observe("request", 0.000_002);
        });
        assert_eq!(striped, reference);
    }
}
