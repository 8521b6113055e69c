//! Sparse or low-rank data minus a low-rank fit, never formed as a dense
//! matrix.
//!
//! For sparse `Y` (compressed sparse columns, as R's `dgCMatrix`) or
//! low-rank `Y = U V'` (flashier's `list(u, d, v)`, with `d` folded into
//! `U`) the residuals `R = Y - sum_t l_t f_t'` are kept implicitly: products
//! with `R` cost a product with `Y` plus `O((n + p) K)`, and sums of squares
//! use `||Y - L F'||^2 = ||Y||^2 - 2 <Y, L F'> + ||L F'||^2` row by row or
//! column by column.

use faer::Mat;

use crate::data::DenseData;

/// The data behind an implicit residual.
enum Observed<'a> {
    /// Compressed sparse columns (borrowed slots of a `dgCMatrix`).
    Sparse { col_ptr: &'a [i32], row_idx: &'a [i32], values: &'a [f64] },
    /// `Y = U V'` with `U` (n x r) and `V` (p x r).
    LowRank { u: Mat<f64>, v: Mat<f64> },
}

/// Sparse or low-rank `Y` minus rank-one terms.
pub struct SparseResidual<'a> {
    n: usize,
    p: usize,
    y: Observed<'a>,
    terms: Vec<(Vec<f64>, Vec<f64>)>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl<'a> SparseResidual<'a> {
    /// Check the compressed-column structure and start from `Y - L F'`.
    pub fn new(
        n: usize,
        p: usize,
        col_ptr: &'a [i32],
        row_idx: &'a [i32],
        values: &'a [f64],
        l: &[Vec<f64>],
        f: &[Vec<f64>],
    ) -> Result<SparseResidual<'a>, String> {
        if col_ptr.len() != p + 1 || col_ptr[0] != 0 {
            return Err("the sparse matrix's column pointers do not match its columns".into());
        }
        let nnz = col_ptr[p];
        if nnz < 0 || nnz as usize != row_idx.len() || row_idx.len() != values.len() {
            return Err("the sparse matrix's slots disagree in length".into());
        }
        if col_ptr.windows(2).any(|w| w[1] < w[0]) {
            return Err("the sparse matrix's column pointers decrease".into());
        }
        if row_idx.iter().any(|&i| i < 0 || i as usize >= n) {
            return Err("the sparse matrix has row indices out of range".into());
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err("the sparse matrix has NA, NaN or infinite values".into());
        }
        let terms = l.iter().cloned().zip(f.iter().cloned()).collect();
        Ok(SparseResidual { n, p, y: Observed::Sparse { col_ptr, row_idx, values }, terms })
    }

    /// Low-rank data `Y = U V'` (`u`: n x r, `v`: p x r, column-major)
    /// minus `L F'`.
    pub fn low_rank(n: usize, p: usize, u: &[f64], v: &[f64], l: &[Vec<f64>], f: &[Vec<f64>]) -> Result<SparseResidual<'a>, String> {
        if n == 0 || p == 0 || u.len() % n != 0 || v.len() % p != 0 || u.len() / n != v.len() / p {
            return Err("the low-rank data's u and v do not have the same number of columns".into());
        }
        if u.iter().chain(v).any(|x| !x.is_finite()) {
            return Err("the low-rank data have NA, NaN or infinite values".into());
        }
        let r = u.len() / n;
        let u = Mat::from_fn(n, r, |i, c| u[c * n + i]);
        let v = Mat::from_fn(p, r, |j, c| v[c * p + j]);
        let terms = l.iter().cloned().zip(f.iter().cloned()).collect();
        Ok(SparseResidual { n, p, y: Observed::LowRank { u, v }, terms })
    }

    /// The sparse data's column `j` (rows, values).
    fn col(col_ptr: &'a [i32], row_idx: &'a [i32], values: &'a [f64], j: usize) -> (&'a [i32], &'a [f64]) {
        let (a, b) = (col_ptr[j] as usize, col_ptr[j + 1] as usize);
        (&row_idx[a..b], &values[a..b])
    }

    /// `Y v` (length n).
    fn y_times(&self, v: &[f64]) -> Vec<f64> {
        match &self.y {
            Observed::Sparse { col_ptr, row_idx, values } => {
                // Column blocks scatter into their own accumulators, summed
                // in block order: the same bits on any number of threads.
                let nnz = values.len();
                let blocks = if nnz >= 1_000_000 { 8.min(self.p) } else { 1 };
                let per = self.p.div_ceil(blocks);
                crate::data::sum_blocks(blocks, self.n, |b| {
                    let mut out = vec![0.0; self.n];
                    for j in b * per..((b + 1) * per).min(self.p) {
                        let vj = v[j];
                        if vj != 0.0 {
                            let (rows, vals) = Self::col(col_ptr, row_idx, values, j);
                            for (&i, &y) in rows.iter().zip(vals) {
                                out[i as usize] += y * vj;
                            }
                        }
                    }
                    out
                })
            }
            Observed::LowRank { u, v: vv } => low_rank_times(u, vv, v),
        }
    }

    /// `Y' u` (length p).
    fn yt_times(&self, x: &[f64]) -> Vec<f64> {
        match &self.y {
            Observed::Sparse { col_ptr, row_idx, values } => {
                // Each column's dot product is independent.
                crate::data::map_parallel(self.p, values.len() >= 1_000_000, |j| {
                    let (rows, vals) = Self::col(col_ptr, row_idx, values, j);
                    rows.iter().zip(vals).map(|(&i, &y)| y * x[i as usize]).sum()
                })
            }
            Observed::LowRank { u, v } => low_rank_times(v, u, x),
        }
    }

    /// `sum` along the other dimension of `w o Y^2` (dim 0: one value per
    /// row, `w` over columns).
    fn weighted_y2(&self, dim: usize, w: &[f64]) -> Vec<f64> {
        match &self.y {
            Observed::Sparse { col_ptr, row_idx, values } => {
                let len = if dim == 0 { self.n } else { self.p };
                let mut sq = vec![0.0; len];
                for j in 0..self.p {
                    let (rows, vals) = Self::col(col_ptr, row_idx, values, j);
                    for (&i, &y) in rows.iter().zip(vals) {
                        let i = i as usize;
                        if dim == 0 {
                            sq[i] += w[j] * y * y;
                        } else {
                            sq[j] += w[i] * y * y;
                        }
                    }
                }
                sq
            }
            Observed::LowRank { u, v } => {
                // sum_j w_j (u_i' v_j)^2 = u_i' (V' diag(w) V) u_i.
                let (this, other) = if dim == 0 { (u, v) } else { (v, u) };
                let r = this.ncols();
                let g = Mat::from_fn(r, r, |a, b| (0..other.nrows()).map(|k| w[k] * other[(k, a)] * other[(k, b)]).sum::<f64>());
                (0..this.nrows())
                    .map(|i| {
                        let mut acc = 0.0;
                        for a in 0..r {
                            let mut ga = 0.0;
                            for b in 0..r {
                                ga += g[(a, b)] * this[(i, b)];
                            }
                            acc += this[(i, a)] * ga;
                        }
                        acc
                    })
                    .collect()
            }
        }
    }

    pub fn times(&self, v: &[f64], out: &mut [f64]) {
        let yv = self.y_times(v);
        out.copy_from_slice(&yv);
        for (l, f) in &self.terms {
            let c = dot(f, v);
            for (o, li) in out.iter_mut().zip(l) {
                *o -= li * c;
            }
        }
    }

    pub fn t_times(&self, u: &[f64], out: &mut [f64]) {
        let ytu = self.yt_times(u);
        out.copy_from_slice(&ytu);
        for (l, f) in &self.terms {
            let c = dot(l, u);
            for (o, fj) in out.iter_mut().zip(f) {
                *o -= fj * c;
            }
        }
    }

    fn remove_term(&mut self, l: &[f64], f: &[f64]) {
        if let Some(pos) = self.terms.iter().position(|(tl, tf)| tl.as_slice() == l && tf.as_slice() == f) {
            self.terms.swap_remove(pos);
        } else {
            // Not one of the stored terms: cancel it with its negative.
            self.terms.push((l.iter().map(|v| -v).collect(), f.to_vec()));
        }
    }

    pub fn replace_rank_one(&mut self, _data: &DenseData, old: Option<(&[f64], &[f64])>, new: Option<(&[f64], &[f64])>) {
        if let Some((l, f)) = old {
            self.remove_term(l, f);
        }
        if let Some((l, f)) = new {
            self.terms.push((l.to_vec(), f.to_vec()));
        }
    }

    pub fn replace_many(&mut self, _data: &DenseData, old: (&[&[f64]], &[&[f64]]), new: (&[&[f64]], &[&[f64]])) {
        for (l, f) in old.0.iter().zip(old.1) {
            self.remove_term(l, f);
        }
        for (l, f) in new.0.iter().zip(new.1) {
            self.terms.push((l.to_vec(), f.to_vec()));
        }
    }

    /// For `dim = 0`: `sq_i = sum_j w_j R_ij^2` and `cross_i = sum_j w_j v_j
    /// R_ij`; for `dim = 1` the same over rows.
    pub fn weighted_sq_cross(&self, dim: usize, w: &[f64], v: Option<&[f64]>) -> (Vec<f64>, Vec<f64>) {
        let len = if dim == 0 { self.n } else { self.p };
        // sum of w-weighted Y^2 along the other dimension.
        let mut sq = self.weighted_y2(dim, w);
        // u_t: this dimension's vectors; g_t: the other's, weighted.
        let (us, gs): (Vec<&Vec<f64>>, Vec<Vec<f64>>) = self
            .terms
            .iter()
            .map(|(l, f)| {
                if dim == 0 {
                    (l, f.iter().zip(w).map(|(a, b)| a * b).collect())
                } else {
                    (f, l.iter().zip(w).map(|(a, b)| a * b).collect())
                }
            })
            .unzip();
        let others: Vec<&Vec<f64>> = self.terms.iter().map(|(l, f)| if dim == 0 { f } else { l }).collect();
        let y_prod = |x: &[f64]| if dim == 0 { self.y_times(x) } else { self.yt_times(x) };
        for (t, g) in gs.iter().enumerate() {
            let yg = y_prod(g);
            for i in 0..len {
                sq[i] -= 2.0 * us[t][i] * yg[i];
            }
            for t2 in 0..gs.len() {
                let c = dot(g, others[t2]);
                for i in 0..len {
                    sq[i] += us[t][i] * us[t2][i] * c;
                }
            }
        }
        let cross = match v {
            Some(v) => {
                let wv: Vec<f64> = v.iter().zip(w).map(|(a, b)| a * b).collect();
                let mut c = y_prod(&wv);
                for t in 0..us.len() {
                    let k = dot(others[t], &wv);
                    for i in 0..len {
                        c[i] -= us[t][i] * k;
                    }
                }
                c
            }
            None => vec![0.0; len],
        };
        (sq, cross)
    }

    pub fn row_sq(&self) -> Vec<f64> {
        self.weighted_sq_cross(0, &vec![1.0; self.p], None).0
    }

    pub fn col_sq(&self) -> Vec<f64> {
        self.weighted_sq_cross(1, &vec![1.0; self.n], None).0
    }
}

/// `A (B' x)` for `A` (m x r) and `B` (len(x) x r).
fn low_rank_times(a: &Mat<f64>, b: &Mat<f64>, x: &[f64]) -> Vec<f64> {
    let coef: Vec<f64> = (0..b.ncols()).map(|c| (0..b.nrows()).map(|k| b[(k, c)] * x[k]).sum()).collect();
    (0..a.nrows()).map(|i| (0..a.ncols()).map(|c| a[(i, c)] * coef[c]).sum()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DenseResidual;
    use faer::Mat;

    #[test]
    fn sparse_and_dense_residuals_agree() {
        // Y (4 x 3): nonzeros (0,0)=1, (2,0)=-2, (1,1)=3, (3,2)=0.5, (0,2)=4.
        let col_ptr = [0, 2, 3, 5];
        let row_idx = [0, 2, 1, 0, 3];
        let values = [1.0, -2.0, 3.0, 4.0, 0.5];
        let dense = Mat::from_fn(4, 3, |i, j| match (i, j) {
            (0, 0) => 1.0,
            (2, 0) => -2.0,
            (1, 1) => 3.0,
            (0, 2) => 4.0,
            (3, 2) => 0.5,
            _ => 0.0,
        });
        let l = vec![vec![0.5, -1.0, 2.0, 0.3]];
        let f = vec![vec![1.0, 0.2, -0.7]];
        let data = DenseData::new(dense.as_ref());
        let d = DenseResidual::new(&data, &l, &f);
        let s = SparseResidual::new(4, 3, &col_ptr, &row_idx, &values, &l, &f).unwrap();
        let v = [0.3, -1.0, 2.0];
        let u = [1.0, 0.5, -0.5, 2.0];
        let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
        d.times(&v, &mut a);
        s.times(&v, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        let (mut a, mut b) = (vec![0.0; 3], vec![0.0; 3]);
        d.t_times(&u, &mut a);
        s.t_times(&u, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        for (x, y) in d.row_sq().iter().zip(s.row_sq()) {
            assert!((x - y).abs() < 1e-12);
        }
        for (x, y) in d.col_sq().iter().zip(s.col_sq()) {
            assert!((x - y).abs() < 1e-12);
        }
        let w = [0.5, 2.0, 1.5];
        let (ds, dc) = d.weighted_sq_cross(0, &w, Some(&v));
        let (ss, sc) = s.weighted_sq_cross(0, &w, Some(&v));
        assert!(ds.iter().zip(&ss).chain(dc.iter().zip(&sc)).all(|(x, y)| (x - y).abs() < 1e-12));
        let w = [0.5, 2.0, 1.5, 1.0];
        let (ds, dc) = d.weighted_sq_cross(1, &w, Some(&u));
        let (ss, sc) = s.weighted_sq_cross(1, &w, Some(&u));
        assert!(ds.iter().zip(&ss).chain(dc.iter().zip(&sc)).all(|(x, y)| (x - y).abs() < 1e-12));
    }

    #[test]
    fn low_rank_and_dense_residuals_agree() {
        // Y = U V' with U (4 x 2), V (3 x 2), column-major.
        let u = [1.0, -0.5, 2.0, 0.3, 0.2, 1.0, -1.0, 0.7];
        let v = [0.5, 1.5, -2.0, 1.0, 0.0, 0.4];
        let dense = Mat::from_fn(4, 3, |i, j| u[i] * v[j] + u[4 + i] * v[3 + j]);
        let l = vec![vec![0.5, -1.0, 2.0, 0.3]];
        let f = vec![vec![1.0, 0.2, -0.7]];
        let data = DenseData::new(dense.as_ref());
        let d = DenseResidual::new(&data, &l, &f);
        let s = SparseResidual::low_rank(4, 3, &u, &v, &l, &f).unwrap();
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        let x3 = [0.3, -1.0, 2.0];
        let x4 = [1.0, 0.5, -0.5, 2.0];
        let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
        d.times(&x3, &mut a);
        s.times(&x3, &mut b);
        assert!(close(&a, &b));
        let (mut a, mut b) = (vec![0.0; 3], vec![0.0; 3]);
        d.t_times(&x4, &mut a);
        s.t_times(&x4, &mut b);
        assert!(close(&a, &b));
        assert!(close(&d.row_sq(), &s.row_sq()));
        assert!(close(&d.col_sq(), &s.col_sq()));
        let w = [0.5, 2.0, 1.5];
        let (ds, dc) = d.weighted_sq_cross(0, &w, Some(&x3));
        let (ss, sc) = s.weighted_sq_cross(0, &w, Some(&x3));
        assert!(close(&ds, &ss) && close(&dc, &sc));
        assert!(SparseResidual::low_rank(4, 3, &u, &v[..3], &l, &f).is_err());
    }
}
