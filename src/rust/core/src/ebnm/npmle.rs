//! The nonparametric MLE over all priors (ebnm's `ebnm_npmle`),
//! approximated as ebnm does by a mixture over an even grid spanning the
//! range of `x`: point masses spaced so that the approximation costs at most
//! a KL divergence of `1 / n` ([`scale_npmle`]), or, when the range is too
//! wide for 300 point masses, normals whose sd is half the spacing. The
//! fitted prior is a `NormalMix` (sd 0 for point masses); the mode argument
//! is ignored.

use super::grid::init_g_for_npmle;
use super::mixture_posterior::{
    fit_weights, posterior_summary_fixed, posterior_summary_from_lik, to_fit,
};
use super::normal_scale_mixture::normalmix_g_init;
use super::{EbnmError, EbnmFit, EbnmOptions, Prior, Scale};

pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let lfsr = opts.compute_lfsr;
    let mut mix = match &opts.g_init {
        Some(g) => normalmix_g_init(g, s)?,
        None => {
            if opts.fix_g {
                return Err("fix_g = TRUE needs g_init".into());
            }
            let spacing = match &opts.scale {
                Scale::Estimate => None,
                Scale::Fixed(v) => {
                    if v.len() != 1 || !(v[0].is_finite() && v[0] > 0.0) {
                        return Err("For the NPMLE, scale must be a single positive number (the grid spacing).".into());
                    }
                    Some(v[0])
                }
            };
            init_g_for_npmle(x, s, spacing, 3, 300, 1.0 / x.len() as f64)
        }
    };
    if opts.fix_g {
        return Ok(to_fit(&mix, posterior_summary_fixed(&mix, x, s, lfsr)));
    }
    let start = match &opts.prior_start {
        Some(Prior::NormalMix { pi, mean, .. }) if opts.g_init.is_none() => Some(weights_on_grid(pi, mean, &mix.p)),
        _ => None,
    };
    let (pi, lik) = fit_weights(&mix, x, s, start.as_deref(), &[], false);
    mix.pi = pi;
    let post = posterior_summary_from_lik(&mix, &lik, x, s, lfsr);
    Ok(to_fit(&mix, post))
}

/// Starting weights on the increasing `grid` from a prior with weights
/// `pi` at `means`: each component's weight is split between the two grid
/// points around its mean in proportion to closeness (all of it to the end
/// point when the mean lies outside the grid). Grid points left at zero
/// stay out of mix-SQP's first working set; its optimality check brings
/// back any that the optimum needs. (Mixing in 1% of equal weights instead
/// put every point in that set and took 25% longer on the gtex NPMLE fit.)
fn weights_on_grid(pi: &[f64], means: &[f64], grid: &[f64]) -> Vec<f64> {
    let k = grid.len();
    let mut w = vec![0.0; k];
    for (&p, &m) in pi.iter().zip(means) {
        if !(p > 0.0) || !m.is_finite() {
            continue;
        }
        let j = grid.partition_point(|&g| g <= m);
        if j == 0 {
            w[0] += p;
        } else if j == k {
            w[k - 1] += p;
        } else {
            let (lo, hi) = (grid[j - 1], grid[j]);
            let t = if hi > lo { (m - lo) / (hi - lo) } else { 0.0 };
            w[j - 1] += p * (1.0 - t);
            w[j] += p * t;
        }
    }
    let total: f64 = w.iter().sum();
    if !(total > 0.0) {
        return vec![1.0 / k as f64; k];
    }
    w.iter().map(|v| v / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_previous_prior_moves_onto_the_nearest_grid_points() {
        let grid = [-1.0, 0.0, 1.0, 2.0];
        // 0.5 at 0.25 (a quarter of the way from 0 to 1), 0.3 below the
        // grid, 0.2 exactly on 2.
        let w = weights_on_grid(&[0.5, 0.3, 0.2], &[0.25, -5.0, 2.0], &grid);
        let expected = [0.3, 0.375, 0.125, 0.2];
        assert!(w.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-15), "{w:?}");
        // Nothing usable: equal weights.
        assert_eq!(weights_on_grid(&[0.0], &[1.0], &grid), vec![0.25; 4]);
    }

    #[test]
    fn a_warm_start_finds_the_same_prior() {
        // Point masses near -2, 0 and 3 plus noise, then the same data
        // shifted a little, as from one iteration of a fit to the next.
        let x: Vec<f64> = (0..400)
            .map(|i| {
                let centre = [-2.0, 0.0, 0.0, 3.0][i % 4];
                centre + 0.8 * ((i as f64 * 0.7).sin() + (i as f64 * 1.3).cos()) / 2.0
            })
            .collect();
        let s = vec![0.5; x.len()];
        let opts = EbnmOptions::default();
        let first = solve(&x, &s, &opts).unwrap();
        let x2: Vec<f64> = x.iter().map(|v| v * 1.05 + 0.02).collect();
        let cold = solve(&x2, &s, &opts).unwrap();
        let warm = solve(&x2, &s, &EbnmOptions { prior_start: Some(first.prior.clone()), ..EbnmOptions::default() }).unwrap();
        assert!((cold.log_likelihood - warm.log_likelihood).abs() < 1e-6 * cold.log_likelihood.abs(), "{} vs {}", cold.log_likelihood, warm.log_likelihood);
        let worst = cold.mean.iter().zip(&warm.mean).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-4, "posterior means differ by {worst}");
    }
}
