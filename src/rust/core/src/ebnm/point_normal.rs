//! Point-normal prior: `g = pi0 delta_mu + (1 - pi0) N(mu, sigma^2)`.
//!
//! The marginal of one observation is
//! `p(x_i) = pi0 N(x_i; mu, s_i^2) + (1 - pi0) N(x_i; mu, s_i^2 + sigma^2)`.
//! We maximise `sum_i log p(x_i)` over `alpha = logit(pi0)`, `beta = log(sigma^2)`
//! and (when asked) `mu` by damped Newton with the exact Hessian, then compare
//! with the boundary solution `pi0 = 1` as ebnm does.

use super::newton::{maximize, NewtonControl};
use super::{EbnmError, EbnmFit, EbnmOptions, Mode, Prior, Scale};
use crate::special::{ln_dnorm_ms, pnorm, LogProduct, LN_SQRT_2PI};

/// Point-normal parameters in natural form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointNormal {
    pub pi0: f64,
    pub sigma2: f64,
    pub mu: f64,
}

impl PointNormal {
    pub fn to_prior(self) -> Prior {
        if self.pi0 <= 0.0 {
            Prior::NormalMix {
                pi: vec![1.0],
                mean: vec![self.mu],
                sd: vec![self.sigma2.sqrt()],
            }
        } else {
            Prior::NormalMix {
                pi: vec![self.pi0, 1.0 - self.pi0],
                mean: vec![self.mu, self.mu],
                sd: vec![0.0, self.sigma2.sqrt()],
            }
        }
    }

    /// Read a point-normal `normalmix` (one normal component, or a point mass
    /// followed by a normal with the same mean).
    pub fn from_prior(g: &Prior) -> Result<PointNormal, EbnmError> {
        match g {
            Prior::NormalMix { pi, mean, sd } if pi.len() == 1 => Ok(PointNormal {
                pi0: 0.0,
                sigma2: sd[0] * sd[0],
                mu: mean[0],
            }),
            Prior::NormalMix { pi, mean, sd } if pi.len() == 2 => {
                if sd[0] != 0.0 {
                    return Err("The first component of g_init must be a point mass.".into());
                }
                Ok(PointNormal {
                    pi0: pi[0],
                    sigma2: sd[1] * sd[1],
                    mu: mean[0],
                })
            }
            Prior::NormalMix { .. } => {
                Err("g_init does not have the correct number of components.".into())
            }
            _ => Err("g_init must be NULL or an object of class normalmix.".into()),
        }
    }
}

/// `sum_i log p(x_i)` under a point-normal prior.
pub fn log_likelihood(x: &[f64], s: &[f64], g: PointNormal) -> f64 {
    let ln_pi0 = g.pi0.ln();
    let ln_pi1 = (-g.pi0).ln_1p();
    x.iter()
        .zip(s)
        .map(|(&xi, &si)| {
            let l0 = ln_dnorm_ms(xi, g.mu, si);
            let l1 = ln_dnorm_ms(xi, g.mu, (si * si + g.sigma2).sqrt());
            crate::special::log_add_exp(ln_pi0 + l0, ln_pi1 + l1)
        })
        .sum()
}

/// Which parameters are optimised.
#[derive(Clone, Copy)]
struct Free {
    pi0: bool,
    sigma2: bool,
    mu: bool,
}

/// Per-observation constants of the likelihood, computed once per fit.
struct Precomputed {
    s2: Vec<f64>,
    ln_s2: Vec<f64>,
    /// All standard errors equal (then `log(s^2 + sigma^2)` is one number).
    homoskedastic: bool,
    /// Every `s^2` is a normal number of at most `1e300`, so that `s^2` and
    /// `s^2 + sigma^2` (`sigma^2 <= e^700` in the optimiser) are in the vector
    /// logarithm's domain: the loops over differing `s` may then run in
    /// vector lanes.
    vector_ok: bool,
}

/// The largest `s^2` (and, in the posterior, `sigma^2`) of the vector loops:
/// the sum of two such stays finite, as the vector logarithm needs.
const VECTOR_MAX_VARIANCE: f64 = 1e300;

/// Whether `s^2` is a normal number of at most [`VECTOR_MAX_VARIANCE`] (see
/// [`Precomputed::vector_ok`]).
fn normal_square(s: f64) -> bool {
    let s2 = s * s;
    (f64::MIN_POSITIVE..=VECTOR_MAX_VARIANCE).contains(&s2)
}

impl Precomputed {
    fn new(s: &[f64]) -> Precomputed {
        let s2: Vec<f64> = s.iter().map(|v| v * v).collect();
        let homoskedastic = s.iter().all(|v| *v == s[0]);
        let ln_s2 = if homoskedastic && !s2.is_empty() {
            vec![s2[0].ln(); s2.len()]
        } else {
            let mut out = vec![0.0; s2.len()];
            crate::fastmath::ln_into(&s2, &mut out);
            out
        };
        Precomputed {
            vector_ok: s.iter().all(|v| normal_square(*v)),
            s2,
            ln_s2,
            homoskedastic,
        }
    }
}

/// One observation's terms of the point-normal log-likelihood: its `s^2`,
/// `v = s^2 + sigma^2`, `d = x - mu`, `d^2`, `max(c0, c1)` where `c0 = log
/// pi0 + log N(x; mu, s^2)` and `c1 = log(1 - pi0) + log N(x; mu, v)` (both
/// without `log sqrt(2 pi)`), `e = exp(-|c1 - c0|)` and the slab's posterior
/// weight `r1`. Then `log(e^c0 + e^c1) = max(c0, c1) + log(1 + e)`: one exp
/// per observation, and `ln(1 + e)` (with `e` in (0, 1]) is exact to an ulp
/// of the sum, cheaper than `log1p`.
struct PointTerms {
    s2: f64,
    v: f64,
    d: f64,
    d2: f64,
    c_max: f64,
    e: f64,
    r1: f64,
}

#[inline]
#[allow(clippy::too_many_arguments)]
fn point_terms(pre: &Precomputed, i: usize, xi: f64, mu: f64, sigma2: f64, ln_pi0: f64, ln_pi1: f64, ln_v_common: f64) -> PointTerms {
    let s2 = pre.s2[i];
    let v = s2 + sigma2;
    let ln_v = if pre.homoskedastic { ln_v_common } else { v.ln() };
    let d = xi - mu;
    let d2 = d * d;
    let c0 = ln_pi0 - 0.5 * (d2 / s2 + pre.ln_s2[i]);
    let c1 = ln_pi1 - 0.5 * (d2 / v + ln_v);
    let diff = c1 - c0;
    let e = (-diff.abs()).exp();
    let r1 = if diff >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    PointTerms { s2, v, d, d2, c_max: c0.max(c1), e, r1 }
}

/// Objective, gradient and Hessian in (alpha, beta, mu), restricted to the
/// free parameters. Per observation the log-likelihood is
/// `log(e^{c0} + e^{c1})` with `c0 = log pi0 + log N(x; mu, s^2)` and
/// `c1 = log(1 - pi0) + log N(x; mu, s^2 + sigma^2)`; with `r1` the posterior
/// weight of the slab, the gradient is `sum_k r_k grad c_k` and the Hessian
/// `sum_k r_k (hess c_k + grad c_k grad c_k') - grad grad'`.
fn evaluate(
    x: &[f64],
    pre: &Precomputed,
    fixed: PointNormal,
    free: Free,
    theta: &[f64],
) -> super::newton::Evaluation {
    let mut it = theta.iter().copied();
    let alpha = if free.pi0 {
        it.next()?
    } else {
        logit(fixed.pi0)
    };
    let beta = if free.sigma2 {
        it.next()?
    } else {
        fixed.sigma2.ln()
    };
    let mu = if free.mu { it.next()? } else { fixed.mu };
    if !(alpha.is_finite() && beta.is_finite() && mu.is_finite())
        || !(-700.0..=700.0).contains(&beta)
    {
        return None;
    }
    // ln pi0 and ln(1 - pi0) from alpha, stably.
    let ln_pi0 = -softplus(-alpha);
    let ln_pi1 = -softplus(alpha);
    let pi0 = ln_pi0.exp();
    let pi1 = ln_pi1.exp();
    let sigma2 = beta.exp();
    let ln_v_common = if pre.homoskedastic {
        (pre.s2[0] + sigma2).ln()
    } else {
        0.0
    };
    if free.pi0 && free.sigma2 && !free.mu {
        return Some(evaluate_weight_and_scale(
            x,
            pre,
            ln_pi0,
            ln_pi1,
            sigma2,
            mu,
            ln_v_common,
        ));
    }

    let mut f = 0.0;
    let mut logs = LogProduct::default();
    let mut g = [0.0; 3];
    let mut h = [[0.0; 3]; 3];
    let a_aa = -pi0 * pi1;
    for (i, &xi) in x.iter().enumerate() {
        let PointTerms { s2, v, d, d2, c_max, e, r1 } = point_terms(pre, i, xi, mu, sigma2, ln_pi0, ln_pi1, ln_v_common);
        f += c_max - LN_SQRT_2PI;
        logs.push(1.0 + e);
        let r0 = 1.0 - r1;
        let dl1_dbeta = sigma2 * (0.5 * d2 / (v * v) - 0.5 / v);
        let g0 = [pi1, 0.0, d / s2];
        let g1 = [-pi0, dl1_dbeta, d / v];
        let gi = [r0 * g0[0] + r1 * g1[0], r1 * g1[1], r0 * g0[2] + r1 * g1[2]];
        let bb = dl1_dbeta + sigma2 * sigma2 * (0.5 / (v * v) - d2 / (v * v * v));
        let bm = -sigma2 * d / (v * v);
        for a in 0..3 {
            g[a] += gi[a];
        }
        // Hessians of c0 and c1 are zero except: (a,a) both a_aa; (b,b) bb
        // and (b,m) bm for c1; (m,m) -1/s2 and -1/v.
        for a in 0..3 {
            for b in a..3 {
                let mut hv = r0 * g0[a] * g0[b] + r1 * g1[a] * g1[b] - gi[a] * gi[b];
                match (a, b) {
                    (0, 0) => hv += a_aa,
                    (1, 1) => hv += r1 * bb,
                    (1, 2) => hv += r1 * bm,
                    (2, 2) => hv += -r0 / s2 - r1 / v,
                    _ => {}
                }
                h[a][b] += hv;
            }
        }
    }
    for a in 0..3 {
        for b in 0..a {
            h[a][b] = h[b][a];
        }
    }
    let idx: Vec<usize> = [free.pi0, free.sigma2, free.mu]
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| b.then_some(i))
        .collect();
    let grad: Vec<f64> = idx.iter().map(|&i| g[i]).collect();
    let mut hess = Vec::with_capacity(idx.len() * idx.len());
    for &a in &idx {
        for &b in &idx {
            hess.push(h[a][b]);
        }
    }
    f += logs.total();
    if !f.is_finite() {
        return None;
    }
    Some((f, grad, hess))
}

/// The common case of [`evaluate`]: `pi0` and `sigma^2` free, `mu` fixed.
/// With `r1` the slab's posterior weight and `q = d log N(x; mu, s^2 +
/// sigma^2) / d beta`, the gradient is `(n pi1 - sum r1, sum r1 q)` and the
/// Hessian `[[-n pi0 pi1 + sum r1 r0, -sum r1 r0 q], [., sum r1 r0 q^2 +
/// r1 dq/dbeta]]`, so one pass accumulates six sums.
fn evaluate_weight_and_scale(
    x: &[f64],
    pre: &Precomputed,
    ln_pi0: f64,
    ln_pi1: f64,
    sigma2: f64,
    mu: f64,
    ln_v_common: f64,
) -> (f64, Vec<f64>, Vec<f64>) {
    let (pi0, pi1) = (ln_pi0.exp(), ln_pi1.exp());
    let n = x.len() as f64;
    // Seven sums, accumulated chunk by chunk (in parallel when allowed).
    let parts = crate::data::chunked(x.len(), |range| {
        let mut acc = [0.0f64; 7];
        let mut range = range;
        #[cfg(target_arch = "x86_64")]
        if pre.homoskedastic && crate::fastmath::avx2::available() {
            // Whole quadruples of points in vector lanes, the rest below.
            let quads = range.start..range.start + range.len() / 4 * 4;
            let c = CommonS::new(pre.s2[0], pre.ln_s2[0], mu, sigma2, ln_pi0, ln_pi1, ln_v_common);
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            acc = unsafe { weight_and_scale_sums_avx2(&x[quads.clone()], &c) };
            range = quads.end..range.end;
        } else if pre.vector_ok && crate::fastmath::avx2::available() {
            let quads = range.start..range.start + range.len() / 4 * 4;
            let c = HetS { mu, sigma2, ln_pi0, ln_pi1 };
            // SAFETY: the CPU has AVX2 and FMA (checked above); the slices
            // have the same length, a multiple of 4.
            acc = unsafe {
                weight_and_scale_sums_het_avx2(&x[quads.clone()], &pre.s2[quads.clone()], &pre.ln_s2[quads.clone()], &c)
            };
            range = quads.end..range.end;
        }
        let mut logs = LogProduct::default();
        for i in range {
            let PointTerms { v, d2, c_max, e, r1, .. } = point_terms(pre, i, x[i], mu, sigma2, ln_pi0, ln_pi1, ln_v_common);
            acc[0] += c_max;
            logs.push(1.0 + e);
            let r1r0 = r1 * (1.0 - r1);
            let inv_v = 1.0 / v;
            let q = sigma2 * 0.5 * inv_v * (d2 * inv_v - 1.0);
            let dq = q + sigma2 * sigma2 * inv_v * inv_v * (0.5 - d2 * inv_v);
            acc[1] += r1;
            acc[2] += r1r0;
            acc[3] += r1 * q;
            acc[4] += r1r0 * q;
            acc[5] += r1r0 * q * q;
            acc[6] += r1 * dq;
        }
        acc[0] += logs.total();
        acc
    });
    let mut sums = [0.0f64; 7];
    for part in &parts {
        for (a, b) in sums.iter_mut().zip(part) {
            *a += b;
        }
    }
    let [mut f, s_r1, s_r1r0, s_r1q, s_r1r0q, s_r1r0q2, s_r1dq] = sums;
    f -= n * LN_SQRT_2PI;
    let grad = vec![n * pi1 - s_r1, s_r1q];
    let hab = -s_r1r0q;
    let hess = vec![-n * pi0 * pi1 + s_r1r0, hab, hab, s_r1r0q2 + s_r1dq];
    (f, grad, hess)
}

/// The per-point constants when every point has the same `s^2`: then
/// `c0 = k0 - d^2 / (2 s^2)` and `c1 = k1 - d^2 / (2 v)` with `v = s^2 +
/// sigma^2`.
#[cfg(target_arch = "x86_64")]
struct CommonS {
    mu: f64,
    sigma2: f64,
    k0: f64,
    k1: f64,
    half_inv_s2: f64,
    half_inv_v: f64,
    inv_v: f64,
}

#[cfg(target_arch = "x86_64")]
impl CommonS {
    fn new(s2: f64, ln_s2: f64, mu: f64, sigma2: f64, ln_pi0: f64, ln_pi1: f64, ln_v: f64) -> CommonS {
        let inv_v = 1.0 / (s2 + sigma2);
        CommonS {
            mu,
            sigma2,
            k0: ln_pi0 - 0.5 * ln_s2,
            k1: ln_pi1 - 0.5 * ln_v,
            half_inv_s2: 0.5 / s2,
            half_inv_v: 0.5 * inv_v,
            inv_v,
        }
    }
}

/// The seven sums of [`evaluate_weight_and_scale`] over `x` (a multiple of
/// four points with a common `s`), four points per vector: `c1 - c0` is
/// then linear in `d^2` and the loop is branch-free.
///
/// # Safety
/// The CPU has AVX2 and FMA; `x.len()` is a multiple of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_and_scale_sums_avx2(x: &[f64], c: &CommonS) -> [f64; 7] {
    use crate::fastmath::avx2::{load, splat, LogProduct};
    use std::arch::x86_64::*;
    let (mu, k0, k1) = (splat(c.mu), splat(c.k0), splat(c.k1));
    let (h0, h1, inv_v) = (splat(c.half_inv_s2), splat(c.half_inv_v), splat(c.inv_v));
    let half_s2_inv_v = splat(0.5 * c.sigma2 * c.inv_v);
    let s4_inv_v2 = splat(c.sigma2 * c.sigma2 * c.inv_v * c.inv_v);
    let mut acc = [splat(0.0); 7];
    let mut logs = LogProduct::new();
    for i in (0..x.len()).step_by(4) {
        // SAFETY: i + 4 <= x.len() (a multiple of 4).
        let d = _mm256_sub_pd(unsafe { load(x, i) }, mu);
        let d2 = _mm256_mul_pd(d, d);
        let c0 = _mm256_fnmadd_pd(d2, h0, k0);
        let c1 = _mm256_fnmadd_pd(d2, h1, k1);
        add_point_sums(&mut acc, &mut logs, c0, c1, _mm256_mul_pd(d2, inv_v), half_s2_inv_v, s4_inv_v2);
    }
    finish_sums(acc, logs)
}

/// The slab's posterior weight `1 / (1 + e)` where `c1 >= c0`, `e / (1 +
/// e)` elsewhere, with `e = exp(-|c1 - c0|)`, and `1 + e` (whose log the
/// log-likelihood adds to `max(c0, c1)`), four points at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn slab_weight(diff: std::arch::x86_64::__m256d) -> (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d) {
    use crate::fastmath::avx2::{abs, exp, splat};
    use std::arch::x86_64::*;
    let (one, zero) = (splat(1.0), splat(0.0));
    let e = exp(_mm256_sub_pd(zero, abs(diff)));
    let one_plus_e = _mm256_add_pd(one, e);
    let w = _mm256_div_pd(_mm256_blendv_pd(e, one, _mm256_cmp_pd::<_CMP_GE_OQ>(diff, zero)), one_plus_e);
    (w, one_plus_e)
}

/// Add four points' terms to the seven sums of
/// [`evaluate_weight_and_scale`]: `c0`, `c1` as [`point_terms`] defines
/// them, `u = d^2 / v`, and the factors of `q = qscale (u - 1)` and `dq/dbeta
/// = q + dscale (1/2 - u)` (`qscale = sigma^2 / (2 v)`, `dscale = sigma^4 /
/// v^2`, computed by the caller as its loop allows).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn add_point_sums(
    acc: &mut [std::arch::x86_64::__m256d; 7],
    logs: &mut crate::fastmath::avx2::LogProduct,
    c0: std::arch::x86_64::__m256d,
    c1: std::arch::x86_64::__m256d,
    u: std::arch::x86_64::__m256d,
    qscale: std::arch::x86_64::__m256d,
    dscale: std::arch::x86_64::__m256d,
) {
    use crate::fastmath::avx2::splat;
    use std::arch::x86_64::*;
    let (one, half) = (splat(1.0), splat(0.5));
    let (r1, one_plus_e) = slab_weight(_mm256_sub_pd(c1, c0));
    acc[0] = _mm256_add_pd(acc[0], _mm256_max_pd(c0, c1));
    logs.push(one_plus_e);
    let r1r0 = _mm256_mul_pd(r1, _mm256_sub_pd(one, r1));
    let q = _mm256_mul_pd(qscale, _mm256_sub_pd(u, one));
    let dq = _mm256_fmadd_pd(dscale, _mm256_sub_pd(half, u), q);
    acc[1] = _mm256_add_pd(acc[1], r1);
    acc[2] = _mm256_add_pd(acc[2], r1r0);
    acc[3] = _mm256_fmadd_pd(r1, q, acc[3]);
    let r1r0q = _mm256_mul_pd(r1r0, q);
    acc[4] = _mm256_add_pd(acc[4], r1r0q);
    acc[5] = _mm256_fmadd_pd(r1r0q, q, acc[5]);
    acc[6] = _mm256_fmadd_pd(r1, dq, acc[6]);
}

/// The seven sums from their lanes, the log-product added to the first.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn finish_sums(acc: [std::arch::x86_64::__m256d; 7], logs: crate::fastmath::avx2::LogProduct) -> [f64; 7] {
    let mut out = [0.0; 7];
    for (o, a) in out.iter_mut().zip(acc) {
        *o = crate::fastmath::avx2::sum(a);
    }
    out[0] += logs.total();
    out
}

/// Store four points' posterior mean, second moment, sd and (unless its
/// slice is empty) lfsr from the slab's weight `w`, its posterior mean `pm`
/// and variance `pv`, and the prior's mode `mu` (and `mu^2`), at `i`.
///
/// # Safety
/// `i + 4` is at most each output's length (the lfsr's unless empty).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn store_moments(
    i: usize,
    w: std::arch::x86_64::__m256d,
    pm: std::arch::x86_64::__m256d,
    pv: std::arch::x86_64::__m256d,
    (mu, mu2): (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d),
    [mean, second, sd, lfsr]: [&mut [f64]; 4],
) {
    use crate::fastmath::avx2::{splat, store};
    use std::arch::x86_64::*;
    let w0 = _mm256_sub_pd(splat(1.0), w);
    if !lfsr.is_empty() {
        // (1 - w) + w Phi(-|pm| / sqrt(pv)) (0 where pv is not positive),
        // the scalar loop's formula (with Cody's Phi).
        // SAFETY: the CPU has AVX2.
        let tail = unsafe { crate::special::prob_below_zero4(crate::fastmath::avx2::abs(pm), pv) };
        let l = _mm256_add_pd(w0, _mm256_mul_pd(w, tail));
        // SAFETY: i + 4 <= lfsr.len() (the caller's promise).
        unsafe { store(lfsr, i, _mm256_min_pd(_mm256_max_pd(l, splat(0.0)), splat(1.0))) };
    }
    let mn = _mm256_fmadd_pd(w, pm, _mm256_mul_pd(w0, mu));
    let m2 = _mm256_fmadd_pd(w, _mm256_fmadd_pd(pm, pm, pv), _mm256_mul_pd(w0, mu2));
    let mn2 = _mm256_mul_pd(mn, mn);
    let m2 = _mm256_max_pd(m2, mn2);
    // SAFETY: i + 4 <= each output's length (the caller's promise).
    unsafe {
        store(mean, i, mn);
        store(second, i, m2);
        store(sd, i, _mm256_sqrt_pd(_mm256_max_pd(_mm256_sub_pd(m2, mn2), splat(0.0))));
    }
}

/// The parameters of [`weight_and_scale_sums_het_avx2`], where each point
/// has its own `s^2`.
#[cfg(target_arch = "x86_64")]
struct HetS {
    mu: f64,
    sigma2: f64,
    ln_pi0: f64,
    ln_pi1: f64,
}

/// [`weight_and_scale_sums_avx2`] when the points' `s^2` differ: the same
/// seven sums (as [`point_terms`] defines the terms), with `log(s^2 +
/// sigma^2)` from [`crate::fastmath::avx2::ln`].
///
/// # Safety
/// The CPU has AVX2 and FMA; `x`, `s2` and `ln_s2` have the same length, a
/// multiple of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_and_scale_sums_het_avx2(x: &[f64], s2: &[f64], ln_s2: &[f64], c: &HetS) -> [f64; 7] {
    use crate::fastmath::avx2::{ln, load, splat, LogProduct};
    use std::arch::x86_64::*;
    let (mu, sigma2, ln_pi0, ln_pi1) = (splat(c.mu), splat(c.sigma2), splat(c.ln_pi0), splat(c.ln_pi1));
    let (half_sigma2, sigma4) = (splat(0.5 * c.sigma2), splat(c.sigma2 * c.sigma2));
    let (one, half) = (splat(1.0), splat(0.5));
    let mut acc = [splat(0.0); 7];
    let mut logs = LogProduct::new();
    for i in (0..x.len()).step_by(4) {
        // SAFETY: i + 4 <= the slices' common length (a multiple of 4).
        let (xi, s2i, ln_s2i) = unsafe { (load(x, i), load(s2, i), load(ln_s2, i)) };
        let v = _mm256_add_pd(s2i, sigma2);
        let inv_v = _mm256_div_pd(one, v);
        let d = _mm256_sub_pd(xi, mu);
        let d2 = _mm256_mul_pd(d, d);
        let c0 = _mm256_fnmadd_pd(half, _mm256_add_pd(_mm256_div_pd(d2, s2i), ln_s2i), ln_pi0);
        let c1 = _mm256_fnmadd_pd(half, _mm256_add_pd(_mm256_div_pd(d2, v), ln(v)), ln_pi1);
        let qscale = _mm256_mul_pd(half_sigma2, inv_v);
        let dscale = _mm256_mul_pd(sigma4, _mm256_mul_pd(inv_v, inv_v));
        add_point_sums(&mut acc, &mut logs, c0, c1, _mm256_mul_pd(d2, inv_v), qscale, dscale);
    }
    finish_sums(acc, logs)
}

/// The constants of the posterior when every point has the same `s^2`
/// (and `0 < pi0 < 1`): per point, `c0 = k0 - d^2 / (2 s^2)`, `c1 = k1 -
/// d^2 / (2 v)`, `c1 - c0 = kd + d^2 (1 / s^2 - 1 / v) / 2`, and the
/// slab's posterior mean `x sigma^2 / v + s^2 mu / v`.
#[cfg(target_arch = "x86_64")]
struct PosteriorConsts {
    mu: f64,
    k0: f64,
    k1: f64,
    kd: f64,
    half_inv_s2: f64,
    half_inv_v: f64,
    half_gap: f64,
    shrink: f64,
    offset: f64,
    post_var: f64,
}

#[cfg(target_arch = "x86_64")]
impl PosteriorConsts {
    fn new(s2: f64, g: PointNormal, ln_pi0: f64, ln_pi1: f64, (ln_s2, ln_v_over_s2): (f64, f64)) -> PosteriorConsts {
        let v = s2 + g.sigma2;
        PosteriorConsts {
            mu: g.mu,
            k0: ln_pi0 - 0.5 * ln_s2 - LN_SQRT_2PI,
            k1: ln_pi1 - 0.5 * (ln_s2 + ln_v_over_s2) - LN_SQRT_2PI,
            kd: ln_pi1 - ln_pi0 - 0.5 * ln_v_over_s2,
            half_inv_s2: 0.5 / s2,
            half_inv_v: 0.5 / v,
            half_gap: 0.5 * (1.0 / s2 - 1.0 / v),
            shrink: g.sigma2 / v,
            offset: s2 * g.mu / v,
            post_var: s2 * g.sigma2 / v,
        }
    }
}

/// [`posterior`]'s loop over `x` (a multiple of four points with a common
/// `s`), four points per vector: writes the posterior mean, second moment,
/// sd and (unless `out[3]` is empty) lfsr, and returns the log-likelihood.
///
/// # Safety
/// The CPU has AVX2 and FMA; `x.len()` is a multiple of 4 and each output
/// has `x.len()` entries (the lfsr's unless empty).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn posterior_avx2(x: &[f64], c: &PosteriorConsts, mut out: [&mut [f64]; 4]) -> f64 {
    use crate::fastmath::avx2::{load, splat, sum, LogProduct};
    use std::arch::x86_64::*;
    let (mu, k0, k1, kd) = (splat(c.mu), splat(c.k0), splat(c.k1), splat(c.kd));
    let (h0, h1, gap) = (splat(c.half_inv_s2), splat(c.half_inv_v), splat(c.half_gap));
    let (shrink, offset, post_var) = (splat(c.shrink), splat(c.offset), splat(c.post_var));
    let mu2 = splat(c.mu * c.mu);
    let mut loglik = splat(0.0);
    let mut logs = LogProduct::new();
    for i in (0..x.len()).step_by(4) {
        // SAFETY: i + 4 <= x.len() (a multiple of 4), the outputs' length.
        let xi = unsafe { load(x, i) };
        let d = _mm256_sub_pd(xi, mu);
        let d2 = _mm256_mul_pd(d, d);
        let c0 = _mm256_fnmadd_pd(d2, h0, k0);
        let c1 = _mm256_fnmadd_pd(d2, h1, k1);
        let (w, one_plus_e) = slab_weight(_mm256_fmadd_pd(d2, gap, kd));
        loglik = _mm256_add_pd(loglik, _mm256_max_pd(c0, c1));
        logs.push(one_plus_e);
        let pm = _mm256_fmadd_pd(xi, shrink, offset);
        // SAFETY: as above.
        let [mean, second, sd, lfsr] = &mut out;
        unsafe { store_moments(i, w, pm, post_var, (mu, mu2), [mean, second, sd, lfsr]) };
    }
    sum(loglik) + logs.total()
}

/// [`posterior_avx2`] when the points' `s` differ (and `0 < pi0 < 1`):
/// the same terms as the scalar loop of [`posterior`], with the logarithms
/// from [`crate::fastmath::avx2::ln`].
///
/// # Safety
/// The CPU has AVX2 and FMA; `x` and `s` have the same length, a multiple of
/// 4, and each output has that many entries (the lfsr's unless empty).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn posterior_het_avx2(
    x: &[f64],
    s: &[f64],
    g: PointNormal,
    (ln_pi0, ln_pi1): (f64, f64),
    mut out: [&mut [f64]; 4],
) -> f64 {
    use crate::fastmath::avx2::{ln, load, splat, sum, LogProduct};
    use std::arch::x86_64::*;
    let (mu, sigma2, mu2) = (splat(g.mu), splat(g.sigma2), splat(g.mu * g.mu));
    let k0 = splat(ln_pi0 - LN_SQRT_2PI);
    let k1 = splat(ln_pi1 - LN_SQRT_2PI);
    let kd = splat(ln_pi1 - ln_pi0);
    let half = splat(0.5);
    let mut loglik = splat(0.0);
    let mut logs = LogProduct::new();
    for i in (0..x.len()).step_by(4) {
        // SAFETY: i + 4 <= the slices' common length (a multiple of 4).
        let (xi, si) = unsafe { (load(x, i), load(s, i)) };
        let s2 = _mm256_mul_pd(si, si);
        let v = _mm256_add_pd(s2, sigma2);
        let ln_s2 = ln(s2);
        // log(v / s^2) as a difference: v / s^2 itself may overflow.
        let ln_ratio = _mm256_sub_pd(ln(v), ln_s2);
        let d = _mm256_sub_pd(xi, mu);
        let d2 = _mm256_mul_pd(d, d);
        let (d2_s2, d2_v) = (_mm256_div_pd(d2, s2), _mm256_div_pd(d2, v));
        let c0 = _mm256_fnmadd_pd(half, _mm256_add_pd(d2_s2, ln_s2), k0);
        let c1 = _mm256_fnmadd_pd(half, _mm256_add_pd(d2_v, _mm256_add_pd(ln_s2, ln_ratio)), k1);
        let (w, one_plus_e) = slab_weight(_mm256_fmadd_pd(half, _mm256_sub_pd(_mm256_sub_pd(d2_s2, d2_v), ln_ratio), kd));
        loglik = _mm256_add_pd(loglik, _mm256_max_pd(c0, c1));
        logs.push(one_plus_e);
        let pm = _mm256_div_pd(_mm256_fmadd_pd(xi, sigma2, _mm256_mul_pd(s2, mu)), v);
        let pv = _mm256_div_pd(_mm256_mul_pd(s2, sigma2), v);
        // SAFETY: as above.
        let [mean, second, sd, lfsr] = &mut out;
        unsafe { store_moments(i, w, pm, pv, (mu, mu2), [mean, second, sd, lfsr]) };
    }
    sum(loglik) + logs.total()
}

fn softplus(t: f64) -> f64 {
    if t > 30.0 {
        t + (-t).exp()
    } else {
        t.exp().ln_1p()
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Fit the point-normal prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let fitted = fit_prior(x, s, opts, true)?;
    Ok(posterior(x, s, fitted, opts.compute_lfsr))
}

/// The normal prior `N(mu, sigma^2)`: the point-normal family with `pi0 = 0`.
pub fn solve_normal(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    let fitted = fit_prior(x, s, opts, false)?;
    let mut fit = posterior(x, s, fitted, opts.compute_lfsr);
    fit.prior = Prior::NormalMix {
        pi: vec![1.0],
        mean: vec![fitted.mu],
        sd: vec![fitted.sigma2.sqrt()],
    };
    Ok(fit)
}

fn fit_prior(
    x: &[f64],
    s: &[f64],
    opts: &EbnmOptions,
    pointmass: bool,
) -> Result<PointNormal, EbnmError> {
    let init = match &opts.g_init {
        Some(g) => {
            let mut pn = PointNormal::from_prior(g)?;
            if !pointmass {
                pn.pi0 = 0.0;
            }
            pn
        }
        None => {
            let sigma2 = match &opts.scale {
                Scale::Fixed(v) => {
                    if v.len() != 1 {
                        return Err(
                            "Argument 'scale' must be either 'estimate' or a scalar.".into()
                        );
                    }
                    v[0] * v[0]
                }
                Scale::Estimate => {
                    let m2 = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
                    if m2 > 0.0 {
                        m2
                    } else {
                        1.0
                    }
                }
            };
            let mu = match opts.mode {
                Mode::Fixed(m) => m,
                Mode::Estimate => mean(x),
            };
            PointNormal {
                pi0: if pointmass { 0.5 } else { 0.0 },
                sigma2,
                mu,
            }
        }
    };
    if opts.fix_g {
        return Ok(init);
    }
    let mut start = init;
    if let Mode::Fixed(m) = opts.mode {
        start.mu = m;
    }
    if let Scale::Fixed(v) = &opts.scale {
        if let Some(&sc) = v.first() {
            start.sigma2 = sc * sc;
        }
    }
    let free = Free {
        pi0: pointmass,
        sigma2: matches!(opts.scale, Scale::Estimate),
        mu: matches!(opts.mode, Mode::Estimate),
    };
    if pointmass {
        // Keep the starting weight away from the boundaries.
        start.pi0 = start.pi0.clamp(1e-6, 1.0 - 1e-6);
    }
    if !(start.sigma2 > 0.0 && start.sigma2.is_finite()) {
        start.sigma2 = 1.0;
    }
    let mut theta0 = Vec::new();
    if free.pi0 {
        theta0.push(logit(start.pi0));
    }
    if free.sigma2 {
        theta0.push(start.sigma2.ln());
    }
    if free.mu {
        theta0.push(start.mu);
    }
    let pre = Precomputed::new(s);
    let mut best = start;
    let mut best_ll = f64::NEG_INFINITY;
    if !theta0.is_empty() {
        // The maximiser never moves downhill, so its value is at least the
        // starting point's.
        // (pi0 -> 0, a dense prior, is an optimum at minus infinity in
        // logit terms: the first co-ordinate when pi0 is free.)
        let control = NewtonControl { creep_coordinate: free.pi0.then_some(0), ..NewtonControl::default() };
        let (theta, ll) = maximize(&theta0, control, |t| {
            evaluate(x, &pre, start, free, t)
        });
        if ll.is_finite() {
            let mut it = theta.iter().copied();
            let mut g = start;
            if free.pi0 {
                g.pi0 = 1.0 / (1.0 + (-it.next().unwrap()).exp());
            }
            if free.sigma2 {
                g.sigma2 = it.next().unwrap().exp();
            }
            if free.mu {
                g.mu = it.next().unwrap();
            }
            best = g;
            best_ll = ll;
        }
    }
    // The boundary pi0 = 1 (all mass at the mode), as ebnm checks it when the
    // mode is fixed.
    if free.pi0 && !free.mu {
        let null_ll: f64 = x
            .iter()
            .enumerate()
            .map(|(i, &xi)| {
                let d = xi - best.mu;
                -0.5 * (d * d / pre.s2[i] + pre.ln_s2[i]) - LN_SQRT_2PI
            })
            .sum();
        if null_ll > best_ll {
            best = PointNormal {
                pi0: 1.0,
                sigma2: 1.0,
                mu: best.mu,
            };
        }
    }
    Ok(best)
}

/// Posterior summaries under a fitted point-normal prior.
pub fn posterior(x: &[f64], s: &[f64], g: PointNormal, compute_lfsr: bool) -> EbnmFit {
    posterior_loops(x, s, g, compute_lfsr, true)
}

/// [`posterior`], with the vector loops where they apply if `vector`, else
/// with the scalar loop throughout (the tests' reference).
fn posterior_loops(x: &[f64], s: &[f64], g: PointNormal, compute_lfsr: bool, vector: bool) -> EbnmFit {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = vector;
    let n = x.len();
    let ln_pi0 = g.pi0.ln();
    let ln_pi1 = (-g.pi0).ln_1p();
    let homoskedastic = s.iter().all(|v| *v == s[0]);
    let vector_ok = !homoskedastic && s.iter().all(|v| normal_square(*v));
    let log_terms = |s2: f64| (s2.ln(), (g.sigma2 / s2).ln_1p());
    let common = if n > 0 {
        log_terms(s[0] * s[0])
    } else {
        (0.0, 0.0)
    };
    struct Part {
        mean: Vec<f64>,
        second: Vec<f64>,
        sd: Vec<f64>,
        lfsr: Vec<f64>,
        loglik: f64,
    }
    let parts = crate::data::chunked(n, |range| {
        let len = range.len();
        let mut part = Part {
            mean: Vec::with_capacity(len),
            second: Vec::with_capacity(len),
            sd: Vec::with_capacity(len),
            lfsr: Vec::with_capacity(if compute_lfsr { len } else { 0 }),
            loglik: 0.0,
        };
        let mut range = range;
        // (The condition and the block are one statement, so that both are
        // left out together off x86_64.)
        #[cfg(target_arch = "x86_64")]
        if vector
            && g.pi0 > 0.0
            && g.pi0 < 1.0
            && crate::fastmath::avx2::available()
            && (homoskedastic || (vector_ok && g.sigma2 <= VECTOR_MAX_VARIANCE))
        {
            // Whole quadruples of points in vector lanes, the rest below.
            let quads = range.start..range.start + range.len() / 4 * 4;
            let m = quads.len();
            part.mean.resize(m, 0.0);
            part.second.resize(m, 0.0);
            part.sd.resize(m, 0.0);
            part.lfsr.resize(if compute_lfsr { m } else { 0 }, 0.0);
            let out = [&mut part.mean[..], &mut part.second[..], &mut part.sd[..], &mut part.lfsr[..]];
            // SAFETY: the CPU has AVX2 and FMA (checked above); the outputs
            // have m entries (the lfsr none without compute_lfsr), a
            // multiple of 4.
            part.loglik = if homoskedastic {
                let c = PosteriorConsts::new(s[0] * s[0], g, ln_pi0, ln_pi1, common);
                unsafe { posterior_avx2(&x[quads.clone()], &c, out) }
            } else {
                unsafe { posterior_het_avx2(&x[quads.clone()], &s[quads.clone()], g, (ln_pi0, ln_pi1), out) }
            };
            range = quads.end..range.end;
        }
        let mut logs = LogProduct::default();
        for i in range {
            let (xi, si) = (x[i], s[i]);
            let s2 = si * si;
            let v = s2 + g.sigma2;
            let (ln_s2, ln_v_over_s2) = if homoskedastic { common } else { log_terms(s2) };
            let d = xi - g.mu;
            // c0 = log pi0 + log N(x; mu, s^2); c1 = log(1 - pi0) + log N(x;
            // mu, s^2 + sigma^2), computed directly (not c0 + diff, which
            // loses digits when both are huge).
            let c0 = ln_pi0 - 0.5 * (d * d / s2 + ln_s2) - LN_SQRT_2PI;
            let c1 = ln_pi1 - 0.5 * (d * d / v + ln_s2 + ln_v_over_s2) - LN_SQRT_2PI;
            let diff = ln_pi1 - ln_pi0 + 0.5 * d * d * (1.0 / s2 - 1.0 / v) - 0.5 * ln_v_over_s2;
            // Posterior probability of the normal component and the
            // marginal log-likelihood c0 + log(1 + e^diff), from one exp.
            let (w, ll) = if g.pi0 >= 1.0 {
                (0.0, c0)
            } else if g.pi0 <= 0.0 {
                (1.0, c1)
            } else {
                let e = (-diff.abs()).exp();
                logs.push(1.0 + e);
                (
                    if diff >= 0.0 {
                        1.0 / (1.0 + e)
                    } else {
                        e / (1.0 + e)
                    },
                    c0.max(c1),
                )
            };
            part.loglik += ll;
            let pm = (xi * g.sigma2 + s2 * g.mu) / v;
            let pv = s2 * g.sigma2 / v;
            let mn = w * pm + (1.0 - w) * g.mu;
            let m2 = (w * (pm * pm + pv) + (1.0 - w) * g.mu * g.mu).max(mn * mn);
            part.mean.push(mn);
            part.second.push(m2);
            part.sd.push((m2 - mn * mn).max(0.0).sqrt());
            if compute_lfsr {
                let tail = if pv > 0.0 {
                    pnorm(-pm.abs() / pv.sqrt())
                } else {
                    0.0
                };
                part.lfsr.push(((1.0 - w) + w * tail).clamp(0.0, 1.0));
            }
        }
        part.loglik += logs.total();
        part
    });
    let mut mean = Vec::with_capacity(n);
    let mut second_moment = Vec::with_capacity(n);
    let mut sd = Vec::with_capacity(n);
    let mut lfsr = if compute_lfsr {
        Some(Vec::with_capacity(n))
    } else {
        None
    };
    let mut loglik = 0.0;
    for part in parts {
        mean.extend(part.mean);
        second_moment.extend(part.second);
        sd.extend(part.sd);
        if let Some(l) = lfsr.as_mut() {
            l.extend(part.lfsr);
        }
        loglik += part.loglik;
    }
    EbnmFit {
        prior: g.to_prior(),
        mean,
        second_moment,
        sd,
        lfsr,
        log_likelihood: loglik,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let x = [0.3, -1.2, 2.5, 0.0, 4.1, -0.7];
        let s = [1.0, 0.5, 1.5, 1.0, 2.0, 0.8];
        let fixed = PointNormal {
            pi0: 0.5,
            sigma2: 1.0,
            mu: 0.0,
        };
        let free = Free {
            pi0: true,
            sigma2: true,
            mu: true,
        };
        let theta = [0.3, 0.7, 0.2];
        let pre = Precomputed::new(&s);
        let (f, g, h) = evaluate(&x, &pre, fixed, free, &theta).unwrap();
        let eps = 1e-6;
        for i in 0..3 {
            let mut tp = theta;
            tp[i] += eps;
            let mut tm = theta;
            tm[i] -= eps;
            let (fp, gp, _) = evaluate(&x, &pre, fixed, free, &tp).unwrap();
            let (fm, gm, _) = evaluate(&x, &pre, fixed, free, &tm).unwrap();
            assert!(((fp - fm) / (2.0 * eps) - g[i]).abs() < 1e-6, "grad {i}");
            for j in 0..3 {
                assert!(
                    ((gp[j] - gm[j]) / (2.0 * eps) - h[j * 3 + i]).abs() < 1e-5,
                    "hess {i} {j}"
                );
            }
        }
        let pn = PointNormal {
            pi0: 1.0 / (1.0 + (-0.3f64).exp()),
            sigma2: 0.7f64.exp(),
            mu: 0.2,
        };
        assert!((f - log_likelihood(&x, &s, pn)).abs() < 1e-10);
    }

    #[test]
    fn two_parameter_path_matches_finite_differences() {
        let x = [0.3, -1.2, 2.5, 0.0, 4.1, -0.7];
        for s in [[1.0; 6], [1.0, 0.5, 1.5, 1.0, 2.0, 0.8]] {
            let pre = Precomputed::new(&s);
            let fixed = PointNormal {
                pi0: 0.5,
                sigma2: 1.0,
                mu: 0.1,
            };
            let free = Free {
                pi0: true,
                sigma2: true,
                mu: false,
            };
            let theta = [0.3, 0.7];
            let (f, g, h) = evaluate(&x, &pre, fixed, free, &theta).unwrap();
            let pn = PointNormal {
                pi0: 1.0 / (1.0 + (-0.3f64).exp()),
                sigma2: 0.7f64.exp(),
                mu: 0.1,
            };
            assert!((f - log_likelihood(&x, &s, pn)).abs() < 1e-10);
            let eps = 1e-6;
            for i in 0..2 {
                let mut tp = theta;
                tp[i] += eps;
                let mut tm = theta;
                tm[i] -= eps;
                let (fp, gp, _) = evaluate(&x, &pre, fixed, free, &tp).unwrap();
                let (fm, gm, _) = evaluate(&x, &pre, fixed, free, &tm).unwrap();
                assert!(((fp - fm) / (2.0 * eps) - g[i]).abs() < 1e-6, "grad {i}");
                for j in 0..2 {
                    assert!(
                        ((gp[j] - gm[j]) / (2.0 * eps) - h[j * 2 + i]).abs() < 1e-5,
                        "hess {i} {j}"
                    );
                }
            }
        }
    }

    /// Points with one common `s` (the vector loops when the CPU allows)
    /// against the same points marked as having differing `s` (the scalar
    /// loops): same sums, posterior and log-likelihood to rounding.
    #[test]
    fn common_s_loops_agree_with_the_general_ones() {
        let x: Vec<f64> = (0..1003).map(|i| ((i * 7919) % 1000) as f64 / 97.0 - 5.0 + if i % 5 == 0 { 8.0 } else { 0.0 }).collect();
        let s = vec![1.3; x.len()];
        let common = Precomputed::new(&s);
        assert!(common.homoskedastic);
        let general = Precomputed { homoskedastic: false, vector_ok: false, ..Precomputed::new(&s) };
        let (ln_pi0, ln_pi1, sigma2, mu) = ((0.6f64).ln(), (0.4f64).ln(), 4.0, 0.3);
        let ln_v = (1.69f64 + sigma2).ln();
        let (fa, ga, ha) = evaluate_weight_and_scale(&x, &common, ln_pi0, ln_pi1, sigma2, mu, ln_v);
        let (fb, gb, hb) = evaluate_weight_and_scale(&x, &general, ln_pi0, ln_pi1, sigma2, mu, 0.0);
        assert!((fa - fb).abs() < 1e-12 * fb.abs(), "{fa} {fb}");
        for (a, b) in ga.iter().chain(&ha).zip(gb.iter().chain(&hb)) {
            assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} {b}");
        }
        let g = PointNormal { pi0: 0.6, sigma2, mu };
        let fast = posterior(&x, &s, g, true);
        let slow = posterior_loops(&x, &s, g, true, false);
        assert!((fast.log_likelihood - slow.log_likelihood).abs() < 1e-12 * slow.log_likelihood.abs());
        let (fl, sl) = (fast.lfsr.as_ref().unwrap(), slow.lfsr.as_ref().unwrap());
        for (a, b) in [(&fast.mean, &slow.mean), (&fast.second_moment, &slow.second_moment), (&fast.sd, &slow.sd), (fl, sl)] {
            for (u, v) in a.iter().zip(b.iter()) {
                assert!((u - v).abs() < 1e-13 * (1.0 + v.abs()), "{u} {v}");
            }
        }
        // The lfsr of points far out (tiny) keeps its relative precision.
        for (u, v) in fl.iter().zip(sl) {
            assert!((u - v).abs() <= 1e-12 * v, "{u} {v}");
        }
        assert!(posterior(&x, &s, g, false).lfsr.is_none());
    }

    /// Points with differing `s`: the vector loops against the scalar ones
    /// (marked as not vector-safe; `posterior_loops` without vectors for the
    /// posterior, lfsr included), and `s` so small that `s^2` is subnormal
    /// takes the scalar loops.
    #[test]
    fn differing_s_loops_agree_with_the_scalar_ones() {
        let x: Vec<f64> = (0..1003).map(|i| ((i * 7919) % 1000) as f64 / 97.0 - 5.0 + if i % 5 == 0 { 8.0 } else { 0.0 }).collect();
        let s: Vec<f64> = (0..x.len()).map(|i| 0.05 + ((i * 104729) % 997) as f64 / 300.0).collect();
        let vector = Precomputed::new(&s);
        assert!(!vector.homoskedastic && vector.vector_ok);
        let scalar = Precomputed { vector_ok: false, ..Precomputed::new(&s) };
        for (sigma2, mu) in [(4.0, 0.3), (1e-3, 0.0), (250.0, -1.0)] {
            let (ln_pi0, ln_pi1) = ((0.6f64).ln(), (0.4f64).ln());
            let (fa, ga, ha) = evaluate_weight_and_scale(&x, &vector, ln_pi0, ln_pi1, sigma2, mu, 0.0);
            let (fb, gb, hb) = evaluate_weight_and_scale(&x, &scalar, ln_pi0, ln_pi1, sigma2, mu, 0.0);
            assert!((fa - fb).abs() < 1e-12 * fb.abs(), "{fa} {fb}");
            for (a, b) in ga.iter().chain(&ha).zip(gb.iter().chain(&hb)) {
                assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} {b}");
            }
            let g = PointNormal { pi0: 0.6, sigma2, mu };
            let fast = posterior(&x, &s, g, true);
            let slow = posterior_loops(&x, &s, g, true, false);
            assert!((fast.log_likelihood - slow.log_likelihood).abs() < 1e-12 * slow.log_likelihood.abs());
            let (fl, sl) = (fast.lfsr.as_ref().unwrap(), slow.lfsr.as_ref().unwrap());
            for (a, b) in [(&fast.mean, &slow.mean), (&fast.second_moment, &slow.second_moment), (&fast.sd, &slow.sd)] {
                for (u, v) in a.iter().zip(b.iter()) {
                    assert!((u - v).abs() < 1e-12 * (1.0 + v.abs()), "{u} {v}");
                }
            }
            for (u, v) in fl.iter().zip(sl) {
                assert!((u - v).abs() <= 1e-12 * v, "{u} {v}");
            }
        }
        let mut tiny = s.clone();
        tiny[7] = 1e-160;
        assert!(!Precomputed::new(&tiny).vector_ok);
        tiny[7] = 1e155;
        assert!(!Precomputed::new(&tiny).vector_ok);
        // A huge s among ordinary ones: the scalar loop's answer.
        let g = PointNormal { pi0: 0.6, sigma2: 4.0, mu: 0.0 };
        let fast = posterior(&x[..8], &tiny[..8], g, false);
        let slow = posterior_loops(&x[..8], &tiny[..8], g, false, false);
        assert_eq!(fast.log_likelihood.to_bits(), slow.log_likelihood.to_bits());
        // sigma^2 / s^2 beyond the largest double: the vector loop agrees.
        let (xs, ss) = ([1e-150, -2e-150, 3.0, 0.0], [1e-150, 2e-150, 1.0, 0.5]);
        let g = PointNormal { pi0: 0.5, sigma2: 1e300, mu: 0.0 };
        let (fast, slow) = (posterior(&xs, &ss, g, false), posterior_loops(&xs, &ss, g, false, false));
        assert!((fast.log_likelihood - slow.log_likelihood).abs() < 1e-12 * slow.log_likelihood.abs(), "{} {}", fast.log_likelihood, slow.log_likelihood);
        for (u, v) in fast.mean.iter().zip(&slow.mean) {
            assert!((u - v).abs() <= 1e-12 * v.abs().max(1e-300), "{u} {v}");
        }
    }

    #[test]
    fn normal_prior_posterior_is_conjugate() {
        // With pi0 = 0 the posterior is N(x sigma^2 / (sigma^2 + s^2), ...).
        let g = PointNormal {
            pi0: 0.0,
            sigma2: 4.0,
            mu: 0.0,
        };
        let fit = posterior(&[3.0], &[1.0], g, true);
        assert!((fit.mean[0] - 3.0 * 4.0 / 5.0).abs() < 1e-14);
        assert!((fit.sd[0] - (4.0f64 / 5.0).sqrt()).abs() < 1e-14);
        // log N(3; 0, 5)
        let expected = -0.5 * (2.0 * std::f64::consts::PI * 5.0).ln() - 9.0 / 10.0;
        assert!((fit.log_likelihood - expected).abs() < 1e-12);
    }

    #[test]
    fn null_data_gives_point_mass() {
        let x = [0.01, -0.02, 0.015, 0.0, -0.01];
        let s = [1.0; 5];
        let fit = solve(&x, &s, &EbnmOptions::default()).unwrap();
        match fit.prior {
            Prior::NormalMix { pi, .. } => assert_eq!(pi[0], 1.0),
            _ => panic!(),
        }
        assert!(fit.mean.iter().all(|&m| m == 0.0));
    }
}
