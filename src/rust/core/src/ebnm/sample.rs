//! Posterior sampling for one observation under a fitted prior, driven only
//! by a supply of uniform draws on `(0, 1)` (so the R side can feed R's RNG).
//!
//! For mixture priors a component is chosen first (one uniform) with its
//! posterior probability, then the effect is drawn from that component's
//! posterior by inversion (one or two more uniforms):
//!
//! * `NormalMix`: normal posteriors (point masses for `sd = 0`; a flat
//!   component `sd = Inf` gives `N(x, s^2)`);
//! * `LaplaceMix`: a Laplace component's posterior is a two-piece truncated
//!   normal (`N(x - s^2 a, s^2)` above the mode, `N(x + s^2 a, s^2)` below);
//! * `GammaMix`: shape-1 (exponential) components give `N(x - s^2 a, s^2)`
//!   truncated above the shift; other shapes are handled by numerical
//!   inversion on a grid;
//! * `TNormalMix`: truncated normal posteriors;
//! * `UniMix`: `N(x, s^2)` truncated to the component's interval;
//! * `Horseshoe`: numerical inversion of the shrinkage factor's posterior on a
//!   grid, then a normal draw (see [`super::horseshoe::sample_posterior`]).

use super::horseshoe;
use super::truncnorm::{ln_mills, ln_pnorm_diff, open_unit, qnorm, rtruncnorm};
use super::Prior;
use crate::special::{ln_dnorm, ln_dnorm_ms, log_add_exp, log_sum_exp};

/// Pick an index with probabilities proportional to `exp(logw)`.
fn pick(logw: &[f64], u: f64) -> usize {
    let tot = log_sum_exp(logw);
    if !tot.is_finite() {
        // No component explains x (all weights underflow): take the largest.
        return (0..logw.len())
            .max_by(|&i, &j| logw[i].total_cmp(&logw[j]))
            .unwrap_or(0);
    }
    let mut acc = 0.0;
    let target = open_unit(u);
    for (k, &lw) in logw.iter().enumerate() {
        acc += (lw - tot).exp();
        if target < acc {
            return k;
        }
    }
    // Rounding: the last component with positive weight.
    (0..logw.len())
        .rev()
        .find(|&k| logw[k] > f64::NEG_INFINITY)
        .unwrap_or(0)
}

fn normal_draw(mean: f64, sd: f64, u: f64) -> f64 {
    if sd > 0.0 {
        mean + sd * qnorm(open_unit(u))
    } else {
        mean
    }
}

/// Log marginal of `x` under `Laplace(mean, 1/a)` (relative to nothing:
/// a proper density in `x`) and the posterior probability of being above
/// the mean.
fn laplace_parts(x: f64, s: f64, mean: f64, a: f64) -> (f64, f64) {
    let t = (x - mean) / s;
    let b = s * a;
    let l1 = ln_mills(b - t);
    let l2 = ln_mills(b + t);
    let lsum = log_add_exp(l1, l2);
    ((0.5 * a).ln() + ln_dnorm(t) + lsum, (l1 - lsum).exp())
}

/// Log marginal of `x` under `shift + Exp(rate a)`.
fn exponential_part(x: f64, s: f64, shift: f64, a: f64) -> f64 {
    let t = (x - shift) / s;
    a.ln() + ln_dnorm(t) + ln_mills(s * a - t)
}

/// Unnormalised log posterior density of `theta - shift` for a gamma slab.
fn gamma_log_post(d: f64, x: f64, s: f64, shift: f64, shape: f64, scale: f64) -> f64 {
    if d <= 0.0 {
        return f64::NEG_INFINITY;
    }
    (shape - 1.0) * d.ln() - d / scale - 0.5 * ((x - shift - d) / s).powi(2)
}

/// Grid for a gamma slab posterior: covers both the prior bulk and the
/// likelihood bulk. Returns (grid, log density).
fn gamma_grid(x: f64, s: f64, shift: f64, shape: f64, scale: f64) -> (Vec<f64>, Vec<f64>) {
    let hi = ((x - shift).max(0.0) + 40.0 * s).max(shape * scale + 40.0 * shape.sqrt() * scale);
    let m = 1000;
    let mut grid = Vec::with_capacity(2 * m + 1);
    // Geometric from hi * 1e-15 up to the first uniform step (resolves a
    // shape < 1 singularity at zero), then uniform up to hi.
    let first = hi / m as f64;
    let mut v = hi * 1e-15;
    let ratio = (first / v).powf(1.0 / m as f64);
    for _ in 0..m {
        grid.push(v);
        v *= ratio;
    }
    for j in 1..=m {
        grid.push(first * j as f64);
    }
    // Dense where the likelihood is, which may be narrow compared with hi.
    let centre = x - shift;
    let (a, b) = ((centre - 12.0 * s).max(0.0), (centre + 12.0 * s).max(0.0));
    if b > a {
        for j in 0..=400 {
            grid.push(a + (b - a) * j as f64 / 400.0);
        }
        grid.retain(|&v| v > 0.0);
        grid.sort_by(|p, q| p.total_cmp(q));
        grid.dedup();
    }
    let ld: Vec<f64> = grid
        .iter()
        .map(|&d| gamma_log_post(d, x, s, shift, shape, scale))
        .collect();
    (grid, ld)
}

/// Log of the marginal `int Gamma(d; shape, scale) N(x - shift; d, s^2) dd`
/// on the grid (trapezoid rule).
fn gamma_marginal(grid: &[f64], ld: &[f64], s: f64, shape: f64, scale: f64) -> f64 {
    let m = ld.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut tot = 0.0;
    for i in 1..grid.len() {
        tot += 0.5 * ((ld[i] - m).exp() + (ld[i - 1] - m).exp()) * (grid[i] - grid[i - 1]);
    }
    // Normalising constants of the gamma density and the normal kernel.
    let ln_gamma_norm = -statrs::function::gamma::ln_gamma(shape) - shape * scale.ln();
    m + tot.ln() + ln_gamma_norm - crate::special::LN_SQRT_2PI - s.ln()
}

fn gamma_draw(grid: &[f64], ld: &[f64], u: f64) -> f64 {
    let m = ld.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut cdf = vec![0.0; grid.len()];
    for i in 1..grid.len() {
        cdf[i] = cdf[i - 1]
            + 0.5 * ((ld[i] - m).exp() + (ld[i - 1] - m).exp()) * (grid[i] - grid[i - 1]);
    }
    let target = open_unit(u) * cdf[grid.len() - 1];
    let i = cdf
        .partition_point(|&c| c < target)
        .clamp(1, grid.len() - 1);
    let frac = if cdf[i] > cdf[i - 1] {
        (target - cdf[i - 1]) / (cdf[i] - cdf[i - 1])
    } else {
        0.5
    };
    grid[i - 1] + frac.clamp(0.0, 1.0) * (grid[i] - grid[i - 1])
}

/// Draw one sample of `theta` from its posterior given `x` (standard error
/// `s`) under `prior`, using uniforms from `unif`.
pub fn sample_posterior(prior: &Prior, x: f64, s: f64, unif: &mut dyn FnMut() -> f64) -> f64 {
    match prior {
        Prior::NormalMix { pi, mean, sd } => {
            if sd.iter().any(|v| v.is_infinite()) {
                // A flat component dominates every proper one.
                return normal_draw(x, s, unif());
            }
            let logw: Vec<f64> = (0..pi.len())
                .map(|k| pi[k].ln() + ln_dnorm_ms(x, mean[k], (s * s + sd[k] * sd[k]).sqrt()))
                .collect();
            let k = pick(&logw, unif());
            if sd[k] == 0.0 {
                return mean[k];
            }
            let v = 1.0 / (1.0 / (sd[k] * sd[k]) + 1.0 / (s * s));
            let pm = v * (mean[k] / (sd[k] * sd[k]) + x / (s * s));
            normal_draw(pm, v.sqrt(), unif())
        }
        Prior::LaplaceMix { pi, mean, scale } => {
            let mut lam = vec![0.5; pi.len()];
            let logw: Vec<f64> = (0..pi.len())
                .map(|k| {
                    if scale[k] == 0.0 {
                        pi[k].ln() + ln_dnorm_ms(x, mean[k], s)
                    } else {
                        let (lm, l) = laplace_parts(x, s, mean[k], 1.0 / scale[k]);
                        lam[k] = l;
                        pi[k].ln() + lm
                    }
                })
                .collect();
            let k = pick(&logw, unif());
            if scale[k] == 0.0 {
                return mean[k];
            }
            let a = 1.0 / scale[k];
            let up = open_unit(unif()) < lam[k];
            let u = unif();
            if up {
                rtruncnorm(x - s * s * a, s, mean[k], f64::INFINITY, u)
            } else {
                rtruncnorm(x + s * s * a, s, f64::NEG_INFINITY, mean[k], u)
            }
        }
        Prior::GammaMix {
            pi,
            shape,
            scale,
            shift,
        } => {
            let mut grids: Vec<Option<(Vec<f64>, Vec<f64>)>> = vec![None; pi.len()];
            let logw: Vec<f64> = (0..pi.len())
                .map(|k| {
                    if scale[k] == 0.0 {
                        pi[k].ln() + ln_dnorm_ms(x, shift[k], s)
                    } else if shape[k] == 1.0 {
                        pi[k].ln() + exponential_part(x, s, shift[k], 1.0 / scale[k])
                    } else {
                        let (g, ld) = gamma_grid(x, s, shift[k], shape[k], scale[k]);
                        let lm = gamma_marginal(&g, &ld, s, shape[k], scale[k]);
                        grids[k] = Some((g, ld));
                        pi[k].ln() + lm
                    }
                })
                .collect();
            let k = pick(&logw, unif());
            if scale[k] == 0.0 {
                return shift[k];
            }
            if shape[k] == 1.0 {
                let a = 1.0 / scale[k];
                return rtruncnorm(x - s * s * a, s, shift[k], f64::INFINITY, unif());
            }
            let (g, ld) = grids[k].as_ref().expect("grid built above");
            shift[k] + gamma_draw(g, ld, unif())
        }
        Prior::TNormalMix { pi, mean, sd, a, b } => {
            let mut post = vec![(0.0, 0.0); pi.len()];
            let logw: Vec<f64> = (0..pi.len())
                .map(|k| {
                    if sd[k] == 0.0 {
                        return pi[k].ln() + ln_dnorm_ms(x, mean[k], s);
                    }
                    let v = 1.0 / (1.0 / (sd[k] * sd[k]) + 1.0 / (s * s));
                    let pm = v * (mean[k] / (sd[k] * sd[k]) + x / (s * s));
                    let psd = v.sqrt();
                    post[k] = (pm, psd);
                    pi[k].ln()
                        + ln_dnorm_ms(x, mean[k], (sd[k] * sd[k] + s * s).sqrt())
                        + ln_pnorm_diff((a[k] - pm) / psd, (b[k] - pm) / psd)
                        - ln_pnorm_diff((a[k] - mean[k]) / sd[k], (b[k] - mean[k]) / sd[k])
                })
                .collect();
            let k = pick(&logw, unif());
            if sd[k] == 0.0 {
                return mean[k];
            }
            let (pm, psd) = post[k];
            rtruncnorm(pm, psd, a[k], b[k], unif())
        }
        Prior::UniMix { pi, a, b } => {
            let logw: Vec<f64> = (0..pi.len())
                .map(|k| {
                    if a[k] == b[k] {
                        pi[k].ln() + ln_dnorm_ms(x, a[k], s)
                    } else {
                        pi[k].ln() - (b[k] - a[k]).ln()
                            + ln_pnorm_diff((a[k] - x) / s, (b[k] - x) / s)
                    }
                })
                .collect();
            let k = pick(&logw, unif());
            if a[k] == b[k] {
                return a[k];
            }
            rtruncnorm(x, s, a[k], b[k], unif())
        }
        Prior::Horseshoe { scale } => horseshoe::sample_posterior(*scale, x, s, unif),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebnm::{ebnm, EbnmOptions, PriorFamily};

    /// splitmix64 uniforms in (0, 1).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
    }

    /// Check 20000 draws against the posterior mean and second moment
    /// (within 5 Monte Carlo standard errors).
    fn check(family: PriorFamily, prior: Prior, x: f64, s: f64) {
        let opts = EbnmOptions {
            g_init: Some(prior.clone()),
            fix_g: true,
            ..Default::default()
        };
        let fit = ebnm(family, &[x], &[s], &opts).unwrap();
        let (m, m2) = (fit.mean[0], fit.second_moment[0]);
        let mut rng = Rng(12345 + (x.to_bits() >> 7));
        let n = 20000;
        let draws: Vec<f64> = (0..n)
            .map(|_| sample_posterior(&prior, x, s, &mut || rng.next()))
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let sq: Vec<f64> = draws.iter().map(|d| d * d).collect();
        let mean2 = sq.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / n as f64;
        let var2 = sq.iter().map(|d| (d - mean2).powi(2)).sum::<f64>() / n as f64;
        let se = (var / n as f64).sqrt().max(1e-12);
        let se2 = (var2 / n as f64).sqrt().max(1e-12);
        assert!(
            (mean - m).abs() < 5.0 * se,
            "{family:?} x={x}: mean {mean} vs {m} (se {se})"
        );
        assert!(
            (mean2 - m2).abs() < 5.0 * se2,
            "{family:?} x={x}: m2 {mean2} vs {m2} (se {se2})"
        );
    }

    #[test]
    fn point_laplace_draws_match_moments() {
        let g = Prior::LaplaceMix {
            pi: vec![0.6, 0.4],
            mean: vec![0.0, 0.0],
            scale: vec![0.0, 1.5],
        };
        for &x in &[0.2, -1.0, 3.5] {
            check(PriorFamily::PointLaplace, g.clone(), x, 1.0);
        }
    }

    #[test]
    fn point_exponential_draws_match_moments() {
        let g = Prior::GammaMix {
            pi: vec![0.5, 0.5],
            shape: vec![1.0, 1.0],
            scale: vec![0.0, 2.0],
            shift: vec![0.0, 0.0],
        };
        for &x in &[-1.0, 0.5, 4.0] {
            check(PriorFamily::PointExponential, g.clone(), x, 0.8);
        }
    }

    #[test]
    fn generalized_binary_draws_match_moments() {
        let g = Prior::TNormalMix {
            pi: vec![0.7, 0.3],
            mean: vec![0.0, 2.0],
            sd: vec![0.0, 0.2],
            a: vec![f64::NEG_INFINITY, 0.0],
            b: vec![f64::INFINITY, f64::INFINITY],
        };
        for &x in &[0.3, 1.5, 2.5] {
            check(PriorFamily::GeneralizedBinary, g.clone(), x, 0.5);
        }
    }

    #[test]
    fn normal_and_point_mass_draws_match_moments() {
        let g = Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.5],
            sd: vec![1.3],
        };
        check(PriorFamily::Normal, g, 2.0, 0.7);
        let g = Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.5],
            sd: vec![0.0],
        };
        check(PriorFamily::PointMass, g, 2.0, 0.7);
        let g = Prior::NormalMix {
            pi: vec![1.0],
            mean: vec![0.0],
            sd: vec![f64::INFINITY],
        };
        check(PriorFamily::Flat, g, 2.0, 0.7);
    }

    #[test]
    fn horseshoe_draws_match_moments() {
        for &x in &[0.3, 2.0, 5.0] {
            check(
                PriorFamily::Horseshoe,
                Prior::Horseshoe { scale: 0.3 },
                x,
                1.0,
            );
        }
    }

    #[test]
    fn draws_are_finite_in_the_far_tail() {
        let mut rng = Rng(7);
        let g = Prior::LaplaceMix {
            pi: vec![0.5, 0.5],
            mean: vec![0.0, 0.0],
            scale: vec![0.0, 1.0],
        };
        for &x in &[-1e3, 1e3] {
            let d = sample_posterior(&g, x, 1.0, &mut || rng.next());
            assert!(d.is_finite() && (d - x).abs() < 10.0, "{d}");
        }
        let g = Prior::GammaMix {
            pi: vec![1.0],
            shape: vec![1.0],
            scale: vec![1.0],
            shift: vec![0.0],
        };
        let d = sample_posterior(&g, -1e3, 1.0, &mut || rng.next());
        assert!((0.0..0.1).contains(&d), "{d}");
    }

    #[test]
    fn gamma_shape_two_draws_match_quadrature() {
        // Posterior mean of theta ~ Gamma(2, 1) given x = 1, s = 1.
        let g = Prior::GammaMix {
            pi: vec![1.0],
            shape: vec![2.0],
            scale: vec![1.0],
            shift: vec![0.0],
        };
        let mut rng = Rng(99);
        let n = 20000;
        let draws: Vec<f64> = (0..n)
            .map(|_| sample_posterior(&g, 1.0, 1.0, &mut || rng.next()))
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let (mut z0, mut z1) = (0.0, 0.0);
        for i in 1..200_000 {
            let t = i as f64 * 1e-4;
            let d = t * (-t).exp() * (-0.5 * (1.0 - t) * (1.0 - t)).exp();
            z0 += d;
            z1 += d * t;
        }
        let exact = z1 / z0;
        assert!((mean - exact).abs() < 0.03, "{mean} vs {exact}");
    }
}
