//! Horseshoe prior (ebnm's `horseshoe` class): `theta | lambda ~ N(0,
//! scale^2 lambda^2)`, `lambda ~ Cauchy+(0, 1)`, with homoskedastic errors
//! `s`. ebnm (via the `horseshoe` package) writes everything in terms of
//! `tau = scale / s` and the shrinkage factor `kappa = 1 / (1 + tau^2
//! lambda^2)`, whose posterior given `x` has density proportional to
//!
//! `(1 - kappa)^(-1/2) (1 + (tau^2 - 1) kappa)^(-1) exp(-kappa x^2 / (2 s^2))`
//!
//! on `(0, 1)`. With `I_k = int kappa^k (...) dkappa`:
//!
//! * marginal: `log p(x) = log I_0 + log tau - (3/2) log(pi) - log(2)/2 - log s`,
//! * posterior mean `x (1 - I_1 / I_0)`,
//! * posterior variance `s^2 (1 - E kappa) + x^2 Var(kappa)`.
//!
//! The integrals are computed by adaptive Gauss-Kronrod quadrature after the
//! substitution `kappa = 1 - v^2`, which removes the `(1 - kappa)^(-1/2)`
//! singularity. With `Scale::Estimate`, `tau` maximises the marginal
//! likelihood over `[1/n, 1]` by R's `optimize()` (reproduced step for step by
//! [`brent_fmin`]), as ebnm does.
//!
//! Differences from ebnm: ebnm does not report lfsr for this family (it
//! warns); here the lfsr `E[Phi(-|x| sqrt(1 - kappa) / s) | x]` is computed
//! when asked for. ebnm's variance formula divides by `x` and is `NaN` at
//! `x = 0`; the formula used here is the same quantity without the division.

use super::optim::{brent_fmin, R_OPTIMIZE_TOL};
use super::truncnorm::open_unit;
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Prior, Scale};
use crate::special::pnorm;
use std::f64::consts::{LN_2, PI};

/// Gauss-Kronrod 15-point nodes (non-negative half) and weights; the Gauss
/// 7-point rule uses the odd-indexed nodes.
#[allow(clippy::excessive_precision)]
const XGK: [f64; 8] = [
    0.991_455_371_120_812_639_206_854_697_526_329,
    0.949_107_912_342_758_524_526_189_684_047_851,
    0.864_864_423_359_769_072_789_712_788_640_926,
    0.741_531_185_599_394_439_863_864_773_280_788,
    0.586_087_235_467_691_130_294_144_845_693_013,
    0.405_845_151_377_397_166_906_606_412_076_961,
    0.207_784_955_007_898_467_600_689_403_773_245,
    0.0,
];
#[allow(clippy::excessive_precision)]
const WGK: [f64; 8] = [
    0.022_935_322_010_529_224_963_732_008_058_970,
    0.063_092_092_629_978_553_290_700_663_189_204,
    0.104_790_010_322_250_183_839_876_322_541_518,
    0.140_653_259_715_525_918_745_189_590_510_238,
    0.169_004_726_639_267_902_826_583_426_598_550,
    0.190_350_578_064_785_409_913_256_402_421_014,
    0.204_432_940_075_298_892_414_161_999_234_649,
    0.209_482_141_084_727_828_012_999_174_891_714,
];
#[allow(clippy::excessive_precision)]
const WG: [f64; 4] = [
    0.129_484_966_168_869_693_270_611_432_679_082,
    0.279_705_391_489_276_667_901_467_771_423_780,
    0.381_830_050_505_118_944_950_369_775_488_975,
    0.417_959_183_673_469_387_755_102_040_816_327,
];

/// One Gauss-Kronrod panel of a vector integrand: (Kronrod estimate, error
/// estimate), componentwise.
fn gk15<const K: usize>(f: &impl Fn(f64) -> [f64; K], a: f64, b: f64) -> ([f64; K], [f64; K]) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut rk = [0.0; K];
    let mut rg = [0.0; K];
    for k in 0..K {
        rk[k] = WGK[7] * fc[k];
        rg[k] = WG[3] * fc[k];
    }
    for j in 0..7 {
        let dx = h * XGK[j];
        let f1 = f(c - dx);
        let f2 = f(c + dx);
        for k in 0..K {
            let sum = f1[k] + f2[k];
            rk[k] += WGK[j] * sum;
            if j % 2 == 1 {
                rg[k] += WG[j / 2] * sum;
            }
        }
    }
    let mut err = [0.0; K];
    for k in 0..K {
        rk[k] *= h;
        rg[k] *= h;
        err[k] = (rk[k] - rg[k]).abs();
    }
    (rk, err)
}

/// Adaptive integration of a non-negative vector integrand over the
/// partition `breaks` (sorted), to relative accuracy `rel_tol` in every
/// component.
#[allow(clippy::needless_range_loop)]
fn integrate<const K: usize>(
    f: &impl Fn(f64) -> [f64; K],
    breaks: &[f64],
    rel_tol: f64,
) -> [f64; K] {
    let mut panels: Vec<(f64, f64, [f64; K], [f64; K])> = breaks
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| {
            let (v, e) = gk15(f, w[0], w[1]);
            (w[0], w[1], v, e)
        })
        .collect();
    for _ in 0..2000 {
        let mut total = [0.0; K];
        let mut err = [0.0; K];
        for p in &panels {
            for k in 0..K {
                total[k] += p.2[k];
                err[k] += p.3[k];
            }
        }
        let ok = (0..K).all(|k| err[k] <= rel_tol * total[k].abs() || err[k] <= 1e-300);
        if ok {
            return total;
        }
        // Split the panel with the largest relative error contribution.
        let worst = (0..panels.len())
            .max_by(|&i, &j| {
                let score = |p: &(f64, f64, [f64; K], [f64; K])| {
                    (0..K)
                        .map(|k| p.3[k] / total[k].abs().max(1e-300))
                        .fold(0.0, f64::max)
                };
                score(&panels[i]).total_cmp(&score(&panels[j]))
            })
            .expect("at least one panel");
        let (a, b, _, _) = panels.swap_remove(worst);
        let m = 0.5 * (a + b);
        if !(m > a && m < b) {
            // Cannot split further at double precision.
            panels.push((a, b, gk15(f, a, b).0, [0.0; K]));
            continue;
        }
        let (v1, e1) = gk15(f, a, m);
        let (v2, e2) = gk15(f, m, b);
        panels.push((a, m, v1, e1));
        panels.push((m, b, v2, e2));
    }
    let mut total = [0.0; K];
    for p in &panels {
        for k in 0..K {
            total[k] += p.2[k];
        }
    }
    total
}

/// Breakpoints in `v` (`kappa = 1 - v^2`) near the integrand's features:
/// the peak at `v ~ tau`, the decay `exp(-z (1 - v^2))` within `~1/z` of
/// `v = 1`, and the lfsr factor's step at `v ~ 1 / sqrt(2 z)`.
fn breakpoints(tau: f64, z: f64) -> Vec<f64> {
    let mut b = vec![0.0, 1.0];
    let mults = [0.1, 1.0, 10.0];
    for &m in &mults {
        b.push(tau * m);
        if z > 0.0 {
            b.push(1.0 - m / z);
            b.push(m / (2.0 * z).sqrt());
        }
    }
    let mut b: Vec<f64> = b
        .into_iter()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v <= 1.0)
        .collect();
    b.sort_by(|x, y| x.total_cmp(y));
    b.dedup();
    b
}

/// `(1 - v^2)` computed accurately near `v = 1`.
#[inline]
fn one_minus_v2(v: f64) -> f64 {
    (1.0 - v) * (1.0 + v)
}

/// Density of `v` (up to the factor `tau / (pi sqrt(2 pi) s)`):
/// `2 exp(-z kappa) / (tau^2 + (1 - tau^2) v^2)` with `kappa = 1 - v^2`.
#[inline]
fn v_density(v: f64, tau2: f64, z: f64) -> f64 {
    let kappa = one_minus_v2(v);
    2.0 * (-z * kappa).exp() / (tau2 * kappa + v * v)
}

/// `log I_0` for one observation.
fn ln_i0(x: f64, s: f64, tau: f64) -> f64 {
    let z = 0.5 * (x / s) * (x / s);
    let tau2 = tau * tau;
    let f = |v: f64| [v_density(v, tau2, z)];
    integrate(&f, &breakpoints(tau, z), 1e-11)[0].ln()
}

/// ebnm's objective `sum_i (log I_0(x_i) + log tau)`.
fn mmle_objective(x: &[f64], s: f64, tau: f64) -> f64 {
    x.iter().map(|&xi| ln_i0(xi, s, tau) + tau.ln()).sum()
}

/// `sum_i log p(x_i)` under the horseshoe with global scale `scale` (= `tau
/// s`) and error sd `s`.
pub fn log_likelihood(x: &[f64], s: f64, scale: f64) -> f64 {
    let tau = scale / s;
    let n = x.len() as f64;
    mmle_objective(x, s, tau) - 1.5 * n * PI.ln() - 0.5 * n * LN_2 - n * s.ln()
}

/// Posterior `(mean, variance, lfsr)` for one observation.
pub fn posterior_one(x: f64, s: f64, tau: f64) -> (f64, f64, f64) {
    let y = x / s;
    let z = 0.5 * y * y;
    let tau2 = tau * tau;
    let ay = y.abs();
    let f = |v: f64| {
        let d = v_density(v, tau2, z);
        let kappa = one_minus_v2(v);
        [d, d * kappa, d * kappa * kappa, d * pnorm(-ay * v)]
    };
    let r = integrate(&f, &breakpoints(tau, z), 1e-11);
    let ek = (r[1] / r[0]).clamp(0.0, 1.0);
    let ek2 = (r[2] / r[0]).clamp(0.0, 1.0);
    let var_k = (ek2 - ek * ek).max(0.0);
    let mean = x * (1.0 - ek);
    let var = s * s * (1.0 - ek) + x * x * var_k;
    let lfsr = (r[3] / r[0]).clamp(0.0, 1.0);
    (mean, var.max(0.0), lfsr)
}

/// Whether ebnm considers `s` homoskedastic (`all.equal` of the extremes
/// relative to the mean, tolerance 1.5e-8); returns the common value.
fn common_s(s: &[f64]) -> Option<f64> {
    let mean = s.iter().sum::<f64>() / s.len() as f64;
    let lo = s.iter().copied().fold(f64::INFINITY, f64::min) / mean;
    let hi = s.iter().copied().fold(f64::NEG_INFINITY, f64::max) / mean;
    if (hi - lo).abs() / lo.abs() <= 1.5e-8 {
        Some(s[0])
    } else {
        None
    }
}

/// Fit the horseshoe prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let Some(s0) = common_s(s) else {
        return Err("The horseshoe prior family requires homoskedastic standard errors.".into());
    };
    if opts.mode != Mode::Fixed(0.0) {
        return Err(
            "Nonzero modes have not yet been implemented for the horseshoe prior family.".into(),
        );
    }
    // The integrals over the shrinkage factor underflow for observations
    // extremely far from zero; say so rather than return NaN.
    if x.iter().any(|v| (v / s0).abs() > 1e8) {
        return Err("Argument 'x' has observations more than 1e8 standard errors from zero, beyond the range where the horseshoe's integrals can be computed; use another prior family or rescale.".into());
    }
    if opts.fix_g && opts.g_init.is_none() {
        return Err("If g is fixed, then an initial g must be provided.".into());
    }
    let g_scale = match &opts.g_init {
        Some(Prior::Horseshoe { scale }) => Some(*scale),
        Some(_) => return Err("g_init must be NULL or an object of class horseshoe.".into()),
        None => None,
    };
    let fixed_scale = if opts.fix_g {
        g_scale
    } else {
        match &opts.scale {
            Scale::Estimate => None,
            Scale::Fixed(v) => {
                if v.len() != 1 {
                    return Err("Argument 'scale' must be either 'estimate' or a scalar.".into());
                }
                Some(v[0])
            }
        }
    };
    let tau = match fixed_scale {
        Some(sc) => {
            if !(sc > 0.0 && sc.is_finite()) {
                return Err("The horseshoe scale must be positive and finite.".into());
            }
            sc / s0
        }
        None => {
            // The scale is searched on [1/n, 1] (as ebnm does), which is
            // empty for a single observation.
            if x.len() < 2 {
                return Err(
                    "The horseshoe prior needs at least two observations to estimate its scale; fix the scale instead."
                        .into(),
                );
            }
            let n = x.len() as f64;
            brent_fmin(|t| -mmle_objective(x, s0, t), 1.0 / n, 1.0, R_OPTIMIZE_TOL)
                .map_err(EbnmError)?
        }
    };
    let scale = tau * s0;
    let n = x.len();
    let mut mean = Vec::with_capacity(n);
    let mut sd = Vec::with_capacity(n);
    let mut m2 = Vec::with_capacity(n);
    let mut lfsr = Vec::with_capacity(n);
    for &xi in x {
        let (m, v, l) = posterior_one(xi, s0, tau);
        mean.push(m);
        sd.push(v.sqrt());
        m2.push(m * m + v);
        lfsr.push(l);
    }
    Ok(EbnmFit {
        prior: Prior::Horseshoe { scale },
        mean,
        second_moment: m2,
        sd,
        lfsr: opts.compute_lfsr.then_some(lfsr),
        log_likelihood: log_likelihood(x, s0, scale),
    })
}

/// Draw one posterior sample of `theta` given `x` (error sd `s`) under the
/// horseshoe with global scale `scale`, from uniforms: `kappa` by numerical
/// inversion of its posterior CDF (trapezoid rule on a grid in `v` refined
/// near the integrand's features), then `theta | kappa ~ N((1 - kappa) x,
/// s^2 (1 - kappa))`.
pub fn sample_posterior(scale: f64, x: f64, s: f64, unif: &mut dyn FnMut() -> f64) -> f64 {
    let tau = scale / s;
    let y = x / s;
    let z = 0.5 * y * y;
    let tau2 = tau * tau;
    // Grid: each interval between breakpoints split into equal steps.
    let breaks = breakpoints(tau, z);
    let mut grid = Vec::with_capacity(breaks.len() * 32 + 1);
    for w in breaks.windows(2) {
        for j in 0..32 {
            grid.push(w[0] + (w[1] - w[0]) * j as f64 / 32.0);
        }
    }
    grid.push(1.0);
    let dens: Vec<f64> = grid.iter().map(|&v| v_density(v, tau2, z)).collect();
    let mut cdf = Vec::with_capacity(grid.len());
    cdf.push(0.0);
    for i in 1..grid.len() {
        let last = cdf[i - 1];
        cdf.push(last + 0.5 * (dens[i] + dens[i - 1]) * (grid[i] - grid[i - 1]));
    }
    let total = *cdf.last().expect("non-empty grid");
    let target = open_unit(unif()) * total;
    let i = cdf
        .partition_point(|&c| c < target)
        .clamp(1, grid.len() - 1);
    // Invert the piecewise-linear density exactly on [grid[i-1], grid[i]].
    let (v0, v1) = (grid[i - 1], grid[i]);
    let (d0, d1) = (dens[i - 1], dens[i]);
    let need = target - cdf[i - 1];
    let h = v1 - v0;
    let slope = (d1 - d0) / h;
    let dv = if slope.abs() * h < 1e-12 * d0.max(1e-300) {
        need / d0.max(1e-300)
    } else {
        // Solve d0 t + slope t^2 / 2 = need for t in [0, h].
        let disc = (d0 * d0 + 2.0 * slope * need).max(0.0);
        2.0 * need / (d0 + disc.sqrt())
    };
    let v = (v0 + dv.clamp(0.0, h)).clamp(0.0, 1.0);
    let shrink = v * v; // 1 - kappa
    let zdraw = super::truncnorm::qnorm(open_unit(unif()));
    shrink * x + s * v * zdraw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kronrod_rule_is_exact_for_polynomials() {
        let f = |v: f64| [v.powi(20), v.powi(13)];
        let (r, e) = gk15(&f, 0.0, 1.0);
        assert!((r[0] - 1.0 / 21.0).abs() < 1e-15);
        assert!((r[1] - 1.0 / 14.0).abs() < 1e-15);
        assert!(e[1] < 1e-15, "Gauss 7 is exact to degree 13");
    }

    #[test]
    fn posterior_mean_limits() {
        // Large |x|: almost no shrinkage, mean ~ x - s^2 / x * ... ; small tau:
        // strong shrinkage of small x.
        let (m, v, l) = posterior_one(1e3, 1.0, 0.1);
        assert!((m - 1e3).abs() < 0.01, "{m}");
        assert!((v - 1.0).abs() < 0.01, "{v}");
        assert!(l < 1e-100);
        let (m, v, l) = posterior_one(0.5, 1.0, 1e-4);
        assert!(m.abs() < 1e-3 && v < 1e-2 && l > 0.4, "{m} {v} {l}");
        let (m, v, l) = posterior_one(0.0, 1.0, 0.5);
        assert_eq!(m, 0.0);
        assert!(v > 0.0 && (l - 0.5).abs() < 1e-12);
        // Tiny and huge s with x/s fixed give the same standardised answer.
        let (m1, v1, _) = posterior_one(2.0e-8, 1e-8, 0.3);
        let (m2, v2, _) = posterior_one(2.0e8, 1e8, 0.3);
        assert!((m1 / 1e-8 - m2 / 1e8).abs() < 1e-10);
        assert!((v1 / 1e-16 - v2 / 1e16).abs() < 1e-10);
    }

    #[test]
    fn marginal_matches_direct_integration_over_lambda() {
        // p(x) = int N(x; 0, s^2 + scale^2 l^2) 2 / (pi (1 + l^2)) dl,
        // by the substitution l = tan(u).
        let (x, s, scale) = (1.3, 0.8, 0.5);
        let m = 2_000_000;
        let mut tot = 0.0;
        for i in 0..m {
            let u = (i as f64 + 0.5) / m as f64 * (PI / 2.0);
            let l = u.tan();
            let v = s * s + scale * scale * l * l;
            tot += (-0.5 * x * x / v).exp() / (2.0 * PI * v).sqrt() * 2.0 / PI;
        }
        tot *= PI / 2.0 / m as f64;
        let ours = log_likelihood(&[x], s, scale);
        assert!((ours - tot.ln()).abs() < 1e-6, "{ours} vs {}", tot.ln());
    }

    #[test]
    fn refuses_heteroskedastic_and_nonzero_mode() {
        let err = solve(&[1.0, 2.0], &[1.0, 2.0], &EbnmOptions::default()).unwrap_err();
        assert_eq!(
            err.0,
            "The horseshoe prior family requires homoskedastic standard errors."
        );
        let opts = EbnmOptions {
            mode: Mode::Estimate,
            ..Default::default()
        };
        assert!(solve(&[1.0, 2.0], &[1.0, 1.0], &opts).is_err());
    }
}
