//! Scale mixtures of normals, `g = sum_k pi_k N(mode, sigma_k^2)` over a
//! fixed grid of `sigma_k` (ebnm's `ebnm_normal_scale_mixture`). The
//! weights are the maximum-likelihood ones (no penalty), found by mix-SQP;
//! the default grid is ebnm's [`scale_normalmix`]. With `Mode::Estimate`
//! the mode maximises the log-likelihood over `[min x, max x]` (R's
//! `optimize`, the grid being rebuilt for every candidate mode).

use super::grid::{brent_fmin, r_optimize_tol, scale_normalmix};
use super::mixture_posterior::{
    fit_weights, posterior_summary_fixed, posterior_summary_from_lik, to_fit, MixKind, Mixture,
};
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Scale};

/// Fit a scale mixture of normals (or use `g_init` as is when `fix_g`).
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let lfsr = opts.compute_lfsr && matches!(opts.mode, Mode::Fixed(m) if m == 0.0);
    if let Some(g) = &opts.g_init {
        let init = normalmix_g_init(g, s)?;
        if opts.fix_g {
            return Ok(to_fit(&init, posterior_summary_fixed(&init, x, s, lfsr)));
        }
        return Ok(fit_on(init.clone(), x, s, Some(&init.pi), lfsr));
    }
    if opts.fix_g {
        return Err("fix_g = TRUE needs g_init".into());
    }
    let fixed_grid = match &opts.scale {
        Scale::Estimate => None,
        Scale::Fixed(v) => {
            if v.is_empty() || v.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
                return Err(
                    "scale must be a vector of non-negative, finite standard deviations".into(),
                );
            }
            Some(v.clone())
        }
    };
    let grid_at = |mode: f64| -> Vec<f64> {
        match &fixed_grid {
            Some(v) => v.clone(),
            None => scale_normalmix(x, s, mode, 3, 300, 1.0 / x.len() as f64),
        }
    };
    let mode = match opts.mode {
        Mode::Fixed(m) => {
            if !m.is_finite() {
                return Err("mode must be finite".into());
            }
            m
        }
        Mode::Estimate => {
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if hi > lo {
                brent_fmin(
                    lo,
                    hi,
                    |m| -fit_on(start_mix(m, grid_at(m)), x, s, None, false).log_likelihood,
                    r_optimize_tol(),
                )
            } else {
                lo
            }
        }
    };
    let mix = start_mix(mode, grid_at(mode));
    let start = opts.start_weights(mix.len());
    Ok(fit_on(mix, x, s, start, lfsr))
}

/// ebnm's starting weights: all equal.
fn start_mix(mode: f64, grid: Vec<f64>) -> Mixture {
    let k = grid.len();
    Mixture {
        kind: MixKind::Normal,
        pi: vec![1.0 / k as f64; k],
        p: vec![mode; k],
        q: grid,
    }
}

fn fit_on(mut mix: Mixture, x: &[f64], s: &[f64], pi_init: Option<&[f64]>, lfsr: bool) -> EbnmFit {
    let (pi, lik) = fit_weights(&mix, x, s, pi_init, &[], false);
    mix.pi = pi;
    let post = posterior_summary_from_lik(&mix, &lik, x, s, lfsr);
    to_fit(&mix, post)
}

/// Read a `normalmix` g_init as ebnm does: means (and sds) that agree to
/// within `1e-6 min(s)` are set equal to the first.
pub(crate) fn normalmix_g_init(g: &super::Prior, s: &[f64]) -> Result<Mixture, EbnmError> {
    let mut mix = match Mixture::from_prior(g) {
        Ok(m) if m.kind == MixKind::Normal => m,
        _ => return Err("g_init must be NULL or an object of class normalmix.".into()),
    };
    let min_s = s.iter().copied().fold(f64::INFINITY, f64::min);
    for v in [&mut mix.p, &mut mix.q] {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if hi - lo < 1e-6 * min_s {
            let first = v[0];
            v.iter_mut().for_each(|t| *t = first);
        }
    }
    Ok(mix)
}
