//! The Kronecker precision `tau_ij = a_i b_j` (flashier's `var_type = c(1, 2)`),
//! estimated by alternating maximisation: given `b`, `a_i = n_i / sum_j b_j
//! E[R_ij^2]`; given `a`, `b_j = n_j / sum_i a_i E[R_ij^2]`, until the largest
//! change relative to the largest precision is below `sqrt(eps)` (at most 100
//! rounds). At that point `sum_ij tau_ij E[R_ij^2]` equals the number of
//! observations, and the expected log-likelihood is
//! `-1/2 (N (log 2 pi + 1) - sum_i n_i log a_i - sum_j n_j log b_j)`.

use super::{Factor, Fitter};
use faer::MatRef;
use crate::variance::{Precision, VarType};

/// How the fit differs from the one in the working residuals.
#[derive(Clone, Copy)]
pub enum Change<'a> {
    None,
    /// A candidate factor added.
    Add(&'a Factor),
    /// Factor `k` removed.
    Remove(usize),
}

/// Repeat `round(a, b)` (one update of each side of a rank-one structure)
/// at most 100 times, until the largest change relative to the largest value
/// is at most `sqrt(eps)` (flashier's hard-coded settings).
pub(crate) fn alternate(a: &mut [f64], b: &mut [f64], mut round: impl FnMut(&mut [f64], &mut [f64])) {
    let tol = f64::EPSILON.sqrt();
    for _ in 0..100 {
        let (old_a, old_b) = (a.to_vec(), b.to_vec());
        round(a, b);
        let max_v = a.iter().chain(b.iter()).copied().fold(0.0, f64::max);
        let max_chg = a
            .iter()
            .zip(&old_a)
            .chain(b.iter().zip(&old_b))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        if max_v == 0.0 || max_chg / max_v <= tol {
            break;
        }
    }
}

impl Fitter<'_> {
    /// `sum` along the other dimension of `w o E[R^2]` for the fit with
    /// `change` (dim 0: one value per row, weights `w` over columns).
    fn kron_sums(&self, dim: usize, w: &[f64], change: Change) -> Vec<f64> {
        let zw = |v: &[f64], sq: bool| -> Vec<f64> {
            let wv: Vec<f64> = w.iter().zip(v).map(|(a, b)| if sq { a * b * b } else { a * b }).collect();
            self.z_prod(dim, &wv)
        };
        let changed: Option<&Factor> = match change {
            Change::None => None,
            Change::Add(f) => Some(f),
            Change::Remove(k) => Some(&self.state.factors[k]),
        };
        let (sq, cross) = self.resid.weighted_sq_cross(dim, w, changed.map(|f| f.sides(dim).2));
        let mut out = sq;
        for (k, f) in self.state.factors.iter().enumerate() {
            if f.is_zero || matches!(change, Change::Remove(r) if r == k) {
                continue;
            }
            let (u, u2, v, v2) = f.sides(dim);
            let a = zw(v2, false);
            let b = zw(v, true);
            for i in 0..out.len() {
                out[i] += u2[i] * a[i] - u[i] * u[i] * b[i];
            }
        }
        match change {
            Change::None => {}
            Change::Add(f) => {
                // (R - u v')^2 + u2 v2' - u^2 v^2' = R^2 - 2 R o (u v') + u2 v2'.
                let (u, u2, _, v2) = f.sides(dim);
                let a = zw(v2, false);
                for i in 0..out.len() {
                    out[i] += -2.0 * u[i] * cross[i] + u2[i] * a[i];
                }
            }
            Change::Remove(k) => {
                // (R + u v')^2 = R^2 + 2 R o (u v') + u^2 v^2'.
                let (u, _, v, _) = self.state.factors[k].sides(dim);
                let b = zw(v, true);
                for i in 0..out.len() {
                    out[i] += 2.0 * u[i] * cross[i] + u[i] * u[i] * b[i];
                }
            }
        }
        out
    }

    /// `E[R_ij^2]` for the fit with `change`, as a matrix, when the data are
    /// complete, dense and small enough (at most 2^20 entries) that a second
    /// matrix stays in cache: `(R - c)^2 + sum_k (u2_k v2_k' - u_k^2 v_k^2')`
    /// with `c` the change's rank-one term.
    fn expected_sq_matrix(&self, change: Change) -> Option<faer::Mat<f64>> {
        let (n, p) = (self.n(), self.p());
        if self.data.has_missing() || n * p > 1 << 20 {
            return None;
        }
        let r = self.resid.matrix()?;
        // The variance terms as one product [U2, -U^2] [V2, V^2]'.
        let mut terms: Vec<&Factor> = self
            .state
            .factors
            .iter()
            .enumerate()
            .filter(|(k, f)| !f.is_zero && !matches!(change, Change::Remove(r) if r == *k))
            .map(|(_, f)| f)
            .collect();
        if let Change::Add(f) = change {
            terms.push(f);
        }
        let m = terms.len();
        let left = faer::Mat::from_fn(n, 2 * m, |i, c| if c < m { terms[c].l2[i] } else { -terms[c - m].l[i] * terms[c - m].l[i] });
        let right = faer::Mat::from_fn(p, 2 * m, |j, c| if c < m { terms[c].f2[j] } else { terms[c - m].f[j] * terms[c - m].f[j] });
        let mut e = faer::Mat::<f64>::zeros(n, p);
        if m > 0 {
            crate::data::matmul(e.as_mut(), faer::Accum::Replace, left.as_ref(), right.transpose(), 1.0, faer::Par::Seq);
        }
        // The change as R - s u v' (s = 1 adding a factor, -1 removing one).
        let shift = match change {
            Change::None => None,
            Change::Add(f) => Some((1.0, f)),
            Change::Remove(k) => Some((-1.0, &self.state.factors[k])),
        };
        for j in 0..p {
            let rc = r.col(j).try_as_col_major().expect("contiguous column").as_slice();
            let ec = e.col_mut(j).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
            match shift {
                Some((sign, f)) => {
                    let fj = sign * f.f[j];
                    for ((out, &rv), &l) in ec.iter_mut().zip(rc).zip(&f.l) {
                        let d = rv - l * fj;
                        *out += d * d;
                    }
                }
                None => {
                    for (out, &rv) in ec.iter_mut().zip(rc) {
                        *out += rv * rv;
                    }
                }
            }
        }
        Some(e)
    }

    /// The Kronecker precision for the fit with `change`, from `start`, and
    /// the expected log-likelihood of the data at it.
    pub(crate) fn kron_fit(&self, change: Change, start: &Precision) -> (Precision, f64) {
        let (n, p) = (self.n(), self.p());
        let (mut a, mut b) = if start.var_type == VarType::Kronecker && start.tau.len() == n + p {
            (start.tau[..n].to_vec(), start.tau[n..].to_vec())
        } else {
            (vec![1.0; n], vec![1.0; p])
        };
        if let Some(e) = self.expected_sq_matrix(change) {
            // Each round is then two products with one small matrix.
            alternate(&mut a, &mut b, |a, b| {
                let rows = mat_vec(e.as_ref(), b);
                for i in 0..n {
                    a[i] = self.data.row_counts[i] / rows[i].max(f64::EPSILON);
                }
                let cols = mat_vec(e.transpose(), a);
                for j in 0..p {
                    b[j] = self.data.col_counts[j] / cols[j].max(f64::EPSILON);
                }
            });
            return self.kron_result(a, b);
        }
        alternate(&mut a, &mut b, |a, b| {
            let rows = self.kron_sums(0, b, change);
            for i in 0..n {
                a[i] = self.data.row_counts[i] / rows[i].max(f64::EPSILON);
            }
            let cols = self.kron_sums(1, a, change);
            for j in 0..p {
                b[j] = self.data.col_counts[j] / cols[j].max(f64::EPSILON);
            }
        });
        self.kron_result(a, b)
    }

    /// The precision `(a, b)` and the expected log-likelihood at it.
    fn kron_result(&self, a: Vec<f64>, b: Vec<f64>) -> (Precision, f64) {
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let total = self.data.total_count;
        let sum_log: f64 = a.iter().zip(&self.data.row_counts).map(|(t, c)| c * t.ln()).sum::<f64>()
            + b.iter().zip(&self.data.col_counts).map(|(t, c)| c * t.ln()).sum::<f64>();
        let loglik = -0.5 * (total * (ln2pi + 1.0) - sum_log);
        let mut tau = a;
        tau.extend(b);
        (Precision { var_type: VarType::Kronecker, tau, matrix: None }, loglik)
    }
}

/// `A x` for a small matrix (sequential: it lives in cache).
fn mat_vec(a: MatRef<'_, f64>, x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.nrows()];
    crate::data::matmul(
        faer::ColMut::from_slice_mut(&mut out).as_mat_mut(),
        faer::Accum::Replace,
        a,
        faer::ColRef::from_slice(x).as_mat(),
        1.0,
        faer::Par::Seq,
    );
    out
}
