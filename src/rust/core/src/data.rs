//! The data matrix and the working residuals.
//!
//! Greedy fitting, backfitting and the variance updates only ask the data for
//! a handful of operations: products of the residual matrix `R = Z o (Y - L F')`
//! with a vector, products of the missingness mask `Z` with a vector, sums of
//! squared residuals, and rank-one updates of `R`. Dense data keeps one owned
//! working copy of `R`; the user's `Y` is only ever read through a view.

use crate::model::Dim;
use faer::{Accum, ColMut, ColRef, Mat, MatMut, MatRef, Par};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads used for the products with the data (1 = sequential).
static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Set the number of threads for the matrix products (at least 1).
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The number of threads for the matrix products.
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// faer's parallelism for a product touching `size` entries: sequential
/// below a million (threads cost more than they save there).
pub fn par_for(size: usize) -> Par {
    if size < 1_000_000 {
        Par::Seq
    } else {
        par()
    }
}

/// The thread pool for the core's own parallel loops, with [`threads`]
/// workers (rebuilt when the setting changes).
fn pool() -> std::sync::Arc<rayon::ThreadPool> {
    use std::sync::{Arc, Mutex};
    static POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
    let n = threads();
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((size, p)) = guard.as_ref() {
        if *size == n {
            return p.clone();
        }
    }
    let p = Arc::new(rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("a thread pool"));
    *guard = Some((n, p.clone()));
    p
}

/// faer's matrix product `dst = alpha lhs rhs (+ dst)`, after which the
/// vector-register state of this thread is reset (see
/// [`crate::simd_state`]): every product in the core goes through here.
pub fn matmul(dst: MatMut<'_, f64>, accum: Accum, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>, alpha: f64, par: Par) {
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, alpha, par);
    settle_after(par);
}

/// `R V` (`n x K`) for a matrix `R` stored by columns, as
/// [`matmul`] would give it up to rounding, on `threads()` workers unless
/// `par` is sequential. faer's gemm copies (packs) `R` for this shape: on
/// a 2000 x 500 matrix with K = 8 it took 0.74-1.9 ms from run to run on
/// the AMD host, where the loop of [`panel_rows`], which reads `R` in
/// place, takes 0.82-0.94 ms. Each entry is one chain of fused
/// multiply-adds over the columns of `R` in order, so the result does not
/// depend on how the rows are split between threads.
pub fn times_panel(r: MatRef<'_, f64>, v: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let parts = if matches!(par, Par::Seq) { 1 } else { threads() };
    times_panel_in(r, v, par, parts)
}

/// [`times_panel`] with the rows split into `parts` blocks.
fn times_panel_in(r: MatRef<'_, f64>, v: MatRef<'_, f64>, par: Par, parts: usize) -> Mat<f64> {
    let (n, k) = (r.nrows(), v.ncols());
    let mut out = Mat::<f64>::zeros(n, k);
    #[cfg(target_arch = "x86_64")]
    if k >= 2 && r.row_stride() == 1 && r.col_stride() >= 0 && crate::fastmath::avx2::available() {
        // V by rows: the K weights of each column of R side by side.
        let vt: Vec<f64> = (0..v.nrows()).flat_map(|j| (0..k).map(move |c| v[(j, c)])).collect();
        let per = n.div_ceil(parts.max(1)).next_multiple_of(4).max(4);
        // Row blocks of `out`, as column blocks of its transpose.
        map_items(col_blocks(out.as_mut().transpose_mut(), per), true, |(i0, block)| {
            let block = block.transpose_mut();
            // SAFETY: AVX2 and FMA are available (checked above); R's rows
            // i0.. and the block have the same number of rows.
            unsafe { panel_rows(r.subrows(i0, block.nrows()), &vt, block) }
        });
        return out;
    }
    matmul(out.as_mut(), Accum::Replace, r, v, 1.0, par);
    out
}

/// `m` cut into blocks of `per` columns (the last one shorter), each with
/// the index of its first column: disjoint views for parallel work.
fn col_blocks(mut m: MatMut<'_, f64>, per: usize) -> Vec<(usize, MatMut<'_, f64>)> {
    let per = per.max(1);
    let mut blocks = Vec::with_capacity(m.ncols().div_ceil(per));
    let mut start = 0;
    while m.ncols() > 0 {
        let w = per.min(m.ncols());
        let (left, right) = m.split_at_col_mut(w);
        blocks.push((start, left));
        start += per;
        m = right;
    }
    blocks
}

/// Columns of `V` that one pass of [`panel_rows`] handles: twelve
/// accumulators, the loaded rows and a broadcast fill the sixteen AVX2
/// registers.
#[cfg(target_arch = "x86_64")]
const PANEL_COLS: usize = 12;

/// `out = R V` for `V` given by rows in `vt` (`R` stored by columns),
/// `PANEL_COLS` columns of `V` at a time: four rows of `R` are multiplied
/// by each row of `V` in turn, the sums held in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn panel_rows(r: MatRef<'_, f64>, vt: &[f64], mut out: MatMut<'_, f64>) {
    let k = out.ncols();
    let mut c0 = 0;
    while c0 < k {
        // At most PANEL_COLS per pass; what is left over twelve, in two halves.
        let rest = k - c0;
        let w = if rest <= PANEL_COLS { rest } else { PANEL_COLS.min(rest.div_ceil(2)) };
        let o = out.as_mut();
        // SAFETY: as for this function; c0 + w <= k.
        unsafe {
            match w {
                12 => panel_pass::<12>(r, vt, c0, o),
                11 => panel_pass::<11>(r, vt, c0, o),
                10 => panel_pass::<10>(r, vt, c0, o),
                9 => panel_pass::<9>(r, vt, c0, o),
                8 => panel_pass::<8>(r, vt, c0, o),
                7 => panel_pass::<7>(r, vt, c0, o),
                6 => panel_pass::<6>(r, vt, c0, o),
                5 => panel_pass::<5>(r, vt, c0, o),
                4 => panel_pass::<4>(r, vt, c0, o),
                3 => panel_pass::<3>(r, vt, c0, o),
                2 => panel_pass::<2>(r, vt, c0, o),
                _ => panel_pass::<1>(r, vt, c0, o),
            }
        }
        c0 += w;
    }
}

/// Columns `c0..c0 + C` of `out = R V` (see [`panel_rows`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn panel_pass<const C: usize>(r: MatRef<'_, f64>, vt: &[f64], c0: usize, mut out: MatMut<'_, f64>) {
    use std::arch::x86_64::*;
    let (h, p, k) = (r.nrows(), r.ncols(), out.ncols());
    let cs = r.col_stride() as usize;
    let ocs = out.col_stride() as usize;
    let rp = r.as_ptr();
    let op = out.as_ptr_mut();
    let mut i = 0;
    while i + 4 <= h {
        let mut acc = [_mm256_setzero_pd(); C];
        let mut x = rp.wrapping_add(i);
        let mut w = vt.as_ptr().wrapping_add(c0);
        for _ in 0..p {
            // Rows 32 further down this column, eight blocks ahead: without
            // the hint, reading across columns misses the cache each time
            // (five times slower); one line ahead was 10-20% slower.
            _mm_prefetch::<_MM_HINT_T0>(x.wrapping_add(32) as *const i8);
            // SAFETY: rows i..i + 4 of column j of R, and entries
            // c0..c0 + C of row j of vt, are in bounds.
            unsafe {
                let xv = _mm256_loadu_pd(x);
                for (c, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_pd(xv, _mm256_broadcast_sd(&*w.add(c)), *a);
                }
            }
            x = x.wrapping_add(cs);
            w = w.wrapping_add(k);
        }
        for (c, a) in acc.iter().enumerate() {
            // SAFETY: rows i..i + 4 of column c0 + c of out are in bounds.
            unsafe { _mm256_storeu_pd(op.add((c0 + c) * ocs + i), *a) };
        }
        i += 4;
    }
    // The last rows: the same chain of fused multiply-adds, one at a time.
    for i in i..h {
        for c in 0..C {
            let mut s = 0.0f64;
            for j in 0..p {
                s = r[(i, j)].mul_add(vt[j * k + c0 + c], s);
            }
            out[(i, c0 + c)] = s;
        }
    }
}

/// [`matmul`] for a product known to be symmetric (such as `A'A`): only the
/// lower triangle of `dst` is computed (half the work) and written.
pub fn matmul_lower(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>, par: Par) {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    let rect = BlockStructure::Rectangular;
    matmul(dst, BlockStructure::TriangularLower, Accum::Replace, lhs, rect, rhs, rect, 1.0, par);
    settle_after(par);
}

/// Reset the register state after a product run with `par`.
fn settle_after(par: Par) {
    crate::simd_state::settle();
    if !matches!(par, Par::Seq) && rayon::current_thread_index().is_some() {
        // Issued from a pool worker: the kernels ran on that pool's workers.
        rayon::broadcast(|_| crate::simd_state::settle());
    }
}

/// Run `f` on the core's thread pool (see [`pool`]); its parallel
/// iterators then use [`threads`] workers.
pub fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Points per chunk in [`chunked`]: the chunking, not the thread count,
/// fixes the order of every floating-point sum.
pub const CHUNK: usize = 4096;

/// `f` over the chunks `[0, CHUNK), [CHUNK, 2 CHUNK), ...` of `0..n`, in
/// parallel when there are several chunks and several threads, with the
/// results in chunk order. Combining them in that order gives the same
/// bits whatever the number of threads.
pub fn chunked<T: Send>(n: usize, f: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let chunks = n.div_ceil(CHUNK).max(1);
    map_parallel(chunks, chunks > 1, |c| f(c * CHUNK..((c + 1) * CHUNK).min(n)))
}

/// `f(0), ..., f(count - 1)` in order, computed on the pool when `big` and
/// the thread setting allow. Each result depends on its index only, so the
/// output does not depend on the number of threads.
pub fn map_parallel<T: Send>(count: usize, big: bool, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    map_items((0..count).collect(), big, f)
}

/// `f` of each of `items`, in order, computed on the pool as by
/// [`map_parallel`] (for items that are moved into `f`, such as disjoint
/// mutable views of one matrix).
pub fn map_items<I: Send, T: Send>(items: Vec<I>, big: bool, f: impl Fn(I) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    if big && items.len() > 1 && threads() > 1 {
        in_pool(|| items.into_par_iter().map(&f).collect())
    } else {
        items.into_iter().map(f).collect()
    }
}

/// The elementwise sum of `parts` (each of length `len`) in their order.
fn sum_in_order(parts: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    let mut parts = parts.into_iter();
    let mut out = parts.next().unwrap_or_else(|| vec![0.0; len]);
    for part in parts {
        out.iter_mut().zip(&part).for_each(|(o, x)| *o += x);
    }
    out
}

/// The elementwise sum, in block order, of `f(0), ..., f(blocks - 1)` (each
/// of length `len`), the blocks computed as by [`map_parallel`].
pub fn sum_blocks(blocks: usize, len: usize, f: impl Fn(usize) -> Vec<f64> + Sync) -> Vec<f64> {
    sum_in_order(map_parallel(blocks, true, f), len)
}

/// faer's parallelism for the current thread setting.
pub fn par() -> Par {
    match threads() {
        1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// The data's shape and missingness: dense data `Y` (n x p) read in place,
/// with `NaN` marking missing entries, or (for sparse data, held by the
/// residuals) just the shape of a complete matrix.
pub struct DenseData<'a> {
    y: Option<MatRef<'a, f64>>,
    n: usize,
    p: usize,
    has_missing: bool,
    /// Non-missing entries in each row.
    pub row_counts: Vec<f64>,
    /// Non-missing entries in each column.
    pub col_counts: Vec<f64>,
    /// Non-missing entries in all.
    pub total_count: f64,
}

impl<'a> DenseData<'a> {
    /// Wrap a column-major view. Missing entries are `NaN`.
    pub fn new(y: MatRef<'a, f64>) -> DenseData<'a> {
        let (n, p) = (y.nrows(), y.ncols());
        // Missing entries per row and column: a branch-free count of each
        // column first (it vectorises), the rows only for columns with some.
        let mut row_missing = vec![0.0; n];
        let mut col_counts = vec![0.0; p];
        let mut has_missing = false;
        for j in 0..p {
            let col = y.col(j);
            let missing = match col.try_as_col_major() {
                Some(c) => c.as_slice().iter().fold(0usize, |acc, v| acc + v.is_nan() as usize),
                None => (0..n).filter(|&i| col[i].is_nan()).count(),
            };
            if missing > 0 {
                has_missing = true;
                for (i, r) in row_missing.iter_mut().enumerate() {
                    if col[i].is_nan() {
                        *r += 1.0;
                    }
                }
            }
            col_counts[j] = (n - missing) as f64;
        }
        let row_counts = row_missing.iter().map(|m| p as f64 - m).collect();
        let total_count = col_counts.iter().sum();
        DenseData {
            y: Some(y),
            n,
            p,
            has_missing,
            row_counts,
            col_counts,
            total_count,
        }
    }

    /// A complete `n x p` matrix held elsewhere (sparse data).
    pub fn complete(n: usize, p: usize) -> DenseData<'a> {
        DenseData {
            y: None,
            n,
            p,
            has_missing: false,
            row_counts: vec![p as f64; n],
            col_counts: vec![n as f64; p],
            total_count: (n * p) as f64,
        }
    }

    pub fn nrows(&self) -> usize {
        self.n
    }

    pub fn ncols(&self) -> usize {
        self.p
    }

    pub fn has_missing(&self) -> bool {
        self.has_missing
    }

    /// The dense data (panics for sparse data, which never asks).
    pub fn y(&self) -> MatRef<'a, f64> {
        self.y.expect("dense data")
    }

    /// `out = Z v` (row sums of the mask weighted by `v`, length n).
    pub fn z_times(&self, v: &[f64], out: &mut [f64]) {
        if !self.has_missing {
            let s: f64 = v.iter().sum();
            out.iter_mut().for_each(|o| *o = s);
            return;
        }
        out.iter_mut().for_each(|o| *o = 0.0);
        for (j, &vj) in v.iter().enumerate() {
            let col = self.y().col(j);
            for (i, o) in out.iter_mut().enumerate() {
                if !col[i].is_nan() {
                    *o += vj;
                }
            }
        }
    }

    /// `out = Z' u` (length p).
    pub fn zt_times(&self, u: &[f64], out: &mut [f64]) {
        if !self.has_missing {
            let s: f64 = u.iter().sum();
            out.iter_mut().for_each(|o| *o = s);
            return;
        }
        for (j, o) in out.iter_mut().enumerate() {
            let col = self.y().col(j);
            let mut acc = 0.0;
            for (i, &ui) in u.iter().enumerate() {
                if !col[i].is_nan() {
                    acc += ui;
                }
            }
            *o = acc;
        }
    }
}

/// The working residual matrix `R = Z o (Y - sum_k l_k f_k')`, zero where `Y`
/// is missing.
///
/// For complete data, rank-one changes can be deferred: the true residuals
/// are then `r - sum_t a_t b_t'` over the `pending` terms, which products
/// correct for in `O((n + p) T)` and [`DenseResidual::flush`] folds into `r`
/// with one pass (a backfit sweep over K factors thus writes the matrix
/// once instead of K times). Every other read needs `pending` empty.
pub struct DenseResidual {
    r: Mat<f64>,
    /// Sums of squares of the data's columns (used only for complete data).
    y_col_sq: Vec<f64>,
    pending: Vec<(Vec<f64>, Vec<f64>)>,
    /// Whether rank-one changes may wait (off when something reads the
    /// matrix entry by entry between updates, as entrywise precisions do).
    may_defer: bool,
    /// Vectors `v_k` and the products `r v_k` (dimension 0) or `r' v_k`
    /// (dimension 1) as columns, computed together in one pass by
    /// [`DenseResidual::prefetch`]; dropped whenever `r` changes.
    cached: Option<(Dim, Vec<Vec<f64>>, Mat<f64>)>,
}

/// A replaced rank-one term: ((old loadings, old factor), (new loadings,
/// new factor)).
pub type Change<'a> = ((&'a [f64], &'a [f64]), (&'a [f64], &'a [f64]));

/// Deferred terms are folded in once this many have accumulated.
const MAX_PENDING: usize = 64;

/// Column blocks of [`DenseResidual::row_sq`] on large matrices, each summed
/// into its own accumulator (their order fixes the sums' rounding).
const ROW_SQ_BLOCKS: usize = 8;

/// The column blocks of the sums of squares of an `n x p` residual matrix
/// ([`DenseResidual::row_sq`], [`DenseResidual::flushed_sq`]): several from
/// a million entries, one below.
fn sq_groups(n: usize, p: usize) -> usize {
    if n * p >= 1_000_000 {
        ROW_SQ_BLOCKS.min(p)
    } else {
        1
    }
}

/// Entries of the residual matrix that [`DenseResidual::flushed_sq`] updates
/// and then reads back while they are in cache (256 KiB of them).
const CACHED_ENTRIES: usize = 32768;

/// How many times more a pending term's correction of a product is taken
/// to cost, per flop, than folding it into the matrix with a gemm (a
/// scalar-ish dot and update against a packed AVX kernel; an estimate, not
/// a measurement: on gtex with K = 20 folding wins at any value from 2 to
/// 40, on the simulations it loses at any of them).
pub(crate) const PENDING_COST_RATIO: usize = 6;

/// `sum_i a_i b_i c_i` in four lanes (two-vector dot products are
/// [`crate::fastmath::dot`]).
fn dot3(a: &[f64], b: &[f64], c: &[f64]) -> f64 {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut acc = [0.0f64; 4];
    for ((x, y), z) in a.chunks_exact(4).zip(b.chunks_exact(4)).zip(c.chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += x[l] * y[l] * z[l];
        }
    }
    let k = n / 4 * 4;
    let tail = (k..n).map(|i| a[i] * b[i] * c[i]).sum::<f64>();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Column-major slice of column `j` of an owned matrix.
fn col_slice(m: &Mat<f64>, j: usize) -> &[f64] {
    m.col(j)
        .try_as_col_major()
        .expect("contiguous column")
        .as_slice()
}

fn col_slice_mut(m: &mut Mat<f64>, j: usize) -> &mut [f64] {
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("contiguous column")
        .as_slice_mut()
}

impl DenseResidual {
    /// `R = Z o (Y - L F')` for loadings `l[k]` (length n) and factors `f[k]`
    /// (length p).
    pub fn new(data: &DenseData, l: &[Vec<f64>], f: &[Vec<f64>]) -> DenseResidual {
        let (n, p) = (data.nrows(), data.ncols());
        let y = data.y();
        let mut r = Mat::<f64>::zeros(n, p);
        let mut y_col_sq = vec![0.0; p];
        for j in 0..p {
            let ycol = y.col(j);
            let rcol = col_slice_mut(&mut r, j);
            // (R's matrices are column-major: read the column as a slice,
            // so that the loops vectorise.)
            match ycol.try_as_col_major() {
                Some(c) => {
                    for (r, &v) in rcol.iter_mut().zip(c.as_slice()) {
                        *r = if v.is_nan() { 0.0 } else { v };
                    }
                }
                None => {
                    for i in 0..n {
                        let v = ycol[i];
                        rcol[i] = if v.is_nan() { 0.0 } else { v };
                    }
                }
            }
            if !data.has_missing() {
                y_col_sq[j] = rcol.iter().map(|v| v * v).sum();
            }
            for (lk, fk) in l.iter().zip(f) {
                let fj = fk[j];
                if fj != 0.0 {
                    crate::fastmath::sub_scaled(rcol, lk, fj);
                }
            }
            if data.has_missing() {
                for i in 0..n {
                    if ycol[i].is_nan() {
                        rcol[i] = 0.0;
                    }
                }
            }
        }
        DenseResidual { r, y_col_sq, pending: vec![], may_defer: true, cached: None }
    }

    /// Sums of squares of the data's columns, `sum_i y_ij^2` (complete data).
    pub fn y_col_sq(&self) -> &[f64] {
        &self.y_col_sq
    }

    /// `R v` (`dim` 0) or `R' v` (`dim` 1) when `v` is among the vectors
    /// last prefetched along `dim` (no pass over the matrix), else `None`.
    pub fn prefetched(&self, dim: Dim, v: &[f64]) -> Option<Vec<f64>> {
        self.cached_product(dim, v)?;
        let mut out = vec![0.0; if dim == 0 { self.r.nrows() } else { self.r.ncols() }];
        self.product(dim, v, &mut out);
        Some(out)
    }

    /// Compute `r v` (`dim` 0) or `r' v` (`dim` 1) for each of `vs` in one
    /// pass over the matrix (a gemm), for [`DenseResidual::times`] and
    /// [`DenseResidual::t_times`] to use when asked for one of them before
    /// the matrix next changes. A backfit sweep updates every factor's
    /// loadings and then every factor's values; each half needs the
    /// products with all the vectors of the other side as they were when it
    /// began, so it reads the matrix once instead of once per factor.
    pub fn prefetch(&mut self, dim: Dim, vs: Vec<Vec<f64>>) {
        let (n, p) = (self.r.nrows(), self.r.ncols());
        self.cached = None;
        if vs.len() < 2 {
            return;
        }
        // Every product of the half that follows pays for each pending term
        // (a dot product and an update, O(n + p)); folding them into the
        // matrix first is one rank-t update, O(n p t) at gemm speed. Fold
        // when the products would cost more: when there are many of them
        // against a matrix with a short side (gtex: 1000 x 44, K = 20).
        let corrections = vs.len() * (n + p) * PENDING_COST_RATIO;
        if !self.pending.is_empty() && corrections > n * p {
            self.flush();
        }
        let (rows, len) = if dim == 0 { (n, p) } else { (p, n) };
        let v = columns_to_mat(len, vs.iter().map(|v| v.as_slice()));
        let prod = if dim == 0 {
            times_panel(self.r.as_ref(), v.as_ref(), par_for(n * p))
        } else {
            // R' V as (V' R)': faer runs the product with R on the right
            // without packing it, which on a 2000 x 500 matrix with 8
            // vectors takes 0.48 ms against 1.3 ms for R' V.
            let mut prod_t = Mat::<f64>::zeros(vs.len(), rows);
            matmul(prod_t.as_mut(), Accum::Replace, v.transpose(), self.r.as_ref(), 1.0, par_for(n * p));
            prod_t.transpose().to_owned()
        };
        self.cached = Some((dim, vs, prod));
    }

    /// The prefetched product for `v` along `dim`, if there is one.
    fn cached_product(&self, dim: Dim, v: &[f64]) -> Option<&[f64]> {
        let (d, vs, prod) = self.cached.as_ref()?;
        if *d != dim {
            return None;
        }
        vs.iter().position(|c| c.as_slice() == v).map(|k| col_slice(prod, k))
    }

    /// `out = R v` (length n).
    pub fn times(&self, v: &[f64], out: &mut [f64]) {
        self.product(0, v, out);
    }

    /// `out = R' u` (length p).
    pub fn t_times(&self, u: &[f64], out: &mut [f64]) {
        self.product(1, u, out);
    }

    /// `R v` (`dim` 0) or `R' v` (`dim` 1): the prefetched product if there
    /// is one, else a gemv, corrected for the pending rank-one changes.
    fn product(&self, dim: Dim, v: &[f64], out: &mut [f64]) {
        match self.cached_product(dim, v) {
            Some(col) => out.copy_from_slice(col),
            None => matmul(
                ColMut::from_slice_mut(out).as_mat_mut(),
                Accum::Replace,
                if dim == 0 { self.r.as_ref() } else { self.r.transpose() },
                ColRef::from_slice(v).as_mat(),
                1.0,
                par_for(self.r.nrows() * self.r.ncols()),
            ),
        }
        for (a, b) in &self.pending {
            // The term a b' contributes a (b' v) to R v and b (a' v) to R' v.
            let (along, with) = if dim == 0 { (a, b) } else { (b, a) };
            let c = crate::fastmath::dot(with, v);
            if c != 0.0 {
                crate::fastmath::sub_scaled(out, along, c);
            }
        }
    }

    /// Record `R <- R + l_old f_old' - l_new f_new'` for each `(old, new)`
    /// pair of (loadings, factor) terms without touching the matrix. With
    /// missing data (the change must be masked) or when deferral is off, it
    /// is applied at once, in one pass.
    pub fn defer_rank_one(&mut self, data: &DenseData, changes: &[Change<'_>]) {
        if data.has_missing() {
            let old_l: Vec<&[f64]> = changes.iter().map(|c| c.0 .0).collect();
            let old_f: Vec<&[f64]> = changes.iter().map(|c| c.0 .1).collect();
            let new_l: Vec<&[f64]> = changes.iter().map(|c| c.1 .0).collect();
            let new_f: Vec<&[f64]> = changes.iter().map(|c| c.1 .1).collect();
            self.replace_many(data, (&old_l, &old_f), (&new_l, &new_f));
            return;
        }
        for ((lo, fo), (ln, fnew)) in changes {
            let old_pending = self.pending.iter().position(|(a, b)| a.as_slice() == *lo && b.as_slice() == *fo);
            if let Some(pos) = old_pending {
                // The old term is itself pending (as after an extrapolation
                // step): removing it is the old term's part of the change.
                self.pending.remove(pos);
                self.push_pending(ln.to_vec(), fnew);
            } else {
                // The change is absorbed by a pending term that shares a side
                // with the old term (an earlier change of the same factor),
                // or else by a new zero term on the side that stays (or on
                // the factor side when both change): d f_old' - l_old f_old'
                // + l_new f_new' is (d + l_new - l_old) f_old' when only the
                // loadings change, else (d - l_old) f_old' + l_new f_new'
                // (and likewise for a term l_old e'). A factor thus keeps at
                // most two terms, -l f' as last folded and l f' as it is
                // now, however often it changes between flushes.
                let (pos, side) = self.absorbing_term(lo, fo).unwrap_or_else(|| {
                    let side = usize::from(lo == ln && fo != fnew);
                    let zero = |len: usize| vec![0.0; len];
                    let term = if side == 0 { (zero(lo.len()), fo.to_vec()) } else { (lo.to_vec(), zero(fo.len())) };
                    self.pending.push(term);
                    (self.pending.len() - 1, side)
                });
                let (new, old) = if side == 0 { (*ln, *lo) } else { (*fnew, *fo) };
                let one_sided = if side == 0 { fo == fnew } else { lo == ln };
                let term = &mut self.pending[pos];
                let v = if side == 0 { &mut term.0 } else { &mut term.1 };
                if one_sided {
                    v.iter_mut().zip(new.iter().zip(old)).for_each(|(v, (x, y))| *v += x - y);
                } else {
                    v.iter_mut().zip(old).for_each(|(v, y)| *v -= y);
                }
                if v.iter().all(|x| *x == 0.0) {
                    self.pending.remove(pos);
                }
                if !one_sided {
                    self.push_pending(ln.to_vec(), fnew);
                }
            }
        }
        if !self.may_defer || self.pending.len() >= MAX_PENDING {
            self.flush();
        }
    }

    /// A pending term `d f_old'` (side 0) or `l_old e'` (side 1) for the
    /// term `l_old f_old'` about to change, if there is one.
    fn absorbing_term(&self, lo: &[f64], fo: &[f64]) -> Option<(usize, usize)> {
        if let Some(pos) = self.pending.iter().position(|(_, b)| b.as_slice() == fo) {
            return Some((pos, 0));
        }
        self.pending.iter().position(|(a, _)| a.as_slice() == lo).map(|pos| (pos, 1))
    }

    /// Add the term `a b'`, or drop the pending `-a b'` that it cancels (a
    /// factor replaced twice between flushes leaves only its net change).
    fn push_pending(&mut self, a: Vec<f64>, b: &[f64]) {
        let cancels = self.pending.iter().position(|(pa, pb)| {
            pb.as_slice() == b && pa.len() == a.len() && pa.iter().zip(&a).all(|(x, y)| *x == -*y)
        });
        match cancels {
            Some(pos) => {
                self.pending.remove(pos);
            }
            None => self.pending.push((a, b.to_vec())),
        }
    }

    /// Allow or forbid deferred updates (forbidding applies pending ones).
    pub fn set_deferral(&mut self, allowed: bool) {
        self.may_defer = allowed;
        if !allowed {
            self.flush();
        }
    }

    /// Fold the deferred terms into the matrix (one pass).
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.cached = None;
        let (n, p) = (self.r.nrows(), self.r.ncols());
        let (a, b) = self.pending_sides();
        matmul(
            self.r.as_mut(),
            Accum::Add,
            a.as_ref(),
            b.transpose(),
            -1.0,
            par_for(n * p),
        );
        self.pending.clear();
    }

    /// [`DenseResidual::flush`] followed by [`DenseResidual::row_sq`]
    /// (`dim` 0) or [`DenseResidual::col_sq`] (`dim` 1) in one pass: the
    /// deferred terms are folded into a few columns at a time, whose squares
    /// are summed while they are still in cache. The sums are the same, in
    /// the same order, as those of the two calls.
    pub fn flushed_sq(&mut self, dim: Dim) -> Vec<f64> {
        if self.pending.is_empty() {
            return if dim == 0 { self.row_sq() } else { self.col_sq() };
        }
        self.cached = None;
        let (n, p) = (self.r.nrows(), self.r.ncols());
        let (a, b) = self.pending_sides();
        let groups = sq_groups(n, p);
        let per = p.div_ceil(groups);
        let width = (CACHED_ENTRIES / n.max(1)).clamp(8, 64);
        let parts = col_blocks(self.r.as_mut(), per);
        let (a, b) = (a.as_ref(), b.as_ref());
        let work = |(j0, mut m): (usize, MatMut<'_, f64>)| -> Vec<f64> {
            let cols = m.ncols();
            let mut acc = if dim == 0 { vec![0.0; n] } else { Vec::with_capacity(cols) };
            let mut c = 0;
            while c < cols {
                let w = width.min(cols - c);
                let mut block = m.as_mut().subcols_mut(c, w);
                matmul(block.as_mut(), Accum::Add, a, b.subrows(j0 + c, w).transpose(), -1.0, Par::Seq);
                for jj in 0..w {
                    let col = block.as_ref().col(jj).try_as_col_major().expect("contiguous column").as_slice();
                    if dim == 0 {
                        for (o, &v) in acc.iter_mut().zip(col) {
                            *o += v * v;
                        }
                    } else {
                        acc.push(col.iter().map(|v| v * v).sum());
                    }
                }
                c += w;
            }
            acc
        };
        let results = map_items(parts, true, work);
        self.pending.clear();
        if dim == 0 {
            sum_in_order(results, n)
        } else {
            results.concat()
        }
    }

    /// The pending terms `a_t b_t'` as the columns of `A` (n x t) and `B`
    /// (p x t), so that the true residuals are `r - A B'`.
    fn pending_sides(&self) -> (Mat<f64>, Mat<f64>) {
        let (n, p) = (self.r.nrows(), self.r.ncols());
        (
            columns_to_mat(n, self.pending.iter().map(|t| &t.0[..])),
            columns_to_mat(p, self.pending.iter().map(|t| &t.1[..])),
        )
    }

    fn assert_flushed(&self) {
        assert!(
            self.pending.is_empty(),
            "internal: residuals read with deferred updates"
        );
    }

    /// `R <- R + Z o (l_old f_old' - l_new f_new')`: replace one rank-one
    /// term by another (either may be absent).
    pub fn replace_rank_one(
        &mut self,
        data: &DenseData,
        old: Option<(&[f64], &[f64])>,
        new: Option<(&[f64], &[f64])>,
    ) {
        if !data.has_missing() {
            // One vectorised rank-two update, with any deferred terms.
            self.pending.reserve(2);
            if let Some((l, f)) = old {
                self.pending
                    .push((l.iter().map(|v| -v).collect(), f.to_vec()));
            }
            if let Some((l, f)) = new {
                self.pending.push((l.to_vec(), f.to_vec()));
            }
            self.flush();
            return;
        }
        self.flush();
        self.cached = None;
        let n = data.nrows();
        let y = data.y();
        for j in 0..data.ncols() {
            let rcol = col_slice_mut(&mut self.r, j);
            if let Some((lo, fo)) = old {
                let fj = fo[j];
                if fj != 0.0 {
                    for i in 0..n {
                        rcol[i] += lo[i] * fj;
                    }
                }
            }
            if let Some((ln, fnew)) = new {
                let fj = fnew[j];
                if fj != 0.0 {
                    for i in 0..n {
                        rcol[i] -= ln[i] * fj;
                    }
                }
            }
            if data.has_missing() {
                let ycol = y.col(j);
                for i in 0..n {
                    if ycol[i].is_nan() {
                        rcol[i] = 0.0;
                    }
                }
            }
        }
    }

    /// `R <- R + Z o (sum_k l_old_k f_old_k' - sum_k l_new_k f_new_k')`:
    /// replace many rank-one terms at once, in one pass over `R` (a gemm of
    /// rank `2K`). Loadings and factors are given as columns.
    pub fn replace_many(
        &mut self,
        data: &DenseData,
        old: (&[&[f64]], &[&[f64]]),
        new: (&[&[f64]], &[&[f64]]),
    ) {
        self.flush();
        let (n, p) = (data.nrows(), data.ncols());
        let k = old.0.len() + new.0.len();
        if k == 0 {
            return;
        }
        self.cached = None;
        let a = Mat::from_fn(n, k, |i, c| {
            if c < old.0.len() {
                old.0[c][i]
            } else {
                -new.0[c - old.0.len()][i]
            }
        });
        let b = Mat::from_fn(p, k, |j, c| {
            if c < old.1.len() {
                old.1[c][j]
            } else {
                new.1[c - old.1.len()][j]
            }
        });
        matmul(
            self.r.as_mut(),
            Accum::Add,
            a.as_ref(),
            b.transpose(),
            1.0,
            par_for(n * p),
        );
        if data.has_missing() {
            let y = data.y();
            for j in 0..p {
                let ycol = y.col(j);
                let rcol = col_slice_mut(&mut self.r, j);
                for i in 0..n {
                    if ycol[i].is_nan() {
                        rcol[i] = 0.0;
                    }
                }
            }
        }
    }

    /// Weighted sums of squares and cross products along one dimension:
    /// for `dim = 0`, `sq_i = sum_j w_j R_ij^2` and `cross_i = sum_j w_j v_j
    /// R_ij` (w, v of length p); for `dim = 1` the same over rows. One pass.
    pub fn weighted_sq_cross(
        &self,
        dim: usize,
        w: &[f64],
        v: Option<&[f64]>,
    ) -> (Vec<f64>, Vec<f64>) {
        self.assert_flushed();
        let (n, p) = (self.r.nrows(), self.r.ncols());
        if dim == 0 {
            let mut sq = vec![0.0; n];
            let mut cross = vec![0.0; n];
            for j in 0..p {
                let col = col_slice(&self.r, j);
                let wj = w[j];
                match v {
                    Some(v) => {
                        let wv = v[j] * wj;
                        for ((s, c), &r) in sq.iter_mut().zip(cross.iter_mut()).zip(col) {
                            *s += wj * r * r;
                            *c += wv * r;
                        }
                    }
                    None => {
                        for (s, &r) in sq.iter_mut().zip(col) {
                            *s += wj * r * r;
                        }
                    }
                }
            }
            (sq, cross)
        } else {
            // Four-lane sums (vectorised); w o v formed once.
            let wv: Option<Vec<f64>> = v.map(|v| v.iter().zip(w).map(|(a, b)| a * b).collect());
            let mut sq = vec![0.0; p];
            let mut cross = vec![0.0; p];
            for j in 0..p {
                let col = col_slice(&self.r, j);
                sq[j] = dot3(w, col, col);
                if let Some(wv) = &wv {
                    cross[j] = crate::fastmath::dot(wv, col);
                }
            }
            (sq, cross)
        }
    }

    /// Products weighted by an `n x p` precision matrix `t`, in one pass:
    /// for `dim = 0`, `(t o R) v`, `t v2` and `t c` (v, v2, c of length p);
    /// for `dim = 1` the same with the transposes (vectors of length n).
    pub fn tau_products(
        &self,
        t: MatRef<'_, f64>,
        dim: usize,
        v: &[f64],
        v2: &[f64],
        c: Option<&[f64]>,
    ) -> [Vec<f64>; 3] {
        self.assert_flushed();
        let (n, p) = (self.r.nrows(), self.r.ncols());
        let len = if dim == 0 { n } else { p };
        let mut out = [vec![0.0; len], vec![0.0; len], vec![0.0; len]];
        for j in 0..p {
            let rcol = col_slice(&self.r, j);
            let tcol = t.col(j);
            if dim == 0 {
                let (vj, v2j, cj) = (v[j], v2[j], c.map(|c| c[j]).unwrap_or(0.0));
                for i in 0..n {
                    let tij = tcol[i];
                    out[0][i] += tij * rcol[i] * vj;
                    out[1][i] += tij * v2j;
                    out[2][i] += tij * cj;
                }
            } else {
                let (mut a, mut b, mut d) = (0.0, 0.0, 0.0);
                for i in 0..n {
                    let tij = tcol[i];
                    a += tij * rcol[i] * v[i];
                    b += tij * v2[i];
                    if let Some(c) = c {
                        d += tij * c[i];
                    }
                }
                out[0][j] = a;
                out[1][j] = b;
                out[2][j] = d;
            }
        }
        out
    }

    /// Sums of squared residuals by row (length n).
    pub fn row_sq(&self) -> Vec<f64> {
        self.assert_flushed();
        let (n, p) = (self.r.nrows(), self.r.ncols());
        // Large matrices: eight fixed column blocks, each summed into its own
        // accumulator (in parallel when allowed), added in block order.
        let blocks = sq_groups(n, p);
        let per = p.div_ceil(blocks);
        sum_blocks(blocks, n, |b| {
            let mut out = vec![0.0; n];
            for j in b * per..((b + 1) * per).min(p) {
                for (o, &v) in out.iter_mut().zip(col_slice(&self.r, j)) {
                    *o += v * v;
                }
            }
            out
        })
    }

    /// Sums of squared residuals by column (length p).
    pub fn col_sq(&self) -> Vec<f64> {
        self.assert_flushed();
        let big = self.r.nrows() * self.r.ncols() >= 1_000_000;
        map_parallel(self.r.ncols(), big, |j| col_slice(&self.r, j).iter().map(|v| v * v).sum())
    }

    /// The residual matrix itself.
    pub fn matrix(&self) -> MatRef<'_, f64> {
        self.assert_flushed();
        self.r.as_ref()
    }
}

/// The `len x k` matrix with the vectors `cols` (each of length `len`) as
/// its columns, copied column by column.
fn columns_to_mat<'a>(len: usize, cols: impl ExactSizeIterator<Item = &'a [f64]>) -> Mat<f64> {
    let mut m = Mat::<f64>::zeros(len, cols.len());
    for (c, col) in cols.enumerate() {
        m.col_mut(c).try_as_col_major_mut().expect("contiguous column").as_slice_mut().copy_from_slice(&col[..len]);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_products_match_definition() {
        // Y = [1 2; 3 NaN; 5 6], one factor l = (1, 0, 2), f = (0.5, 1).
        let y = Mat::from_fn(3, 2, |i, j| [[1.0, 2.0], [3.0, f64::NAN], [5.0, 6.0]][i][j]);
        let data = DenseData::new(y.as_ref());
        assert_eq!(data.row_counts, vec![2.0, 1.0, 2.0]);
        assert_eq!(data.total_count, 5.0);
        let l = vec![vec![1.0, 0.0, 2.0]];
        let f = vec![vec![0.5, 1.0]];
        let res = DenseResidual::new(&data, &l, &f);
        // R = [0.5 1; 3 0; 4 4]
        let mut out = vec![0.0; 3];
        res.times(&[1.0, 2.0], &mut out);
        assert_eq!(out, vec![2.5, 3.0, 12.0]);
        let mut out2 = vec![0.0; 2];
        res.t_times(&[1.0, 1.0, 1.0], &mut out2);
        assert_eq!(out2, vec![7.5, 5.0]);
        assert_eq!(res.row_sq(), vec![1.25, 9.0, 32.0]);
        let mut z = vec![0.0; 3];
        data.z_times(&[1.0, 10.0], &mut z);
        assert_eq!(z, vec![11.0, 1.0, 11.0]);
    }

    #[test]
    fn panel_products_are_exact_on_integers_and_split_freely() {
        // Small integers: every partial sum is exact, so the product must
        // equal the plain sum bit for bit, however the rows are split.
        let big = Mat::from_fn(110, 9, |i, j| ((i * 7 + j * 5) % 11) as f64 - 5.0);
        for n in [1usize, 3, 4, 7, 37, 101] {
            for p in [1usize, 9] {
                // Rows 2.. of a taller matrix: columns `110` apart, not `n`.
                let r = big.as_ref().submatrix(2, 0, n, p);
                for k in [2usize, 5, 12, 13, 25] {
                    let v = Mat::from_fn(p, k, |j, c| ((j * 3 + c) % 7) as f64 - 3.0);
                    let want = Mat::from_fn(n, k, |i, c| (0..p).map(|j| r[(i, j)] * v[(j, c)]).sum::<f64>());
                    for parts in [1, 2, 3] {
                        let got = times_panel_in(r, v.as_ref(), Par::Seq, parts);
                        assert!(got == want, "n = {n}, p = {p}, k = {k}, {parts} parts");
                    }
                }
            }
        }
        // One column of V: faer's product.
        let v = Mat::from_fn(9, 1, |j, _| j as f64);
        let want = Mat::from_fn(20, 1, |i, _| (0..9).map(|j| big[(i, j)] * j as f64).sum::<f64>());
        assert!(times_panel(big.as_ref().subrows(0, 20), v.as_ref(), Par::Seq) == want);
    }

    #[test]
    fn deferred_updates_give_the_same_products_and_matrix() {
        let y = Mat::from_fn(4, 3, |i, j| {
            (i as f64 + 1.0) * (j as f64 - 0.5) + 0.1 * (i * j) as f64
        });
        let data = DenseData::new(y.as_ref());
        let l = vec![vec![1.0, -0.5, 0.2, 2.0]];
        let f = vec![vec![0.3, 1.0, -1.0]];
        let mut now = DenseResidual::new(&data, &l, &f);
        let mut later = DenseResidual::new(&data, &l, &f);
        let (l2, f2) = (vec![0.5, 0.5, -1.0, 1.0], vec![2.0, 0.0, 1.0]);
        now.replace_rank_one(&data, Some((&l[0], &f[0])), Some((&l2, &f2)));
        later.defer_rank_one(&data, &[((&l[0], &f[0]), (&l2, &f2))]);
        assert_eq!(later.pending.len(), 2);
        let v = [1.0, -2.0, 0.5];
        let u = [0.3, 1.0, -1.0, 2.0];
        let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
        now.times(&v, &mut a);
        later.times(&v, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        let (mut a, mut b) = (vec![0.0; 3], vec![0.0; 3]);
        now.t_times(&u, &mut a);
        later.t_times(&u, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        // Replacing the new term again cancels it: only the net change waits.
        let (l3, f3) = (vec![1.0, 0.0, 0.0, 1.0], vec![0.5, 0.5, 0.5]);
        later.defer_rank_one(&data, &[((&l2, &f2), (&l3, &f3))]);
        now.replace_rank_one(&data, Some((&l2, &f2)), Some((&l3, &f3)));
        assert_eq!(later.pending.len(), 2);
        later.flush();
        assert!(later.pending.is_empty());
        for (x, y) in now.row_sq().iter().zip(later.row_sq()) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn prefetched_products_follow_later_changes() {
        let y = Mat::from_fn(5, 4, |i, j| (i as f64 - 2.0) * (j as f64 + 0.5) + 0.3 * ((i * j) % 3) as f64);
        let data = DenseData::new(y.as_ref());
        let l = vec![vec![1.0, -0.5, 0.2, 2.0, 0.0]];
        let f = vec![vec![0.3, 1.0, -1.0, 0.5]];
        let mut direct = DenseResidual::new(&data, &l, &f);
        let mut cached = DenseResidual::new(&data, &l, &f);
        let vs = vec![vec![1.0, -2.0, 0.5, 0.0], vec![0.2, 0.2, 1.0, -1.0]];
        let us = vec![vec![0.3, 1.0, -1.0, 2.0, 0.5], vec![1.0, 0.0, 0.0, 1.0, -1.0]];
        cached.prefetch(0, vs.clone());
        // A change after the prefetch still shows in the products.
        let (l2, f2) = (vec![0.5, 0.5, -1.0, 1.0, 2.0], vec![2.0, 0.0, 1.0, 1.0]);
        direct.replace_rank_one(&data, Some((&l[0], &f[0])), Some((&l2, &f2)));
        cached.defer_rank_one(&data, &[((&l[0], &f[0]), (&l2, &f2))]);
        for v in &vs {
            let (mut a, mut b) = (vec![0.0; 5], vec![0.0; 5]);
            direct.times(v, &mut a);
            cached.times(v, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        }
        cached.prefetch(1, us.clone());
        for u in &us {
            let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
            direct.t_times(u, &mut a);
            cached.t_times(u, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        }
        // Folding pending changes into the matrix drops the cache.
        let (l3, f3) = (vec![1.0, 0.0, 0.0, 1.0, -1.0], vec![0.5, 0.5, 0.5, 0.5]);
        cached.defer_rank_one(&data, &[((&l2, &f2), (&l3, &f3))]);
        direct.replace_rank_one(&data, Some((&l2, &f2)), Some((&l3, &f3)));
        assert!(cached.cached.is_some());
        cached.flush();
        assert!(cached.cached.is_none());
        for u in &us {
            let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
            direct.t_times(u, &mut a);
            cached.t_times(u, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        }
    }

    #[test]
    fn a_factor_changed_many_times_keeps_two_pending_terms() {
        let y = Mat::from_fn(7, 4, |i, j| ((i * 5 + j * 3) % 7) as f64 * 0.3 - 0.8);
        let data = DenseData::new(y.as_ref());
        let mut ls = vec![vec![1.0, 0.5, -0.5, 0.0, 2.0, 1.0, 0.3], vec![0.0, 1.0, 1.0, -1.0, 0.5, 0.2, 0.0]];
        let mut fs = vec![vec![0.3, -1.0, 0.8, 0.1], vec![1.0, 0.0, -0.5, 0.7]];
        let mut direct = DenseResidual::new(&data, &ls, &fs);
        let mut later = DenseResidual::new(&data, &ls, &fs);
        let wiggle = |v: &[f64], t: usize| -> Vec<f64> {
            v.iter().enumerate().map(|(i, x)| x * 0.9 + 0.05 * ((i + t) % 3) as f64).collect()
        };
        // Sweeps of loadings-only and factor-only changes of both factors,
        // with a change of both sides (an extrapolation) now and then.
        for t in 0..12 {
            for k in 0..2 {
                let (lo, fo) = (ls[k].clone(), fs[k].clone());
                let (ln, fnew) = match t % 3 {
                    0 => (wiggle(&lo, t + k), fo.clone()),
                    1 => (lo.clone(), wiggle(&fo, t + k)),
                    _ => (wiggle(&lo, t), wiggle(&fo, k)),
                };
                later.defer_rank_one(&data, &[((&lo, &fo), (&ln, &fnew))]);
                direct.replace_rank_one(&data, Some((&lo, &fo)), Some((&ln, &fnew)));
                ls[k] = ln;
                fs[k] = fnew;
            }
            assert!(later.pending.len() <= 4, "{} pending terms after {} rounds", later.pending.len(), t + 1);
            let (v, u) = (vec![1.0, -0.5, 2.0, 0.3], vec![0.2, 1.0, -1.0, 0.0, 0.5, 1.5, -0.7]);
            let (mut a, mut b) = (vec![0.0; 7], vec![0.0; 7]);
            direct.times(&v, &mut a);
            later.times(&v, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12), "{a:?} vs {b:?}");
            let (mut a, mut b) = (vec![0.0; 4], vec![0.0; 4]);
            direct.t_times(&u, &mut a);
            later.t_times(&u, &mut b);
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12), "{a:?} vs {b:?}");
        }
        later.flush();
        for (x, y) in direct.row_sq().iter().zip(later.row_sq()) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn one_sided_changes_wait_as_one_term() {
        let y = Mat::from_fn(6, 3, |i, j| (i * 3 + j) as f64 * 0.1 - 0.7);
        let data = DenseData::new(y.as_ref());
        let l = vec![vec![1.0, 0.5, -0.5, 0.0, 2.0, 1.0]];
        let f = vec![vec![0.3, -1.0, 0.8]];
        let mut direct = DenseResidual::new(&data, &l, &f);
        let mut later = DenseResidual::new(&data, &l, &f);
        // New loadings, same factor values: one pending term.
        let l2 = vec![0.9, 0.4, -0.6, 0.1, 2.2, 0.7];
        later.defer_rank_one(&data, &[((&l[0], &f[0]), (&l2, &f[0]))]);
        direct.replace_rank_one(&data, Some((&l[0], &f[0])), Some((&l2, &f[0])));
        assert_eq!(later.pending.len(), 1);
        // Then new factor values: the pending term is not the old one, so
        // again one term.
        let f2 = vec![0.2, -0.9, 1.0];
        later.defer_rank_one(&data, &[((&l2, &f[0]), (&l2, &f2))]);
        direct.replace_rank_one(&data, Some((&l2, &f[0])), Some((&l2, &f2)));
        assert_eq!(later.pending.len(), 2);
        let v = [1.0, -0.5, 2.0];
        let (mut a, mut b) = (vec![0.0; 6], vec![0.0; 6]);
        direct.times(&v, &mut a);
        later.times(&v, &mut b);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-12));
        later.flush();
        for (x, y) in direct.row_sq().iter().zip(later.row_sq()) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}

/// The working residuals of a fit: an owned dense matrix, or sparse data
/// minus a low-rank part that is never formed.
pub enum Residual<'a> {
    Dense(DenseResidual),
    Sparse(crate::sparse::SparseResidual<'a>),
}

macro_rules! dispatch {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            Residual::Dense($r) => $e,
            Residual::Sparse($r) => $e,
        }
    };
}

impl<'a> Residual<'a> {
    /// `out = R v` (length n).
    pub fn times(&self, v: &[f64], out: &mut [f64]) {
        dispatch!(self, r => r.times(v, out))
    }

    /// `out = R' u` (length p).
    pub fn t_times(&self, u: &[f64], out: &mut [f64]) {
        dispatch!(self, r => r.t_times(u, out))
    }

    /// Replace one rank-one term of the fit by another.
    pub fn replace_rank_one(
        &mut self,
        data: &DenseData,
        old: Option<(&[f64], &[f64])>,
        new: Option<(&[f64], &[f64])>,
    ) {
        dispatch!(self, r => r.replace_rank_one(data, old, new))
    }

    /// Replace rank-one terms by others, deferring the pass over the matrix
    /// where possible (see [`DenseResidual::defer_rank_one`]).
    pub fn defer_rank_one(&mut self, data: &DenseData, changes: &[Change<'_>]) {
        match self {
            Residual::Dense(r) => r.defer_rank_one(data, changes),
            Residual::Sparse(r) => {
                for (old, new) in changes {
                    r.replace_rank_one(data, Some(*old), Some(*new));
                }
            }
        }
    }

    /// Products of the dense residuals with several vectors in one pass,
    /// kept for later products (see [`DenseResidual::prefetch`]); nothing
    /// for sparse residuals.
    pub fn prefetch(&mut self, dim: Dim, vs: Vec<Vec<f64>>) {
        if let Residual::Dense(r) = self {
            r.prefetch(dim, vs);
        }
    }

    /// Allow or forbid deferred updates of dense residuals.
    pub fn set_deferral(&mut self, allowed: bool) {
        if let Residual::Dense(r) = self {
            r.set_deferral(allowed);
        }
    }

    /// Apply deferred updates.
    pub fn flush(&mut self) {
        if let Residual::Dense(r) = self {
            r.flush();
        }
    }

    /// Apply deferred updates, then the sums of squared residuals by row
    /// (`dim` 0) or by column (`dim` 1), in one pass for dense residuals.
    pub fn flushed_sq(&mut self, dim: Dim) -> Vec<f64> {
        match self {
            Residual::Dense(r) => r.flushed_sq(dim),
            Residual::Sparse(r) if dim == 0 => r.row_sq(),
            Residual::Sparse(r) => r.col_sq(),
        }
    }

    /// Replace many rank-one terms at once.
    pub fn replace_many(
        &mut self,
        data: &DenseData,
        old: (&[&[f64]], &[&[f64]]),
        new: (&[&[f64]], &[&[f64]]),
    ) {
        dispatch!(self, r => r.replace_many(data, old, new))
    }

    /// Weighted sums of squares and cross products (see [`DenseResidual::weighted_sq_cross`]).
    pub fn weighted_sq_cross(
        &self,
        dim: usize,
        w: &[f64],
        v: Option<&[f64]>,
    ) -> (Vec<f64>, Vec<f64>) {
        dispatch!(self, r => r.weighted_sq_cross(dim, w, v))
    }

    /// Products weighted by a precision matrix (dense residuals only; see
    /// [`DenseResidual::tau_products`]).
    pub fn tau_products(
        &self,
        t: MatRef<'_, f64>,
        dim: usize,
        v: &[f64],
        v2: &[f64],
        c: Option<&[f64]>,
    ) -> [Vec<f64>; 3] {
        match self {
            Residual::Dense(r) => r.tau_products(t, dim, v, v2, c),
            Residual::Sparse(_) => unreachable!("entrywise precisions need dense residuals"),
        }
    }

    /// Sums of squared residuals by row.
    pub fn row_sq(&self) -> Vec<f64> {
        dispatch!(self, r => r.row_sq())
    }

    /// Sums of squared residuals by column.
    pub fn col_sq(&self) -> Vec<f64> {
        dispatch!(self, r => r.col_sq())
    }

    /// The dense residual matrix, when there is one.
    pub fn matrix(&self) -> Option<MatRef<'_, f64>> {
        match self {
            Residual::Dense(r) => Some(r.matrix()),
            Residual::Sparse(_) => None,
        }
    }
}
