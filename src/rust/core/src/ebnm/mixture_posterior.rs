//! Normal-likelihood computations shared by the mixture families: the
//! per-component marginal log-likelihoods (the matrix that mixsqp works on),
//! posterior moments, local false sign rates and posterior sampling, for
//! priors that are finite mixtures of normals (`normalmix`, `sd = 0` being a
//! point mass) or of uniforms (`unimix`, `a = b` being a point mass).
//!
//! With a uniform component `U[a, b]` the posterior of `theta` given
//! `x ~ N(theta, s^2)` is `N(x, s^2)` truncated to `[a, b]`; its moments come
//! from the standardised truncated normal on `[alpha, beta] = [(a - x) / s,
//! (b - x) / s]`, computed here in a form that stays finite (and accurate)
//! when the interval lies far in a tail of the normal.

#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::mixsqp::{mixsqp, MixSqpControl, PenaltyRow};
use super::{EbnmError, EbnmFit, Prior};
use crate::special::{ln_dnorm, ln_pnorm_cody as ln_pnorm, pnorm_both, LN_SQRT_2PI};
use std::f64::consts::LN_2;

/// Component family of a [`Mixture`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixKind {
    /// `N(p, q^2)`; `q = 0` is a point mass at `p`.
    Normal,
    /// `Uniform(p, q)`; `p = q` is a point mass.
    Uniform,
}

/// A finite mixture prior in parallel-vector form.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    pub kind: MixKind,
    pub pi: Vec<f64>,
    /// Means (normal) or lower ends (uniform).
    pub p: Vec<f64>,
    /// Standard deviations (normal) or upper ends (uniform).
    pub q: Vec<f64>,
}

impl Mixture {
    /// Read a `NormalMix` or `UniMix` prior; other priors are refused.
    pub fn from_prior(g: &Prior) -> Result<Mixture, EbnmError> {
        let (kind, pi, p, q) = match g {
            Prior::NormalMix { pi, mean, sd } => (MixKind::Normal, pi, mean, sd),
            Prior::UniMix { pi, a, b } => (MixKind::Uniform, pi, a, b),
            _ => return Err("the prior must be a normal mixture or a uniform mixture".into()),
        };
        if pi.is_empty() || p.len() != pi.len() || q.len() != pi.len() {
            return Err(
                "the mixture prior's component vectors must be non-empty and of equal length"
                    .into(),
            );
        }
        if pi.iter().any(|v| !(v.is_finite() && *v >= 0.0)) || !(pi.iter().sum::<f64>() > 0.0) {
            return Err("mixture proportions must be non-negative, finite and not all zero".into());
        }
        if p.iter().chain(q.iter()).any(|v| !v.is_finite()) {
            return Err("mixture component parameters must be finite".into());
        }
        match kind {
            MixKind::Normal if q.iter().any(|v| *v < 0.0) => {
                return Err("normal mixture standard deviations must be non-negative".into())
            }
            MixKind::Uniform if p.iter().zip(q).any(|(a, b)| a > b) => {
                return Err("uniform mixture components need a <= b".into())
            }
            _ => {}
        }
        let tot: f64 = pi.iter().sum();
        Ok(Mixture {
            kind,
            pi: pi.iter().map(|v| v / tot).collect(),
            p: p.clone(),
            q: q.clone(),
        })
    }

    pub fn to_prior(&self) -> Prior {
        match self.kind {
            MixKind::Normal => Prior::NormalMix {
                pi: self.pi.clone(),
                mean: self.p.clone(),
                sd: self.q.clone(),
            },
            MixKind::Uniform => Prior::UniMix {
                pi: self.pi.clone(),
                a: self.p.clone(),
                b: self.q.clone(),
            },
        }
    }

    pub fn len(&self) -> usize {
        self.pi.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pi.is_empty()
    }

    /// Is component `k` a point mass at exactly zero?
    fn is_zero_mass(&self, k: usize) -> bool {
        match self.kind {
            MixKind::Normal => self.q[k] == 0.0 && self.p[k] == 0.0,
            MixKind::Uniform => self.p[k] == 0.0 && self.q[k] == 0.0,
        }
    }

    /// `log int N(x; theta, s^2) g_k(dtheta)` for component `k`.
    #[inline]
    pub fn comp_loglik(&self, k: usize, x: f64, s: f64) -> f64 {
        match self.kind {
            MixKind::Normal => {
                let sd = (s * s + self.q[k] * self.q[k]).sqrt();
                let z = (x - self.p[k]) / sd;
                -0.5 * z * z - LN_SQRT_2PI - sd.ln()
            }
            MixKind::Uniform => uniform_loglik(self.p[k], self.q[k], x, s),
        }
    }
}

/// `log int_a^b N(x; theta, s^2) dtheta / (b - a)`, or the point-mass
/// density when the interval is (numerically) degenerate.
#[inline]
pub fn uniform_loglik(a: f64, b: f64, x: f64, s: f64) -> f64 {
    let w = b - a;
    if w <= 1e-10 * s {
        let m = 0.5 * (a + b);
        return ln_dnorm((x - m) / s) - s.ln();
    }
    let (lo, hi) = ((a - x) / s, (b - x) / s);
    let (rlo, rhi) = not_all_positive(lo, hi);
    uniform_loglik_ends(w, lo, hi, |upper| pnorm_both(if upper { rhi } else { rlo }))
}

/// The interval `[lo, hi]`, or its mirror image `[-hi, -lo]` when it lies
/// entirely above zero: the normal probabilities are then taken in the
/// lower tail, where they keep their relative precision.
#[inline]
fn not_all_positive(lo: f64, hi: f64) -> (f64, f64) {
    if lo > 0.0 { (-hi, -lo) } else { (lo, hi) }
}

/// [`uniform_loglik`] from the interval's width `w` and its standardised
/// ends `lo < hi`, with `pnorm(upper)` giving [`pnorm_both`] of the upper
/// (`true`) or lower end after the reflection that makes the interval not
/// entirely positive (the ends `ln_pnorm_diff` works with).
#[inline]
fn uniform_loglik_ends(w: f64, lo: f64, hi: f64, mut pnorm: impl FnMut(bool) -> (f64, f64)) -> f64 {
    let (rlo, rhi) = not_all_positive(lo, hi);
    // Fast path: both ends below zero (after reflection), not far in the
    // tail, and Phi(lo) at most half of Phi(hi), so that the difference of
    // the probabilities loses no accuracy.
    if rhi <= 0.0 && rlo > -35.0 {
        let p_hi = pnorm(true).0;
        let p_lo = pnorm(false).0;
        if p_lo <= 0.5 * p_hi {
            return (p_hi - p_lo).ln() - w.ln();
        }
    }
    // ln_pnorm_diff(lo, hi), with the straddling case's probabilities from
    // `pnorm`.
    let ld = if !(hi > lo) {
        f64::NEG_INFINITY
    } else if rhi > 0.0 {
        match straddle_midpoint(rlo, rhi) {
            Some(d) => d,
            None => 1.0 - pnorm(true).1 - pnorm(false).0,
        }
        .ln()
    } else {
        let lhi = ln_pnorm(rhi);
        lhi + ln1m_exp(ln_pnorm(rlo) - lhi)
    };
    ld - w.ln()
}

/// The log-likelihoods of the uniform component on `[a, b]` for every
/// point (`x`, `s`), as [`uniform_loglik`] gives them bit for bit; the
/// normal probabilities of the interval's ends come four points at a time
/// from [`crate::special::pnorm_both4`] where the CPU has AVX2.
fn uniform_loglik_col(a: f64, b: f64, x: &[f64], s: &[f64], out: &mut [f64]) {
    let w = b - a;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if crate::fastmath::avx2::available() {
        let quads = x.len() / 4 * 4;
        for i in (0..quads).step_by(4) {
            let mut ends = [(0.0, 0.0); 4];
            let (mut rlo, mut rhi) = ([0.0; 4], [0.0; 4]);
            for j in 0..4 {
                let (lo, hi) = ((a - x[i + j]) / s[i + j], (b - x[i + j]) / s[i + j]);
                ends[j] = (lo, hi);
                (rlo[j], rhi[j]) = not_all_positive(lo, hi);
            }
            // SAFETY: the CPU has AVX2 (checked above).
            let (plo, phi) = unsafe { (crate::special::pnorm_both4(rlo), crate::special::pnorm_both4(rhi)) };
            for j in 0..4 {
                let (xi, si) = (x[i + j], s[i + j]);
                out[i + j] = if w <= 1e-10 * si {
                    uniform_loglik(a, b, xi, si)
                } else {
                    let (lo, hi) = ends[j];
                    uniform_loglik_ends(w, lo, hi, |upper| if upper { (phi.0[j], phi.1[j]) } else { (plo.0[j], plo.1[j]) })
                };
            }
        }
        done = quads;
    }
    for i in done..x.len() {
        out[i] = uniform_loglik(a, b, x[i], s[i]);
    }
}

/// `log(exp(0) - exp(d))` for `d <= 0`, i.e. `log(1 - e^d)`.
#[inline]
pub fn ln1m_exp(d: f64) -> f64 {
    if d > -LN_2 {
        (-d.exp_m1()).ln()
    } else {
        (-d.exp()).ln_1p()
    }
}

/// `log(Phi(hi) - Phi(lo))` for `lo < hi`, accurate in both tails and for
/// short intervals.
pub fn ln_pnorm_diff(lo: f64, hi: f64) -> f64 {
    if !(hi > lo) {
        return f64::NEG_INFINITY;
    }
    // Reflect so that the interval is not entirely positive.
    let (lo, hi) = not_all_positive(lo, hi);
    if hi > 0.0 {
        pnorm_diff_straddle(lo, hi).ln()
    } else {
        let lhi = ln_pnorm(hi);
        lhi + ln1m_exp(ln_pnorm(lo) - lhi)
    }
}

/// `Phi(hi) - Phi(lo)` for `lo <= 0 < hi` (not small unless the interval is
/// short, where a midpoint expansion keeps full relative accuracy).
fn pnorm_diff_straddle(lo: f64, hi: f64) -> f64 {
    straddle_midpoint(lo, hi).unwrap_or_else(|| 1.0 - pnorm_both(hi).1 - pnorm_both(lo).0)
}

/// [`pnorm_diff_straddle`] by the midpoint expansion, for intervals shorter
/// than 1e-3 (`None` for longer ones).
#[inline]
fn straddle_midpoint(lo: f64, hi: f64) -> Option<f64> {
    let w = hi - lo;
    (w < 1e-3).then(|| {
        let mid = 0.5 * (lo + hi);
        w * ln_dnorm(mid).exp() * (1.0 + (mid * mid - 1.0) * w * w / 24.0)
    })
}

/// Mean and variance of the standard normal truncated to `[alpha, beta]`
/// (`alpha <= beta`). Finite for any finite input; the mean is inside the
/// interval and the variance in `[0, (beta - alpha)^2 / 4]`.
pub fn truncnorm_mean_var(alpha: f64, beta: f64) -> (f64, f64) {
    if !(beta > alpha) {
        let m = 0.5 * (alpha + beta);
        return (m, 0.0);
    }
    // Work with an interval that is not entirely positive.
    let flip = alpha > 0.0;
    let (a, b) = if flip { (-beta, -alpha) } else { (alpha, beta) };
    let h = 0.5 * (b - a);
    let mid = 0.5 * (a + b);
    let (mean, var) = if h * (1.0 + mid.abs()) < 1e-5 {
        // Nearly uniform: expand the density exp(-(mid + t)^2 / 2) in t.
        let h2 = h * h;
        (mid - mid * h2 / 3.0, h2 / 3.0)
    } else if b > 0.0 {
        // Straddles zero: the normalising constant is not small.
        let d = pnorm_diff_straddle(a, b);
        let pa = ln_dnorm(a).exp();
        let pb = ln_dnorm(b).exp();
        let m = (pa - pb) / d;
        // Variance written around the mean to limit cancellation.
        (m, 1.0 + ((a - m) * pa - (b - m) * pb) / d)
    } else {
        // Both ends negative. With y = -z on [c, d] = [-b, -a] (upper
        // tail) and Mills ratio M(t) = (1 - Phi(t)) / phi(t):
        //   E[y] = (1 - q) / (M(c) - q M(d)),  q = phi(d) / phi(c),
        //   Var[y] = 1 + ((c - E[y]) - (d - E[y]) q) / (M(c) - q M(d)),
        // which involves no large logarithms.
        let (c, d) = (-b, -a);
        let lq = -0.5 * (d - c) * (d + c);
        let q = lq.exp();
        let one_m_q = -lq.exp_m1();
        let den = mills_ratio(c) - q * mills_ratio(d);
        let my = one_m_q / den;
        let vy = 1.0 + ((c - my) - (d - my) * q) / den;
        (-my, vy)
    };
    let mean = if mean.is_finite() {
        mean.clamp(a, b)
    } else {
        mid
    };
    let var = if var.is_finite() {
        var.clamp(0.0, h * h)
    } else {
        0.0
    };
    if flip {
        (-mean, var)
    } else {
        (mean, var)
    }
}

/// Mills ratio `(1 - Phi(t)) / phi(t)` for `t >= 0`.
pub fn mills_ratio(t: f64) -> f64 {
    if t < 6.0 {
        pnorm_both(-t).0 / ln_dnorm(t).exp()
    } else {
        // Continued fraction 1 / (t + 1 / (t + 2 / (t + 3 / (t + ...)))),
        // evaluated from the tail.
        let mut f = t;
        for k in (1..=60).rev() {
            f = t + k as f64 / f;
        }
        1.0 / f
    }
}

/// Posterior probability that `Z < c` for the standard normal truncated to
/// `[alpha, beta]`.
fn truncnorm_cdf(alpha: f64, beta: f64, c: f64) -> f64 {
    if c <= alpha {
        return 0.0;
    }
    if c >= beta {
        return 1.0;
    }
    let num = ln_pnorm_diff(alpha, c);
    let den = ln_pnorm_diff(alpha, beta);
    let p = (num - den).exp();
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        (c - alpha) / (beta - alpha)
    }
}

/// Posterior mean, variance, `P(theta < 0)` and `P(theta = 0)` for one
/// component, given `x`, `s`.
#[inline]
fn comp_posterior(
    mix: &Mixture,
    k: usize,
    x: f64,
    s: f64,
    want_sign: bool,
) -> (f64, f64, f64, f64) {
    match mix.kind {
        MixKind::Normal => {
            let mu = mix.p[k];
            let sd = mix.q[k];
            if sd == 0.0 {
                let neg = if mu < 0.0 { 1.0 } else { 0.0 };
                let zero = if mu == 0.0 { 1.0 } else { 0.0 };
                return (mu, 0.0, neg, zero);
            }
            let s2 = s * s;
            let v0 = sd * sd;
            let tot = s2 + v0;
            // Written to stay finite when one variance dwarfs the other.
            let (pm, pv) = if v0 >= s2 {
                let w = s2 / tot; // weight on the prior mean
                (x + w * (mu - x), s2 * (v0 / tot))
            } else {
                let w = v0 / tot; // weight on the data
                (mu + w * (x - mu), v0 * (s2 / tot))
            };
            let neg = if want_sign {
                if pv > 0.0 {
                    pnorm_both(-pm / pv.sqrt()).0
                } else if pm < 0.0 {
                    1.0
                } else {
                    0.0
                }
            } else {
                0.0
            };
            (pm, pv, neg, 0.0)
        }
        MixKind::Uniform => {
            let a = mix.p[k];
            let b = mix.q[k];
            if b - a <= 1e-10 * s {
                let m = 0.5 * (a + b);
                let neg = if m < 0.0 { 1.0 } else { 0.0 };
                let zero = if m == 0.0 { 1.0 } else { 0.0 };
                return (m, 0.0, neg, zero);
            }
            let alpha = (a - x) / s;
            let beta = (b - x) / s;
            let (zm, zv) = truncnorm_mean_var(alpha, beta);
            let pm = (x + s * zm).clamp(a, b);
            let pv = s * s * zv;
            let neg = if want_sign {
                if b <= 0.0 {
                    1.0
                } else if a >= 0.0 {
                    0.0
                } else {
                    truncnorm_cdf(alpha, beta, -x / s)
                }
            } else {
                0.0
            };
            (pm, pv, neg, 0.0)
        }
    }
}

/// Posterior summaries for every observation.
#[derive(Clone, Debug)]
pub struct PosteriorSummary {
    pub mean: Vec<f64>,
    pub second_moment: Vec<f64>,
    pub sd: Vec<f64>,
    pub lfsr: Option<Vec<f64>>,
    /// `sum_i log p(x_i | g)`.
    pub log_likelihood: f64,
}

impl PosteriorSummary {
    /// Room for `len` observations, all zero.
    fn zeros(len: usize, compute_lfsr: bool) -> PosteriorSummary {
        PosteriorSummary {
            mean: vec![0.0; len],
            second_moment: vec![0.0; len],
            sd: vec![0.0; len],
            lfsr: if compute_lfsr { Some(vec![0.0; len]) } else { None },
            log_likelihood: 0.0,
        }
    }

    /// Observation `r`'s posterior mean, variance and (if kept) lfsr.
    fn put(&mut self, r: usize, mean: f64, var: f64, lfsr: Option<f64>) {
        self.mean[r] = mean;
        self.sd[r] = var.sqrt();
        self.second_moment[r] = mean * mean + var;
        if let (Some(l), Some(v)) = (self.lfsr.as_mut(), lfsr) {
            l[r] = v;
        }
    }
}

/// The posterior mean, variance and (with `compute_lfsr`) lfsr of the
/// observation `(x, s)` from the active components' weights `lw`
/// (unnormalised, summing to `tot`; normalised in place). Components of
/// weight zero are skipped; `cm` and `cv` are scratch of `lw`'s length.
#[allow(clippy::too_many_arguments)]
fn row_moments(
    mix: &Mixture,
    active: &[usize],
    x: f64,
    s: f64,
    tot: f64,
    lw: &mut [f64],
    cm: &mut [f64],
    cv: &mut [f64],
    compute_lfsr: bool,
) -> (f64, f64, Option<f64>) {
    let mut m = 0.0;
    let mut neg = 0.0;
    let mut zero = 0.0;
    for j in 0..active.len() {
        let w = lw[j] / tot;
        lw[j] = w;
        if w == 0.0 {
            continue;
        }
        let (pm, pv, pn, pz) = comp_posterior(mix, active[j], x, s, compute_lfsr);
        cm[j] = pm;
        cv[j] = pv;
        m += w * pm;
        neg += w * pn;
        zero += w * pz;
    }
    let mut var = 0.0;
    for j in 0..active.len() {
        if lw[j] > 0.0 {
            let d = cm[j] - m;
            var += lw[j] * (cv[j] + d * d);
        }
    }
    (m, finite_variance(var), compute_lfsr.then(|| lfsr_of(neg, zero)))
}

/// The lfsr from the posterior probabilities of a negative effect and of
/// zero.
fn lfsr_of(neg: f64, zero: f64) -> f64 {
    let neg = neg.clamp(0.0, 1.0);
    let zero = zero.clamp(0.0, 1.0);
    let pos = (1.0 - neg - zero).max(0.0);
    (zero + neg.min(pos)).clamp(0.0, 1.0)
}

/// Posterior means, second moments, sds, lfsr (if asked) and the marginal
/// log-likelihood under the mixture `mix`. Components with zero weight are
/// skipped (as ash prunes them before summarising).
pub fn posterior_summary(
    mix: &Mixture,
    x: &[f64],
    s: &[f64],
    compute_lfsr: bool,
) -> PosteriorSummary {
    let n = x.len();
    let active: Vec<usize> = (0..mix.len()).filter(|&k| mix.pi[k] > 0.0).collect();
    let ln_pi: Vec<f64> = active.iter().map(|&k| mix.pi[k].ln()).collect();
    let kk = active.len();
    let mut out = PosteriorSummary::zeros(n, compute_lfsr);
    let mut lw = vec![0.0; kk];
    let mut cm = vec![0.0; kk];
    let mut cv = vec![0.0; kk];
    for i in 0..n {
        let (xi, si) = (x[i], s[i]);
        let mut mx = f64::NEG_INFINITY;
        for j in 0..kk {
            let v = ln_pi[j] + mix.comp_loglik(active[j], xi, si);
            lw[j] = v;
            if v > mx {
                mx = v;
            }
        }
        if mx == f64::NEG_INFINITY {
            // Every component has zero likelihood (cannot happen for finite
            // inputs, but keep the output finite): fall back to the nearest
            // component in log-likelihood terms.
            mx = 0.0;
        }
        let mut tot = 0.0;
        for v in lw.iter_mut() {
            *v = (*v - mx).exp();
            tot += *v;
        }
        out.log_likelihood += mx + tot.ln();
        let (m, var, lfsr) = row_moments(mix, &active, xi, si, tot, &mut lw, &mut cm, &mut cv, compute_lfsr);
        out.put(i, m, var, lfsr);
    }
    out
}

/// [`posterior_summary`] for a prior that is given, not fitted (`fix_g`,
/// the final lfsr): through the likelihood matrix of the components with
/// positive weight, so that the vector loops of the likelihood and of the
/// normal mixtures' summaries serve.
pub fn posterior_summary_fixed(mix: &Mixture, x: &[f64], s: &[f64], compute_lfsr: bool) -> PosteriorSummary {
    let keep: Vec<usize> = (0..mix.len()).filter(|&k| mix.pi[k] > 0.0).collect();
    let pick = |v: &[f64]| keep.iter().map(|&k| v[k]).collect::<Vec<f64>>();
    let active = Mixture { kind: mix.kind, pi: pick(&mix.pi), p: pick(&mix.p), q: pick(&mix.q) };
    posterior_summary_from_lik(&active, &lik_matrix(&active, x, s), x, s, compute_lfsr)
}

/// Was any component of `mix` a point mass at zero? (Used by callers to
/// decide whether the lfsr needs a zero term; kept for completeness.)
pub fn has_zero_mass(mix: &Mixture) -> bool {
    (0..mix.len()).any(|k| mix.is_zero_mass(k))
}

/// The n x m matrix of component likelihoods, each row scaled by its largest
/// entry: `lik[k * n + i] = exp(l_ik - row_max_i)` (column-major), with
/// `l_ik = log int N(x_i; theta, s_i^2) g_k(dtheta)`.
#[derive(Clone, Debug)]
pub struct LikMatrix {
    pub n: usize,
    pub m: usize,
    /// Column-major, `n * m`.
    pub lik: Vec<f64>,
    /// `max_k l_ik` for each row.
    pub row_max: Vec<f64>,
}

impl LikMatrix {
    pub fn col(&self, k: usize) -> &[f64] {
        &self.lik[k * self.n..(k + 1) * self.n]
    }

    /// `sum_i log sum_k pi_k L_ik` on the original (unscaled) scale.
    pub fn log_likelihood(&self, pi: &[f64]) -> f64 {
        let mut u = vec![0.0; self.n];
        for (k, &p) in pi.iter().enumerate() {
            if p > 0.0 {
                for (ui, &l) in u.iter_mut().zip(self.col(k)) {
                    *ui += p * l;
                }
            }
        }
        u.iter()
            .zip(&self.row_max)
            .map(|(&ui, &r)| ui.ln() + r)
            .sum()
    }
}

/// Build the scaled likelihood matrix of `mix`'s components at `(x, s)`.
pub fn lik_matrix(mix: &Mixture, x: &[f64], s: &[f64]) -> LikMatrix {
    let n = x.len();
    let m = mix.len();
    let mut lik = vec![0.0; n * m];
    // With normal components and one standard error for all observations,
    // each column's sd and its log are the same for every row.
    let common_s = (n > 0 && matches!(mix.kind, MixKind::Normal) && s.iter().all(|v| *v == s[0]))
        .then(|| s[0]);
    let fill = |k: usize, col: &mut [f64]| match common_s {
        Some(s0) => {
            let sd = (s0 * s0 + mix.q[k] * mix.q[k]).sqrt();
            let (inv, shift) = (1.0 / sd, -LN_SQRT_2PI - sd.ln());
            let mean = mix.p[k];
            for i in 0..n {
                let z = (x[i] - mean) * inv;
                col[i] = -0.5 * z * z + shift;
            }
        }
        None => match mix.kind {
            MixKind::Uniform => uniform_loglik_col(mix.p[k], mix.q[k], x, s, col),
            MixKind::Normal => {
                for i in 0..n {
                    col[i] = mix.comp_loglik(k, x[i], s[i]);
                }
            }
        },
    };
    // Columns are independent: large matrices fill them on the pool.
    if n * m >= 1_000_000 && crate::data::threads() > 1 {
        use rayon::prelude::*;
        crate::data::in_pool(|| {
            lik.par_chunks_mut(n).enumerate().for_each(|(k, col)| fill(k, col))
        });
    } else {
        lik.chunks_mut(n.max(1)).enumerate().for_each(|(k, col)| fill(k, col));
    }
    let mut row_max = vec![f64::NEG_INFINITY; n];
    for k in 0..m {
        for (r, &l) in row_max.iter_mut().zip(&lik[k * n..(k + 1) * n]) {
            if l > *r {
                *r = l;
            }
        }
    }
    for col in lik.chunks_mut(n.max(1)) {
        crate::fastmath::exp_shifted(col, &row_max);
    }
    LikMatrix { n, m, lik, row_max }
}

/// Posterior summaries computed from an already-built likelihood matrix of
/// `mix`'s components (rows scaled by `lik.row_max`): the component weights
/// and the log-likelihood come from the matrix, so only the per-component
/// moments of the components with positive weight are evaluated.
pub fn posterior_summary_from_lik(
    mix: &Mixture,
    lik: &LikMatrix,
    x: &[f64],
    s: &[f64],
    compute_lfsr: bool,
) -> PosteriorSummary {
    let n = x.len();
    debug_assert_eq!(lik.n, n);
    debug_assert_eq!(lik.m, mix.len());
    // Rows are independent: chunk by chunk (in parallel when allowed), the
    // log-likelihood summed in chunk order.
    let parts = crate::data::chunked(n, |range| summary_rows(mix, lik, x, s, compute_lfsr, range));
    let mut out = PosteriorSummary {
        mean: Vec::with_capacity(n),
        second_moment: Vec::with_capacity(n),
        sd: Vec::with_capacity(n),
        lfsr: if compute_lfsr { Some(Vec::with_capacity(n)) } else { None },
        log_likelihood: 0.0,
    };
    for part in parts {
        out.mean.extend(part.mean);
        out.second_moment.extend(part.second_moment);
        out.sd.extend(part.sd);
        if let (Some(l), Some(p)) = (out.lfsr.as_mut(), part.lfsr) {
            l.extend(p);
        }
        out.log_likelihood += part.log_likelihood;
    }
    out
}

/// What every row of [`summary_rows`] reads: the mixture, its components
/// with positive weight, the scaled likelihood matrix and the data.
struct RowInputs<'a> {
    mix: &'a Mixture,
    active: &'a [usize],
    lik: &'a LikMatrix,
    x: &'a [f64],
    s: &'a [f64],
}

/// [`posterior_summary_from_lik`] for the rows in `range`.
fn summary_rows(
    mix: &Mixture,
    lik: &LikMatrix,
    x: &[f64],
    s: &[f64],
    compute_lfsr: bool,
    range: std::ops::Range<usize>,
) -> PosteriorSummary {
    let start = range.start;
    let len = range.len();
    let active: Vec<usize> = (0..mix.len()).filter(|&k| mix.pi[k] > 0.0).collect();
    let kk = active.len();
    let mut out = PosteriorSummary::zeros(len, compute_lfsr);
    let mut lw = vec![0.0; kk];
    let mut cm = vec![0.0; kk];
    let mut cv = vec![0.0; kk];
    let rows = RowInputs { mix, active: &active, lik, x, s };
    let mut i = range.start;
    #[cfg(target_arch = "x86_64")]
    if matches!(mix.kind, MixKind::Normal) && crate::fastmath::avx2::available() {
        // Four rows at a time, the same operations in the same order as
        // the row-by-row loop (so the same bits); a block with a row whose
        // components all underflowed goes row by row.
        let mut buf = vec![0.0; 3 * 4 * kk];
        while i + 4 <= range.end {
            // SAFETY: AVX2 and FMA are available (checked above); rows i..i + 4
            // are in range.
            match unsafe { normal_rows_avx2(&rows, i, &mut buf, compute_lfsr) } {
                Some(block) => {
                    for (lane, (m, var, term, lfsr)) in block.into_iter().enumerate() {
                        out.put(i + lane - start, m, var, lfsr);
                        out.log_likelihood += term;
                    }
                }
                None => {
                    for row in i..i + 4 {
                        summary_row(&rows, row, row - start, &mut out, [&mut lw, &mut cm, &mut cv]);
                    }
                }
            }
            i += 4;
        }
    }
    for row in i..range.end {
        summary_row(&rows, row, row - start, &mut out, [&mut lw, &mut cm, &mut cv]);
    }
    out
}

/// Row `i` of [`summary_rows`], written to position `r` of `out`, with
/// `work` three scratch vectors of the active components' length.
fn summary_row(rows: &RowInputs, i: usize, r: usize, out: &mut PosteriorSummary, work: [&mut Vec<f64>; 3]) {
    let RowInputs { mix, active, lik, x, s } = *rows;
    let n = x.len();
    let [lw, cm, cv] = work;
    let compute_lfsr = out.lfsr.is_some();
    let (xi, si) = (x[i], s[i]);
    let mut tot = 0.0;
    for (j, &k) in active.iter().enumerate() {
        let v = mix.pi[k] * lik.lik[k * n + i];
        lw[j] = v;
        tot += v;
    }
    if !(tot > 0.0) {
        // Every active component underflowed for this row: redo the row in
        // log space.
        let one = posterior_summary(mix, &[xi], &[si], compute_lfsr);
        out.mean[r] = one.mean[0];
        out.sd[r] = one.sd[0];
        out.second_moment[r] = one.second_moment[0];
        if let (Some(l), Some(o)) = (out.lfsr.as_mut(), one.lfsr) {
            l[r] = o[0];
        }
        out.log_likelihood += one.log_likelihood;
        return;
    }
    out.log_likelihood += tot.ln() + lik.row_max[i];
    let (m, var, lfsr) = row_moments(mix, active, xi, si, tot, lw, cm, cv, compute_lfsr);
    out.put(r, m, var, lfsr);
}

/// A posterior variance as reported: clamped at zero, zero if not finite.
fn finite_variance(var: f64) -> f64 {
    if var.is_finite() { var.max(0.0) } else { 0.0 }
}

/// Rows `i..i + 4` of [`summary_row`] for a normal mixture, in the four
/// lanes of AVX2 vectors: each row's posterior mean, variance,
/// log-likelihood term and (with `compute_lfsr`) lfsr, or `None` when a
/// row's components all underflowed. A component with weight zero adds `0 *
/// (finite)` where the row loop skips it, which leaves the sums' bits as
/// they are. `buf` holds `12 K` values (K active components).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::type_complexity)]
unsafe fn normal_rows_avx2(rows: &RowInputs, i: usize, buf: &mut [f64], compute_lfsr: bool) -> Option<[(f64, f64, f64, Option<f64>); 4]> {
    use crate::fastmath::avx2::{load, splat, store};
    use std::arch::x86_64::*;
    let RowInputs { mix, active, lik, x, s } = *rows;
    let n = x.len();
    let kk = active.len();
    let (w_buf, rest) = buf.split_at_mut(4 * kk);
    let (pm_buf, pv_buf) = rest.split_at_mut(4 * kk);
    let mut tot = _mm256_setzero_pd();
    for (j, &k) in active.iter().enumerate() {
        // SAFETY: rows i..i + 4 of column k lie inside the n x m matrix.
        let v = _mm256_mul_pd(splat(mix.pi[k]), unsafe { load(&lik.lik, k * n + i) });
        unsafe { store(w_buf, 4 * j, v) };
        tot = _mm256_add_pd(tot, v);
    }
    if _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(tot, _mm256_setzero_pd())) != 0xF {
        return None;
    }
    // SAFETY: i + 4 <= n.
    let (xv, sv) = unsafe { (load(x, i), load(s, i)) };
    let s2 = _mm256_mul_pd(sv, sv);
    let mut m = _mm256_setzero_pd();
    let (mut neg, mut zero) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for (j, &k) in active.iter().enumerate() {
        // SAFETY: 4 j + 4 <= 4 K for the three buffers.
        let w = _mm256_div_pd(unsafe { load(w_buf, 4 * j) }, tot);
        unsafe { store(w_buf, 4 * j, w) };
        let (mu, sd) = (mix.p[k], mix.q[k]);
        let (pm, pv) = if sd == 0.0 {
            (splat(mu), _mm256_setzero_pd())
        } else {
            let (muv, v0) = (splat(mu), splat(sd * sd));
            let total = _mm256_add_pd(s2, v0);
            // v0 >= s2: the weight on the prior mean; else on the data.
            let wa = _mm256_div_pd(s2, total);
            let pma = _mm256_add_pd(xv, _mm256_mul_pd(wa, _mm256_sub_pd(muv, xv)));
            let pva = _mm256_mul_pd(s2, _mm256_div_pd(v0, total));
            let wb = _mm256_div_pd(v0, total);
            let pmb = _mm256_add_pd(muv, _mm256_mul_pd(wb, _mm256_sub_pd(xv, muv)));
            let pvb = _mm256_mul_pd(v0, _mm256_div_pd(s2, total));
            let prior_side = _mm256_cmp_pd::<_CMP_GE_OQ>(v0, s2);
            (_mm256_blendv_pd(pmb, pma, prior_side), _mm256_blendv_pd(pvb, pva, prior_side))
        };
        unsafe {
            store(pm_buf, 4 * j, pm);
            store(pv_buf, 4 * j, pv);
        }
        m = _mm256_add_pd(m, _mm256_mul_pd(w, pm));
        if compute_lfsr {
            // comp_posterior's probabilities of a negative effect and of
            // zero, lane by lane.
            let (pn, pz) = if sd == 0.0 {
                let neg = if mu < 0.0 { 1.0 } else { 0.0 };
                (splat(neg), splat(if mu == 0.0 { 1.0 } else { 0.0 }))
            } else {
                // SAFETY: AVX2 is available.
                (unsafe { crate::special::prob_below_zero4(pm, pv) }, _mm256_setzero_pd())
            };
            neg = _mm256_add_pd(neg, _mm256_mul_pd(w, pn));
            zero = _mm256_add_pd(zero, _mm256_mul_pd(w, pz));
        }
    }
    let mut var = _mm256_setzero_pd();
    for j in 0..kk {
        // SAFETY: as above.
        let (w, pm, pv) = unsafe { (load(w_buf, 4 * j), load(pm_buf, 4 * j), load(pv_buf, 4 * j)) };
        let d = _mm256_sub_pd(pm, m);
        var = _mm256_add_pd(var, _mm256_mul_pd(w, _mm256_add_pd(pv, _mm256_mul_pd(d, d))));
    }
    let (mut tots, mut ms, mut vars, mut negs, mut zeros) = ([0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4], [0.0; 4]);
    // SAFETY: each array holds four values.
    unsafe {
        store(&mut tots, 0, tot);
        store(&mut ms, 0, m);
        store(&mut vars, 0, var);
        store(&mut negs, 0, neg);
        store(&mut zeros, 0, zero);
    }
    Some(std::array::from_fn(|l| {
        let lfsr = compute_lfsr.then(|| lfsr_of(negs[l], zeros[l]));
        (ms[l], finite_variance(vars[l]), tots[l].ln() + lik.row_max[i + l], lfsr)
    }))
}

/// Maximum-likelihood (optionally penalised) mixture weights for the
/// components of `mix` by mix-SQP, starting from `pi_init` (default: the
/// weights in `mix`). Returns the weights (non-negative, summing to one) and
/// the likelihood matrix, which the caller can reuse for the posterior.
pub fn fit_weights(
    mix: &Mixture,
    x: &[f64],
    s: &[f64],
    pi_init: Option<&[f64]>,
    penalty: &[PenaltyRow],
    ash_null_check: bool,
) -> (Vec<f64>, LikMatrix) {
    let lik = lik_matrix(mix, x, s);
    let m = mix.len();
    if m == 1 {
        return (vec![1.0], lik);
    }
    if ash_null_check && null_is_optimal(&lik, penalty) {
        let mut pi = vec![0.0; m];
        pi[0] = 1.0;
        return (pi, lik);
    }
    let x0 = pi_init.unwrap_or(&mix.pi);
    // From a warm start (a previous solution, inside a fit) mixsqp's
    // initial EM steps only repeat work: the problem is convex, so its
    // SQP iterations reach the same optimum without them.
    let control = MixSqpControl {
        numiter_em: if pi_init.is_some() { 0 } else { MixSqpControl::default().numiter_em },
        ..MixSqpControl::default()
    };
    let res = mixsqp(&lik.lik, lik.n, m, None, penalty, Some(x0), &control);
    let mut pi: Vec<f64> = res.x.iter().map(|v| v.max(0.0)).collect();
    let tot: f64 = pi.iter().sum();
    for v in pi.iter_mut() {
        *v /= tot;
    }
    (pi, lik)
}

/// ash's shortcut: with a Dirichlet weight `1 + w0` on the first ("null")
/// component only, all mass on the null is optimal when no direction away
/// from it increases the penalised likelihood, i.e. when
/// `n - sum_i L_ik / L_i1 + w0 >= 0` for every `k` (tiny entries being
/// nudged by 1e-99, as ash does).
fn null_is_optimal(lik: &LikMatrix, penalty: &[PenaltyRow]) -> bool {
    if penalty.iter().any(|p| p.k != 0 && p.weight > 0.0) {
        return false;
    }
    let w0: f64 = penalty.iter().filter(|p| p.k == 0).map(|p| p.weight).sum();
    let n = lik.n;
    let nudge = |v: f64| if v.abs() < 1e-99 { v + 1e-99 } else { v };
    let base: Vec<f64> = lik.col(0).iter().map(|&v| nudge(v)).collect();
    for k in 0..lik.m {
        let ratio: f64 = lik
            .col(k)
            .iter()
            .zip(&base)
            .map(|(&v, &b)| nudge(v) / b)
            .sum();
        let grad = n as f64 - ratio;
        if !(grad + w0 >= 0.0) {
            return false;
        }
    }
    true
}

/// Assemble an [`EbnmFit`] from a prior and its posterior summary.
pub fn to_fit(mix: &Mixture, post: PosteriorSummary) -> EbnmFit {
    EbnmFit {
        prior: mix.to_prior(),
        mean: post.mean,
        second_moment: post.second_moment,
        sd: post.sd,
        lfsr: post.lfsr,
        log_likelihood: post.log_likelihood,
    }
}

#[allow(clippy::excessive_precision)]
/// Standard normal quantile from `log p` (lower tail, `log p <= log 0.5`),
/// by Wichura's AS 241 with a Newton polish; accurate far into the tail.
fn qnorm_lower_log(lp: f64) -> f64 {
    let p = lp.exp();
    let q = p - 0.5;
    let mut z = if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        q * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
            + 67265.770927008700853)
            * r
            + 45921.953931549871457)
            * r
            + 13731.693765509461125)
            * r
            + 1971.5909503065514427)
            * r
            + 133.14166789178437745)
            * r
            + 3.387132872796366608)
            / (((((((r * 5226.495278852545925 + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0)
    } else {
        let r = (-lp).sqrt();
        let v = if r <= 5.0 {
            let r = r - 1.6;
            (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
                + 0.24178072517745061177)
                * r
                + 1.27045825245236838258)
                * r
                + 3.64784832476320460504)
                * r
                + 5.7694972214606914055)
                * r
                + 4.6303378461565452959)
                * r
                + 1.42343711074968357734)
                / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                    + 0.0151986665636164571966)
                    * r
                    + 0.14810397642748007459)
                    * r
                    + 0.68976733498510000455)
                    * r
                    + 1.6763848301838038494)
                    * r
                    + 2.05319162663775882187)
                    * r
                    + 1.0)
        } else {
            let r = r - 5.0;
            (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
                + 0.0012426609473880784386)
                * r
                + 0.026532189526576123093)
                * r
                + 0.29656057182850489123)
                * r
                + 1.7848265399172913358)
                * r
                + 5.4637849111641143699)
                * r
                + 6.6579046435011037772)
                / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                    + 1.8463183175100546818e-5)
                    * r
                    + 7.868691311456132591e-4)
                    * r
                    + 0.0148753612908506148525)
                    * r
                    + 0.13692988092273580531)
                    * r
                    + 0.59983220655588793769)
                    * r
                    + 1.0)
        };
        -v
    };
    // Newton steps on log Phi(z) = lp.
    for _ in 0..2 {
        let f = ln_pnorm(z) - lp;
        let d = (ln_dnorm(z) - ln_pnorm(z)).exp();
        if !(d > 0.0 && d.is_finite()) {
            break;
        }
        let step = f / d;
        if !step.is_finite() {
            break;
        }
        z -= step;
    }
    z
}

/// Draw from the standard normal truncated to `[alpha, beta]` by inversion,
/// given `u` uniform on (0, 1).
fn sample_truncnorm(alpha: f64, beta: f64, u: f64) -> f64 {
    if !(beta > alpha) {
        return 0.5 * (alpha + beta);
    }
    let flip = alpha > 0.0;
    let (a, b) = if flip { (-beta, -alpha) } else { (alpha, beta) };
    // Target log Phi(z) = log(Phi(a) + u (Phi(b) - Phi(a))).
    let la = ln_pnorm(a);
    let ld = ln_pnorm_diff(a, b);
    let lt = log_add(la, u.ln() + ld);
    let z = if lt <= -LN_2 {
        qnorm_lower_log(lt)
    } else {
        // Upper half: use the complementary tail for precision.
        let lu = ln1m_exp(lt.min(-1e-300));
        -qnorm_lower_log(lu)
    };
    let z = if z.is_finite() {
        z.clamp(a, b)
    } else {
        a + u * (b - a)
    };
    if flip {
        -z
    } else {
        z
    }
}

fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// One draw of `theta` from its posterior given `x ~ N(theta, s^2)` and the
/// mixture prior `prior` (`NormalMix` or `UniMix`), driven only by the
/// uniform draws `unif` yields (two per draw). Other priors give NaN.
pub fn sample_posterior_mixture(
    prior: &Prior,
    x: f64,
    s: f64,
    unif: &mut dyn FnMut() -> f64,
) -> f64 {
    let mix = match Mixture::from_prior(prior) {
        Ok(m) => m,
        Err(_) => return f64::NAN,
    };
    let kk = mix.len();
    let mut lw = vec![f64::NEG_INFINITY; kk];
    let mut mx = f64::NEG_INFINITY;
    for (k, l) in lw.iter_mut().enumerate() {
        if mix.pi[k] > 0.0 {
            *l = mix.pi[k].ln() + mix.comp_loglik(k, x, s);
            mx = mx.max(*l);
        }
    }
    let mut tot = 0.0;
    for v in lw.iter_mut() {
        *v = if mx.is_finite() { (*v - mx).exp() } else { 0.0 };
        tot += *v;
    }
    let u1 = unif();
    let target = u1 * tot;
    let mut acc = 0.0;
    let mut pick = kk - 1;
    for (k, &w) in lw.iter().enumerate() {
        acc += w;
        if w > 0.0 {
            pick = k;
            if acc > target {
                break;
            }
        }
    }
    let u2 = unif().clamp(1e-300, 1.0 - 1e-16);
    match mix.kind {
        MixKind::Normal => {
            let (pm, pv, _, _) = comp_posterior(&mix, pick, x, s, false);
            if pv <= 0.0 {
                return pm;
            }
            let z = if u2 <= 0.5 {
                qnorm_lower_log(u2.ln())
            } else {
                -qnorm_lower_log((-u2).ln_1p())
            };
            pm + pv.sqrt() * z
        }
        MixKind::Uniform => {
            let (a, b) = (mix.p[pick], mix.q[pick]);
            if b - a <= 1e-10 * s {
                return 0.5 * (a + b);
            }
            let z = sample_truncnorm((a - x) / s, (b - x) / s, u2);
            (x + s * z).clamp(a, b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A given prior's summaries through the likelihood matrix (vector
    /// loops) agree with the log-space row loop: normal and uniform
    /// mixtures with a component of weight zero, lfsr included.
    #[test]
    fn fixed_prior_summaries_match_the_log_space_loop() {
        let n = 41;
        let x: Vec<f64> = (0..n).map(|i| ((i * 37 % 23) as f64 - 11.0) * 0.43).collect();
        let s: Vec<f64> = (0..n).map(|i| 0.2 + (i % 7) as f64 * 0.4).collect();
        let normal = Mixture { kind: MixKind::Normal, pi: vec![0.4, 0.0, 0.3, 0.3], p: vec![0.0; 4], q: vec![0.0, 0.3, 1.0, 4.0] };
        let uniform = Mixture { kind: MixKind::Uniform, pi: vec![0.5, 0.2, 0.0, 0.3], p: vec![0.0, -1.0, -2.0, -4.0], q: vec![0.0, 1.0, 2.0, 4.0] };
        for mix in [normal, uniform] {
            let (a, b) = (posterior_summary_fixed(&mix, &x, &s, true), posterior_summary(&mix, &x, &s, true));
            assert!((a.log_likelihood - b.log_likelihood).abs() <= 1e-12 * b.log_likelihood.abs());
            let (la, lb) = (a.lfsr.unwrap(), b.lfsr.unwrap());
            for (u, v) in a.mean.iter().chain(&a.second_moment).chain(&a.sd).chain(&la).zip(b.mean.iter().chain(&b.second_moment).chain(&b.sd).chain(&lb)) {
                assert!((u - v).abs() <= 1e-13 * (1.0 + v.abs()), "{:?}: {u} vs {v}", mix.kind);
            }
        }
    }

    /// The four-row AVX2 blocks of the normal mixture's posterior give the
    /// row-by-row loop's bits, with and without the lfsr: both sides of the
    /// variance branch, a point mass, a component left out (weight zero), a
    /// row whose active components all underflow (the log-space fallback)
    /// and a tail of rows.
    #[test]
    fn normal_posterior_blocks_match_the_row_loop_bit_for_bit() {
        let mix = Mixture {
            kind: MixKind::Normal,
            pi: vec![0.4, 0.3, 0.2, 0.1, 0.0],
            p: vec![0.0; 5],
            q: vec![0.0, 0.3, 1.0, 4.0, 100.0],
        };
        let n = 39;
        let mut x: Vec<f64> = (0..n).map(|i| ((i * 37 % 23) as f64 - 11.0) * 0.43).collect();
        let s: Vec<f64> = (0..n).map(|i| 0.2 + (i % 7) as f64 * 0.4).collect();
        // Row 6: only the left-out wide component has a likelihood that
        // does not underflow.
        x[6] = 3.0e3;
        // Row 9: at the prior's mode, where a component's posterior mean
        // is zero.
        x[9] = 0.0;
        let lik = lik_matrix(&mix, &x, &s);
        for lfsr in [false, true] {
            let blocks = summary_rows(&mix, &lik, &x, &s, lfsr, 0..n);
            let active: Vec<usize> = (0..4).collect();
            let mut rows = PosteriorSummary::zeros(n, lfsr);
            let (mut a, mut b, mut c) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
            for i in 0..n {
                let inputs = RowInputs { mix: &mix, active: &active, lik: &lik, x: &x, s: &s };
                summary_row(&inputs, i, i, &mut rows, [&mut a, &mut b, &mut c]);
            }
            assert!(blocks.mean.iter().all(|v| v.is_finite()));
            assert_eq!(blocks.mean, rows.mean);
            assert_eq!(blocks.sd, rows.sd);
            assert_eq!(blocks.second_moment, rows.second_moment);
            assert_eq!(blocks.log_likelihood.to_bits(), rows.log_likelihood.to_bits());
            let bits = |v: &Option<Vec<f64>>| v.as_ref().map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<u64>>());
            assert_eq!(bits(&blocks.lfsr), bits(&rows.lfsr));
            assert_eq!(blocks.lfsr.is_some(), lfsr);
        }
        // The posterior mean of a point mass plus N(0, 1), by hand.
        let one = Mixture { kind: MixKind::Normal, pi: vec![0.5, 0.5], p: vec![0.0; 2], q: vec![0.0, 1.0] };
        let (xs, ss) = (vec![1.5; 4], vec![1.0; 4]);
        let got = summary_rows(&one, &lik_matrix(&one, &xs, &ss), &xs, &ss, false, 0..4);
        let (l0, l1) = ((-0.5 * 1.5f64 * 1.5).exp(), (-0.25 * 1.5f64 * 1.5).exp() / 2f64.sqrt());
        let want = l1 / (l0 + l1) * 0.75;
        assert!(got.mean.iter().all(|m| (m - want).abs() < 1e-14), "{:?} against {want}", got.mean);
    }

    /// Brute-force moments of N(0,1) truncated to [a, b] by Simpson's rule.
    fn brute(a: f64, b: f64) -> (f64, f64) {
        let n = 20000;
        let h = (b - a) / n as f64;
        let c = ln_dnorm(a).max(ln_dnorm(b)).max(if a < 0.0 && b > 0.0 {
            ln_dnorm(0.0)
        } else {
            f64::NEG_INFINITY
        });
        let (mut z0, mut z1, mut z2) = (0.0, 0.0, 0.0);
        for i in 0..=n {
            let t = a + h * i as f64;
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            let d = (ln_dnorm(t) - c).exp() * w;
            z0 += d;
            z1 += d * t;
            z2 += d * t * t;
        }
        let m = z1 / z0;
        (m, z2 / z0 - m * m)
    }

    #[test]
    fn truncnorm_moments_match_quadrature() {
        for &(a, b) in &[
            (-1.0, 2.0),
            (0.5, 3.0),
            (-3.0, -0.5),
            (-40.0, -38.0),
            (38.0, 45.0),
            (-1000.0, -999.0),
            (-0.001, 0.002),
            (-5.0, 5.0),
            (2.0, 2.000001),
            (-700.0, -0.5),
        ] {
            let (m, v) = truncnorm_mean_var(a, b);
            let (bm, bv) = brute(a, b);
            assert!(
                (m - bm).abs() < 1e-7 * (1.0 + bm.abs()),
                "mean {a} {b}: {m} vs {bm}"
            );
            assert!(
                (v - bv).abs() < 1e-6 * bv + 1e-9,
                "var {a} {b}: {v} vs {bv}"
            );
        }
    }

    #[test]
    fn ln_pnorm_diff_is_accurate() {
        // R: log(pnorm(2) - pnorm(-1)) = -0.2069316...
        // log(pnorm(2) - pnorm(-1)) = -0.20016629432446262
        let v = ln_pnorm_diff(-1.0, 2.0);
        assert!((v + 0.200_166_294_324_462_62).abs() < 1e-14, "{v}");
        // far tail: log(Phi(-40) - Phi(-41)) ~ log Phi(-40)
        let t = ln_pnorm_diff(-41.0, -40.0);
        assert!((t - ln_pnorm(-40.0)).abs() < 1e-12);
        let t2 = ln_pnorm_diff(40.0, 41.0);
        assert!((t - t2).abs() < 1e-12);
    }

    #[test]
    fn uniform_columns_have_the_pointwise_bits() {
        // Every branch of uniform_loglik: both ends in one tail, straddling
        // (wide and shorter than 1e-3), far tails, degenerate intervals.
        let xs: Vec<f64> = (0..203).map(|i| (i as f64 - 101.0) * 0.37).chain([0.0, 1e-12, -1e-12, 60.0, -60.0]).collect();
        let ss: Vec<f64> = (0..xs.len()).map(|i| [0.05, 0.5, 1.0, 3.0, 1e-6][i % 5]).collect();
        for &(a, b) in &[(-1.0, 1.0), (0.0, 2.5), (-7.0, 0.0), (2.0, 9.0), (-40.0, -1.0), (0.0, 1e-4), (-5e-4, 5e-4), (3.0, 3.0), (-0.2, 1e-11 - 0.2)] {
            let mut col = vec![0.0; xs.len()];
            uniform_loglik_col(a, b, &xs, &ss, &mut col);
            for i in 0..xs.len() {
                let want = uniform_loglik(a, b, xs[i], ss[i]);
                assert!(col[i].to_bits() == want.to_bits(), "[{a}, {b}], x = {}, s = {}: {} vs {want}", xs[i], ss[i], col[i]);
            }
        }
    }

    #[test]
    fn uniform_loglik_fast_path_agrees() {
        for &(a, b) in &[
            (0.0, 1.0),
            (-3.0, 0.0),
            (-0.5, 0.5),
            (2.0, 9.0),
            (-40.0, -1.0),
            (0.0, 0.01),
        ] {
            for &x in &[-50.0, -5.0, -1.0, 0.0, 0.3, 2.0, 8.0, 45.0] {
                for &s in &[0.1, 1.0, 3.0] {
                    let fast = uniform_loglik(a, b, x, s);
                    let slow = ln_pnorm_diff((a - x) / s, (b - x) / s) - (b - a).ln();
                    assert!(
                        (fast - slow).abs() <= 1e-13 * (1.0 + slow.abs()),
                        "{a} {b} {x} {s}: {fast} {slow}"
                    );
                }
            }
        }
    }

    #[test]
    fn qnorm_inverts_pnorm() {
        for &z in &[-30.0, -8.0, -2.0, -0.3, 0.0, 0.4, 1.5, 6.0] {
            let lp = ln_pnorm(z);
            if lp <= -LN_2 {
                assert!((qnorm_lower_log(lp) - z).abs() < 1e-9, "{z}");
            }
        }
    }

    #[test]
    fn posterior_is_finite_in_extreme_cases() {
        let mix = Mixture {
            kind: MixKind::Uniform,
            pi: vec![0.5, 0.25, 0.25],
            p: vec![0.0, -1.0, 0.0],
            q: vec![0.0, 0.0, 1.0],
        };
        let x = [1e3, -1e3, 0.0, 5.0, 1e-300];
        let s = [1.0, 1.0, 1e-10, 1e5, 1.0];
        let post = posterior_summary(&mix, &x, &s, true);
        for i in 0..x.len() {
            assert!(post.mean[i].is_finite() && post.sd[i].is_finite());
            assert!(post.second_moment[i] >= post.mean[i] * post.mean[i]);
            let l = post.lfsr.as_ref().unwrap()[i];
            assert!((0.0..=1.0).contains(&l));
        }
        assert!(
            (post.mean[0] - (1.0 - 1.0 / 999.0)).abs() < 1e-5,
            "{}",
            post.mean[0]
        );
        assert!(
            (post.mean[1] + (1.0 - 1.0 / 999.0)).abs() < 1e-5,
            "{}",
            post.mean[1]
        );
        assert!(post.log_likelihood.is_finite());
        let nmix = Mixture {
            kind: MixKind::Normal,
            pi: vec![0.3, 0.7],
            p: vec![0.0, 0.0],
            q: vec![0.0, 2.0],
        };
        let post = posterior_summary(&nmix, &x, &s, true);
        for i in 0..x.len() {
            assert!(post.mean[i].is_finite() && post.sd[i].is_finite());
            assert!(post.second_moment[i] >= post.mean[i] * post.mean[i]);
        }
    }

    fn lcg(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    #[test]
    fn sampler_matches_posterior_moments() {
        let priors = [
            Prior::UniMix {
                pi: vec![0.4, 0.3, 0.3],
                a: vec![0.0, -2.0, 0.0],
                b: vec![0.0, 0.0, 3.0],
            },
            Prior::NormalMix {
                pi: vec![0.5, 0.3, 0.2],
                mean: vec![0.0, 0.0, 1.0],
                sd: vec![0.0, 1.0, 3.0],
            },
            Prior::UniMix {
                pi: vec![0.5, 0.5],
                a: vec![-1.0, 10.0],
                b: vec![1.0, 10.5],
            },
        ];
        let mut st = 12345u64;
        for prior in &priors {
            let mix = Mixture::from_prior(prior).unwrap();
            for &(x, s) in &[(0.7, 1.0), (-2.5, 0.5), (12.0, 1.0), (40.0, 1.0)] {
                let post = posterior_summary(&mix, &[x], &[s], false);
                let nd = 20000;
                let (mut m1, mut m2) = (0.0, 0.0);
                for _ in 0..nd {
                    let t = sample_posterior_mixture(prior, x, s, &mut || lcg(&mut st));
                    m1 += t;
                    m2 += t * t;
                }
                m1 /= nd as f64;
                m2 /= nd as f64;
                let sd = post.sd[0];
                let se1 = sd / (nd as f64).sqrt();
                assert!(
                    (m1 - post.mean[0]).abs() <= 5.0 * se1 + 1e-12,
                    "{prior:?} x={x}: {m1} vs {}",
                    post.mean[0]
                );
                let se2 =
                    (2.0 * post.second_moment[0] * sd + sd * sd) * 2.0 / (nd as f64).sqrt() + 1e-12;
                assert!(
                    (m2 - post.second_moment[0]).abs() <= 5.0 * se2,
                    "{prior:?} x={x}: {m2} vs {}",
                    post.second_moment[0]
                );
            }
        }
    }
}
