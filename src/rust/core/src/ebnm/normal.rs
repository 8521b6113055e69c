//! Normal prior: `g = N(mu, sigma^2)` (ebnm's `normalmix` with one component).
//!
//! The marginal of an observation is `N(x_i; mu, s_i^2 + sigma^2)` and the
//! posterior is normal with mean `mu + (x_i - mu) sigma^2 / (sigma^2 + s_i^2)`
//! and variance `s_i^2 sigma^2 / (sigma^2 + s_i^2)`. As in ebnm (which treats
//! it as the point-normal family with no point mass), the likelihood is
//! maximised over `beta = log(sigma^2)` and, with `Mode::Estimate`, `mu`,
//! starting from `sigma^2 = mean(x^2)` and `mu = mean(x)`, on data divided by
//! the median of `s`. `Scale::Fixed(v)` fixes `sigma = v[0]` (0 is allowed: a
//! point mass).

use super::optim::{median, minimize_masked, BfgsControl};
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Prior, Scale};
use crate::special::{pnorm, LN_SQRT_2PI};

/// `sum_i log N(x_i; mu, s_i^2 + sigma2)`.
pub fn log_likelihood(x: &[f64], s: &[f64], mu: f64, sigma2: f64) -> f64 {
    x.iter()
        .zip(s)
        .map(|(&xi, &si)| {
            let v = si * si + sigma2;
            let r = xi - mu;
            -LN_SQRT_2PI - 0.5 * v.ln() - 0.5 * r * r / v
        })
        .sum()
}

/// Negative log-likelihood at `par = [beta, mu]` and its gradient.
fn nllik(x: &[f64], s: &[f64], par: &[f64], grad: &mut [f64]) -> f64 {
    let sigma2 = par[0].exp();
    let mu = par[1];
    let (mut f, mut gb, mut gm) = (0.0, 0.0, 0.0);
    for (&xi, &si) in x.iter().zip(s) {
        let v = si * si + sigma2;
        let r = xi - mu;
        f += LN_SQRT_2PI + 0.5 * v.ln() + 0.5 * r * r / v;
        // d/d sigma2 of -log N = 1/(2v) - r^2 / (2 v^2); times sigma2 for beta.
        gb += sigma2 * (0.5 / v - 0.5 * r * r / (v * v));
        gm -= r / v;
    }
    grad[0] = gb;
    grad[1] = gm;
    f
}

/// Posterior summaries under `N(mu, sigma2)`; lfsr as ebnm computes it
/// (`P(theta` has the other sign than its posterior mean`)`).
pub fn posterior(
    x: &[f64],
    s: &[f64],
    mu: f64,
    sigma2: f64,
    compute_lfsr: bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Option<Vec<f64>>) {
    let n = x.len();
    let mut mean = Vec::with_capacity(n);
    let mut m2 = Vec::with_capacity(n);
    let mut sd = Vec::with_capacity(n);
    let mut lfsr = Vec::with_capacity(if compute_lfsr { n } else { 0 });
    for (&xi, &si) in x.iter().zip(s) {
        let s2 = si * si;
        let (pm, pv) = if sigma2 <= 0.0 {
            (mu, 0.0)
        } else if sigma2.is_infinite() {
            (xi, s2)
        } else {
            // Shrinkage factor sigma2 / (sigma2 + s2), written to avoid overflow.
            let k = 1.0 / (1.0 + s2 / sigma2);
            (mu + (xi - mu) * k, s2 * k)
        };
        let psd = pv.max(0.0).sqrt();
        mean.push(pm);
        sd.push(psd);
        m2.push(pm * pm + psd * psd);
        if compute_lfsr {
            let l = if psd > 0.0 {
                pnorm(-pm.abs() / psd)
            } else if pm == 0.0 {
                1.0
            } else {
                0.0
            };
            lfsr.push(l.clamp(0.0, 1.0));
        }
    }
    (mean, m2, sd, if compute_lfsr { Some(lfsr) } else { None })
}

/// Fit `(mu, sigma^2)` as ebnm's normal family does.
pub fn fit(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<(f64, f64), EbnmError> {
    let n = x.len();
    if opts.fix_g && opts.g_init.is_none() {
        return Err("If g is fixed, then an initial g must be provided.".into());
    }
    let (mut beta, mut mu);
    match &opts.g_init {
        Some(Prior::NormalMix { pi, mean, sd }) => {
            if pi.len() != 1 || mean.len() != 1 || sd.len() != 1 {
                return Err("g_init does not have the correct number of components.".into());
            }
            if !(sd[0] >= 0.0 && sd[0].is_finite()) {
                return Err(
                    "The standard deviation of g_init must be nonnegative and finite.".into(),
                );
            }
            beta = 2.0 * sd[0].ln();
            mu = mean[0];
        }
        Some(_) => return Err("g_init must be NULL or an object of class normalmix.".into()),
        None => {
            beta = match &opts.scale {
                Scale::Fixed(v) => {
                    if v.len() != 1 {
                        return Err(
                            "Argument 'scale' must be either 'estimate' or a scalar.".into()
                        );
                    }
                    if !(v[0] >= 0.0 && v[0].is_finite()) {
                        return Err("Argument 'scale' must be nonnegative and finite.".into());
                    }
                    2.0 * v[0].ln()
                }
                Scale::Estimate => (x.iter().map(|v| v * v).sum::<f64>() / n as f64).ln(),
            };
            mu = match opts.mode {
                Mode::Fixed(m) => m,
                Mode::Estimate => x.iter().sum::<f64>() / n as f64,
            };
        }
    }
    if let Mode::Fixed(m) = opts.mode {
        if !m.is_finite() {
            return Err("Argument 'mode' must be either 'estimate' or a numeric value.".into());
        }
    }
    let free = if opts.fix_g {
        [false, false]
    } else {
        [
            matches!(opts.scale, Scale::Estimate),
            matches!(opts.mode, Mode::Estimate),
        ]
    };
    if free[0] || free[1] {
        let c = 1.0 / median(s);
        let xs: Vec<f64> = x.iter().map(|v| v * c).collect();
        let ss: Vec<f64> = s.iter().map(|v| v * c).collect();
        let mut b0 = beta + 2.0 * c.ln();
        if free[0] && !b0.is_finite() {
            // All x zero (or a zero starting sd): start at the noise level.
            b0 = 0.0;
        }
        let ctl = BfgsControl {
            grad_tol: 1e-10 * (n as f64).max(1.0),
            ..Default::default()
        };
        let start = [b0, mu * c];
        let (p, _, _) = minimize_masked(|p, g| nllik(&xs, &ss, p, g), &start, &free, &ctl);
        let (b_new, mu_new) = (p[0] - 2.0 * c.ln(), p[1] / c);
        let ll_new = log_likelihood(x, s, mu_new, b_new.exp());
        let ll_old = log_likelihood(x, s, mu, beta.exp());
        if ll_new >= ll_old || !ll_old.is_finite() {
            beta = b_new;
            mu = mu_new;
        }
    }
    Ok((mu, beta.exp()))
}

/// Fit the normal prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let (mu, sigma2) = fit(x, s, opts)?;
    let lfsr = opts.compute_lfsr && matches!(opts.mode, Mode::Fixed(m) if m == 0.0);
    let (mean, second_moment, sd, lfsr) = posterior(x, s, mu, sigma2, lfsr);
    Ok(EbnmFit {
        prior: Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![mu],
            sd: vec![sigma2.sqrt()],
        },
        mean,
        second_moment,
        sd,
        lfsr,
        log_likelihood: log_likelihood(x, s, mu, sigma2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posterior_mean_is_conjugate_shrinkage() {
        let g = Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.0],
            sd: vec![2.0],
        };
        let opts = EbnmOptions {
            g_init: Some(g),
            fix_g: true,
            ..Default::default()
        };
        let x = [1.5, -3.0, 0.2];
        let s = [1.0, 0.5, 3.0];
        let fit = solve(&x, &s, &opts).unwrap();
        for i in 0..3 {
            let k = 4.0 / (4.0 + s[i] * s[i]);
            assert!((fit.mean[i] - x[i] * k).abs() < 1e-14);
            assert!((fit.sd[i] - (s[i] * s[i] * k).sqrt()).abs() < 1e-14);
        }
    }

    #[test]
    fn homoskedastic_mle_is_closed_form() {
        // With s constant and mode 0 the MLE is sigma^2 = mean(x^2) - s^2.
        let x: Vec<f64> = (0..100).map(|i| 3.0 * ((i as f64) * 0.71).sin()).collect();
        let s = vec![1.0; 100];
        let fit = solve(&x, &s, &EbnmOptions::default()).unwrap();
        let m2 = x.iter().map(|v| v * v).sum::<f64>() / 100.0;
        let Prior::NormalMix { sd, .. } = &fit.prior else {
            panic!()
        };
        assert!(
            (sd[0] * sd[0] - (m2 - 1.0)).abs() < 1e-7,
            "{} vs {}",
            sd[0] * sd[0],
            m2 - 1.0
        );
        // With the mode estimated as well: mu = mean(x), sigma^2 = var(x) - s^2.
        let opts = EbnmOptions {
            mode: Mode::Estimate,
            ..Default::default()
        };
        let fit = solve(&x, &s, &opts).unwrap();
        let mean = x.iter().sum::<f64>() / 100.0;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 100.0;
        let Prior::NormalMix { sd, mean: mu, .. } = &fit.prior else {
            panic!()
        };
        assert!((mu[0] - mean).abs() < 1e-7);
        assert!((sd[0] * sd[0] - (var - 1.0)).abs() < 1e-7);
        assert!(fit.lfsr.is_none());
    }

    #[test]
    fn fixed_scale_and_degenerate_inputs() {
        let opts = EbnmOptions {
            scale: Scale::Fixed(vec![0.5]),
            ..Default::default()
        };
        let fit = solve(&[1.0], &[1.0], &opts).unwrap();
        assert!((fit.mean[0] - 0.2).abs() < 1e-15);
        let fit = solve(&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0], &EbnmOptions::default()).unwrap();
        assert!(fit.mean.iter().all(|m| m.abs() < 1e-6));
        assert!(fit.log_likelihood.is_finite());
    }
}
