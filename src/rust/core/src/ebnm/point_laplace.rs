//! Point-Laplace prior: `g = pi0 delta_mu + (1 - pi0) Laplace(mu, 1/a)`
//! (ebnm's `laplacemix` with a point mass and a Laplace component of scale
//! `1/a`).
//!
//! This file also holds the machinery shared with the point-exponential
//! family ([`super::point_exponential`]): both are "spike and slab" priors
//! whose slab, convolved with the normal error, has a closed form in terms of
//! the Mills ratio `R(q) = Phi(-q) / phi(q)`. With `t = (x - mu) / s` and
//! `b = s a`, the ratio of the slab marginal to the spike marginal is
//!
//! * Laplace: `(b / 2) (R(b - t) + R(b + t))`,
//! * exponential: `b R(b - t)`,
//!
//! and everything (likelihood, gradients, posterior weights) is computed from
//! `log R`, which stays accurate where `Phi` underflows (`|x|/s` up to 1e3 and
//! beyond, `s a` from 1e-8 to 1e8).
//!
//! As in ebnm, the likelihood is maximised over `alpha = logit(1 - pi0)`,
//! `beta = log(a)` and (with `Mode::Estimate`) `mu`, after dividing `x` and
//! `s` by the median of `s`; starting values are `pi0 = 1/2`,
//! `a = sqrt(2 / mean(x^2))` and `mu = mean(x)` (Laplace) or `min(x)`
//! (exponential). When the mode is fixed, the boundary `pi0 = 1` is compared
//! with the optimum afterwards.

use super::newton::{maximize, NewtonControl};
use super::optim::{median, minimize_masked, softplus, BfgsControl};
use super::truncnorm::{ln_mills_h, trunc_pos_moments};
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Prior, Scale};
use crate::special::{ln_dnorm, ln_pnorm, log_add_exp};

/// The two slab shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slab {
    Laplace,
    Exponential,
}

/// A fitted spike-and-slab prior: mass `pi0` at `mu`, slab of rate `a`
/// (scale `1/a`) at `mu`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpikeSlab {
    pub pi0: f64,
    pub a: f64,
    pub mu: f64,
}

/// Log slab-to-spike marginal ratio `L` at standardised residual `t` with
/// `b = s a`, its derivatives in `beta = log a` and in `t`, and (Laplace) the
/// posterior probability `lambda` that the effect lies above the mode given
/// that it is in the slab.
struct SlabTerms {
    l: f64,
    dl_dbeta: f64,
    dl_dt: f64,
    lambda: f64,
}

fn slab_terms(kind: Slab, t: f64, b: f64, ln_b: f64) -> SlabTerms {
    match kind {
        Slab::Exponential => {
            let (lr, h) = ln_mills_h(b - t);
            SlabTerms {
                l: ln_b + lr,
                dl_dbeta: 1.0 - b * h,
                dl_dt: h,
                lambda: 1.0,
            }
        }
        Slab::Laplace => {
            let q1 = b - t;
            let q2 = b + t;
            let (l1, h1) = ln_mills_h(q1);
            let (l2, h2) = ln_mills_h(q2);
            let lsum = log_add_exp(l1, l2);
            let lambda = (l1 - lsum).exp();
            SlabTerms {
                l: ln_b - std::f64::consts::LN_2 + lsum,
                dl_dbeta: 1.0 - b * (lambda * h1 + (1.0 - lambda) * h2),
                dl_dt: lambda * h1 - (1.0 - lambda) * h2,
                lambda,
            }
        }
    }
}

/// `log phi(t) + log M(q)` with `q = b - sign t` and `M` the Mills ratio
/// `Phi(-q) / phi(q)`, without cancellation: for `q >= 0` both terms are
/// moderate; for `q < 0` the identity `log phi(t) - log phi(q) = b (b - 2 sign
/// t) / 2` replaces the two huge opposite terms.
fn ln_phi_mills(t: f64, b: f64, sign: f64) -> f64 {
    let q = b - sign * t;
    if q >= 0.0 {
        ln_dnorm(t) + ln_mills_h(q).0
    } else {
        0.5 * b * (b - 2.0 * sign * t) + ln_pnorm(-q)
    }
}

/// The prior at `par = [alpha, beta, mu]` as the per-point terms use it:
/// `w = 1 - pi0` (and its logarithms), the slab's rate `a` and the mode.
#[derive(Clone, Copy)]
struct PriorAt {
    ln_w: f64,
    ln_1mw: f64,
    w: f64,
    a: f64,
    ln_a: f64,
    mu: f64,
}

impl PriorAt {
    fn new(par: &[f64]) -> PriorAt {
        let ln_w = -softplus(-par[0]);
        PriorAt { ln_w, ln_1mw: -softplus(par[0]), w: ln_w.exp(), a: par[1].exp(), ln_a: par[1], mu: par[2] }
    }
}

/// The observations with the logarithms of their standard errors, which
/// every evaluation of the likelihood needs (computed once per solve).
pub(crate) struct Points<'a> {
    x: &'a [f64],
    s: &'a [f64],
    ln_s: Vec<f64>,
}

impl<'a> Points<'a> {
    pub(crate) fn new(x: &'a [f64], s: &'a [f64]) -> Points<'a> {
        Points { x, s, ln_s: s.iter().map(|v| v.ln()).collect() }
    }
}

/// `(log(e^a + e^b), e^b / (e^a + e^b))` from one `exp` and one `ln_1p`.
fn log_add_exp_share(a: f64, b: f64) -> (f64, f64) {
    if b == f64::NEG_INFINITY {
        return (a, 0.0);
    }
    if a == f64::NEG_INFINITY {
        return (b, 1.0);
    }
    let d = b - a;
    let e = (-d.abs()).exp();
    let share = if d >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (a.max(b) + e.ln_1p(), share)
}

/// One observation's terms at `t = (x - mu) / s` and `b = s a`.
struct PointTerms {
    /// `log p(x) + log s`.
    mix: f64,
    /// The posterior probability of the slab.
    p: f64,
    t: f64,
    b: f64,
    st: SlabTerms,
}

fn point_terms(kind: Slab, xi: f64, si: f64, ln_si: f64, g: &PriorAt) -> PointTerms {
    let t = (xi - g.mu) / si;
    let b = si * g.a;
    let ln_b = ln_si + g.ln_a;
    let st = slab_terms(kind, t, b, ln_b);
    // log phi(t) + L, written so that the two large terms -t^2/2 and
    // +(b - t)^2/2 cancel analytically (log phi(t) - log phi(q) =
    // (q^2 - t^2) / 2) instead of in floating point, which would lose
    // digits when |t| is large.
    let slab_phi = match kind {
        // (Where b - t >= 0 the slab terms already hold log b + log R.)
        Slab::Exponential if b - t >= 0.0 => st.l + ln_dnorm(t),
        Slab::Exponential => ln_b + ln_phi_mills(t, b, 1.0),
        Slab::Laplace => ln_b - std::f64::consts::LN_2 + log_add_exp(ln_phi_mills(t, b, 1.0), ln_phi_mills(t, b, -1.0)),
    };
    let slab = g.ln_w + slab_phi;
    let (mix, p) = log_add_exp_share(g.ln_1mw + ln_dnorm(t), slab);
    PointTerms { mix, p, t, b, st }
}

/// `sum_i term(x_i, s_i, log s_i)` for each of the `N` entries, chunk by chunk (in
/// parallel when allowed), the chunks' sums added in order.
fn sum_over_points<const N: usize>(pts: &Points, term: impl Fn(f64, f64, f64) -> [f64; N] + Sync) -> [f64; N] {
    let parts = crate::data::chunked(pts.x.len(), |range| {
        let mut v = [0.0f64; N];
        for i in range {
            for (acc, t) in v.iter_mut().zip(term(pts.x[i], pts.s[i], pts.ln_s[i])) {
                *acc += t;
            }
        }
        v
    });
    let mut v = [0.0f64; N];
    for part in &parts {
        for (acc, t) in v.iter_mut().zip(part) {
            *acc += t;
        }
    }
    v
}

/// Negative log-likelihood at `par = [alpha, beta, mu]`, with its gradient
/// written into `grad` when given. `alpha` may be infinite (`pi0` = 0 or 1).
fn nllik(kind: Slab, pts: &Points, par: &[f64], grad: Option<&mut [f64]>) -> f64 {
    let g = PriorAt::new(par);
    let [total, ga, gb, gm] = sum_over_points(pts, |xi, si, ln_si| {
        let pt = point_terms(kind, xi, si, ln_si, &g);
        // d t / d mu = -1 / s.
        [pt.mix - ln_si, pt.p - g.w, pt.p * pt.st.dl_dbeta, (pt.t - pt.p * pt.st.dl_dt) / si]
    });
    if let Some(grad) = grad {
        grad[0] = -ga;
        grad[1] = -gb;
        grad[2] = -gm;
    }
    -total
}

/// The point-exponential log-likelihood at `par = [alpha, beta, mu]` (all
/// finite), its gradient in `(alpha, beta)` and its Hessian there
/// `[h_aa, h_ab, h_bb]`, the mode held. With `p` the slab's posterior
/// probability (`logit p = alpha + L`, `L` the log slab-to-spike ratio),
/// `q = b - t` and `h = 1 / R(q) - q`:
/// `dl/dalpha = p - w`, `dl/dbeta = p L'` with `L' = 1 - b h`;
/// `d2l/dalpha2 = p (1 - p) - w (1 - w)`, `d2l/dalpha dbeta = p (1 - p) L'`,
/// `d2l/dbeta2 = p (1 - p) L'^2 + p L''` with
/// `L'' = -b h - b^2 h'(q)` and `h' = h (h + q) - 1`.
fn exp_loglik_newton(pts: &Points, par: &[f64]) -> (f64, [f64; 2], [f64; 3]) {
    let g = PriorAt::new(par);
    let v = sum_over_points(pts, |xi, si, ln_si| {
        let PointTerms { mix, p, t, b, st } = point_terms(Slab::Exponential, xi, si, ln_si, &g);
        // (For the exponential slab dL/dt is h.)
        let (q, h, l1) = (b - t, st.dl_dt, st.dl_dbeta);
        let l2 = -b * h - b * b * (h * (h + q) - 1.0);
        let pq = p * (1.0 - p);
        [mix - ln_si, p - g.w, p * l1, pq - g.w * (1.0 - g.w), pq * l1, pq * l1 * l1 + p * l2]
    });
    (v[0], [v[1], v[2]], [v[3], v[4], v[5]])
}

/// Maximise the point-exponential likelihood over the free ones of `alpha`
/// and `beta` (`free[0]`, `free[1]`; the mode held) by Newton's method from
/// `par`, which must be finite. Returns the parameters and the
/// log-likelihood there (never below the start's; minus infinity when the
/// start's is not finite).
fn exp_newton_fit(pts: &Points, par: &[f64; 3], free: &[bool; 3]) -> (Vec<f64>, f64) {
    let idx: Vec<usize> = (0..2).filter(|&i| free[i]).collect();
    let start: Vec<f64> = idx.iter().map(|&i| par[i]).collect();
    let full = |theta: &[f64]| {
        let mut p = par.to_vec();
        for (k, &i) in idx.iter().enumerate() {
            p[i] = theta[k];
        }
        p
    };
    let control = NewtonControl {
        grad_tol: 1e-10 * (pts.x.len() as f64).max(1.0),
        ..Default::default()
    };
    let (theta, f) = maximize(&start, control, |theta| {
        let (f, g, h) = exp_loglik_newton(pts, &full(theta));
        if !f.is_finite() || g.iter().chain(&h).any(|v| !v.is_finite()) {
            return None;
        }
        let hm = [[h[0], h[1]], [h[1], h[2]]];
        let grad = idx.iter().map(|&i| g[i]).collect();
        let hess = idx.iter().flat_map(|&i| idx.iter().map(move |&j| hm[i][j])).collect();
        Some((f, grad, hess))
    });
    (full(&theta), f)
}

/// `sum_i log p(x_i)` under a spike-and-slab prior.
pub(crate) fn log_likelihood(kind: Slab, x: &[f64], s: &[f64], g: SpikeSlab) -> f64 {
    let alpha = alpha_of(g.pi0);
    let beta = if g.pi0 >= 1.0 { 0.0 } else { g.a.ln() };
    -nllik(kind, &Points::new(x, s), &[alpha, beta, g.mu], None)
}

/// `alpha = log((1 - pi0) / pi0)`.
fn alpha_of(pi0: f64) -> f64 {
    if pi0 <= 0.0 {
        f64::INFINITY
    } else if pi0 >= 1.0 {
        f64::NEG_INFINITY
    } else {
        (1.0 - pi0).ln() - pi0.ln()
    }
}

/// `pi0 = 1 / (1 + exp(alpha))`, accurate at both ends.
fn pi0_of(alpha: f64) -> f64 {
    (-softplus(alpha)).exp()
}

/// Posterior summaries for one observation (`pm`, `pm2` relative to the
/// mode, `lfsr`), given `log(1 - pi0)` and `log pi0`.
fn posterior_one(kind: Slab, x: f64, s: f64, g: SpikeSlab, (ln_w, ln_pi0): (f64, f64)) -> (f64, f64, f64) {
    if g.pi0 >= 1.0 {
        return (0.0, 0.0, 1.0);
    }
    let t = (x - g.mu) / s;
    let b = s * g.a;
    let st = slab_terms(kind, t, b, b.ln());
    let slab = ln_w + st.l;
    let p = log_add_exp_share(ln_pi0, slab).1;
    // Slab posterior: N(x - mu -/+ s^2 a, s^2) truncated to the positive /
    // negative half-line, i.e. s * TN(t -/+ b, 1).
    let (ep, ep2) = trunc_pos_moments(t - b, 1.0);
    let (mean, mean2) = match kind {
        Slab::Exponential => (ep, ep2),
        Slab::Laplace => {
            let (en, en2) = trunc_pos_moments(-t - b, 1.0);
            let lam = st.lambda;
            (lam * ep - (1.0 - lam) * en, lam * ep2 + (1.0 - lam) * en2)
        }
    };
    let pm = p * s * mean;
    let pm2 = p * s * s * mean2;
    let lfsr = match kind {
        Slab::Exponential => 1.0 - p,
        Slab::Laplace => (1.0 - p) + p * st.lambda.min(1.0 - st.lambda),
    };
    (pm, pm2, lfsr)
}

/// Posterior means, second moments, sds and lfsr under `g`.
pub(crate) fn posterior(kind: Slab, x: &[f64], s: &[f64], g: SpikeSlab, lfsr: bool) -> Summaries {
    let n = x.len();
    // log(1 - pi0) and log pi0, the same for every point.
    let weights = ((-g.pi0).ln_1p(), g.pi0.ln());
    // Per point (mean, second moment, sd, lfsr), chunk by chunk.
    let parts = crate::data::chunked(n, |range| {
        range
            .map(|i| {
                let (pm, pm2, l) = posterior_one(kind, x[i], s[i], g, weights);
                let var = (pm2 - pm * pm).max(0.0);
                let m = pm + g.mu;
                [m, m * m + var, var.sqrt(), l.clamp(0.0, 1.0)]
            })
            .collect::<Vec<[f64; 4]>>()
    });
    let mut mean = Vec::with_capacity(n);
    let mut m2 = Vec::with_capacity(n);
    let mut sd = Vec::with_capacity(n);
    let mut lf = Vec::with_capacity(if lfsr { n } else { 0 });
    for v in parts.iter().flatten() {
        mean.push(v[0]);
        m2.push(v[1]);
        sd.push(v[2]);
        if lfsr {
            lf.push(v[3]);
        }
    }
    (mean, m2, sd, if lfsr { Some(lf) } else { None })
}

/// A `g_init` read as `(pi, mode, scale)` vectors.
pub(crate) type ReadPrior = (Vec<f64>, Vec<f64>, Vec<f64>);

/// Posterior means, second moments, sds and (optionally) lfsr.
pub(crate) type Summaries = (Vec<f64>, Vec<f64>, Vec<f64>, Option<Vec<f64>>);

/// How a family names and validates its `g_init`.
pub(crate) struct FamilySpec {
    pub kind: Slab,
    /// `Some((pi, mode, scale))` when `g` has the family's class.
    pub read: fn(&Prior) -> Option<ReadPrior>,
    pub class_name: &'static str,
}

/// Fit a spike-and-slab family and return the fitted prior and the
/// log-likelihood, following ebnm's parametric workhorse.
pub(crate) fn fit(
    spec: &FamilySpec,
    x: &[f64],
    s: &[f64],
    opts: &EbnmOptions,
) -> Result<(SpikeSlab, f64), EbnmError> {
    let n = x.len();
    if opts.fix_g && opts.g_init.is_none() {
        return Err("If g is fixed, then an initial g must be provided.".into());
    }
    // Parameters (alpha, beta, mu) on the original scale.
    let mut par = [0.0f64; 3];
    if let Some(g) = &opts.g_init {
        let Some((pi, mode, scale)) = (spec.read)(g) else {
            return Err(format!(
                "g_init must be NULL or an object of class {}.",
                spec.class_name
            )
            .into());
        };
        let k = pi.len();
        if !(k == 1 || k == 2) || mode.len() != k || scale.len() != k {
            return Err("g_init does not have the correct number of components.".into());
        }
        if k == 2 && scale[0] != 0.0 {
            return Err("The first component of g_init must be a point mass.".into());
        }
        let slab_scale = scale[k - 1];
        let pi0 = if k == 1 { 0.0 } else { pi[0] };
        if !(slab_scale > 0.0 && slab_scale.is_finite()) && pi0 < 1.0 {
            return Err(
                "The scale of the slab component of g_init must be positive and finite.".into(),
            );
        }
        par = [
            alpha_of(pi0),
            if slab_scale > 0.0 && slab_scale.is_finite() {
                -slab_scale.ln()
            } else {
                0.0
            },
            mode[0],
        ];
    } else {
        par[0] = 0.0;
        par[1] = match &opts.scale {
            Scale::Fixed(v) => {
                if v.len() != 1 {
                    return Err("Argument 'scale' must be either 'estimate' or a scalar.".into());
                }
                if !(v[0] > 0.0 && v[0].is_finite()) {
                    return Err("Argument 'scale' must be positive and finite.".into());
                }
                -v[0].ln()
            }
            Scale::Estimate => {
                let m2 = x.iter().map(|v| v * v).sum::<f64>() / n as f64;
                if m2 > 0.0 && m2.is_finite() {
                    -0.5 * (m2 / 2.0).ln()
                } else {
                    -median(s).ln()
                }
            }
        };
        par[2] = match opts.mode {
            Mode::Fixed(m) => m,
            Mode::Estimate => match spec.kind {
                Slab::Laplace => x.iter().sum::<f64>() / n as f64,
                Slab::Exponential => x.iter().copied().fold(f64::INFINITY, f64::min),
            },
        };
    }
    if let Mode::Fixed(m) = opts.mode {
        if !m.is_finite() {
            return Err("Argument 'mode' must be either 'estimate' or a numeric value.".into());
        }
    }
    let free = if opts.fix_g {
        [false, false, false]
    } else {
        [
            true,
            matches!(opts.scale, Scale::Estimate),
            matches!(opts.mode, Mode::Estimate),
        ]
    };
    let to_g = |p: &[f64]| SpikeSlab {
        pi0: pi0_of(p[0]),
        a: p[1].exp(),
        mu: p[2],
    };
    if !free.iter().any(|&f| f) {
        let g = to_g(&par);
        return Ok((g, log_likelihood(spec.kind, x, s, g)));
    }
    // Optimise on data scaled by 1 / median(s).
    let c = 1.0 / median(s);
    let xs: Vec<f64> = x.iter().map(|v| v * c).collect();
    let ss: Vec<f64> = s.iter().map(|v| v * c).collect();
    let mut p0 = [par[0], par[1] - c.ln(), par[2] * c];
    if free[0] && p0[0].is_infinite() {
        p0[0] = p0[0].signum() * (n as f64).ln();
    }
    let ctl = BfgsControl {
        grad_tol: 1e-10 * (n as f64).max(1.0),
        ..Default::default()
    };
    // Point-exponential with the mode held (ebnm's default): Newton's
    // method with the analytic Hessian, a few evaluations where BFGS takes
    // ten or more; otherwise BFGS, as ebnm.
    let (p_opt, newton_ll) = if spec.kind == Slab::Exponential && !free[2] && p0.iter().all(|v| v.is_finite()) {
        let (p, f) = exp_newton_fit(&Points::new(&xs, &ss), &p0, &free);
        // On the original scale each density is c times the scaled one.
        (p, Some(f + n as f64 * c.ln()).filter(|v| v.is_finite()))
    } else {
        let pts = Points::new(&xs, &ss);
        (minimize_masked(|p, g| nllik(spec.kind, &pts, p, Some(g)), &p0, &free, &ctl).0, None)
    };
    let mut g = to_g(&[p_opt[0], p_opt[1] + c.ln(), p_opt[2] / c]);
    let mut ll;
    if let Some(v) = newton_ll {
        // (Newton's method only accepts steps that raise the likelihood.)
        ll = v;
    } else {
        ll = log_likelihood(spec.kind, x, s, g);
        let start = to_g(&par);
        let start_ll = log_likelihood(spec.kind, x, s, start);
        if (ll < start_ll || ll.is_nan()) && start_ll.is_finite() {
            g = start;
            ll = start_ll;
        }
    }
    // The boundary pi0 = 1, checked by ebnm when the mode is fixed.
    if free[0] && !free[2] {
        let null_ll: f64 = x
            .iter()
            .zip(s)
            .map(|(&xi, &si)| ln_dnorm((xi - g.mu) / si) - si.ln())
            .sum();
        if null_ll > ll {
            g = SpikeSlab {
                pi0: 1.0,
                a: 1.0,
                mu: g.mu,
            };
            ll = null_ll;
        }
    }
    Ok((g, ll))
}

/// Whether ebnm reports lfsr: only when the mode is (fixed at) zero.
pub(crate) fn lfsr_wanted(opts: &EbnmOptions) -> bool {
    opts.compute_lfsr && matches!(opts.mode, Mode::Fixed(m) if m == 0.0)
}

fn read_laplacemix(g: &Prior) -> Option<ReadPrior> {
    match g {
        Prior::LaplaceMix { pi, mean, scale } => Some((pi.clone(), mean.clone(), scale.clone())),
        _ => None,
    }
}

/// The fitted point-Laplace prior as a `laplacemix`.
pub fn to_prior(g: SpikeSlab) -> Prior {
    if g.pi0 <= 0.0 {
        Prior::LaplaceMix {
            pi: vec![1.0],
            mean: vec![g.mu],
            scale: vec![1.0 / g.a],
        }
    } else {
        Prior::LaplaceMix {
            pi: vec![g.pi0, 1.0 - g.pi0],
            mean: vec![g.mu, g.mu],
            scale: vec![0.0, 1.0 / g.a],
        }
    }
}

/// Fit the point-Laplace prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let spec = FamilySpec {
        kind: Slab::Laplace,
        read: read_laplacemix,
        class_name: "laplacemix",
    };
    let (g, ll) = fit(&spec, x, s, opts)?;
    let (mean, second_moment, sd, lfsr) = posterior(Slab::Laplace, x, s, g, lfsr_wanted(opts));
    Ok(EbnmFit {
        prior: to_prior(g),
        mean,
        second_moment,
        sd,
        lfsr,
        log_likelihood: ll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_hessian_matches_finite_differences() {
        // Points from deep in the spike to far in the slab, unequal s.
        let x: Vec<f64> = (0..40).map(|i| -3.0 + 0.4 * i as f64 + 0.3 * (i as f64).sin()).collect();
        let s: Vec<f64> = (0..40).map(|i| 0.5 + 0.05 * (i % 7) as f64).collect();
        let pts = Points::new(&x, &s);
        let ll = |a: f64, b: f64| -nllik(Slab::Exponential, &pts, &[a, b, 0.2], None);
        for (alpha, beta) in [(0.3, -0.2), (-2.0, 1.5), (3.0, -3.0)] {
            let (f, g, h) = exp_loglik_newton(&pts, &[alpha, beta, 0.2]);
            assert!((f - ll(alpha, beta)).abs() < 1e-12 * f.abs());
            let e = 1e-4;
            let ga = (ll(alpha + e, beta) - ll(alpha - e, beta)) / (2.0 * e);
            let gb = (ll(alpha, beta + e) - ll(alpha, beta - e)) / (2.0 * e);
            assert!((g[0] - ga).abs() < 1e-6 * (1.0 + ga.abs()), "dalpha {} {}", g[0], ga);
            assert!((g[1] - gb).abs() < 1e-6 * (1.0 + gb.abs()), "dbeta {} {}", g[1], gb);
            let grad = |a: f64, b: f64| exp_loglik_newton(&pts, &[a, b, 0.2]).1;
            let haa = (grad(alpha + e, beta)[0] - grad(alpha - e, beta)[0]) / (2.0 * e);
            let hab = (grad(alpha, beta + e)[0] - grad(alpha, beta - e)[0]) / (2.0 * e);
            let hbb = (grad(alpha, beta + e)[1] - grad(alpha, beta - e)[1]) / (2.0 * e);
            for (got, want) in h.iter().zip([haa, hab, hbb]) {
                assert!((got - want).abs() < 1e-6 * (1.0 + want.abs()), "hessian {got} vs {want} at ({alpha}, {beta})");
            }
        }
    }

    #[test]
    fn newton_and_bfgs_reach_the_same_point_exponential_fit() {
        let x: Vec<f64> = (0..44).map(|i| if i % 3 == 0 { 2.0 + (i as f64 * 0.7).sin() } else { 0.3 * (i as f64 * 1.3).cos() }).collect();
        let s = vec![0.4; 44];
        let c = 1.0 / 0.4;
        let (xs, ss): (Vec<f64>, Vec<f64>) = (x.iter().map(|v| v * c).collect(), s.iter().map(|v| v * c).collect());
        let p0 = [0.0, -0.5, 0.0];
        let free = [true, true, false];
        let pts = Points::new(&xs, &ss);
        let (newton, f) = exp_newton_fit(&pts, &p0, &free);
        assert!((f + nllik(Slab::Exponential, &pts, &newton, None)).abs() < 1e-12 * f.abs());
        let ctl = BfgsControl { grad_tol: 1e-10 * 44.0, ..Default::default() };
        let (bfgs, _, _) = minimize_masked(|p, g| nllik(Slab::Exponential, &pts, p, Some(g)), &p0, &free, &ctl);
        let (fn_, fb) = (nllik(Slab::Exponential, &pts, &newton, None), nllik(Slab::Exponential, &pts, &bfgs, None));
        assert!(fn_ <= fb + 1e-9, "Newton {fn_} vs BFGS {fb}");
        assert!((newton[0] - bfgs[0]).abs() < 1e-4 && (newton[1] - bfgs[1]).abs() < 1e-4, "{newton:?} vs {bfgs:?}");
    }

    /// Brute-force marginal and posterior moments by quadrature over theta.
    fn brute(kind: Slab, x: f64, s: f64, g: SpikeSlab) -> (f64, f64, f64) {
        let scale = 1.0 / g.a;
        let width = 60.0 * scale + 20.0 * s + (x - g.mu).abs();
        let (mut z0, mut z1, mut z2) = (0.0, 0.0, 0.0);
        // Simpson's rule on each side of the mode (the slab density has a
        // kink or a jump there).
        for (lo, hi) in [(g.mu - width, g.mu), (g.mu, g.mu + width)] {
            let m = 200_000;
            let h = (hi - lo) / m as f64;
            for i in 0..=m {
                let th = lo + h * i as f64;
                let d = th - g.mu;
                let prior = match kind {
                    Slab::Laplace => 0.5 * g.a * (-g.a * d.abs()).exp(),
                    Slab::Exponential => {
                        if lo >= g.mu {
                            g.a * (-g.a * d).exp()
                        } else {
                            0.0
                        }
                    }
                };
                let wgt = if i == 0 || i == m {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                } * h
                    / 3.0;
                let lik = (-0.5 * ((x - th) / s).powi(2)).exp()
                    / (s * (2.0 * std::f64::consts::PI).sqrt());
                let v = wgt * prior * lik * (1.0 - g.pi0);
                z0 += v;
                z1 += v * th;
                z2 += v * th * th;
            }
        }
        let spike = g.pi0 * (-0.5 * ((x - g.mu) / s).powi(2)).exp()
            / (s * (2.0 * std::f64::consts::PI).sqrt());
        let tot = z0 + spike;
        (
            tot.ln(),
            (z1 + spike * g.mu) / tot,
            (z2 + spike * g.mu * g.mu) / tot,
        )
    }

    #[test]
    fn marginal_and_moments_match_quadrature() {
        for kind in [Slab::Laplace, Slab::Exponential] {
            for &(x, s) in &[(0.3, 1.0), (-2.5, 0.7), (4.0, 1.3), (-0.1, 0.2)] {
                let g = SpikeSlab {
                    pi0: 0.3,
                    a: 0.8,
                    mu: 0.2,
                };
                let (ll, m, m2) = brute(kind, x, s, g);
                let ours = log_likelihood(kind, &[x], &[s], g);
                assert!((ours - ll).abs() < 1e-7, "{kind:?} x={x}: {ours} vs {ll}");
                let (pm, pm2, _, _) = posterior(kind, &[x], &[s], g, false);
                assert!((pm[0] - m).abs() < 1e-7, "{kind:?} x={x}: {} vs {m}", pm[0]);
                assert!(
                    (pm2[0] - m2).abs() < 1e-7,
                    "{kind:?} x={x}: {} vs {m2}",
                    pm2[0]
                );
            }
        }
    }

    /// The log of a sum and the second term's share of it, against the
    /// direct formulas where those do not overflow, and at the infinities.
    #[test]
    fn log_add_exp_share_matches_the_direct_formulas() {
        for (a, b) in [(0.3, -1.2), (-700.0, -701.5), (2.0, 2.0), (-3.0, 40.0), (5.0, -30.0)] {
            let (l, p) = log_add_exp_share(a, b);
            let direct = (a.exp() + b.exp()).ln();
            let direct = if direct.is_finite() { direct } else { log_add_exp(a, b) };
            assert!((l - direct).abs() <= 1e-14 * direct.abs().max(1.0), "{a} {b}: {l} vs {direct}");
            let share = 1.0 / (1.0 + (a - b).exp());
            assert!((p - share).abs() <= 1e-15 * share.max(1e-300) + 1e-300, "{a} {b}: {p} vs {share}");
        }
        assert_eq!(log_add_exp_share(1.5, f64::NEG_INFINITY), (1.5, 0.0));
        assert_eq!(log_add_exp_share(f64::NEG_INFINITY, -2.0), (-2.0, 1.0));
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [0.3, -1.2, 2.5, 0.0, 4.1, -0.4];
        let s = [1.0, 0.5, 1.5, 1.0, 0.8, 2.0];
        let pts = Points::new(&x, &s);
        for kind in [Slab::Laplace, Slab::Exponential] {
            let p = [0.4, -0.3, 0.2];
            let mut g = [0.0; 3];
            nllik(kind, &pts, &p, Some(&mut g));
            for k in 0..3 {
                let h = 1e-6;
                let mut pp = p;
                pp[k] += h;
                let fp = nllik(kind, &pts, &pp, None);
                pp[k] -= 2.0 * h;
                let fm = nllik(kind, &pts, &pp, None);
                let fd = (fp - fm) / (2.0 * h);
                assert!(
                    (fd - g[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{kind:?} k={k}: {fd} vs {}",
                    g[k]
                );
            }
        }
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        let g = SpikeSlab {
            pi0: 0.5,
            a: 1.0,
            mu: 0.0,
        };
        for kind in [Slab::Laplace, Slab::Exponential] {
            for &s in &[1e-8, 1.0, 1e8] {
                for &z in &[-1e3, -30.0, 0.0, 30.0, 1e3] {
                    let x = z * s;
                    let (m, m2, sd, l) = posterior(kind, &[x], &[s], g, true);
                    assert!(
                        m[0].is_finite() && m2[0].is_finite() && sd[0].is_finite(),
                        "{kind:?} s={s} z={z}"
                    );
                    assert!(m2[0] >= m[0] * m[0]);
                    let l = l.unwrap()[0];
                    assert!((0.0..=1.0).contains(&l));
                    assert!(log_likelihood(kind, &[x], &[s], g).is_finite());
                }
            }
        }
    }

    #[test]
    fn laplace_posterior_is_odd_in_x() {
        let g = SpikeSlab {
            pi0: 0.2,
            a: 2.0,
            mu: 0.0,
        };
        let (m1, _, _, _) = posterior(Slab::Laplace, &[1.7], &[1.0], g, false);
        let (m2, _, _, _) = posterior(Slab::Laplace, &[-1.7], &[1.0], g, false);
        assert!((m1[0] + m2[0]).abs() < 1e-14);
    }
}
