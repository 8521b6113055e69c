//! Residual precisions that vary over every entry: standard errors `S` given
//! as a matrix, or not constant along the dimension whose variance is
//! estimated (flashier's "zero" and "noisy" variance types).
//!
//! The variance of entry `(i, j)` is `S_ij^2 + sigma^2_ij`, where `sigma^2`
//! is zero (`var_type = NULL`), one value, one per row, one per column, or
//! `a_i b_j` (Kronecker). Each estimated component maximises the expected
//! log-likelihood `-1/2 sum (log(S^2 + sigma^2) + E[R^2] / (S^2 + sigma^2))`
//! over its slice of observed entries, on `[0, max(E[R^2] - S^2)]` (as
//! flashier bounds it); the Kronecker components alternate between rows
//! and columns until their largest relative change is below `sqrt(eps)`.
//! Unlike the rank-one structures, these need the expected squared residuals
//! of every entry, so each estimate costs a few passes over an `n x p`
//! matrix.

use std::sync::Arc;

use crate::data::matmul;
use faer::{Accum, Mat};

use super::kronecker::Change;
use super::{FitError, Fitter};
use crate::data::par_for;
use crate::variance::{Precision, VarType};

/// Given variances and what is estimated on top of them.
pub struct EntryNoise {
    /// `S_ij^2` (`n x p`); only observed entries are read.
    pub s2: Mat<f64>,
    /// The estimated component: `None` when all variance is given.
    pub est: Option<VarType>,
}

/// The variance component `x >= 0` of one slice: minimises
/// `h(x) = sum_k log(w_k x + s2_k) + r2_k / (w_k x + s2_k)` on
/// `[0, max((r2 - s2) / w)]`, by Newton's method on `h'` safeguarded by
/// bisection (from `start` when given), to relative tolerance `sqrt(eps)`.
/// Returns the end point where `h'` keeps its sign, else a root of `h'`
/// where it changes from negative to positive (a local minimum).
fn slice_component(r2: &[f64], s2: &[f64], w: &[f64], start: Option<f64>) -> f64 {
    let hi = r2
        .iter()
        .zip(s2)
        .zip(w)
        .map(|((r, s), w)| (r - s) / w)
        .fold(f64::NEG_INFINITY, f64::max);
    if !(hi > 0.0) {
        return 0.0;
    }
    // h'(x) and h''(x).
    let derivs = |x: f64| -> (f64, f64) {
        let (mut d1, mut d2) = (0.0, 0.0);
        for ((r, s), w) in r2.iter().zip(s2).zip(w) {
            let v = w * x + s;
            let a = w / v;
            d1 += a - a * r / v;
            d2 += -a * a + 2.0 * a * a * r / v;
        }
        (d1, d2)
    };
    if derivs(0.0).0 >= 0.0 {
        return 0.0;
    }
    if derivs(hi).0 <= 0.0 {
        return hi;
    }
    let (mut lo, mut up) = (0.0, hi);
    let mut x = match start {
        Some(x0) if x0 > 0.0 && x0 < hi => x0,
        _ => 0.5 * hi,
    };
    let tol = f64::EPSILON.sqrt();
    for _ in 0..100 {
        let (d1, d2) = derivs(x);
        if d1 < 0.0 {
            lo = x;
        } else {
            up = x;
        }
        let newton = x - d1 / d2;
        let next = if d2 > 0.0 && newton > lo && newton < up { newton } else { 0.5 * (lo + up) };
        let done = (next - x).abs() <= tol * next.abs().max(f64::MIN_POSITIVE) || up - lo <= tol * up;
        x = next;
        if done {
            break;
        }
    }
    x
}

/// The `(r2, s2, weight)` of the given cells `(i, j, weight)` that are
/// observed and have positive weight (the others do not depend on the
/// component).
fn gather(
    cells: impl Iterator<Item = (usize, usize, f64)>,
    r2: &Mat<f64>,
    s2: &Mat<f64>,
    obs: impl Fn(usize, usize) -> bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut out = (vec![], vec![], vec![]);
    for (i, j, w) in cells {
        if w > 0.0 && obs(i, j) {
            out.0.push(r2[(i, j)]);
            out.1.push(s2[(i, j)]);
            out.2.push(w);
        }
    }
    out
}

impl<'a> Fitter<'a> {
    /// Use standard errors that vary over entries: variances `s2` (`n x p`)
    /// plus the component `est` (none: `var_type = NULL`).
    pub fn set_entry_noise(&mut self, s2: Mat<f64>, est: Option<VarType>) -> Result<(), FitError> {
        if s2.nrows() != self.n() || s2.ncols() != self.p() {
            return Err(FitError("the standard errors do not match the data's dimensions".into()));
        }
        if self.resid.matrix().is_none() {
            return Err(FitError("standard errors that vary over entries need dense data".into()));
        }
        let len = match est {
            None => 0,
            Some(v) => v.len(self.n(), self.p()),
        };
        self.state.precision = Precision {
            var_type: est.unwrap_or(VarType::Constant),
            tau: vec![0.0; len],
            matrix: None,
        };
        self.entry = Some(EntryNoise { s2, est });
        // Entrywise precisions read the residual matrix between updates.
        self.resid.set_deferral(false);
        self.refresh();
        Ok(())
    }

    pub(crate) fn has_entry_noise(&self) -> bool {
        self.entry.is_some()
    }

    /// Whether entry `(i, j)` is observed.
    fn observed(&self, i: usize, j: usize) -> bool {
        !self.data.has_missing() || !self.data.y()[(i, j)].is_nan()
    }

    /// `E[R_ij^2]` of every entry for the fit with `change` (zero where the
    /// data are missing).
    pub(crate) fn entry_r2(&self, change: Change) -> Mat<f64> {
        let r = self.resid.matrix().expect("dense residuals");
        let (n, p) = (self.n(), self.p());
        // Terms a_t b_t' of the variance part (sign folded into a).
        let mut a_cols: Vec<Vec<f64>> = vec![];
        let mut b_cols: Vec<Vec<f64>> = vec![];
        let sq = |v: &[f64]| v.iter().map(|x| x * x).collect::<Vec<f64>>();
        for (k, f) in self.state.factors.iter().enumerate() {
            if f.is_zero || matches!(change, Change::Remove(r) if r == k) {
                continue;
            }
            a_cols.push(f.l2.clone());
            b_cols.push(f.f2.clone());
            a_cols.push(sq(&f.l).iter().map(|x| -x).collect());
            b_cols.push(sq(&f.f));
        }
        // The changed factor's (u, v) and the sign of its cross term.
        let cross: Option<(&[f64], &[f64], f64)> = match change {
            Change::None => None,
            Change::Add(f) => {
                // (R - l f')^2 + l2 f2' - l^2 f^2' = R^2 - 2 R o (l f') + l2 f2'.
                a_cols.push(f.l2.clone());
                b_cols.push(f.f2.clone());
                Some((&f.l, &f.f, -2.0))
            }
            Change::Remove(k) => {
                // (R + l f')^2 = R^2 + 2 R o (l f') + l^2 f^2'.
                let f = &self.state.factors[k];
                a_cols.push(sq(&f.l));
                b_cols.push(sq(&f.f));
                Some((&f.l, &f.f, 2.0))
            }
        };
        let mut out = Mat::<f64>::from_fn(n, p, |i, j| {
            let v = r[(i, j)];
            let mut e = v * v;
            if let Some((u, w, c)) = cross {
                e += c * v * u[i] * w[j];
            }
            e
        });
        if !a_cols.is_empty() {
            let t = a_cols.len();
            let a = Mat::from_fn(n, t, |i, c| a_cols[c][i]);
            let b = Mat::from_fn(p, t, |j, c| b_cols[c][j]);
            matmul(out.as_mut(), Accum::Add, a.as_ref(), b.transpose(), 1.0, par_for(n * p));
        }
        if self.data.has_missing() {
            for j in 0..p {
                for i in 0..n {
                    if !self.observed(i, j) {
                        out[(i, j)] = 0.0;
                    }
                }
            }
        }
        out
    }

    /// The precision matrix and expected log-likelihood at expected squared
    /// residuals `r2`, the variance components estimated from `start`'s.
    pub(crate) fn entry_fit(&self, r2: &Mat<f64>, start: &Precision) -> (Precision, f64) {
        let noise = self.entry.as_ref().expect("entry noise");
        let (n, p) = (self.n(), self.p());
        let s2 = &noise.s2;
        let obs = |i: usize, j: usize| self.observed(i, j);
        // Slices of observed (r2, s2) along a row or a column.
        let row_slice = |i: usize, w: &[f64]| gather((0..p).map(|j| (i, j, w[j])), r2, s2, obs);
        let col_slice = |j: usize, w: &[f64]| gather((0..n).map(|i| (i, j, w[i])), r2, s2, obs);
        let ones_n = vec![1.0; n];
        let ones_p = vec![1.0; p];
        // The previous components seed the search.
        let prev = |d: usize| -> Option<f64> {
            (start.matrix.is_some() && start.tau.len() > d).then(|| start.tau[d])
        };
        let (est, var): (Vec<f64>, Box<dyn Fn(usize, usize) -> f64>) = match noise.est {
            None => (vec![], Box::new(|_, _| 0.0)),
            Some(VarType::Constant) => {
                let all = gather((0..p).flat_map(|j| (0..n).map(move |i| (i, j, 1.0))), r2, s2, obs);
                let x = slice_component(&all.0, &all.1, &all.2, prev(0));
                (vec![x], Box::new(move |_, _| x))
            }
            Some(VarType::ByRow) => {
                let est: Vec<f64> = (0..n)
                    .map(|i| {
                        let (r, s, w) = row_slice(i, &ones_p);
                        slice_component(&r, &s, &w, prev(i))
                    })
                    .collect();
                let e = est.clone();
                (est, Box::new(move |i, _| e[i]))
            }
            Some(VarType::ByCol) => {
                let est: Vec<f64> = (0..p)
                    .map(|j| {
                        let (r, s, w) = col_slice(j, &ones_n);
                        slice_component(&r, &s, &w, prev(j))
                    })
                    .collect();
                let e = est.clone();
                (est, Box::new(move |_, j| e[j]))
            }
            Some(VarType::Kronecker) => {
                let (mut a, mut b) = if start.tau.len() == n + p && start.tau.iter().any(|v| *v > 0.0) {
                    (start.tau[..n].to_vec(), start.tau[n..].to_vec())
                } else {
                    (vec![1.0; n], vec![1.0; p])
                };
                super::kronecker::alternate(&mut a, &mut b, |a, b| {
                    for i in 0..n {
                        let (r, s, w) = row_slice(i, b);
                        a[i] = slice_component(&r, &s, &w, Some(a[i]));
                    }
                    for j in 0..p {
                        let (r, s, w) = col_slice(j, a);
                        b[j] = slice_component(&r, &s, &w, Some(b[j]));
                    }
                });
                let mut est = a.clone();
                est.extend(&b);
                (est, Box::new(move |i, j| a[i] * b[j]))
            }
        };
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        let mut loglik = 0.0;
        let tau = Mat::<f64>::from_fn(n, p, |i, j| {
            if !obs(i, j) {
                return 0.0;
            }
            let v = s2[(i, j)] + var(i, j);
            loglik -= 0.5 * (ln2pi + v.ln() + r2[(i, j)] / v);
            1.0 / v
        });
        let precision = Precision {
            var_type: noise.est.unwrap_or(VarType::Constant),
            tau: est,
            matrix: Some(Arc::new(tau)),
        };
        (precision, loglik)
    }

    /// Precision and ELBO of the fit with `change`.
    pub(crate) fn entry_score(&self, change: Change, kl: f64) -> (Precision, f64) {
        let r2 = self.entry_r2(change);
        let (precision, loglik) = self.entry_fit(&r2, &self.state.precision);
        (precision, kl + loglik)
    }

    /// `sum_ij 1 / tau_ij` over observed entries.
    pub(crate) fn entry_total_variance(&self) -> f64 {
        let t = self.state.precision.matrix.as_ref().expect("precision matrix");
        let mut acc = 0.0;
        for j in 0..self.p() {
            for i in 0..self.n() {
                let v = t[(i, j)];
                if v > 0.0 {
                    acc += 1.0 / v;
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_component_matches_closed_form_without_s() {
        // With s2 = 0 and w = 1 the optimum is mean(r2).
        let r2 = [1.0, 2.0, 4.5, 0.5];
        let x = slice_component(&r2, &[0.0; 4], &[1.0; 4], None);
        assert!((x - 2.0).abs() < 1e-6, "{x}");
        // With equal s2 the optimum is mean(r2) - s2 (when positive).
        let x = slice_component(&r2, &[0.5; 4], &[1.0; 4], Some(3.0));
        assert!((x - 1.5).abs() < 1e-6, "{x}");
        // And zero when the residuals are smaller than the given noise.
        assert_eq!(slice_component(&r2, &[10.0; 4], &[1.0; 4], None), 0.0);
        // Weighted: w x + s2 with w = 2 and s2 = 0 gives x = mean(r2) / 2.
        let x = slice_component(&r2, &[0.0; 4], &[2.0; 4], None);
        assert!((x - 1.0).abs() < 1e-6, "{x}");
    }
}
