//! The improper "flat" (uniform) prior. Nothing is estimated: the posterior
//! of `theta_i` is `N(x_i, s_i^2)`, the lfsr is `Phi(-|x_i| / s_i)`, the
//! fitted prior is ebnm's `normalmix(1, 0, Inf)`, and, as in ebnm 1.1, the
//! log-likelihood is not defined and is reported as `NaN` (R's `NA`). Mode,
//! scale, `g_init` and `fix_g` are ignored.

use super::{EbnmError, EbnmFit, EbnmOptions, Prior};
use crate::special::pnorm;

/// Return the flat-prior posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let lfsr = opts.compute_lfsr.then(|| {
        x.iter()
            .zip(s)
            .map(|(&xi, &si)| pnorm(-xi.abs() / si).clamp(0.0, 1.0))
            .collect()
    });
    Ok(EbnmFit {
        prior: Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.0],
            sd: vec![f64::INFINITY],
        },
        mean: x.to_vec(),
        second_moment: x
            .iter()
            .zip(s)
            .map(|(&xi, &si)| xi * xi + si * si)
            .collect(),
        sd: s.to_vec(),
        lfsr,
        log_likelihood: f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posterior_is_the_likelihood() {
        let fit = solve(&[1.0, -2.0], &[0.5, 2.0], &EbnmOptions::default()).unwrap();
        assert_eq!(fit.mean, vec![1.0, -2.0]);
        assert_eq!(fit.sd, vec![0.5, 2.0]);
        assert_eq!(fit.second_moment, vec![1.25, 8.0]);
        let l = fit.lfsr.unwrap();
        assert!((l[0] - pnorm(-2.0)).abs() < 1e-15);
        assert!(fit.log_likelihood.is_nan());
    }
}
