//! The unimodal families (ebnm's `ebnm_unimodal`, `_symmetric`,
//! `_nonnegative`, `_nonpositive`), which ebnm delegates to `ashr::ash`
//! with `mixcompdist` `"halfuniform"`, `"uniform"`, `"+uniform"` and
//! `"-uniform"`: `g` is a mixture of uniforms with one end at the mode
//! (or, symmetric, centred on it) and half-widths on a grid that starts at
//! 0 (a point mass at the mode, ash's "null" component).
//!
//! As in ash, the weights maximise the likelihood penalised by a Dirichlet
//! prior with weight 10 on the null component ("nullbiased", i.e. a penalty
//! `9 log pi_0`); when the null alone is already optimal it is returned
//! without optimisation. The reported log-likelihood is the unpenalised
//! one at those weights. The default grid is ebnm's [`scale_unimix`]; a
//! fixed `scale` is ash's `mixsd` (a 0 is put in front). With
//! `Mode::Estimate` the mode maximises the log-likelihood over
//! `[min x, max x]` with ash's own grid (`gridmult = sqrt(2)`), as ebnm does
//! by handing the problem to `ash(mode = "estimate")`.

use super::grid::{ash_autoselect_mixsd, brent_fmin, r_optimize_tol, scale_unimix};
use super::mixsqp::PenaltyRow;
use super::mixture_posterior::{
    fit_weights, posterior_summary_fixed, posterior_summary_from_lik, to_fit, MixKind, Mixture,
};
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Scale};

/// The shape of the uniform components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnimodalKind {
    /// `[mode - a, mode]` and `[mode, mode + a]` (ash's `halfuniform`).
    Unimodal,
    /// `[mode - a, mode + a]` (`uniform`).
    Symmetric,
    /// `[mode, mode + a]` (`+uniform`).
    Nonnegative,
    /// `[mode - a, mode]` (`-uniform`).
    Nonpositive,
}

/// ash's Dirichlet weight on the null component (`nullweight = 10`).
const NULL_WEIGHT: f64 = 10.0;

pub fn solve_unimodal(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    solve_kind(x, s, opts, UnimodalKind::Unimodal)
}

pub fn solve_symmetric(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    solve_kind(x, s, opts, UnimodalKind::Symmetric)
}

pub fn solve_nonnegative(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    solve_kind(x, s, opts, UnimodalKind::Nonnegative)
}

pub fn solve_nonpositive(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    solve_kind(x, s, opts, UnimodalKind::Nonpositive)
}

/// Solve any of the four unimodal families.
pub fn solve_kind(
    x: &[f64],
    s: &[f64],
    opts: &EbnmOptions,
    kind: UnimodalKind,
) -> Result<EbnmFit, EbnmError> {
    let lfsr = opts.compute_lfsr && matches!(opts.mode, Mode::Fixed(m) if m == 0.0);
    let penalty = [PenaltyRow {
        k: 0,
        weight: NULL_WEIGHT - 1.0,
    }];
    if let Some(g) = &opts.g_init {
        let mut mix = match Mixture::from_prior(g) {
            Ok(m) if m.kind == MixKind::Uniform => m,
            _ => return Err("g_init must be NULL or an object of class unimix.".into()),
        };
        if opts.fix_g {
            return Ok(to_fit(&mix, posterior_summary_fixed(&mix, x, s, lfsr)));
        }
        // ash nudges zero starting weights up to 1e-6.
        let mut pi0: Vec<f64> = mix.pi.iter().map(|&v| v.max(1e-6)).collect();
        let t: f64 = pi0.iter().sum();
        pi0.iter_mut().for_each(|v| *v /= t);
        let (pi, lik) = fit_weights(&mix, x, s, Some(&pi0), &penalty, true);
        mix.pi = pi;
        let post = posterior_summary_from_lik(&mix, &lik, x, s, lfsr);
        return Ok(to_fit(&mix, post));
    }
    if opts.fix_g {
        return Err("fix_g = TRUE needs g_init".into());
    }
    let n = x.len();
    let (mode, grid) = match (&opts.mode, &opts.scale) {
        (Mode::Fixed(m), Scale::Estimate) => {
            if !m.is_finite() {
                return Err("mode must be finite".into());
            }
            (*m, scale_unimix(x, s, *m, 3, 300, 1.0 / n as f64))
        }
        (Mode::Fixed(m), Scale::Fixed(v)) => {
            if !m.is_finite() {
                return Err("mode must be finite".into());
            }
            (*m, mixsd_with_null(v)?)
        }
        (Mode::Estimate, scale) => {
            let fixed = match scale {
                Scale::Fixed(v) => Some(mixsd_with_null(v)?),
                Scale::Estimate => None,
            };
            let grid_at = |c: f64| -> Vec<f64> {
                match &fixed {
                    Some(v) => v.clone(),
                    None => ash_autoselect_mixsd(x, s, c, std::f64::consts::SQRT_2),
                }
            };
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mode = if hi > lo {
                // ash.estmode: optimize() with tol = range * eps^0.25.
                brent_fmin(
                    lo,
                    hi,
                    |c| {
                        let mix = build_mix(kind, c, &grid_at(c), n);
                        let (pi, lik) = fit_weights(&mix, x, s, None, &penalty, true);
                        -lik.log_likelihood(&pi)
                    },
                    (hi - lo) * r_optimize_tol(),
                )
            } else {
                lo
            };
            (mode, grid_at(mode))
        }
    };
    let mut mix = build_mix(kind, mode, &grid, n);
    let start = opts.start_weights(mix.len());
    let (pi, lik) = fit_weights(&mix, x, s, start, &penalty, true);
    mix.pi = pi;
    let post = posterior_summary_from_lik(&mix, &lik, x, s, lfsr);
    Ok(to_fit(&mix, post))
}

/// A user grid is ash's `mixsd`; ash puts a point mass (0) in front.
fn mixsd_with_null(v: &[f64]) -> Result<Vec<f64>, EbnmError> {
    if v.iter().any(|t| !(t.is_finite() && *t >= 0.0)) {
        return Err("scale must be a vector of non-negative, finite half-widths".into());
    }
    let mut g = vec![0.0];
    g.extend_from_slice(v);
    Ok(g)
}

/// ash's starting mixture for grid `mixsd` (null first) with ash's
/// `initpi`: weight 1/n on every component but the null when there are
/// fewer components than observations.
fn build_mix(kind: UnimodalKind, mode: f64, mixsd: &[f64], n: usize) -> Mixture {
    let k = mixsd.len();
    let mut pi = if k < n {
        let mut p = vec![1.0 / n as f64; k];
        p[0] = (n - k + 1) as f64 / n as f64;
        p
    } else {
        vec![1.0 / k as f64; k]
    };
    let t: f64 = pi.iter().sum();
    pi.iter_mut().for_each(|v| *v /= t);
    let (pi, a, b) = match kind {
        UnimodalKind::Symmetric => (
            pi,
            mixsd.iter().map(|w| mode - w).collect(),
            mixsd.iter().map(|w| mode + w).collect(),
        ),
        UnimodalKind::Nonnegative => (pi, vec![mode; k], mixsd.iter().map(|w| mode + w).collect()),
        UnimodalKind::Nonpositive => (pi, mixsd.iter().map(|w| mode - w).collect(), vec![mode; k]),
        UnimodalKind::Unimodal => {
            // Left halves (with the null) then right halves (without it).
            let denom = 2.0 - pi[0];
            let mut p2: Vec<f64> = pi.iter().map(|v| v / denom).collect();
            p2.extend(pi[1..].iter().map(|v| v / denom));
            let mut a: Vec<f64> = mixsd.iter().map(|w| mode - w).collect();
            a.extend(std::iter::repeat_n(mode, k - 1));
            let mut b = vec![mode; k];
            b.extend(mixsd[1..].iter().map(|w| mode + w));
            (p2, a, b)
        }
    };
    Mixture {
        kind: MixKind::Uniform,
        pi,
        p: a,
        q: b,
    }
}
