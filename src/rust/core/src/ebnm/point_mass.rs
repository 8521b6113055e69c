//! Point-mass prior: `g = delta_mu`. ebnm implements it as the normal family
//! with the scale fixed at 0, so the fitted prior is a one-component
//! `normalmix` with sd 0, every posterior is the point mass at `mu`, and with
//! `Mode::Estimate` the mode is the maximum-likelihood
//! `mu = sum(x / s^2) / sum(1 / s^2)`. Any `scale` is ignored.

use super::normal;
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Prior};

/// Fit the point-mass prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    if let Some(g) = &opts.g_init {
        let ok = matches!(g, Prior::NormalMix { pi, sd, .. } if pi.len() == 1 && sd.len() == 1 && sd[0] == 0.0);
        if !ok {
            return Err(
                "If specified, g_init must be an object of class normalmix consisting \
                        of a single mixture component with standard deviation zero."
                    .into(),
            );
        }
    }
    if opts.fix_g && opts.g_init.is_none() {
        return Err("If g is fixed, then an initial g must be provided.".into());
    }
    let init_mean = match &opts.g_init {
        Some(Prior::NormalMix { mean, .. }) => Some(mean[0]),
        _ => None,
    };
    let mu = match (&opts.mode, init_mean) {
        (_, Some(m)) if opts.fix_g => m,
        (Mode::Estimate, _) => {
            // Precision-weighted mean, computed relative to the smallest s to
            // avoid overflow of 1 / s^2.
            let smin = s.iter().copied().fold(f64::INFINITY, f64::min);
            let (mut num, mut den) = (0.0, 0.0);
            for (&xi, &si) in x.iter().zip(s) {
                let w = (smin / si).powi(2);
                num += w * xi;
                den += w;
            }
            num / den
        }
        (Mode::Fixed(_), Some(m)) => m,
        (Mode::Fixed(m), None) => {
            if !m.is_finite() {
                return Err("Argument 'mode' must be either 'estimate' or a numeric value.".into());
            }
            *m
        }
    };
    let lfsr = opts.compute_lfsr && matches!(opts.mode, Mode::Fixed(m) if m == 0.0);
    let (mean, second_moment, sd, lfsr) = normal::posterior(x, s, mu, 0.0, lfsr);
    Ok(EbnmFit {
        prior: Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![mu],
            sd: vec![0.0],
        },
        mean,
        second_moment,
        sd,
        lfsr,
        log_likelihood: normal::log_likelihood(x, s, mu, 0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_estimate_is_weighted_mean() {
        let x = [1.0, 2.0, 4.0];
        let s = [1.0, 2.0, 0.5];
        let opts = EbnmOptions {
            mode: Mode::Estimate,
            ..Default::default()
        };
        let fit = solve(&x, &s, &opts).unwrap();
        let w: Vec<f64> = s.iter().map(|v| 1.0 / (v * v)).collect();
        let mu = (x[0] * w[0] + x[1] * w[1] + x[2] * w[2]) / (w[0] + w[1] + w[2]);
        assert!(fit.mean.iter().all(|m| (m - mu).abs() < 1e-14));
        assert!(fit.sd.iter().all(|&v| v == 0.0));
        assert!(fit.lfsr.is_none());
    }

    #[test]
    fn fixed_mode_zero() {
        let fit = solve(&[1.0, -1.0], &[1.0, 1.0], &EbnmOptions::default()).unwrap();
        assert_eq!(fit.mean, vec![0.0, 0.0]);
        assert_eq!(fit.lfsr, Some(vec![1.0, 1.0]));
        let ll = 2.0 * (-crate::special::LN_SQRT_2PI - 0.5);
        assert!((fit.log_likelihood - ll).abs() < 1e-14);
    }

    #[test]
    fn refuses_bad_g_init() {
        let g = Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.0],
            sd: vec![1.0],
        };
        let opts = EbnmOptions {
            g_init: Some(g),
            ..Default::default()
        };
        assert!(solve(&[1.0], &[1.0], &opts).is_err());
    }
}
