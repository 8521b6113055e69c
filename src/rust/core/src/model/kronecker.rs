//! The Kronecker precision `tau_ij = a_i b_j` (flashier's `var_type = c(1, 2)`),
//! estimated by alternating maximisation: given `b`, `a_i = n_i / sum_j b_j
//! E[R_ij^2]`; given `a`, `b_j = n_j / sum_i a_i E[R_ij^2]`, until the largest
//! change relative to the largest precision is below `sqrt(eps)` (at most 100
//! rounds). At that point `sum_ij tau_ij E[R_ij^2]` equals the number of
//! observations, and the expected log-likelihood is
//! `-1/2 (N (log 2 pi + 1) - sum_i n_i log a_i - sum_j n_j log b_j)`.

use super::{Factor, Fitter};
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

    /// `E[R_ij^2]` for the fit with `change`, in two parts, when the data are
    /// complete, dense and small enough (at most 2^20 entries) that a second
    /// matrix stays in cache: the squares `S = (R - c)^2` (`c` the change's
    /// rank-one term) as `n x p` column-major values, and the variance terms
    /// `sum_k (u2_k v2_k' - u_k^2 v_k^2')` as the factors `[U2, -U^2]` (n x
    /// 2m) and `[V2, V^2]` (p x 2m), which [`balance`] applies as a low-rank
    /// correction instead of adding them to every entry.
    fn expected_sq_parts(&self, change: Change) -> Option<SqParts> {
        let (n, p) = (self.n(), self.p());
        if self.data.has_missing() || n * p > 1 << 20 {
            return None;
        }
        let r = self.resid.matrix()?;
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
        let mut left: Vec<Vec<f64>> = terms.iter().map(|f| f.l2.clone()).collect();
        left.extend(terms.iter().map(|f| f.l.iter().map(|v| -v * v).collect::<Vec<f64>>()));
        let mut right: Vec<Vec<f64>> = terms.iter().map(|f| f.f2.clone()).collect();
        right.extend(terms.iter().map(|f| f.f.iter().map(|v| v * v).collect::<Vec<f64>>()));
        // The change as R - s u v' (s = 1 adding a factor, -1 removing one).
        let shift = match change {
            Change::None => None,
            Change::Add(f) => Some((1.0, f)),
            Change::Remove(k) => Some((-1.0, &self.state.factors[k])),
        };
        let mut squares: Vec<f64> = Vec::with_capacity(n * p);
        {
            // Written in place (no zeroing first), column by column.
            let spare = &mut squares.spare_capacity_mut()[..n * p];
            for (j, out) in spare.chunks_exact_mut(n.max(1)).enumerate().take(p) {
                let rc = r.col(j).try_as_col_major().expect("contiguous column").as_slice();
                match shift {
                    Some((sign, f)) => crate::fastmath::squared_difference_into(out, rc, &f.l, sign * f.f[j]),
                    None => crate::fastmath::squared_difference_into(out, rc, rc, 0.0),
                }
            }
        }
        // SAFETY: the loop above wrote all n p values (each column has n
        // entries, as do the loadings).
        unsafe { squares.set_len(n * p) };
        Some(SqParts { n, squares, left, right })
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
        if let Some(parts) = self.expected_sq_parts(change) {
            balance(&parts, &self.data.row_counts, &self.data.col_counts, &mut a, &mut b);
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
        let weighted_logs = |t: &[f64], counts: &[f64]| {
            let mut logs = vec![0.0; t.len()];
            crate::fastmath::ln_into(t, &mut logs);
            logs.iter().zip(counts).map(|(l, c)| c * l).sum::<f64>()
        };
        let sum_log = weighted_logs(&a, &self.data.row_counts) + weighted_logs(&b, &self.data.col_counts);
        let loglik = -0.5 * (total * (ln2pi + 1.0) - sum_log);
        let mut tau = a;
        tau.extend(b);
        (Precision { var_type: VarType::Kronecker, tau, matrix: None }, loglik)
    }
}

/// `E[R_ij^2]` as the squares `S` (`n x p`, column-major) plus the low-rank
/// variance terms `sum_c left_c right_c'` (see
/// [`Fitter::expected_sq_parts`]).
struct SqParts {
    n: usize,
    squares: Vec<f64>,
    left: Vec<Vec<f64>>,
    right: Vec<Vec<f64>>,
}

/// [`alternate`] on `E` held as [`SqParts`]: rounds of `a_i = n_i / (E
/// b)_i` then `b_j = n_j / (E' a)_j`, with the same stopping rule. Each
/// round reads `S` once: a block of rows gives its part of `S b` (plus the
/// low-rank terms' part, `left (right' b)`, as extra columns), hence its
/// `a_i`, and then, while it is still in the first-level cache, its part of
/// `S' a` and of `left' a`; after the pass, `E' a = S' a + right (left' a)`.
fn balance(e: &SqParts, row_counts: &[f64], col_counts: &[f64], a: &mut [f64], b: &mut [f64]) {
    let (n, p, m) = (e.n, b.len(), e.left.len());
    // The columns of S, then those of `left`, with weights `b`, then
    // `right' b`.
    let cols: Vec<&[f64]> = e.squares.chunks_exact(n.max(1)).take(p).chain(e.left.iter().map(|c| c.as_slice())).collect();
    let mut weights = vec![0.0; p + m];
    let mut left_a = vec![0.0; m];
    let tol = f64::EPSILON.sqrt();
    // Four partial sums of (S' a)_j and (left' a)_c per column.
    let mut sums = vec![0.0; 4 * (p + m)];
    let lane_sum = |part: &[f64]| (part[0] + part[1]) + (part[2] + part[3]);
    for _ in 0..100 {
        weights[..p].copy_from_slice(b);
        for (w, right) in weights[p..].iter_mut().zip(&e.right) {
            *w = crate::fastmath::dot(right, b);
        }
        sums.iter_mut().for_each(|v| *v = 0.0);
        let mut done = 0;
        let (mut max_v, mut max_chg) = (0.0f64, 0.0f64);
        #[cfg(target_arch = "x86_64")]
        if crate::fastmath::avx2::available() {
            done = n / 4 * 4;
            // SAFETY: AVX2 and FMA are available; every column has n entries.
            (max_v, max_chg) = unsafe { balance_blocks_avx2(&cols, done, row_counts, &weights, a, &mut sums) };
        }
        // The remaining rows one at a time.
        for i in done..n {
            let r: f64 = cols.iter().zip(&weights).map(|(c, w)| c[i] * w).sum();
            let new = row_counts[i] / r.max(f64::EPSILON);
            max_chg = max_chg.max((new - a[i]).abs());
            max_v = max_v.max(new);
            a[i] = new;
            for (j, c) in cols.iter().enumerate() {
                sums[4 * j] += c[i] * new;
            }
        }
        for (c, la) in left_a.iter_mut().enumerate() {
            *la = lane_sum(&sums[4 * (p + c)..4 * (p + c) + 4]);
        }
        for j in 0..p {
            let low_rank: f64 = e.right.iter().zip(&left_a).map(|(r, la)| r[j] * la).sum();
            let total = lane_sum(&sums[4 * j..4 * j + 4]) + low_rank;
            let new = col_counts[j] / total.max(f64::EPSILON);
            max_chg = max_chg.max((new - b[j]).abs());
            max_v = max_v.max(new);
            b[j] = new;
        }
        if max_v == 0.0 || max_chg / max_v <= tol {
            break;
        }
    }
}

/// Rows per block of [`balance`]'s vector kernel (eight vectors).
const BLOCK: usize = 32;

/// [`balance`]'s round over the first `rows` rows (a multiple of 4): new
/// `a` from `E b`, and the partial sums of `E' a` added to `sums` (four
/// lanes per column), in blocks of [`BLOCK`] rows and then of four. Returns
/// the largest new value and the largest change of `a`.
///
/// # Safety
/// The CPU has AVX2 and FMA; `rows <= ` each column's length, `a`'s and
/// `row_counts`' length; `sums` has `4 cols.len()` entries.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn balance_blocks_avx2(
    cols: &[&[f64]],
    rows: usize,
    row_counts: &[f64],
    b: &[f64],
    a: &mut [f64],
    sums: &mut [f64],
) -> (f64, f64) {
    use crate::fastmath::avx2::splat;
    use std::arch::x86_64::*;
    let mut max = (splat(0.0), splat(0.0));
    let blocks = rows / BLOCK * BLOCK;
    for start in (0..blocks).step_by(BLOCK) {
        // SAFETY: start + BLOCK <= rows; as for this function.
        unsafe { balance_rows_avx2::<8>(cols, start, row_counts, b, a, sums, &mut max) };
    }
    for start in (blocks..rows).step_by(4) {
        // SAFETY: start + 4 <= rows; as for this function.
        unsafe { balance_rows_avx2::<1>(cols, start, row_counts, b, a, sums, &mut max) };
    }
    let lanes = |v: __m256d| {
        let mut out = [0.0; 4];
        // SAFETY: four lanes into four values.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), v) };
        out.into_iter().fold(0.0, f64::max)
    };
    (lanes(max.0), lanes(max.1))
}

/// One block of `4 V` rows from `start` for [`balance_blocks_avx2`]; `max`
/// holds the running largest new value and change, lane by lane.
///
/// # Safety
/// As for [`balance_blocks_avx2`], with `start + 4 V <= rows`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn balance_rows_avx2<const V: usize>(
    cols: &[&[f64]],
    start: usize,
    row_counts: &[f64],
    b: &[f64],
    a: &mut [f64],
    sums: &mut [f64],
    max: &mut (std::arch::x86_64::__m256d, std::arch::x86_64::__m256d),
) {
    use crate::fastmath::avx2::{abs, load, splat, store};
    use std::arch::x86_64::*;
    let floor = splat(f64::EPSILON);
    let mut r = [splat(0.0); V];
    for (col, &bj) in cols.iter().zip(b) {
        let bj = splat(bj);
        for (k, rk) in r.iter_mut().enumerate() {
            // SAFETY: start + 4 k + 4 <= start + 4 V <= col.len().
            *rk = _mm256_fmadd_pd(unsafe { load(col, start + 4 * k) }, bj, *rk);
        }
    }
    let mut new = [splat(0.0); V];
    for k in 0..V {
        let i = start + 4 * k;
        // SAFETY: i + 4 <= a.len(), row_counts.len().
        let (counts, old) = unsafe { (load(row_counts, i), load(a, i)) };
        new[k] = _mm256_div_pd(counts, _mm256_max_pd(r[k], floor));
        max.1 = _mm256_max_pd(max.1, abs(_mm256_sub_pd(new[k], old)));
        max.0 = _mm256_max_pd(max.0, new[k]);
        // SAFETY: as above.
        unsafe { store(a, i, new[k]) };
    }
    for (j, col) in cols.iter().enumerate() {
        // SAFETY: 4 j + 4 <= sums.len(); start + 4 k + 4 <= col.len().
        let mut acc = unsafe { load(sums, 4 * j) };
        for (k, nk) in new.iter().enumerate() {
            acc = _mm256_fmadd_pd(unsafe { load(col, start + 4 * k) }, *nk, acc);
        }
        unsafe { store(sums, 4 * j, acc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass rounds of `balance` (vector blocks, the scalar rows
    /// after them, the low-rank part as extra columns) reach the fixed
    /// point of the plain alternation on the whole matrix.
    #[test]
    fn balance_matches_the_plain_alternation() {
        for (n, p, m) in [(37, 5, 2), (64, 44, 0), (3, 2, 1), (50, 7, 4)] {
            let sq = |i: usize, j: usize| {
                let base = 0.5 + ((i * 7919 + j * 104729) % 1000) as f64 / 250.0;
                base * (1.0 + i as f64 / n as f64) * (2.0 - j as f64 / p as f64)
            };
            let left: Vec<Vec<f64>> = (0..m).map(|c| (0..n).map(|i| ((i + c) % 3) as f64 * 0.2).collect()).collect();
            let right: Vec<Vec<f64>> = (0..m).map(|c| (0..p).map(|j| 0.1 + ((j * (c + 1)) % 4) as f64 * 0.3).collect()).collect();
            let e = faer::Mat::from_fn(n, p, |i, j| sq(i, j) + (0..m).map(|c| left[c][i] * right[c][j]).sum::<f64>());
            let squares: Vec<f64> = (0..p).flat_map(|j| (0..n).map(move |i| sq(i, j))).collect();
            let parts = SqParts { n, squares, left, right };
            // Counts of a mask's rows and columns (equal totals, as with data).
            let seen = |i: usize, j: usize| ((i + 2 * j) % 5 != 0) as usize as f64;
            let rc: Vec<f64> = (0..n).map(|i| (0..p).map(|j| seen(i, j)).sum()).collect();
            let cc: Vec<f64> = (0..p).map(|j| (0..n).map(|i| seen(i, j)).sum()).collect();
            let (mut a, mut b) = (vec![1.0; n], vec![1.0; p]);
            balance(&parts, &rc, &cc, &mut a, &mut b);
            let (mut a0, mut b0) = (vec![1.0; n], vec![1.0; p]);
            alternate(&mut a0, &mut b0, |a, b| {
                for i in 0..n {
                    a[i] = rc[i] / (0..p).map(|j| e[(i, j)] * b[j]).sum::<f64>();
                }
                for j in 0..p {
                    b[j] = cc[j] / (0..n).map(|i| e[(i, j)] * a[i]).sum::<f64>();
                }
            });
            // The products a_i b_j (the precisions) agree; a and b alone
            // are determined up to a common factor.
            for i in 0..n {
                for j in 0..p {
                    let (x, y) = (a[i] * b[j], a0[i] * b0[j]);
                    assert!((x - y).abs() <= 1e-7 * y, "{n} x {p} ({i}, {j}): {x} vs {y}");
                }
            }
            // At the fixed point the row equations hold.
            for i in 0..n {
                let row: f64 = (0..p).map(|j| a[i] * e[(i, j)] * b[j]).sum();
                assert!((row - rc[i]).abs() <= 1e-6 * rc[i], "row {i}: {row}");
            }
        }
    }
}
