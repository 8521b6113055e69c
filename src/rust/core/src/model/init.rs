//! flashier's default greedy initialisation: alternating least squares for
//! the best rank-one approximation `u v'` of the current residuals (missing
//! entries skipped), with optional sign constraints, from a fixed random start.

use super::Fitter;

/// Settings of the initialisation.
#[derive(Clone, Debug)]
pub struct InitControl {
    pub maxiter: usize,
    /// Stop when the largest change in the L2-normalised vectors is at most
    /// this (flashier: `1 / max(n, p)`).
    pub tol: f64,
}

fn normalized(v: &[f64]) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// `v` with the sign `sign` (+1: absolute values, -1: their negatives, 0:
/// as it is), as flashier starts a sign-constrained vector.
fn signed_start(v: &[f64], sign: i8) -> Vec<f64> {
    match sign {
        1 => v.iter().map(|x| x.abs()).collect(),
        -1 => v.iter().map(|x| -x.abs()).collect(),
        _ => v.to_vec(),
    }
}

/// Project `v` onto the sign `sign` (+1: negatives to 0, -1: positives to
/// 0, 0: nothing).
fn project(v: &mut [f64], sign: i8) {
    match sign {
        1 => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        -1 => v.iter_mut().for_each(|x| *x = x.min(0.0)),
        _ => {}
    }
}

fn max_abs_change(new: &[&[f64]; 2], old: &[&[f64]; 2]) -> f64 {
    let mut m: f64 = 0.0;
    for d in 0..2 {
        let a = normalized(new[d]);
        let b = normalized(old[d]);
        for (x, y) in a.iter().zip(&b) {
            m = m.max((x - y).abs());
        }
    }
    m
}

/// Initial loadings and factor for a new greedy factor. `start` holds the
/// random starting vectors (flashier draws `rnorm(n) / sqrt(n)` and
/// `rnorm(p) / sqrt(p)` after `set.seed(666)`); `signs` are +1 (nonnegative),
/// -1 (nonpositive) or 0 per dimension. Returns zeros when no nonzero
/// rank-one approximation satisfies the constraints.
pub fn greedy_init(
    fitter: &Fitter,
    start: (&[f64], &[f64]),
    signs: [i8; 2],
    control: &InitControl,
) -> (Vec<f64>, Vec<f64>) {
    let mut ef = [signed_start(start.0, signs[0]), signed_start(start.1, signs[1])];
    // Unconstrained dimensions first, sign-constrained ones last.
    let order: Vec<usize> = {
        let mut o: Vec<usize> = (0..2).filter(|&d| signs[d] == 0).collect();
        o.extend((0..2).filter(|&d| signs[d] != 0));
        o
    };
    let mut iter = 0;
    let mut change = f64::INFINITY;
    while change > control.tol && iter < control.maxiter {
        iter += 1;
        let old = ef.clone();
        for &d in &order {
            let other = &ef[1 - d];
            let sq: Vec<f64> = other.iter().map(|v| v * v).collect();
            let num = fitter.r_prod(d, other);
            let den = fitter.z_prod(d, &sq);
            let mut vals: Vec<f64> = num
                .iter()
                .zip(&den)
                .map(|(a, b)| {
                    let v = a / b;
                    if v.is_finite() {
                        v
                    } else {
                        0.0
                    }
                })
                .collect();
            project(&mut vals, signs[d]);
            ef[d] = vals;
        }
        change = max_abs_change(&[&ef[0], &ef[1]], &[&old[0], &old[1]]);
    }
    let [l, f] = ef;
    balance(l, f)
}

/// Rescale `(l, f)` to equal L2 norms with the same product; zeros when
/// either is zero.
fn balance(l: Vec<f64>, f: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
    let (l, f, _) = balance_scaled(l, f);
    (l, f)
}

/// [`balance`], also returning the factor by which `f` was multiplied.
fn balance_scaled(mut l: Vec<f64>, mut f: Vec<f64>) -> (Vec<f64>, Vec<f64>, f64) {
    let nl = l.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nf = f.iter().map(|x| x * x).sum::<f64>().sqrt();
    if nl > 0.0 && nf > 0.0 && nl.is_finite() && nf.is_finite() {
        let target = (nl * nf).sqrt();
        l.iter_mut().for_each(|v| *v *= target / nl);
        f.iter_mut().for_each(|v| *v *= target / nf);
        (l, f, target / nf)
    } else {
        l.iter_mut().for_each(|v| *v = 0.0);
        f.iter_mut().for_each(|v| *v = 0.0);
        (l, f, 0.0)
    }
}

/// The Gram matrix of the residuals along their smaller dimension:
/// `G = R'R` (p x p) when `p <= n`, else `G = R R'` (n x n). With it, the
/// unconstrained alternating least squares above become power iterations
/// that cost `O(min(n, p)^2)` each instead of two passes over `R`; the fit
/// keeps `G` up to date as factors are added. Used for complete dense data
/// while `G` is small next to `R` (at most a quarter of its size: the
/// 2000 x 500 benchmark's greedy fit takes 0.41 s with it, 0.66 s without);
/// sparse and low-rank data keep flashier's alternating passes.
pub struct Gram {
    /// 1: `G = R'R`, iterate on factor vectors; 0: `G = R R'`, on loadings.
    dim: usize,
    g: faer::Mat<f64>,
}

impl Gram {
    /// The Gram matrix of the fit's residuals, when it pays off.
    pub fn for_fit(fitter: &Fitter) -> Option<Gram> {
        let (n, p) = (fitter.n(), fitter.p());
        let m = n.min(p);
        if fitter.data.has_missing() || m * m * 4 > n * p {
            return None;
        }
        let r = fitter.resid.matrix()?;
        let mut g = faer::Mat::<f64>::zeros(m, m);
        // R'R (p x p) when p <= n, else R R' (n x n): the smaller Gram. Its
        // lower triangle only (half the work: 0.14 s instead of 0.25 s for
        // a 10000 x 1000 matrix on two threads), then mirrored.
        let (a, dim) = if p <= n { (r, 1) } else { (r.transpose(), 0) };
        crate::data::matmul_lower(g.as_mut(), a.transpose(), a, crate::data::par_for(r.nrows() * r.ncols()));
        for j in 1..m {
            for i in 0..j {
                g[(i, j)] = g[(j, i)];
            }
        }
        Some(Gram { dim, g })
    }

    fn times(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        crate::data::matmul(
            faer::ColMut::from_slice_mut(&mut out).as_mat_mut(),
            faer::Accum::Replace,
            self.g.as_ref(),
            faer::ColRef::from_slice(v).as_mat(),
            1.0,
            faer::Par::Seq,
        );
        out
    }

    /// Update `G` for the residuals `R - l f'`, given the current `R` and,
    /// when known, `rl = R' l` (which saves a pass for `G = R'R`).
    pub fn subtract_rank_one(&mut self, fitter: &Fitter, l: &[f64], f: &[f64], rl: Option<&[f64]>) {
        // G = R'R: G - a f' - f a' + (l'l) f f' with a = R'l (and the mirror
        // image for G = R R').
        let (u, v) = if self.dim == 1 { (l, f) } else { (f, l) };
        let a = match rl {
            Some(a) if self.dim == 1 => a.to_vec(),
            _ => fitter.r_prod(self.dim, u),
        };
        let uu: f64 = u.iter().map(|x| x * x).sum();
        let m = v.len();
        for j in 0..m {
            for i in 0..m {
                self.g[(i, j)] += -a[i] * v[j] - v[i] * a[j] + uu * v[i] * v[j];
            }
        }
    }

    /// flashier's alternating least squares, run as power iterations on `G`
    /// from the random start. Convergence uses the same tolerance on the
    /// L2-normalised vectors; for the vector that is not iterated, the change
    /// is bounded by its Euclidean distance (found from `G`), so the
    /// iterations run at least as long as flashier's.
    ///
    /// `sign` constrains the factor values (+1 nonnegative, -1 nonpositive;
    /// the loadings are never constrained here). flashier then updates the
    /// loadings first and projects the factor values, `f <- proj(R'R f c)`
    /// with `c > 0`: the same power iterations on `G = R'R` with the
    /// projection, so a sign needs `G = R'R` (the caller checks `p <= n`).
    ///
    /// Also returns `R f` for the returned `f` when `G = R'R`: the last
    /// loadings `R v_{T-1}` and `R v_T` come from one pass over `R`, and
    /// the first update of the new factor then needs no pass of its own.
    pub fn als(
        &self,
        fitter: &mut Fitter,
        start: (&[f64], &[f64]),
        sign: i8,
        control: &InitControl,
    ) -> (Vec<f64>, Vec<f64>, Option<Vec<f64>>) {
        let d = self.dim;
        assert!(sign == 0 || d == 1, "internal: signed factor values need the Gram matrix R'R");
        let sq = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        // Iterated vector w (factor when d = 1, loadings when d = 0); the
        // other vector is R w / |w|^2 (or R' w / |w|^2).
        let mut w: Vec<f64> = if d == 1 {
            signed_start(start.1, sign)
        } else {
            // u_1 = R v_0 / |v_0|^2.
            let v0 = start.1;
            let n0 = sq(v0);
            fitter.r_prod(0, v0).iter().map(|x| x / n0).collect()
        };
        let mut prev_w: Option<Vec<f64>> = None;
        let mut prev_gw: Option<Vec<f64>> = None;
        let mut iter = 0;
        let mut change = f64::INFINITY;
        while change > control.tol && iter < control.maxiter {
            iter += 1;
            let gw = self.times(&w);
            let wgw = dot(&w, &gw);
            if !(wgw > 0.0) {
                break;
            }
            let ww = sq(&w);
            let mut next: Vec<f64> = gw.iter().map(|x| x * ww / wgw).collect();
            project(&mut next, sign);
            if next.iter().all(|x| *x == 0.0) {
                // No nonzero factor values satisfy the sign: flashier's
                // iterations then end in zeros (as below).
                return (vec![0.0; fitter.n()], vec![0.0; fitter.p()], None);
            }
            // Change of the normalised iterated vector.
            let a = normalized(&next);
            let b = normalized(&w);
            let mut c = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            // Euclidean change of the other (normalised) vector, from G.
            if let (Some(pw), Some(pgw)) = (&prev_w, &prev_gw) {
                let cos = dot(&w, pgw) / (wgw.sqrt() * dot(pw, pgw).sqrt());
                c = c.max((2.0 - 2.0 * cos).max(0.0).sqrt());
            } else {
                c = f64::INFINITY;
            }
            change = c;
            prev_w = Some(std::mem::replace(&mut w, next));
            prev_gw = Some(gw);
        }
        if d == 1 {
            // u_T = R v_{T-1} / |v_{T-1}|^2, and R v_T in the same pass.
            let base = prev_w.unwrap_or_else(|| w.clone());
            fitter.resid.prefetch(0, vec![base.clone(), w.clone()]);
            let nb = sq(&base);
            let l = fitter.r_prod(0, &base).iter().map(|x| x / nb).collect();
            let rw = fitter.r_prod(0, &w);
            let (l, f, scale) = balance_scaled(l, w);
            let rf = (scale != 0.0).then(|| rw.iter().map(|x| x * scale).collect());
            (l, f, rf)
        } else {
            // v_T = R' u_T / |u_T|^2.
            let nw = sq(&w);
            let v = fitter.r_prod(1, &w).iter().map(|x| x / nw).collect();
            let (l, f) = balance(w, v);
            (l, f, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variance::VarType;

    /// With signs on the factor values, the power iterations on `R'R` reach
    /// the initialisation of flashier's alternating passes (run to a tight
    /// tolerance, so both are at the fixed point).
    #[test]
    fn signed_gram_iterations_match_the_alternating_passes() {
        let (n, p) = (120, 9);
        let y = faer::Mat::from_fn(n, p, |i, j| {
            let u = (i as f64 * 0.37).sin() * 2.0;
            let v = 0.5 + (j as f64 * 0.7).cos();
            u * v + (((i * 7919 + j * 104729) % 101) as f64 / 101.0 - 0.5)
        });
        let data = crate::data::DenseData::new(y.as_ref());
        let mut fit = Fitter::new(data, vec![], VarType::Constant);
        let gram = Gram::for_fit(&fit).expect("a Gram matrix for a tall matrix");
        assert_eq!(gram.dim, 1);
        let u0: Vec<f64> = (0..n).map(|i| ((i * 31 % 17) as f64 - 8.0) / 10.0).collect();
        let v0: Vec<f64> = (0..p).map(|j| ((j * 13 % 11) as f64 - 5.0) / 10.0).collect();
        let control = InitControl { maxiter: 10_000, tol: 1e-13 };
        for sign in [1i8, -1, 0] {
            let (l1, f1, rf1) = gram.als(&mut fit, (&u0, &v0), sign, &control);
            let (l0, f0) = greedy_init(&fit, (&u0, &v0), [0, sign], &control);
            assert!(f1.iter().any(|v| *v != 0.0), "sign {sign}: zero init");
            for (a, b) in l1.iter().chain(&f1).zip(l0.iter().chain(&f0)) {
                assert!((a - b).abs() <= 1e-8 * (1.0 + b.abs()), "sign {sign}: {a} vs {b}");
            }
            // The product handed on is R f for the returned f.
            let rf = rf1.expect("R f from the last pass");
            for (a, b) in rf.iter().zip(fit.r_prod(0, &f1)) {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "sign {sign}: R f {a} vs {b}");
            }
            match sign {
                1 => assert!(f1.iter().all(|v| *v >= 0.0)),
                -1 => assert!(f1.iter().all(|v| *v <= 0.0)),
                _ => {}
            }
        }
    }
}
