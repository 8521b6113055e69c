//! The nonparametric MLE over all priors (ebnm's `ebnm_npmle`),
//! approximated as ebnm does by a mixture over an even grid spanning the
//! range of `x`: point masses spaced so that the approximation costs at most
//! a KL divergence of `1 / n` ([`scale_npmle`]), or, when the range is too
//! wide for 300 point masses, normals whose sd is half the spacing. The
//! fitted prior is a `NormalMix` (sd 0 for point masses); the mode argument
//! is ignored.

use super::grid::init_g_for_npmle;
use super::mixture_posterior::{
    fit_weights, posterior_summary, posterior_summary_from_lik, to_fit,
};
use super::normal_scale_mixture::normalmix_g_init;
use super::{EbnmError, EbnmFit, EbnmOptions, Scale};

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
        return Ok(to_fit(&mix, posterior_summary(&mix, x, s, lfsr)));
    }
    let (pi, lik) = fit_weights(&mix, x, s, None, &[], false);
    mix.pi = pi;
    let post = posterior_summary_from_lik(&mix, &lik, x, s, lfsr);
    Ok(to_fit(&mix, post))
}
