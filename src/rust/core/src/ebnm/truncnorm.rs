//! Truncated normal distributions and the Mills ratio, accurate far into the
//! tails.
//!
//! Everything is written in terms of the Mills ratio
//! `R(q) = Phi(-q) / phi(q)` (the upper-tail probability over the density),
//! whose logarithm stays of moderate size where `Phi` and `phi` themselves
//! underflow. Above `0.674...` it comes from Cody's rational functions for
//! the normal tail (the tail's exponential cancels against the density's).
//! The truncated moments far in the tail use its continued fraction
//! `R(q) = 1 / (q + 1 / (q + 2 / (q + 3 / (q + ...))))`, which converges to
//! full double precision within 60 terms for `q >= 3` (fewer as `q` grows)
//! and gives the second moment without the cancellation that the direct
//! formulas suffer from.

use crate::special::{ln_dnorm, ln_pnorm, mills_ratio_cody, pnorm, CODY_TAIL_START};
use std::f64::consts::SQRT_2;

/// Below this argument the Mills ratio is computed from `Phi` and `phi`.
const CF_THRESHOLD: f64 = 3.0;
/// Most continued-fraction terms ever used (at `q = 3`).
const CF_MAX_TERMS: usize = 72;

/// Tail values `(C_2, C_3)` of the Mills-ratio continued fraction, where
/// `C_k = q + k / C_{k+1}`, so that `R(q) = 1 / (q + 1 / C_2)`. Needs `q > 0`.
fn mills_cf(q: f64) -> (f64, f64) {
    // Terms needed for full precision fall roughly like 1/q (60 at q = 3,
    // 19 at q = 8, 6 at q = 100); this count has a margin over that.
    let terms = ((8.0 + 180.0 / q).ceil() as usize).min(CF_MAX_TERMS);
    let mut c = q;
    for k in (3..=terms).rev() {
        c = q + k as f64 / c;
    }
    let c3 = c;
    let c2 = q + 2.0 / c3;
    (c2, c3)
}

/// `log R(q)`, the log Mills ratio `log(Phi(-q) / phi(q))`, for any finite `q`
/// (for `q -> -inf` it grows like `q^2 / 2`, for `q -> inf` it falls like
/// `-log q`). `R(+inf) = 0`, so the log is `-inf` there.
pub fn ln_mills(q: f64) -> f64 {
    ln_mills_h(q).0
}

/// `h(q) = 1 / R(q) - q = phi(q) / Phi(-q) - q`, which is positive, tends to
/// `-q` as `q -> -inf` and behaves like `1 / q` as `q -> inf`. It is minus the
/// derivative of `log R(q)`, and `E[Z | Z >= q] = q + h(q)` for a standard
/// normal `Z`.
pub fn mills_h(q: f64) -> f64 {
    if q > CODY_TAIL_START && q.is_finite() {
        // (Without the logarithm that ln_mills_h would also take.)
        mills_ratio_cody(q).1
    } else {
        ln_mills_h(q).1
    }
}

/// Both `(log R(q), h(q))` (see [`ln_mills`] and [`mills_h`]): from Cody's
/// rational functions above `0.674...` (no `exp` or continued fraction
/// needed there), from `log Phi` below.
pub fn ln_mills_h(q: f64) -> (f64, f64) {
    if q.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if q == f64::INFINITY {
        return (f64::NEG_INFINITY, 0.0);
    }
    if q > CODY_TAIL_START {
        let (r, h) = mills_ratio_cody(q);
        (r.ln(), h)
    } else {
        let l = ln_pnorm(-q) - ln_dnorm(q);
        (l, (-l).exp() - q)
    }
}

/// First and second moments `(E[Z], E[Z^2])` of a standard normal `Z`
/// truncated to `[-z, inf)`, i.e. of `N(z, 1)` truncated to `[0, inf)` after
/// shifting; equivalently of `X ~ N(z, 1) | X >= 0`. Accurate for `z` down to
/// `-1e300` (where both moments tend to zero like `1/|z|` and `2/z^2`).
fn std_pos_moments(z: f64) -> (f64, f64) {
    if z.is_nan() {
        return (f64::NAN, f64::NAN);
    }
    if z == f64::INFINITY {
        return (f64::INFINITY, f64::INFINITY);
    }
    if -z >= CF_THRESHOLD {
        // With t = -z: E = 1 / C_2, E^2 = 2 / (C_2 C_3).
        let (c2, c3) = mills_cf(-z);
        (1.0 / c2, 2.0 / (c2 * c3))
    } else {
        // E = z + phi(z) / Phi(z) = h(-z); E^2 = 1 + z E.
        let e = mills_h(-z);
        let e2 = 1.0 + z * e;
        (e, e2.max(e * e))
    }
}

/// Moments `(E[X], E[X^2])` of `X ~ N(mean, sd^2)` truncated to `[0, inf)`.
/// With `sd = 0` this is the point mass at `max(mean, 0)`.
pub fn trunc_pos_moments(mean: f64, sd: f64) -> (f64, f64) {
    if sd <= 0.0 {
        let m = mean.max(0.0);
        return (m, m * m);
    }
    let (e, e2) = std_pos_moments(mean / sd);
    (sd * e, sd * sd * e2)
}

/// Moments `(E[X], E[X^2])` of `X ~ N(mean, sd^2)` truncated to `(-inf, 0]`.
pub fn trunc_neg_moments(mean: f64, sd: f64) -> (f64, f64) {
    let (e, e2) = trunc_pos_moments(-mean, sd);
    (-e, e2)
}

/// `log(Phi(b) - Phi(a))` for `a <= b`, accurate when both lie far in the
/// same tail. Returns `-inf` when `a == b`.
pub fn ln_pnorm_diff(a: f64, b: f64) -> f64 {
    if a >= b || a.is_nan() || b.is_nan() {
        return f64::NEG_INFINITY;
    }
    if a >= 0.0 {
        // Both in the upper tail: Phi(-a) - Phi(-b).
        let la = ln_pnorm(-a);
        let lb = ln_pnorm(-b);
        la + ln_one_minus_exp(lb - la)
    } else if b <= 0.0 {
        let la = ln_pnorm(a);
        let lb = ln_pnorm(b);
        lb + ln_one_minus_exp(la - lb)
    } else {
        (-(pnorm(a) + pnorm(-b))).ln_1p()
    }
}

/// `log(1 - exp(d))` for `d <= 0`.
fn ln_one_minus_exp(d: f64) -> f64 {
    if d > -std::f64::consts::LN_2 {
        (-d.exp_m1()).ln()
    } else {
        (-d.exp()).ln_1p()
    }
}

/// The standard normal quantile `q` with `log Phi(q) = lp` (`lp <= 0`),
/// accurate for `lp` down to about `-1e300`. Best used with `lp <= log(1/2)`;
/// for upper quantiles pass the upper-tail log probability and negate.
pub fn qnorm_ln(lp: f64) -> f64 {
    if lp.is_nan() {
        return f64::NAN;
    }
    if lp >= 0.0 {
        return f64::INFINITY;
    }
    if lp == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    // Starting value.
    let mut q = if lp > -700.0 {
        let p = lp.exp();
        if p <= 0.5 {
            -SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
        } else {
            SQRT_2 * statrs::function::erf::erfc_inv(2.0 * (-lp.exp_m1()))
        }
    } else {
        // log Phi(q) ~ -q^2/2 - log(-q) - log(2 pi)/2 for very negative q.
        let mut q0 = -(-2.0 * lp).sqrt();
        for _ in 0..3 {
            let rhs = -2.0 * lp - 2.0 * (-q0).ln() - (2.0 * std::f64::consts::PI).ln();
            q0 = -rhs.max(1.0).sqrt();
        }
        q0
    };
    if !q.is_finite() {
        q = if lp < -1.0 { -(-2.0 * lp).sqrt() } else { 0.0 };
    }
    // Newton polishing on log Phi: d/dq log Phi(q) = phi(q) / Phi(q).
    for _ in 0..8 {
        let f = ln_pnorm(q) - lp;
        let d = (-ln_mills(-q)).exp(); // phi(q) / Phi(q)
        if d <= 0.0 || !d.is_finite() {
            break;
        }
        let step = f / d;
        if !step.is_finite() {
            break;
        }
        q -= step;
        if step.abs() <= 1e-15 * (1.0 + q.abs()) {
            break;
        }
    }
    q
}

/// Standard normal quantile `Phi^{-1}(u)` for `u` in `(0, 1)`.
pub fn qnorm(u: f64) -> f64 {
    if u <= 0.5 {
        qnorm_ln(u.ln())
    } else {
        -qnorm_ln((1.0 - u).ln())
    }
}

/// Keep a uniform draw inside the open interval `(0, 1)`.
pub fn open_unit(u: f64) -> f64 {
    if u.is_nan() {
        0.5
    } else {
        u.clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON / 2.0)
    }
}

/// Inverse CDF of the standard normal truncated to `[al, be]` at `u`.
fn std_trunc_quantile(al: f64, be: f64, u: f64) -> f64 {
    if al >= 0.0 {
        // Reflect so that the interval lies (mostly) in the lower half.
        return -std_trunc_quantile(-be, -al, 1.0 - u);
    }
    let q = if be <= 0.0 {
        // Everything in the lower tail: interpolate Phi in log space.
        let la = ln_pnorm(al);
        let lb = ln_pnorm(be);
        let e = (la - lb).exp();
        qnorm_ln(lb + (e + u * (1.0 - e)).ln())
    } else {
        let pa = pnorm(al);
        let pb = pnorm(be);
        let p = pa + u * (pb - pa);
        if p <= 0.5 {
            qnorm_ln(p.ln())
        } else {
            let upper = pnorm(-be) + (1.0 - u) * (pb - pa);
            -qnorm_ln(upper.ln())
        }
    };
    q.clamp(al, be)
}

/// Draw from `N(mean, sd^2)` truncated to `[a, b]` by inversion of the uniform
/// `u` in `(0, 1)`. Stable when the interval lies far in a tail.
pub fn rtruncnorm(mean: f64, sd: f64, a: f64, b: f64, u: f64) -> f64 {
    if sd <= 0.0 || sd.is_nan() {
        return mean.clamp(a, b);
    }
    if sd == f64::INFINITY {
        // Uniform on [a, b] in the limit; only sensible for a finite interval.
        return if a.is_finite() && b.is_finite() {
            a + open_unit(u) * (b - a)
        } else {
            mean
        };
    }
    let u = open_unit(u);
    let al = (a - mean) / sd;
    let be = (b - mean) / sd;
    let z = std_trunc_quantile(al, be, u);
    (mean + sd * z).clamp(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments of N(m, 1) truncated to [0, inf) by brute-force quadrature.
    fn brute_moments(m: f64) -> (f64, f64) {
        let lo = 0.0f64.max(m - 40.0);
        let hi = m.max(0.0) + 40.0;
        let n = 400_000;
        let h = (hi - lo) / n as f64;
        let (mut z0, mut z1, mut z2) = (0.0, 0.0, 0.0);
        for i in 0..=n {
            let x = lo + h * i as f64;
            // Simpson weights.
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            // Density relative to the value at the lower bound (avoids underflow).
            let d = (-0.5 * ((x - m) * (x - m) - (lo - m) * (lo - m))).exp() * w;
            z0 += d;
            z1 += d * x;
            z2 += d * x * x;
        }
        (z1 / z0, z2 / z0)
    }

    #[test]
    fn continued_fraction_term_count_suffices() {
        for &q in &[3.0, 3.3, 4.0, 5.5, 8.0, 13.0, 30.0, 99.0, 1e3, 1e6] {
            let mut c = q;
            for k in (3..=400).rev() {
                c = q + k as f64 / c;
            }
            let (c2_ref, c3_ref) = (q + 2.0 / c, c);
            let (c2, c3) = mills_cf(q);
            assert!((c2 / c2_ref - 1.0).abs() < 4e-16, "q = {q}");
            assert!((c3 / c3_ref - 1.0).abs() < 4e-16, "q = {q}");
        }
    }

    /// Cody's Mills ratio against 40-digit values (mpmath: `log R` and
    /// `1 / R - q` from `erfc`), and against the continued fraction for `q
    /// >= 3`. Over `q` in `[0.68, 2e4]` Cody's `log R` is within 1.1e-15 of
    /// the 40-digit values, relative, and `h` within 1.2e-14 (its `1 / R -
    /// q` cancels up to sqrt(32)).
    #[test]
    fn cody_mills_ratio_matches_reference_values() {
        let table = [
            (0.7, -0.25502922832685889, 0.59049933945816655),
            (0.8, -0.31291278598310388, 0.5674022691824203),
            (1.0, -0.42208311180459076, 0.52513527616098121),
            (1.25, -0.54743714400964544, 0.47881662733105397),
            (1.5, -0.66200586761921707, 0.43867716662254319),
            (2.0, -0.86424580047735921, 0.37321553282284087),
            (2.5, -1.0377097440740178, 0.32274479766390725),
            (2.75, -1.1157228997405491, 0.30177350824806653),
            (2.9, -1.160119701742746, 0.29031513954298199),
            (2.99, -1.185953168544022, 0.2838058234926886),
            (4.0, -1.4411629533226181, 0.22560714448947107),
            (5.6, -1.7524409627046614, 0.1686666042971351),
            (5.7, -1.7691738900200692, 0.16600539358305443),
            (8.0, -2.0944986267098772, 0.12136811223611268),
            (30.0, -3.4023054231385244, 0.033259667433677037),
            (1000.0, -6.9077562789796371, 0.00099999800000999993),
        ];
        for (q, l_ref, h_ref) in table {
            let (l, h) = ln_mills_h(q);
            assert!((l - l_ref).abs() <= 1.5e-15 * l_ref.abs(), "q = {q}: {l} vs {l_ref}");
            assert!((h - h_ref).abs() <= 1.5e-14 * h_ref, "q = {q}: {h} vs {h_ref}");
        }
        let mut q = 3.0;
        while q < 2e4 {
            let (l, h) = ln_mills_h(q);
            let (c2, _) = mills_cf(q);
            let (l_ref, h_ref) = (-(q + 1.0 / c2).ln(), 1.0 / c2);
            assert!((l - l_ref).abs() <= 1.5e-15 * l_ref.abs().max(1.0), "q = {q}: {l} vs {l_ref}");
            assert!((h - h_ref).abs() <= 1.5e-14 * h_ref, "q = {q}: {h} vs {h_ref}");
            q *= 1.013;
        }
        assert_eq!(ln_mills_h(f64::INFINITY), (f64::NEG_INFINITY, 0.0));
        assert!(ln_mills_h(f64::NAN).0.is_nan() && ln_mills_h(f64::NAN).1.is_nan());
    }

    #[test]
    fn mills_ratio_continuity_and_values() {
        // R(0) = 0.5 / phi(0) = sqrt(pi/2).
        assert!((ln_mills(0.0) - (std::f64::consts::PI / 2.0).sqrt().ln()).abs() < 1e-14);
        for &q in &[2.999_999_999, 3.0, 3.000_000_001] {
            let direct = ln_pnorm(-q) - ln_dnorm(q);
            assert!((ln_mills(q) - direct).abs() < 1e-12, "q = {q}");
        }
        // Large q: R(q) ~ 1/q (1 - 1/q^2 + 3/q^4).
        let q: f64 = 1e4;
        let approx = -q.ln() + (1.0 - 1.0 / (q * q) + 3.0 / (q * q * q * q)).ln();
        assert!((ln_mills(q) - approx).abs() < 1e-15);
        for &q in &[-40.0, -2.0, 0.5, 2.9, 3.1, 50.0] {
            assert_eq!(ln_mills_h(q), (ln_mills(q), mills_h(q)));
        }
        // h is continuous where the formulas switch.
        for q0 in [CODY_TAIL_START, 32f64.sqrt()] {
            assert!((mills_h(q0 - 1e-12) - mills_h(q0 + 1e-12)).abs() < 1e-10);
            assert!((ln_mills(q0 - 1e-12) - ln_mills(q0 + 1e-12)).abs() < 1e-10);
        }
        // h(q) ~ 1/q for large q.
        assert!((mills_h(1e6) * 1e6 - 1.0).abs() < 1e-10);
        // h(q) ~ -q for very negative q.
        assert!((mills_h(-50.0) - 50.0).abs() < 1e-12);
    }

    #[test]
    fn truncated_moments_match_quadrature() {
        for &m in &[-12.0, -5.0, -3.5, -3.0, -2.0, -0.3, 0.0, 0.7, 3.0, 8.0] {
            let (e, e2) = std_pos_moments(m);
            let (be, be2) = brute_moments(m);
            assert!(
                (e - be).abs() < 1e-8 * (1.0 + be.abs()),
                "m={m}: {e} vs {be}"
            );
            assert!(
                (e2 - be2).abs() < 1e-8 * (1.0 + be2.abs()),
                "m={m}: {e2} vs {be2}"
            );
        }
    }

    #[test]
    fn truncated_moments_in_far_tail() {
        // For z -> -inf: E ~ -1/z, E^2 ~ 2/z^2, Var ~ 1/z^2.
        let z = -1e3;
        let (e, e2) = std_pos_moments(z);
        assert!((e * 1e3 - 1.0).abs() < 1e-5);
        assert!((e2 * 1e6 - 2.0).abs() < 1e-5);
        assert!(e2 - e * e > 0.0);
        let (e, e2) = trunc_pos_moments(-1e10, 1e-2);
        assert!(e > 0.0 && e2 > 0.0 && e.is_finite() && e2.is_finite());
        let (e, e2) = trunc_neg_moments(5.0, 1.0);
        let (f, f2) = trunc_pos_moments(-5.0, 1.0);
        assert_eq!((e, e2), (-f, f2));
    }

    #[test]
    fn quantiles_invert_the_cdf() {
        for &u in &[1e-300, 1e-20, 1e-5, 0.01, 0.3, 0.5, 0.8, 0.999, 1.0 - 1e-12] {
            let q = qnorm(u);
            let back = if u <= 0.5 {
                pnorm(q) / u
            } else {
                pnorm(-q) / (1.0 - u)
            };
            assert!((back - 1.0).abs() < 1e-10, "u = {u}: q = {q}");
        }
        let q = qnorm_ln(-1e5);
        assert!((ln_pnorm(q) / -1e5 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn truncated_draws_stay_in_range_far_in_tail() {
        for &u in &[1e-12, 0.1, 0.5, 0.9, 1.0 - 1e-12] {
            let x = rtruncnorm(-1e3, 1.0, 0.0, f64::INFINITY, u);
            assert!((0.0..0.1).contains(&x), "{x}");
            let x = rtruncnorm(1e3, 1.0, f64::NEG_INFINITY, 0.0, u);
            assert!(x <= 0.0 && x > -0.1, "{x}");
            let x = rtruncnorm(0.0, 1.0, -1.0, 2.0, u);
            assert!((-1.0..=2.0).contains(&x));
        }
        // Median of N(0,1) | X > 5.
        let med = rtruncnorm(0.0, 1.0, 5.0, f64::INFINITY, 0.5);
        assert!((pnorm(-med) / pnorm(-5.0) - 0.5).abs() < 1e-10);
    }

    #[test]
    fn ln_pnorm_diff_cases() {
        let v = ln_pnorm_diff(-1.0, 1.0);
        assert!((v - (pnorm(1.0) - pnorm(-1.0)).ln()).abs() < 1e-14);
        let v = ln_pnorm_diff(40.0, 41.0);
        assert!((v - ln_pnorm(-40.0)).abs() < 1e-10);
        let v = ln_pnorm_diff(-41.0, -40.0);
        assert!((v - ln_pnorm(-40.0)).abs() < 1e-10);
        assert_eq!(ln_pnorm_diff(1.0, 1.0), f64::NEG_INFINITY);
    }
}
