//! 95% confidence intervals for an evaluation's score: Wilson's interval when every row
//! scores 0 or 1 (accuracy-like metrics; sound for small samples and for 0% or 100%), a
//! seeded percentile bootstrap over rows otherwise (corpus BLEU and chrF are recomputed
//! from each resample's summed statistics, as the score itself is). Past
//! `LARGE` rows the mean's interval is the normal one (the central limit theorem holds
//! well there, and 1,000 resamples of 10,000 rows cost more than the run), and corpus
//! scores use fewer resamples.

use crate::data::split::SplitMix64;

const Z95: f64 = 1.959_963_984_540_054;
const RESAMPLES: usize = 1000;
const RESAMPLES_LARGE: usize = 200;
const LARGE: usize = 2000;

/// Wilson score interval for `successes` out of `n`.
pub fn wilson(successes: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = successes as f64 / n_f;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n_f)) / (1.0 + z2 / n_f);
    let half = Z95 / (1.0 + z2 / n_f) * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Percentile bootstrap: `statistic` of each resample (row indices drawn with
/// replacement), the 2.5th and 97.5th percentiles. Seeded, so a run is reproducible.
pub fn bootstrap(n: usize, statistic: &dyn Fn(&[usize]) -> f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let resamples = if n > LARGE {
        RESAMPLES_LARGE
    } else {
        RESAMPLES
    };
    let mut rng = SplitMix64(0x5EED);
    let mut sample = vec![0usize; n];
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            for slot in sample.iter_mut() {
                *slot = rng.below(n as u64) as usize;
            }
            statistic(&sample)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    (at(0.025), at(0.975))
}

/// The interval for row scores whose aggregate is their mean.
pub fn for_mean(scores: &[f64]) -> (f64, f64) {
    if scores.iter().all(|s| *s == 0.0 || *s == 1.0) {
        let successes = scores.iter().filter(|s| **s == 1.0).count();
        return wilson(successes, scores.len());
    }
    let n = scores.len();
    if n > LARGE {
        let mean = scores.iter().sum::<f64>() / n as f64;
        let variance = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = Z95 * (variance / n as f64).sqrt();
        return ((mean - half).max(0.0), (mean + half).min(1.0));
    }
    bootstrap(n, &|sample| {
        sample.iter().map(|&i| scores[i]).sum::<f64>() / sample.len() as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook() {
        // 8 of 9: Wilson 95% is (0.5650, 0.9801) (e.g. statsmodels proportion_confint).
        let (lo, hi) = wilson(8, 9);
        assert!(
            (lo - 0.5650).abs() < 1e-4 && (hi - 0.9801).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson(10, 10);
        assert!(
            lo > 0.72 && lo < 0.73 && (hi - 1.0).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn bootstrap_brackets_the_mean_and_narrows_with_more_rows() {
        let few: Vec<f64> = (0..10).map(|i| (i % 5) as f64 / 4.0).collect();
        let many: Vec<f64> = (0..1000).map(|i| (i % 5) as f64 / 4.0).collect();
        let (lo, hi) = for_mean(&few);
        assert!(lo < 0.5 && 0.5 < hi, "{lo} {hi}");
        let (lo2, hi2) = for_mean(&many);
        assert!(
            lo2 < 0.5 && 0.5 < hi2 && hi2 - lo2 < (hi - lo) / 3.0,
            "{lo2} {hi2}"
        );
        assert_eq!(for_mean(&few), for_mean(&few));
        // Past LARGE rows: the normal interval, close to what the bootstrap gives.
        let huge: Vec<f64> = (0..5000).map(|i| (i % 5) as f64 / 4.0).collect();
        let (lo3, hi3) = for_mean(&huge);
        let (blo, bhi) = bootstrap(huge.len(), &|s| {
            s.iter().map(|&i| huge[i]).sum::<f64>() / s.len() as f64
        });
        assert!(
            (lo3 - blo).abs() < 0.003 && (hi3 - bhi).abs() < 0.003,
            "{lo3} {hi3} vs {blo} {bhi}"
        );
    }
}
