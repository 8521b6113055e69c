//! Clearing the processor's vector-register state after faer's kernels.
//!
//! faer's matrix-product kernels use 256- and 512-bit registers (including
//! `zmm16`-`zmm31` where AVX-512 is present) and return without resetting
//! their upper halves. On Intel processors a thread whose upper register
//! state is left "dirty" runs every later legacy-SSE instruction with a
//! merge dependency; scalar floating-point code (ours is compiled for the
//! x86-64 baseline, and so is R) then runs up to 15 times slower. Measured
//! on a Sapphire Rapids machine: `pnorm` in a loop went from 0.2 s to 3.0 s
//! after one 200 x 200 product, and the unimodal EBNM solver from 0.8 s to
//! 3.5 s on 1e5 points. `vzeroupper` resets `ymm0`-`ymm15`; the upper
//! AVX-512 registers must be zeroed explicitly.
//!
//! [`settle`] does both on the calling thread, and [`crate::data::matmul`]
//! (through which every product of the core goes) calls it after each
//! product. That covers every thread our scalar code runs on: a sequential
//! product runs on its caller; a parallel one issued from outside the
//! core's pool runs on rayon's global pool, whose workers run only faer's
//! kernels; one issued from a worker of the core's pool (none is today)
//! settles that pool's workers too. On other architectures, and on
//! processors without AVX, `settle` does nothing.

/// Reset the upper vector-register state of the calling thread.
#[inline]
pub fn settle() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor supports AVX-512F (checked above).
            unsafe { zero_upper_avx512() }
        } else if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the processor supports AVX (checked above).
            unsafe { zero_upper_avx() }
        }
    }
}

// (Never inlined: across the call every vector register is caller-saved,
// so no value of the caller's lives in a register that vzeroupper clears.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn zero_upper_avx512() {
    // Zero zmm16-zmm31 (vzeroupper does not reach them); vzeroupper then
    // clears ymm0-ymm15.
    std::arch::asm!(
        "vpxord zmm16, zmm16, zmm16",
        "vpxord zmm17, zmm17, zmm17",
        "vpxord zmm18, zmm18, zmm18",
        "vpxord zmm19, zmm19, zmm19",
        "vpxord zmm20, zmm20, zmm20",
        "vpxord zmm21, zmm21, zmm21",
        "vpxord zmm22, zmm22, zmm22",
        "vpxord zmm23, zmm23, zmm23",
        "vpxord zmm24, zmm24, zmm24",
        "vpxord zmm25, zmm25, zmm25",
        "vpxord zmm26, zmm26, zmm26",
        "vpxord zmm27, zmm27, zmm27",
        "vpxord zmm28, zmm28, zmm28",
        "vpxord zmm29, zmm29, zmm29",
        "vpxord zmm30, zmm30, zmm30",
        "vpxord zmm31, zmm31, zmm31",
        "vzeroupper",
        // Every vector register is clobbered (vzeroupper reaches all of
        // ymm0-ymm15): the compiler must not keep a live value in one.
        clobber_abi("C"),
        options(nostack, preserves_flags),
    );
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline(never)]
unsafe fn zero_upper_avx() {
    // vzeroupper clears the upper halves of ymm0-ymm15: declared as
    // clobbering every vector register, so no live value is kept in one.
    std::arch::asm!("vzeroupper", clobber_abi("C"), options(nostack, preserves_flags));
}

/// While alive, the calling thread's SSE/AVX arithmetic treats subnormal
/// inputs as zero and flushes subnormal results to zero (the DAZ and FTZ
/// bits of MXCSR); dropping it restores the previous mode.
///
/// Mixture likelihood matrices hold many entries near the bottom of the
/// double range (a normal density far from its mean, scaled by the row's
/// largest), and their products in mix-SQP's Hessian come out subnormal.
/// Each subnormal result costs a microcode assist: on the gtex NPMLE fit
/// the Hessian product of a 1000 x 243 matrix took 9.7 ms instead of 2.4
/// ms. Values below 2.2e-308 next to mix-SQP's `eps = 1e-8` change nothing
/// the solver can see.
pub struct FlushSubnormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushSubnormals {
    /// Flush-to-zero and denormals-are-zero on, until the guard is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> FlushSubnormals {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_mxcsr();
            // Bit 15: flush to zero; bit 6: denormals are zero.
            write_mxcsr(saved | 0x8040);
            FlushSubnormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushSubnormals {}
    }
}

impl Drop for FlushSubnormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut v: u32 = 0;
    // SAFETY: stmxcsr stores the 32-bit control register into `v` (SSE is
    // part of the x86-64 baseline).
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut v as *mut u32, options(nostack, preserves_flags)) };
    v
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(v: u32) {
    // SAFETY: ldmxcsr loads a control word read from this thread, with at
    // most the DAZ and FTZ bits set in addition (both defined on every
    // x86-64 processor), so no reserved bit is set.
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &v as *const u32, options(nostack, preserves_flags, readonly)) };
}

#[cfg(test)]
mod tests {
    /// Sums kept in 256-bit registers across calls to `settle` (which
    /// clears the upper halves of ymm0-ymm15 and zeroes zmm16-zmm31) must
    /// come out as without them: the reset must not reach live values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sums(x: &[f64], settle_between: bool) -> [f64; 4] {
        let mut acc = [0.0f64; 4];
        for c in x.chunks_exact(4) {
            for l in 0..4 {
                acc[l] += c[l] * c[l];
            }
            if settle_between {
                super::settle();
            }
        }
        acc
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn settling_keeps_live_vector_values() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        let x: Vec<f64> = (0..400).map(|i| (i as f64 * 0.37).sin()).collect();
        // SAFETY: AVX2 is available (checked above).
        let (plain, settled) = unsafe { (sums(&x, false), sums(&x, true)) };
        assert_eq!(plain.map(f64::to_bits), settled.map(f64::to_bits));
    }

    #[test]
    fn flushing_subnormals_lasts_while_the_guard_lives() {
        let tiny = std::hint::black_box(1e-300f64);
        let scale = std::hint::black_box(1e-10f64);
        assert!(tiny * scale > 0.0, "subnormal product without the guard");
        {
            let _guard = super::FlushSubnormals::new();
            let p = std::hint::black_box(tiny) * std::hint::black_box(scale);
            if cfg!(target_arch = "x86_64") {
                assert_eq!(p, 0.0);
            }
            // Normal results are untouched.
            assert_eq!(std::hint::black_box(1.5f64) * std::hint::black_box(2.0f64), 3.0);
        }
        assert!(std::hint::black_box(tiny) * std::hint::black_box(scale) > 0.0, "mode restored");
    }
}
