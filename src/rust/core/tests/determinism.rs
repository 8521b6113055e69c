//! Determinism of the matrix-factorization fits (issue 7): the same greedy
//! fit of the gtex z-scores twice gives bit-identical ELBOs and loadings,
//! and a fit whose matrix products run on two threads agrees with the
//! sequential one to rounding (ELBO within 1e-10 relative, L within 1e-8).
//!
//! The thread count (`flashierrs_core::data::set_threads`) is global, so the
//! tests here take a lock while they fit.

mod common;

use flashierrs_core::data::{set_threads, threads};
use flashierrs_core::ebnm::PriorFamily;
use flashierrs_core::model::Silent;
use flashierrs_core::variance::VarType;
use std::sync::Mutex;

static THREADS_LOCK: Mutex<()> = Mutex::new(());

use common::gtex;
use faer::Mat;

/// What the comparisons look at: the ELBO and every factor's posterior
/// mean loadings and factors.
struct Summary {
    elbo: f64,
    l: Vec<Vec<f64>>,
    f: Vec<Vec<f64>>,
}

/// A greedy fit (then the nullcheck) of the gtex matrix, as flash() does.
fn fit_gtex(y: &Mat<f64>, var_type: VarType, family: PriorFamily, kmax: usize) -> Summary {
    let fitter = common::greedy_fit(y, var_type, [family; 2], kmax, &mut Silent);
    Summary {
        elbo: fitter.state.elbo,
        l: fitter.state.factors.iter().map(|f| f.l.clone()).collect(),
        f: fitter.state.factors.iter().map(|f| f.f.clone()).collect(),
    }
}

/// Fit with `n` threads for the matrix products, restoring the setting.
fn fit_with_threads(
    n: usize,
    y: &Mat<f64>,
    var_type: VarType,
    family: PriorFamily,
    kmax: usize,
) -> Summary {
    let old = threads();
    set_threads(n);
    let out = fit_gtex(y, var_type, family, kmax);
    set_threads(old);
    out
}

fn max_abs_diff(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len(), "different numbers of factors");
    a.iter()
        .zip(b)
        .flat_map(|(u, v)| {
            assert_eq!(u.len(), v.len());
            u.iter().zip(v).map(|(x, y)| (x - y).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn same_fit_twice_is_bit_identical() {
    let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let y = gtex();
    for (vt, fam) in [
        (VarType::Constant, PriorFamily::PointNormal),
        (VarType::ByCol, PriorFamily::PointLaplace),
    ] {
        for nthreads in [1, 2] {
            let a = fit_with_threads(nthreads, &y, vt, fam, 5);
            let b = fit_with_threads(nthreads, &y, vt, fam, 5);
            eprintln!(
                "{vt:?} {} on {nthreads} thread(s): K = {}, ELBO = {}",
                fam.name(),
                a.l.len(),
                a.elbo
            );
            assert!(!a.l.is_empty(), "no factors were fitted");
            assert!(a.elbo.is_finite());
            assert_eq!(
                a.elbo.to_bits(),
                b.elbo.to_bits(),
                "{vt:?} {} on {nthreads} thread(s): ELBO {} vs {}",
                fam.name(),
                a.elbo,
                b.elbo
            );
            assert_eq!(a.l.len(), b.l.len());
            for (k, (la, lb)) in a.l.iter().zip(&b.l).enumerate() {
                let same = la.iter().zip(lb).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "{vt:?} {} on {nthreads} thread(s): L[, {}] differs (max |diff| {})",
                    fam.name(),
                    k + 1,
                    max_abs_diff(&[la.clone()], &[lb.clone()])
                );
            }
            for (k, (fa, fb)) in a.f.iter().zip(&b.f).enumerate() {
                let same = fa.iter().zip(fb).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{vt:?} {}: F[, {}] differs", fam.name(), k + 1);
            }
        }
    }
}

#[test]
fn two_threads_agree_with_one() {
    let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let y = gtex();
    for (vt, fam) in [
        (VarType::Constant, PriorFamily::PointNormal),
        (VarType::ByCol, PriorFamily::PointLaplace),
        (VarType::ByRow, PriorFamily::PointNormal),
    ] {
        let one = fit_with_threads(1, &y, vt, fam, 5);
        let two = fit_with_threads(2, &y, vt, fam, 5);
        let rel = (one.elbo - two.elbo).abs() / one.elbo.abs();
        let dl = max_abs_diff(&one.l, &two.l);
        let df = max_abs_diff(&one.f, &two.f);
        eprintln!(
            "{vt:?} {}: K = {}, ELBO {} (1 thread) vs {} (2 threads), rel diff {rel:e}; \
             max |dL| {dl:e}, max |dF| {df:e}",
            fam.name(),
            one.l.len(),
            one.elbo,
            two.elbo
        );
        assert!(one.elbo.is_finite() && two.elbo.is_finite());
        assert!(
            rel <= 1e-10,
            "{vt:?} {}: ELBO relative difference {rel:e}",
            fam.name()
        );
        assert!(dl <= 1e-8, "{vt:?} {}: max |L1 - L2| = {dl:e}", fam.name());
    }
}

/// The EBNM solvers split large inputs into fixed chunks, so their answers
/// are bit-identical on one thread and on two.
#[test]
fn parallel_ebnm_is_bit_identical() {
    use flashierrs_core::ebnm::{ebnm, EbnmOptions};
    let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // 60000 points: 95% null, 5% signal, heteroskedastic s for one case.
    let n = 60_000;
    let x: Vec<f64> = (0..n)
        .map(|i| {
            let u = ((i as f64 + 0.5) / n as f64 * 7.0).sin() * 1.7;
            if i % 20 == 0 {
                4.0 * u + 1.0
            } else {
                u * 0.6
            }
        })
        .collect();
    let s_hom = vec![0.8; n];
    let s_het: Vec<f64> = (0..n).map(|i| 0.5 + (i % 7) as f64 * 0.1).collect();
    let old = threads();
    for fam in [
        PriorFamily::PointNormal,
        PriorFamily::PointLaplace,
        PriorFamily::NormalScaleMixture,
    ] {
        for s in [&s_hom, &s_het] {
            let mut fits = vec![];
            for nthreads in [1, 2] {
                set_threads(nthreads);
                fits.push(ebnm(fam, &x, s, &EbnmOptions::default()).expect("solver"));
            }
            let (a, b) = (&fits[0], &fits[1]);
            assert_eq!(
                a.log_likelihood.to_bits(),
                b.log_likelihood.to_bits(),
                "{}",
                fam.name()
            );
            assert!(
                a.mean
                    .iter()
                    .zip(&b.mean)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{}",
                fam.name()
            );
            assert!(a
                .second_moment
                .iter()
                .zip(&b.second_moment)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
    }
    set_threads(old);
}

/// Products with large sparse data split the work into fixed blocks, so
/// they are bit-identical on one thread and on two.
#[test]
fn parallel_sparse_products_are_bit_identical() {
    use flashierrs_core::sparse::SparseResidual;
    let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (n, p) = (30_000usize, 500usize);
    // About 1.5 million nonzeros at pseudo-random rows.
    let mut col_ptr = vec![0i32];
    let mut row_idx = vec![];
    let mut values = vec![];
    let mut state = 12345u64;
    for _ in 0..p {
        let mut rows: Vec<i32> = (0..3000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 33) % n as u64) as i32
            })
            .collect();
        rows.sort_unstable();
        rows.dedup();
        for &r in &rows {
            values.push(((r as f64) * 0.37).sin());
        }
        row_idx.extend(rows);
        col_ptr.push(row_idx.len() as i32);
    }
    let l = vec![(0..n).map(|i| (i as f64 * 0.01).cos()).collect::<Vec<f64>>()];
    let f = vec![(0..p).map(|j| (j as f64 * 0.1).sin()).collect::<Vec<f64>>()];
    let res = SparseResidual::new(n, p, &col_ptr, &row_idx, &values, &l, &f).unwrap();
    let v: Vec<f64> = (0..p).map(|j| 1.0 / (1.0 + j as f64)).collect();
    let u: Vec<f64> = (0..n).map(|i| ((i % 13) as f64 - 6.0) / 7.0).collect();
    let old = threads();
    let mut outs = vec![];
    for nthreads in [1, 2] {
        set_threads(nthreads);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; p]);
        res.times(&v, &mut a);
        res.t_times(&u, &mut b);
        outs.push((a, b));
    }
    set_threads(old);
    assert!(outs[0].0.iter().zip(&outs[1].0).all(|(x, y)| x.to_bits() == y.to_bits()));
    assert!(outs[0].1.iter().zip(&outs[1].1).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// Folding deferred rank-one changes into a large dense residual matrix and
/// summing its squares in one pass (`flushed_sq`) gives the same sums as
/// folding them and then summing, on one thread and on two, and agrees with
/// the sums of squares of `Y - L F'` computed directly.
#[test]
fn flushed_squares_match_flush_then_sums() {
    use flashierrs_core::data::{DenseData, DenseResidual};
    let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (n, p) = (1300usize, 800usize);
    let y = Mat::from_fn(n, p, |i, j| ((i * 31 + j * 17) as f64 * 0.013).sin() + 0.01 * j as f64);
    let data = DenseData::new(y.as_ref());
    let vec_n = |a: f64| (0..n).map(|i| ((i as f64) * a).cos()).collect::<Vec<f64>>();
    let vec_p = |a: f64| (0..p).map(|j| ((j as f64) * a).sin()).collect::<Vec<f64>>();
    let (l0, f0) = (vec![vec_n(0.01), vec_n(0.023)], vec![vec_p(0.02), vec_p(0.031)]);
    let (l1, f1) = (vec_n(0.017), vec_p(0.05));
    let (l2, f2) = (vec_n(0.029), f0[1].clone());
    let changes = |r: &mut DenseResidual| {
        r.defer_rank_one(&data, &[((&l0[0], &f0[0]), (&l1, &f1)), ((&l0[1], &f0[1]), (&l2, &f2))]);
    };
    // Direct sums of squares of Y - l1 f1' - l2 f2'.
    let mut direct_rows = vec![0.0; n];
    let mut direct_cols = vec![0.0; p];
    for j in 0..p {
        for i in 0..n {
            let r = y[(i, j)] - l1[i] * f1[j] - l2[i] * f2[j];
            direct_rows[i] += r * r;
            direct_cols[j] += r * r;
        }
    }
    let old = threads();
    for nthreads in [1, 2] {
        set_threads(nthreads);
        for dim in [0, 1] {
            let mut fused = DenseResidual::new(&data, &l0, &f0);
            changes(&mut fused);
            let got = fused.flushed_sq(dim);
            let mut plain = DenseResidual::new(&data, &l0, &f0);
            changes(&mut plain);
            plain.flush();
            let want = if dim == 0 { plain.row_sq() } else { plain.col_sq() };
            assert_eq!(got.len(), want.len());
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "dim {dim}, {nthreads} threads");
            let direct = if dim == 0 { &direct_rows } else { &direct_cols };
            assert!(got.iter().zip(direct).all(|(a, b)| (a - b).abs() <= 1e-9 * b.abs().max(1.0)));
            // The matrix itself now holds the folded residuals.
            assert!((fused.matrix()[(7, 5)] - (y[(7, 5)] - l1[7] * f1[5] - l2[7] * f2[5])).abs() < 1e-12);
        }
    }
    set_threads(old);
}
