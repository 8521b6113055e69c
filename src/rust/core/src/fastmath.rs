//! Vector versions of the solvers' per-point building blocks.
//!
//! libm's `exp` is a function call per point; the solvers' hottest loops
//! (one exponential per point and Newton step) run four points at a time
//! with the branch-free exponential below: a reduction by powers of two
//! and a polynomial, accurate to about one ulp. The loops check at run
//! time that the CPU has AVX2 and FMA and otherwise run their scalar form.

/// `ln 2` split into a part with trailing zero bits (so that `k * LN2_HI`
/// is exact for the `|k| < 2^11` used here) and the remainder.
#[cfg(target_arch = "x86_64")]
const LN2_HI: f64 = 0.693_147_180_369_123_816_49;
#[cfg(target_arch = "x86_64")]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
#[cfg(target_arch = "x86_64")]
const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// `1.5 * 2^52`: adding it rounds to an integer held in the low mantissa bits.
#[cfg(target_arch = "x86_64")]
const ROUNDER: f64 = 6_755_399_441_055_744.0;

/// AVX2 + FMA versions of the per-point loops' building blocks, on
/// 4-lane vectors of f64. Callers check [`avx2::available`] and run their
/// loop in a function built with `#[target_feature(enable = "avx2,fma")]`.
#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    /// True when the CPU has AVX2 and FMA (std caches the answer).
    #[inline]
    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn splat(v: f64) -> __m256d {
        _mm256_set1_pd(v)
    }

    /// `|x|`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn abs(x: __m256d) -> __m256d {
        _mm256_andnot_pd(splat(-0.0), x)
    }

    /// `e^x` lane by lane, for `x <= 709`: `x = k ln 2 + r` with `|r| <= ln
    /// 2 / 2`, then `e^r` from its Taylor series to degree 13 (truncation
    /// error below `4e-18` relative) and `2^k` built from its bits. Gives 0
    /// below `-708.39` (where `e^x` would be subnormal) and for NaN, and
    /// `e^709` above 709: the solvers call it on finite arguments that are at
    /// most 0.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn exp(x: __m256d) -> __m256d {
        let xc = _mm256_min_pd(_mm256_max_pd(x, splat(-708.39)), splat(709.0));
        let t = _mm256_fmadd_pd(xc, splat(super::LOG2_E), splat(super::ROUNDER));
        let k = _mm256_sub_pd(t, splat(super::ROUNDER));
        let r = _mm256_fnmadd_pd(k, splat(super::LN2_LO), _mm256_fnmadd_pd(k, splat(super::LN2_HI), xc));
        let mut p = splat(1.0 / 6_227_020_800.0);
        for c in [
            1.0 / 479_001_600.0,
            1.0 / 39_916_800.0,
            1.0 / 3_628_800.0,
            1.0 / 362_880.0,
            1.0 / 40_320.0,
            1.0 / 5_040.0,
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = _mm256_fmadd_pd(p, r, splat(c));
        }
        let ki = _mm256_sub_epi64(_mm256_castpd_si256(t), _mm256_castpd_si256(splat(super::ROUNDER)));
        let scale = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023))));
        let keep = _mm256_cmp_pd::<_CMP_GE_OQ>(x, splat(-708.39));
        _mm256_and_pd(_mm256_mul_pd(p, scale), keep)
    }

    /// `ln x` lane by lane, for positive normal finite `x` (the solvers'
    /// variances): `x = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))`, then
    /// `ln m = 2 atanh(f)` with `f = (m - 1) / (m + 1)`, `|f| <= 0.172`, from
    /// its odd series to `f^21` (truncation below `1e-17` relative), and
    /// `k ln 2` added in two parts. Within about two ulps of libm's.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn ln(x: __m256d) -> __m256d {
        let bits = _mm256_castpd_si256(x);
        let mantissa = _mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi64x(0x000f_ffff_ffff_ffff)),
            _mm256_set1_epi64x(0x3ff0_0000_0000_0000),
        );
        let m = _mm256_castsi256_pd(mantissa);
        // The biased exponent as a double: its bits in the low mantissa of
        // 1.5 * 2^52, which is then subtracted.
        let rounder = splat(super::ROUNDER);
        let biased = _mm256_or_si256(_mm256_srli_epi64::<52>(bits), _mm256_castpd_si256(rounder));
        let mut k = _mm256_sub_pd(_mm256_castsi256_pd(biased), splat(super::ROUNDER + 1023.0));
        let big = _mm256_cmp_pd::<_CMP_GT_OQ>(m, splat(std::f64::consts::SQRT_2));
        let m = _mm256_blendv_pd(m, _mm256_mul_pd(m, splat(0.5)), big);
        k = _mm256_add_pd(k, _mm256_and_pd(big, splat(1.0)));
        let f = _mm256_div_pd(_mm256_sub_pd(m, splat(1.0)), _mm256_add_pd(m, splat(1.0)));
        let f2 = _mm256_mul_pd(f, f);
        let mut poly = splat(1.0 / 21.0);
        for d in [19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
            poly = _mm256_fmadd_pd(poly, f2, splat(1.0 / d));
        }
        let ln_m = _mm256_mul_pd(_mm256_add_pd(f, f), poly);
        _mm256_fmadd_pd(k, splat(super::LN2_HI), _mm256_fmadd_pd(k, splat(super::LN2_LO), ln_m))
    }

    /// `out = ln x` for four values (a test helper).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; both slices hold at least four values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn ln_slice4(x: &[f64], out: &mut [f64]) {
        unsafe { store(out, 0, ln(load(x, 0))) }
    }

    /// The sum of the four lanes, as `(l0 + l1) + (l2 + l3)`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub fn sum(x: __m256d) -> f64 {
        let mut a = [0.0; 4];
        // SAFETY: `a` holds four f64.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), x) };
        (a[0] + a[1]) + (a[2] + a[3])
    }

    /// Four values from `v[i..i + 4]`.
    ///
    /// # Safety
    /// `i + 4 <= v.len()`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn load(v: &[f64], i: usize) -> __m256d {
        debug_assert!(i + 4 <= v.len());
        unsafe { _mm256_loadu_pd(v.as_ptr().add(i)) }
    }

    /// Store four values to `v[i..i + 4]`.
    ///
    /// # Safety
    /// `i + 4 <= v.len()`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn store(v: &mut [f64], i: usize, x: __m256d) {
        debug_assert!(i + 4 <= v.len());
        unsafe { _mm256_storeu_pd(v.as_mut_ptr().add(i), x) }
    }

    /// `out = e^x` for four values (a test helper).
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; both slices hold at least four values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exp_slice4(x: &[f64], out: &mut [f64]) {
        unsafe { store(out, 0, exp(load(x, 0))) }
    }

    /// `sum ln(y)` over lanes of factors in `[1, 2]`: the running products,
    /// with one logarithm per lane every 512 factors.
    pub struct LogProduct {
        product: __m256d,
        count: u32,
        sum: f64,
    }

    impl LogProduct {
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn new() -> LogProduct {
            LogProduct { product: splat(1.0), count: 0, sum: 0.0 }
        }

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        pub fn push(&mut self, y: __m256d) {
            self.product = _mm256_mul_pd(self.product, y);
            self.count += 1;
            if self.count == 512 {
                self.sum += self.flush();
            }
        }

        #[target_feature(enable = "avx2,fma")]
        fn flush(&mut self) -> f64 {
            let mut a = [0.0; 4];
            // SAFETY: `a` holds four f64.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), self.product) };
            self.product = splat(1.0);
            self.count = 0;
            a.iter().map(|v| v.ln()).sum()
        }

        #[target_feature(enable = "avx2,fma")]
        pub fn total(mut self) -> f64 {
            self.sum + self.flush()
        }
    }
}

/// `v_i <- e^(v_i - shift_i)` for arguments at most 0 (as in scaling a
/// likelihood row by its maximum): four at a time with [`avx2::exp`] where
/// the CPU allows (0 where `e^x` would be subnormal), libm's `exp` for the
/// rest.
pub fn exp_shifted(v: &mut [f64], shift: &[f64]) {
    let n = v.len().min(shift.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: AVX2 and FMA are available (checked above).
        done = unsafe { exp_shifted_avx2(&mut v[..n], &shift[..n]) };
    }
    for (x, &m) in v[done..n].iter_mut().zip(&shift[done..n]) {
        *x = (*x - m).exp();
    }
}

/// [`exp_shifted`] on the whole groups of four; returns how many it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_shifted_avx2(v: &mut [f64], shift: &[f64]) -> usize {
    use std::arch::x86_64::_mm256_sub_pd;
    let whole = v.len() / 4 * 4;
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= both lengths.
        unsafe {
            let x = _mm256_sub_pd(avx2::load(v, i), avx2::load(shift, i));
            avx2::store(v, i, avx2::exp(x));
        }
    }
    whole
}

/// `out_i = ln x_i`: four at a time with [`avx2::ln`] where the CPU allows
/// and all four are positive, normal and finite; libm's `ln` otherwise
/// (so that zero, negative, subnormal and infinite values give libm's
/// answers).
pub fn ln_into(x: &[f64], out: &mut [f64]) {
    let n = x.len().min(out.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: AVX2 and FMA are available (checked above).
        done = unsafe { ln_into_avx2(&x[..n], &mut out[..n]) };
    }
    for (o, v) in out[done..n].iter_mut().zip(&x[done..n]) {
        *o = v.ln();
    }
}

/// [`ln_into`] on the whole groups of four; returns how many it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn ln_into_avx2(x: &[f64], out: &mut [f64]) -> usize {
    use std::arch::x86_64::*;
    let whole = x.len() / 4 * 4;
    let (lo, hi) = (avx2::splat(f64::MIN_POSITIVE), avx2::splat(f64::MAX));
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= both lengths.
        let v = unsafe { avx2::load(x, i) };
        let inside = _mm256_and_pd(_mm256_cmp_pd::<_CMP_GE_OQ>(v, lo), _mm256_cmp_pd::<_CMP_LE_OQ>(v, hi));
        if _mm256_movemask_pd(inside) == 0b1111 {
            unsafe { avx2::store(out, i, avx2::ln(v)) };
        } else {
            for k in i..i + 4 {
                out[k] = x[k].ln();
            }
        }
    }
    whole
}

/// `out_i = (r_i - c l_i)^2` into uninitialised storage (a product, a
/// difference and a square per element, each rounded, so the same bits
/// however wide the vectors), four at a time where the CPU has AVX2.
pub fn squared_difference_into(out: &mut [std::mem::MaybeUninit<f64>], r: &[f64], l: &[f64], c: f64) {
    let n = out.len().min(r.len()).min(l.len());
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: AVX2 and FMA are available (checked above).
        done = unsafe { squared_difference_avx2(&mut out[..n], &r[..n], &l[..n], c) };
    }
    for ((o, &rv), &lv) in out[done..n].iter_mut().zip(&r[done..n]).zip(&l[done..n]) {
        let d = rv - c * lv;
        o.write(d * d);
    }
}

/// [`squared_difference_into`] on the whole groups of four; returns how
/// many it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn squared_difference_avx2(out: &mut [std::mem::MaybeUninit<f64>], r: &[f64], l: &[f64], c: f64) -> usize {
    use std::arch::x86_64::*;
    let whole = out.len() / 4 * 4;
    let cv = avx2::splat(c);
    for i in (0..whole).step_by(4) {
        // SAFETY: i + 4 <= whole <= every length; MaybeUninit<f64> has
        // f64's layout.
        unsafe {
            let d = _mm256_sub_pd(avx2::load(r, i), _mm256_mul_pd(cv, avx2::load(l, i)));
            _mm256_storeu_pd(out.as_mut_ptr().add(i) as *mut f64, _mm256_mul_pd(d, d));
        }
    }
    whole
}

/// `out_i <- out_i - c x_i`: [`add_scaled`] with `-c` (the same bits as one
/// multiplication and one subtraction per element, since negation is
/// exact), four at a time where the CPU has AVX2.
pub fn sub_scaled(out: &mut [f64], x: &[f64], c: f64) {
    add_scaled(out, x, -c);
}

/// `sum_i a_i b_i` over the common length: sixteen partial sums in four
/// AVX2 registers with fused multiply-adds where the CPU allows, four
/// partial sums otherwise.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if avx2::available() && n >= 16 {
        // SAFETY: AVX2 and FMA are available (checked above).
        return unsafe { dot_avx2(&a[..n], &b[..n]) };
    }
    dot_plain(&a[..n], &b[..n])
}

fn dot_plain(a: &[f64], b: &[f64]) -> f64 {
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    let whole = a.len() / 4 * 4;
    for i in (0..whole).step_by(4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for i in whole..a.len() {
        s0 += a[i] * b[i];
    }
    (s0 + s1) + (s2 + s3)
}

/// [`dot`] with AVX2 and FMA on slices of equal length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f64], b: &[f64]) -> f64 {
    use std::arch::x86_64::*;
    let n = a.len();
    let whole = n / 16 * 16;
    let mut acc = [_mm256_setzero_pd(); 4];
    for i in (0..whole).step_by(16) {
        for (l, v) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4 l + 4 <= whole <= n for both slices.
            unsafe { *v = _mm256_fmadd_pd(avx2::load(a, i + 4 * l), avx2::load(b, i + 4 * l), *v) };
        }
    }
    let total = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
    avx2::sum(total) + dot_plain(&a[whole..], &b[whole..])
}

/// `y_i <- y_i + c x_i` over the common length (a multiplication and an
/// addition per element, the same bits however wide the vectors: Rust does
/// not fuse them), four at a time where the CPU has AVX2.
pub fn add_scaled(y: &mut [f64], x: &[f64], c: f64) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: AVX2 and FMA are available (checked above).
        unsafe { add_scaled_avx2(y, x, c) };
        return;
    }
    add_scaled_plain(y, x, c);
}

#[inline(always)]
fn add_scaled_plain(y: &mut [f64], x: &[f64], c: f64) {
    for (o, xi) in y.iter_mut().zip(x) {
        *o += c * xi;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_scaled_avx2(y: &mut [f64], x: &[f64], c: f64) {
    add_scaled_plain(y, x, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_products_agree_with_the_plain_sum() {
        for n in [0usize, 3, 16, 17, 37, 1000] {
            let a: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
            let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum::<f64>().max(1.0);
            assert!((dot(&a, &b) - want).abs() <= 1e-14 * scale, "n = {n}");
        }
        // Unequal lengths: the common part.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0);
        let mut y = vec![1.0; 21];
        let x: Vec<f64> = (0..21).map(|i| i as f64).collect();
        add_scaled(&mut y, &x, 0.5);
        assert!(y.iter().enumerate().all(|(i, v)| *v == 1.0 + 0.5 * i as f64));
    }

    #[test]
    fn scaled_subtraction_is_exact_elementwise() {
        let x: Vec<f64> = (0..37).map(|i| (i as f64 * 0.731).sin()).collect();
        let mut out: Vec<f64> = (0..37).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let want: Vec<f64> = out.iter().zip(&x).map(|(o, xi)| o - xi * 0.3).collect();
        sub_scaled(&mut out, &x, 0.3);
        assert!(out.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn shifted_exponentials_match_libm() {
        let v0: Vec<f64> = (0..1003).map(|i| -0.71 * i as f64).collect();
        let shift: Vec<f64> = (0..1003).map(|i| 0.5 - 0.2 * (i % 7) as f64).collect();
        let mut v = v0.clone();
        exp_shifted(&mut v, &shift);
        for i in 0..v.len() {
            let want = (v0[i] - shift[i]).exp();
            assert!((v[i] - want).abs() <= 4.5e-16 * want || (v0[i] - shift[i] < -708.39 && v[i] == 0.0), "{i}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_vector_log_agrees_with_the_scalar_one() {
        if !avx2::available() {
            return;
        }
        // Powers of two and their neighbours, values near 1 and sqrt(2),
        // and a spread from 1e-300 to 1e300.
        let mut xs: Vec<f64> = vec![1.0, 2.0, 0.5, std::f64::consts::SQRT_2, 1.0 + 1e-15, 1.0 - 1e-16, f64::MIN_POSITIVE, f64::MAX];
        xs.extend((0..4000).map(|i| 10f64.powf(-300.0 + 0.15 * i as f64)));
        xs.extend((0..400).map(|i| 0.9 + 0.0005 * i as f64));
        xs.extend([1.4142135623730951f64, 1.414213562373095, 1.4142135623730954].iter());
        while xs.len() % 4 != 0 {
            xs.push(3.0);
        }
        let mut out = vec![0.0; xs.len()];
        for (c, o) in xs.chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            // SAFETY: AVX2 and FMA are available (checked above).
            unsafe { avx2::ln_slice4(c, o) };
        }
        for (x, y) in xs.iter().zip(&out) {
            let want = x.ln();
            let tol = 4.5e-16 * want.abs().max(1e-300) + 1e-300;
            assert!((y - want).abs() <= tol, "{x:e}: {y:e} vs {want:e}");
        }
    }

    #[test]
    fn squared_differences_are_exact_elementwise() {
        let r: Vec<f64> = (0..23).map(|i| (i as f64 * 0.37).cos()).collect();
        let l: Vec<f64> = (0..23).map(|i| (i as f64 * 0.91).sin()).collect();
        let mut out = vec![std::mem::MaybeUninit::<f64>::uninit(); 23];
        squared_difference_into(&mut out, &r, &l, 0.7);
        for i in 0..23 {
            let d = r[i] - 0.7 * l[i];
            // SAFETY: every entry was written.
            assert_eq!(unsafe { out[i].assume_init() }.to_bits(), (d * d).to_bits());
        }
    }

    #[test]
    fn logs_of_a_slice_match_libm_outside_the_vector_domain_too() {
        let x = [0.5, 2.0, 3.0, 1e-310, 7.0, 0.0, -1.0, f64::INFINITY, 1.5, 2.5, 1e300, 1e-300, 9.0];
        let mut out = [0.0; 13];
        ln_into(&x, &mut out);
        for (v, o) in x.iter().zip(&out) {
            let want = v.ln();
            assert!(o == &want || (o - want).abs() <= 4.5e-16 * want.abs() || (o.is_nan() && want.is_nan()), "{v}: {o} vs {want}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_vector_exp_agrees_with_the_scalar_one() {
        if !avx2::available() {
            return;
        }
        let xs: Vec<f64> = (0..4003).map(|i| -750.0 + 0.37 * i as f64).map(|x: f64| x.min(709.0)).collect();
        let mut out = vec![0.0; xs.len()];
        for (c, o) in xs.chunks_exact(4).zip(out.chunks_exact_mut(4)) {
            // SAFETY: AVX2 and FMA are available (checked above).
            unsafe { avx2::exp_slice4(c, o) };
        }
        for (x, y) in xs.iter().zip(&out).take(4000) {
            let want = x.exp();
            let tol = 4.5e-16 * want;
            assert!((y - want).abs() <= tol || (*x < -708.39 && *y == 0.0), "{x}: {y:e} vs {want:e}");
        }
    }
}

