//! Maximum-likelihood mixture proportions by sequential quadratic
//! programming: the mix-SQP method of Kim, Carbonetto, Stephens & Anitescu
//! (2020, JCGS 29:261-273), as in the R package `mixsqp` 0.3.
//!
//! Minimises over the probability simplex
//!
//! ```text
//! f(x) = - sum_i w_i log(sum_k L_ik x_k + eps) - sum_j v_j log(x_{k_j} + eps)
//! ```
//!
//! where the weights are normalised to sum to one and the second sum is an
//! optional list of "penalty rows" (unit rows `e_{k_j}` with weight `v_j`,
//! which is how ash's Dirichlet "null-biased" prior enters). Each outer
//! iteration takes the gradient and Hessian of `f`, solves the quadratic
//! subproblem `min_y 1/2 y'Hy + (g - Hx + 1)'y, y >= 0` by an active-set
//! method, and backtracks along `y - x`. Convergence is declared when the
//! largest dual residual `-(1 + min_k g_k)` is at most `convtol_sqp`.
//!
//! `L` is dense and column-major (`n x m`); its rows should be scaled so that
//! the largest entry of each is one (as [`super::mixture_posterior::lik_matrix`]
//! does), which leaves the solution unchanged and gives `eps` its intended
//! scale. The Hessian `L' diag(w / u^2) L` is accumulated over blocks of rows
//! with a dense matrix product, so no `n x m` temporary is ever allocated.

#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

use crate::data::matmul;
use crate::fastmath::{add_scaled, dot};
use faer::{Accum, MatMut, MatRef, Par};

/// Settings of [`mixsqp`]; the defaults are those of `mixsqp_control_default()`
/// except `maxiter_activeset` (see there).
#[derive(Clone, Debug)]
pub struct MixSqpControl {
    pub convtol_sqp: f64,
    pub convtol_activeset: f64,
    pub zero_threshold_solution: f64,
    pub zero_threshold_searchdir: f64,
    pub suffdecr_linesearch: f64,
    pub stepsizereduce: f64,
    pub minstepsize: f64,
    pub identity_contrib_increase: f64,
    pub eps: f64,
    pub maxiter_sqp: usize,
    /// `None`: `m + 1`, enough for every co-ordinate to leave the free set
    /// once. (mixsqp's default is `min(20, m + 1)`, which suits a solver
    /// that refactors the Hessian block at every step; ours updates the
    /// factor in `O(s^2)`, and a subproblem solved further saves SQP
    /// iterations, each a pass over `L` for the Hessian: on the gtex NPMLE
    /// fit, whose first solves start with 178 free co-ordinates of 243,
    /// 14 iterations become 5.)
    pub maxiter_activeset: Option<usize>,
    pub numiter_em: usize,
    /// Check the dual residual of every co-ordinate (the full KKT
    /// condition) rather than of the non-zero ones only, as mixsqp does.
    pub kkt_all_coordinates: bool,
}

impl Default for MixSqpControl {
    fn default() -> Self {
        MixSqpControl {
            convtol_sqp: 1e-8,
            convtol_activeset: 1e-10,
            zero_threshold_solution: 1e-8,
            zero_threshold_searchdir: 1e-14,
            suffdecr_linesearch: 0.01,
            stepsizereduce: 0.75,
            minstepsize: 1e-8,
            identity_contrib_increase: 10.0,
            eps: 1e-8,
            maxiter_sqp: 1000,
            maxiter_activeset: None,
            numiter_em: 10,
            kkt_all_coordinates: false,
        }
    }
}

/// How [`mixsqp`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixSqpStatus {
    Converged,
    MaxIterations,
    /// Only one usable column: the answer is trivial.
    DidNotRun,
}

#[derive(Clone, Debug)]
pub struct MixSqpResult {
    /// The solution, normalised to sum to one.
    pub x: Vec<f64>,
    pub status: MixSqpStatus,
    /// `f(x)` (with normalised weights) at the solution.
    pub objective: f64,
    /// Largest dual residual at the last checked iterate.
    pub max_rdual: f64,
    pub iterations: usize,
}

/// A unit row `e_k` with weight `weight` added to the objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PenaltyRow {
    pub k: usize,
    pub weight: f64,
}

const BLOCK: usize = 1024;

struct Problem<'a> {
    l: &'a [f64],
    n: usize,
    m: usize,
    /// Normalised row weights (`None`: all `1 / W`).
    w: Option<Vec<f64>>,
    w_unif: f64,
    /// Normalised penalty weight per column (0 when none).
    pen: Vec<f64>,
    eps: f64,
}

impl Problem<'_> {
    fn col(&self, k: usize) -> &[f64] {
        &self.l[k * self.n..(k + 1) * self.n]
    }

    /// `u = L x + eps`.
    fn lx(&self, x: &[f64], u: &mut [f64]) {
        u.fill(self.eps);
        for (k, &xk) in x.iter().enumerate() {
            if xk != 0.0 {
                add_scaled(u, self.col(k), xk);
            }
        }
    }

    /// `f(x)` given `u = L x + eps`; infinite if some `u_i <= 0`.
    fn objective(&self, x: &[f64], u: &[f64]) -> f64 {
        let mut f = 0.0;
        match &self.w {
            Some(w) => {
                for (&ui, &wi) in u.iter().zip(w) {
                    if wi > 0.0 {
                        if ui <= 0.0 {
                            return f64::INFINITY;
                        }
                        f -= wi * ui.ln();
                    }
                }
            }
            None => {
                if u.iter().any(|&ui| ui <= 0.0) {
                    return f64::INFINITY;
                }
                f -= self.w_unif * crate::special::sum_of_logs(u);
            }
        }
        for (k, &v) in self.pen.iter().enumerate() {
            if v > 0.0 {
                let t = x[k] + self.eps;
                if t <= 0.0 {
                    return f64::INFINITY;
                }
                f -= v * t.ln();
            }
        }
        f
    }

    /// One pass over the rows of `L`, block by block (so each block is
    /// read from memory once): `u = L x + eps`, and optionally
    /// `dots_k = sum_i w_i L_ik / u_i` (for every `k` when the Hessian is
    /// asked for, else only where `x_k > 0`, the rest left 0) and the columns `cols` of the Hessian
    /// `H = L' diag(w / u^2) L` (plus the penalty rows' terms), written into
    /// the `m x m` column-major `h` together with their mirrored rows. The
    /// Hessian pass also keeps the row factors `sqrt(w_i) / u_i` so further
    /// columns can be had later ([`Problem::hess_column`]). Large problems
    /// are split over threads by rows.
    fn pass(
        &self,
        x: &[f64],
        u: &mut [f64],
        dots: Option<&mut [f64]>,
        hess: Option<(&mut [f64], &[usize])>,
        ws: &mut Workspace,
    ) {
        let (n, m) = (self.n, self.m);
        let want_dots = dots.is_some();
        let cols: &[usize] = match &hess {
            Some((_, c)) => c,
            None => &[],
        };
        let want_hess = hess.is_some() && !cols.is_empty();
        let nt = ws.parts.len();
        let chunk = n.div_ceil(nt.max(1));
        if nt <= 1 {
            self.pass_rows(x, 0, u, &mut ws.c, want_dots, want_hess, cols, &mut ws.parts[0]);
        } else {
            // The blocks on the pool (as many workers as the flashierrs.threads
            // option allows); blocks past the last row, if any, contribute
            // nothing.
            use rayon::prelude::*;
            for part in ws.parts.iter_mut().skip(n.div_ceil(chunk.max(1))) {
                part.dots.fill(0.0);
                part.h.fill(0.0);
            }
            let c = &mut ws.c;
            let parts = &mut ws.parts;
            crate::data::in_pool(|| {
                u.par_chunks_mut(chunk)
                    .zip(c.par_chunks_mut(chunk))
                    .zip(parts.par_iter_mut())
                    .enumerate()
                    .for_each(|(t, ((mu, mc), part))| {
                        self.pass_rows(x, t * chunk, mu, mc, want_dots, want_hess, cols, part)
                    })
            });
        }
        if let Some(dv) = dots {
            dv.fill(0.0);
            for part in &ws.parts {
                for (d, &v) in dv.iter_mut().zip(&part.dots) {
                    *d += v;
                }
            }
        }
        if let Some((h, cols)) = hess {
            let sc = cols.len();
            for (t, &k) in cols.iter().enumerate() {
                for j in 0..m {
                    let v: f64 = ws.parts.iter().map(|p| p.h[t * m + j]).sum();
                    h[k * m + j] = v;
                    h[j * m + k] = v;
                }
            }
            debug_assert!(sc <= m);
            for &k in cols {
                let v = self.pen[k];
                if v > 0.0 {
                    let t = x[k] + self.eps;
                    h[k * m + k] += v / (t * t);
                }
            }
            ws.x_hess.copy_from_slice(x);
        }
    }

    /// [`Problem::pass`] on rows `start0 .. start0 + u.len()`, accumulating
    /// into `part` (`c` receives the row factors of those rows).
    #[allow(clippy::too_many_arguments)]
    fn pass_rows(
        &self,
        x: &[f64],
        start0: usize,
        u: &mut [f64],
        c: &mut [f64],
        want_dots: bool,
        want_hess: bool,
        cols: &[usize],
        part: &mut Part,
    ) {
        let m = self.m;
        let sc = cols.len();
        let nrows = u.len();
        // (Subnormal products of tiny likelihoods would each cost a
        // microcode assist; see `FlushSubnormals`.)
        let _flush = crate::simd_state::FlushSubnormals::new();
        part.dots.fill(0.0);
        part.h[..m * sc].fill(0.0);
        let mut dblk = [0.0f64; BLOCK];
        let mut off = 0;
        while off < nrows {
            let len = BLOCK.min(nrows - off);
            let start = start0 + off;
            let ub = &mut u[off..off + len];
            ub.fill(self.eps);
            for (k, &xk) in x.iter().enumerate() {
                if xk != 0.0 {
                    add_scaled(ub, &self.col(k)[start..start + len], xk);
                }
            }
            if want_dots || want_hess {
                // (The weight lookup outside the loop lets it vectorise.)
                match &self.w {
                    Some(w) => {
                        for j in 0..len {
                            dblk[j] = w[start + j] / ub[j];
                        }
                    }
                    None => {
                        let wu = self.w_unif;
                        for (d, &u) in dblk[..len].iter_mut().zip(ub.iter()) {
                            *d = wu / u;
                        }
                    }
                }
            }
            if want_dots {
                // Without a Hessian only the EM update needs the dots, and
                // only where x > 0: skip the other columns.
                for (k, dk) in part.dots.iter_mut().enumerate() {
                    if want_hess || x[k] != 0.0 {
                        let col = &self.col(k)[start..start + len];
                        *dk += dot(col, &dblk[..len]);
                    }
                }
            }
            if want_hess {
                // Row factors sqrt(w_i) / u_i = sqrt(d_i / u_i).
                let cb = &mut c[off..off + len];
                for j in 0..len {
                    cb[j] = (dblk[j] / ub[j]).sqrt();
                }
                // H[:, cols] += L_blk' diag(c^2) L_blk[:, cols], reading the
                // block of L in place (column stride n).
                for (t, &k) in cols.iter().enumerate() {
                    let col = &self.col(k)[start..start + len];
                    let zc = &mut part.zs[t * len..(t + 1) * len];
                    for ((z, &l), &cj) in zc.iter_mut().zip(col).zip(cb.iter()) {
                        *z = l * cj * cj;
                    }
                }
                let z =
                    MatRef::from_column_major_slice_with_stride(&self.l[start..], len, m, self.n);
                let zs = MatRef::from_column_major_slice(&part.zs[..len * sc], len, sc);
                let hmat = MatMut::from_column_major_slice_mut(&mut part.h[..m * sc], m, sc);
                matmul(hmat, Accum::Add, z.transpose(), zs, 1.0, Par::Seq);
            }
            off += len;
        }
    }

    /// Column `k` of the Hessian at the point of the last Hessian pass (one
    /// more pass over `L`), written into `h` with its mirrored row.
    fn hess_column(&self, k: usize, h: &mut [f64], ws: &mut Workspace) {
        let (n, m) = (self.n, self.m);
        let _flush = crate::simd_state::FlushSubnormals::new();
        let colk = self.col(k);
        let t = &mut ws.tmp;
        for i in 0..n {
            t[i] = ws.c[i] * ws.c[i] * colk[i];
        }
        for j in 0..m {
            let v = dot(self.col(j), t);
            h[k * m + j] = v;
            h[j * m + k] = v;
        }
        let v = self.pen[k];
        if v > 0.0 {
            let e = ws.x_hess[k] + self.eps;
            h[k * m + k] += v / (e * e);
        }
    }

    /// `dots_k + v_k / (x_k + eps)`: minus the gradient of `f`, penalty rows
    /// included.
    fn add_penalty_dots(&self, x: &[f64], dots: &mut [f64]) {
        for k in 0..self.m {
            if self.pen[k] > 0.0 {
                dots[k] += self.pen[k] / (x[k] + self.eps);
            }
        }
    }
}

/// Per-thread accumulators of [`Problem::pass`].
struct Part {
    dots: Vec<f64>,
    /// `m x s` block of Hessian columns.
    h: Vec<f64>,
    zs: Vec<f64>,
}

/// Scratch space of [`Problem::pass`], allocated once per solve.
struct Workspace {
    parts: Vec<Part>,
    /// Row factors `sqrt(w_i) / u_i` of the last Hessian pass.
    c: Vec<f64>,
    tmp: Vec<f64>,
    x_hess: Vec<f64>,
}

impl Workspace {
    fn new(n: usize, m: usize) -> Self {
        // Large problems are split into a fixed number of row blocks, so the
        // sums (combined in block order) do not depend on how many threads
        // run the blocks.
        let nt = if n * m >= 4_000_000 {
            8.min(n.max(1))
        } else {
            1
        };
        let b = BLOCK.min(n.max(1));
        let parts = (0..nt)
            .map(|_| Part {
                dots: vec![0.0; m],
                h: vec![0.0; m * m],
                zs: vec![0.0; b * m],
            })
            .collect();
        Workspace {
            parts,
            c: vec![0.0; n],
            tmp: vec![0.0; n],
            x_hess: vec![0.0; m],
        }
    }
}

/// Solve the mixture-proportion problem. `l` is `n x m` column-major with
/// non-negative entries; `w` optional row weights (default equal); `penalty`
/// optional unit rows; `x0` optional starting point (default uniform).
pub fn mixsqp(
    l: &[f64],
    n: usize,
    m: usize,
    w: Option<&[f64]>,
    penalty: &[PenaltyRow],
    x0: Option<&[f64]>,
    control: &MixSqpControl,
) -> MixSqpResult {
    assert_eq!(l.len(), n * m, "mixsqp: L has the wrong size");
    assert!(m >= 1, "mixsqp: L needs at least one column");
    // Columns that can carry weight: a positive likelihood somewhere, or a
    // penalty row pointing at them.
    let mut usable: Vec<usize> = Vec::with_capacity(m);
    for k in 0..m {
        let col = &l[k * n..(k + 1) * n];
        let pos = col.iter().any(|&v| v > 0.0);
        let pen = penalty.iter().any(|p| p.k == k && p.weight > 0.0);
        if pos || (pen && n == 0) {
            usable.push(k);
        }
    }
    if usable.len() <= 1 {
        let mut x = vec![0.0; m];
        x[*usable.first().unwrap_or(&0)] = 1.0;
        return MixSqpResult {
            x,
            status: MixSqpStatus::DidNotRun,
            objective: f64::NAN,
            max_rdual: 0.0,
            iterations: 0,
        };
    }
    if usable.len() < m {
        // Work on the usable columns only (copying them once).
        let mut sub = Vec::with_capacity(n * usable.len());
        for &k in &usable {
            sub.extend_from_slice(&l[k * n..(k + 1) * n]);
        }
        let pen: Vec<PenaltyRow> = penalty
            .iter()
            .filter_map(|p| {
                usable.iter().position(|&k| k == p.k).map(|j| PenaltyRow {
                    k: j,
                    weight: p.weight,
                })
            })
            .collect();
        let x0s: Option<Vec<f64>> = x0.map(|v| usable.iter().map(|&k| v[k]).collect());
        let r = mixsqp(&sub, n, usable.len(), w, &pen, x0s.as_deref(), control);
        let mut x = vec![0.0; m];
        for (j, &k) in usable.iter().enumerate() {
            x[k] = r.x[j];
        }
        return MixSqpResult { x, ..r };
    }

    // Normalise the weights (rows and penalty rows together).
    let wsum: f64 = w.map(|v| v.iter().sum()).unwrap_or(n as f64);
    let psum: f64 = penalty.iter().map(|p| p.weight.max(0.0)).sum();
    let tot = wsum + psum;
    let mut pen = vec![0.0; m];
    for p in penalty {
        if p.weight > 0.0 {
            pen[p.k] += p.weight / tot;
        }
    }
    let prob = Problem {
        l,
        n,
        m,
        w: w.map(|v| v.iter().map(|&wi| wi / tot).collect()),
        w_unif: 1.0 / tot,
        pen,
        eps: control.eps,
    };

    // Starting point: the given one normalised, made strictly feasible.
    let mut x: Vec<f64> = match x0 {
        Some(v)
            if v.len() == m
                && v.iter().all(|t| t.is_finite() && *t >= 0.0)
                && v.iter().sum::<f64>() > 0.0 =>
        {
            let s: f64 = v.iter().sum();
            v.iter().map(|t| t / s).collect()
        }
        _ => vec![1.0 / m as f64; m],
    };
    let mut u = vec![0.0; n];
    prob.lx(&x, &mut u);
    if !prob.objective(&x, &u).is_finite() {
        for v in x.iter_mut() {
            *v = 0.5 * *v + 0.5 / m as f64;
        }
        prob.lx(&x, &mut u);
    }

    // A few EM updates first, as mixsqp does. `dots` always holds
    // sum_i w_i L_ik / u_i (+ penalty) at the current x.
    let mut ws = Workspace::new(n, m);
    let mut dots = vec![0.0; m];
    prob.pass(&x, &mut u, Some(&mut dots), None, &mut ws);
    prob.add_penalty_dots(&x, &mut dots);
    for _ in 0..control.numiter_em {
        em_apply(&mut x, &dots);
        prob.pass(&x, &mut u, Some(&mut dots), None, &mut ws);
        prob.add_penalty_dots(&x, &mut dots);
    }

    let maxiter_as = control.maxiter_activeset.unwrap_or(m + 1);
    let mut g = vec![0.0; m];
    let mut h = vec![0.0; m * m];
    let mut ghat = vec![0.0; m];
    let mut y = vec![0.0; m];
    let mut xnew = vec![0.0; m];
    let mut unew = vec![0.0; n];
    let mut dots_new = vec![0.0; m];
    let mut qp = ActiveSet::new(m);
    let mut support: Vec<usize> = Vec::with_capacity(m);
    let mut known = vec![false; m];
    let mut status = MixSqpStatus::MaxIterations;
    let mut max_rdual = f64::INFINITY;
    let mut iter = 0;
    while iter < control.maxiter_sqp {
        iter += 1;
        // One EM update per iteration, then zero the tiny co-ordinates.
        em_apply(&mut x, &dots);
        for v in x.iter_mut() {
            if *v <= control.zero_threshold_solution {
                *v = 0.0;
            }
        }
        support.clear();
        support.extend((0..m).filter(|&k| x[k] > 0.0));
        known.iter_mut().for_each(|v| *v = false);
        for &k in &support {
            known[k] = true;
        }
        prob.pass(
            &x,
            &mut u,
            Some(&mut dots),
            Some((&mut h, &support)),
            &mut ws,
        );
        prob.add_penalty_dots(&x, &mut dots);
        let f = prob.objective(&x, &u);
        if !f.is_finite() {
            break;
        }
        for k in 0..m {
            g[k] = -dots[k];
        }
        // Largest dual residual, over the non-zero co-ordinates (as
        // mixsqp) or over all of them (the full KKT condition).
        let gmin = (0..m)
            .filter(|&k| control.kkt_all_coordinates || x[k] > 0.0)
            .map(|k| g[k])
            .fold(f64::INFINITY, f64::min);
        max_rdual = -(1.0 + gmin);
        if 1.0 + gmin >= -control.convtol_sqp {
            status = MixSqpStatus::Converged;
            break;
        }
        // Quadratic subproblem, warm-started at x.
        // (H x)_k = sum over the support of H[j, k] x_j: row k of H, which
        // holds the mirrored entries of the support's columns.
        for k in 0..m {
            let hx: f64 = support.iter().map(|&j| h[k * m + j] * x[j]).sum();
            ghat[k] = g[k] - hx + 1.0;
        }
        y.copy_from_slice(&x);
        qp.solve(
            &mut h,
            &mut known,
            &ghat,
            &mut y,
            maxiter_as,
            control,
            &mut |k, hh| prob.hess_column(k, hh, &mut ws),
        );
        // Backtracking line search along y - x, within the simplex.
        let mut afeas = 1.0f64;
        for k in 0..m {
            let pk = y[k] - x[k];
            if pk < 0.0 {
                afeas = afeas.min(-x[k] / pk);
            }
        }
        let slope: f64 = (0..m).map(|k| (y[k] - x[k]) * (g[k] + 1.0)).sum();
        let sum_x: f64 = x.iter().sum();
        let mut a = if afeas <= control.minstepsize {
            afeas
        } else {
            afeas.min(1.0)
        };
        loop {
            for k in 0..m {
                xnew[k] = (a * y[k] + (1.0 - a) * x[k]).max(0.0);
            }
            prob.pass(&xnew, &mut unew, Some(&mut dots_new), None, &mut ws);
            if afeas <= control.minstepsize {
                break;
            }
            let fnew = prob.objective(&xnew, &unew);
            let sum_new: f64 = xnew.iter().sum();
            if fnew + sum_new <= f + sum_x + control.suffdecr_linesearch * a * slope {
                break;
            }
            if a * control.stepsizereduce < control.minstepsize {
                a = control.minstepsize;
                for k in 0..m {
                    xnew[k] = a * y[k] + (1.0 - a) * x[k];
                }
                if xnew.iter().any(|&v| v < 0.0) {
                    xnew.copy_from_slice(&x);
                }
                prob.pass(&xnew, &mut unew, Some(&mut dots_new), None, &mut ws);
                break;
            }
            a *= control.stepsizereduce;
        }
        prob.add_penalty_dots(&xnew, &mut dots_new);
        std::mem::swap(&mut x, &mut xnew);
        std::mem::swap(&mut u, &mut unew);
        std::mem::swap(&mut dots, &mut dots_new);
    }
    let s: f64 = x.iter().sum();
    for v in x.iter_mut() {
        *v = (*v / s).max(0.0);
    }
    prob.lx(&x, &mut u);
    let objective = prob.objective(&x, &u);
    MixSqpResult {
        x,
        status,
        objective,
        max_rdual,
        iterations: iter,
    }
}

/// One EM update `x_k <- x_k dots_k`, with `dots_k = sum_i w_i L_ik / u_i`
/// (penalty rows included) at the current `x`.
fn em_apply(x: &mut [f64], dots: &[f64]) {
    for (xk, &dk) in x.iter_mut().zip(dots) {
        *xk *= dk;
    }
}

/// Workspace of the active-set solver for the subproblem.
struct ActiveSet {
    m: usize,
    b: Vec<f64>,
    p: Vec<f64>,
    hs: Vec<f64>,
    chol: Vec<f64>,
    rhs: Vec<f64>,
    t: Vec<bool>,
    /// Where the last modified Cholesky factorisation found its shift.
    shift_hint: Option<usize>,
    /// The Cholesky factor of the free co-ordinates' Hessian block plus the
    /// shift (lower, row-major with row stride `m`), kept up to date as
    /// co-ordinates leave or join the free set.
    fac: Factor,
}

/// A lower Cholesky factor `R R' = H[idx, idx] + shift I`, stored row-major
/// with row stride `m`.
struct Factor {
    r: Vec<f64>,
    idx: Vec<usize>,
    shift: f64,
    /// False when no shift made the block positive definite (the factor
    /// then has replaced pivots and is rebuilt at every step).
    exact: bool,
}

impl Factor {
    /// Drop co-ordinate `k`: delete its row, then restore the lower
    /// triangle with Givens rotations of neighbouring columns (O(s^2)).
    fn remove(&mut self, k: usize, m: usize) {
        let Some(a) = self.idx.iter().position(|&v| v == k) else { return };
        let s = self.idx.len();
        let r = &mut self.r;
        for i in a..s - 1 {
            // Row i + 1 has entries in columns 0..=i + 1.
            r.copy_within((i + 1) * m..(i + 1) * m + i + 2, i * m);
        }
        // Rows a.. now reach one column past the diagonal.
        for j in a..s - 1 {
            let (alpha, beta) = (r[j * m + j], r[j * m + j + 1]);
            let h = alpha.hypot(beta);
            if !(h > 0.0) {
                self.exact = false;
                break;
            }
            let (c, sn) = (alpha / h, beta / h);
            r[j * m + j] = h;
            r[j * m + j + 1] = 0.0;
            for i in j + 1..s - 1 {
                let (x, y) = (r[i * m + j], r[i * m + j + 1]);
                r[i * m + j] = c * x + sn * y;
                r[i * m + j + 1] = c * y - sn * x;
            }
        }
        self.idx.remove(a);
    }

    /// Add co-ordinate `k` (its Hessian column known) as the last row;
    /// false if the block stops being positive definite at this shift.
    fn append(&mut self, k: usize, h: &[f64], m: usize) -> bool {
        let s = self.idx.len();
        let r = &mut self.r;
        let mut zz = 0.0;
        for i in 0..s {
            let mut v = h[k * m + self.idx[i]];
            for j in 0..i {
                v -= r[i * m + j] * r[s * m + j];
            }
            let z = v / r[i * m + i];
            r[s * m + i] = z;
            zz += z * z;
        }
        let d = h[k * m + k] + self.shift - zz;
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        r[s * m + s] = d.sqrt();
        self.idx.push(k);
        true
    }

    /// Solve `(H[idx, idx] + shift I) z = rhs` in place; non-finite
    /// results become 0.
    fn solve(&self, rhs: &mut [f64], m: usize) {
        triangular_solves(&self.r, self.idx.len(), m, rhs);
    }
}

/// Forward and back substitution with the lower factor `r` (row-major, row
/// stride `stride`); non-finite results become 0.
fn triangular_solves(r: &[f64], s: usize, stride: usize, rhs: &mut [f64]) {
    for i in 0..s {
        let mut v = rhs[i];
        for j in 0..i {
            v -= r[i * stride + j] * rhs[j];
        }
        rhs[i] = v / r[i * stride + i];
    }
    for i in (0..s).rev() {
        let mut v = rhs[i];
        for j in i + 1..s {
            v -= r[j * stride + i] * rhs[j];
        }
        rhs[i] = v / r[i * stride + i];
    }
    for v in rhs[..s].iter_mut() {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
}

impl ActiveSet {
    fn new(m: usize) -> Self {
        ActiveSet {
            m,
            b: vec![0.0; m],
            p: vec![0.0; m],
            hs: vec![0.0; m * m],
            chol: vec![0.0; m * m],
            rhs: vec![0.0; m],
            t: vec![false; m],
            shift_hint: None,
            fac: Factor { r: vec![0.0; m * m], idx: Vec::with_capacity(m), shift: 0.0, exact: false },
        }
    }

    /// Factor the Hessian block of the free co-ordinates from scratch, with
    /// the smallest shift that makes it positive definite.
    fn refactor(&mut self, h: &[f64], ainc: f64) {
        let m = self.m;
        self.fac.idx.clear();
        self.fac.idx.extend((0..m).filter(|&k| self.t[k]));
        let s = self.fac.idx.len();
        for (a, &ka) in self.fac.idx.iter().enumerate() {
            for (bb, &kb) in self.fac.idx.iter().enumerate() {
                self.hs[a * s + bb] = h[kb * m + ka];
            }
        }
        let shift = modified_cholesky(&self.hs[..s * s], s, &mut self.chol[..s * s], ainc, &mut self.shift_hint);
        for i in 0..s {
            self.fac.r[i * m..i * m + i + 1].copy_from_slice(&self.chol[i * s..i * s + i + 1]);
        }
        self.fac.exact = shift.is_some();
        self.fac.shift = shift.unwrap_or(0.0);
    }

    /// Approximately minimise `1/2 y'Hy + c'y` over `y >= 0` by the
    /// active-set method (Nocedal & Wright, 2nd ed., p. 472), starting from
    /// the given `y`; its zero co-ordinates form the initial working set.
    /// The Cholesky factor of the free block is built once and then
    /// updated as single co-ordinates leave or join (downdated, or a row
    /// appended), which leaves the shift found at the start in place.
    #[allow(clippy::too_many_arguments)]
    fn solve(
        &mut self,
        h: &mut [f64],
        known: &mut [bool],
        c: &[f64],
        y: &mut [f64],
        maxiter: usize,
        ctl: &MixSqpControl,
        fetch: &mut dyn FnMut(usize, &mut [f64]),
    ) {
        let m = self.m;
        for k in 0..m {
            self.t[k] = y[k] > 0.0;
        }
        let mut stale = true;
        for _ in 0..maxiter {
            for k in 0..m {
                if !self.t[k] {
                    y[k] = 0.0;
                }
            }
            if stale || !self.fac.exact {
                self.refactor(h, ctl.identity_contrib_increase);
                stale = false;
            }
            let s = self.fac.idx.len();
            // Gradient of the subproblem on the free co-ordinates: y is 0
            // off the free set, and column ka of H is complete (it is free,
            // so known), so a whole-column dot product gives (H y)_ka.
            for (a, &ka) in self.fac.idx.iter().enumerate() {
                let acc = c[ka] + dot(&h[ka * m..(ka + 1) * m], y);
                self.b[ka] = acc;
                self.rhs[a] = -acc;
            }
            self.p.fill(0.0);
            if s > 0 {
                self.fac.solve(&mut self.rhs[..s], m);
                for (a, &ka) in self.fac.idx.iter().enumerate() {
                    self.p[ka] = self.rhs[a];
                }
            }
            let pmax = self.p.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
            if pmax <= ctl.zero_threshold_searchdir {
                // Stationary on this face: the most negative multiplier of
                // the working set, if any, leaves it.
                let mut best = None;
                let mut bmin = f64::INFINITY;
                for k in 0..m {
                    if !self.t[k] {
                        // Row k of H holds the free columns' mirrored
                        // entries; y is 0 elsewhere (and every entry of H
                        // is finite).
                        let acc = c[k] + dot(&h[k * m..(k + 1) * m], y);
                        if acc < bmin {
                            bmin = acc;
                            best = Some(k);
                        }
                    }
                }
                match best {
                    Some(k) if bmin < -ctl.convtol_activeset => {
                        if !known[k] {
                            fetch(k, h);
                            known[k] = true;
                        }
                        self.t[k] = true;
                        if self.fac.exact && !self.fac.append(k, h, m) {
                            stale = true;
                        }
                    }
                    _ => break,
                }
            } else {
                // Largest feasible step; a blocking co-ordinate joins the
                // working set (if at least two stay free).
                let mut alpha = 1.0;
                let mut block = None;
                for k in 0..m {
                    if self.p[k] < 0.0 {
                        let z = -y[k] / self.p[k];
                        if z < alpha {
                            alpha = z;
                            block = Some(k);
                        }
                    }
                }
                for k in 0..m {
                    y[k] += alpha * self.p[k];
                    if y[k] < 0.0 {
                        y[k] = 0.0;
                    }
                }
                if let Some(k) = block {
                    if s > 1 {
                        self.t[k] = false;
                        y[k] = 0.0;
                        if self.fac.exact {
                            self.fac.remove(k, m);
                        }
                    }
                }
            }
        }
    }
}

/// Solve `(A + a I) z = rhs` in place, where `a >= 0` is the smallest
/// multiple (from 0, 1e-15, growing by `ainc`, up to 1e15) that makes the
/// matrix positive definite ("Cholesky with added multiple of the
/// identity", Nocedal & Wright, Alg. 3.3).
#[cfg(test)]
fn modified_cholesky_solve(a: &[f64], s: usize, r: &mut [f64], rhs: &mut [f64], ainc: f64, hint: &mut Option<usize>) {
    modified_cholesky(a, s, r, ainc, hint);
    triangular_solves(r, s, s, rhs);
}

/// The lower Cholesky factor (row-major, into `r`) of `A + a I` for the
/// smallest multiple `a` (from 0, 1e-15, growing by `ainc`, up to 1e15)
/// that makes the matrix positive definite ("Cholesky with added multiple
/// of the identity", Nocedal & Wright, Alg. 3.3). Returns that shift, or
/// `None` when none works (then `r` holds the last shift's factor with its
/// failed pivots replaced).
fn modified_cholesky(a: &[f64], s: usize, r: &mut [f64], ainc: f64, hint: &mut Option<usize>) -> Option<f64> {
    let a0 = 1e-15;
    let amax = 1e15;
    let dmin = (0..s).map(|i| a[i * s + i]).fold(f64::INFINITY, f64::min);
    // The shifts tried in turn: the first, then a0 (or the first times
    // ainc), growing by ainc while shift * ainc stays within amax. The
    // smallest that succeeds is wanted; success only grows with the shift,
    // so after the first shift fails the rest are searched by bisection,
    // starting from `hint` (the answer of the previous call, which the
    // next one usually shares). The factor of a failed attempt is only
    // kept when every shift fails: the last one.
    let mut shifts = vec![if dmin > a0 { 0.0 } else { a0 - dmin }];
    loop {
        let last = *shifts.last().expect("one shift");
        if last * ainc > amax {
            break;
        }
        shifts.push(if last <= 0.0 { a0 } else { last * ainc });
    }
    // (The loop above stops at the first shift with shift * ainc > amax,
    // which is never tried.)
    let tried = shifts.len() - 1;
    // The hint is an index into the sequence that starts at 0.
    let hint_ok = shifts[0] == 0.0;
    if tried == 0 {
        return cholesky(a, s, shifts[0], r, false).then_some(shifts[0]);
    }
    if cholesky(a, s, shifts[0], r, true) {
        if hint_ok {
            *hint = None;
        }
        return Some(shifts[0]);
    }
    // Bisection for the first success in (lo, hi]: shifts[lo] fails, and
    // hi = tried stands for "none works" (that shift is never tried). The
    // shift just below the hint, then the hint, are probed first: when the
    // hint is right, one failure (cut short) and one success, whose factor
    // is kept. `held` is the shift whose factor `r` holds (the last
    // attempt's, if it succeeded).
    let (mut lo, mut hi) = (0usize, tried);
    let mut held = None;
    let mut guesses = hint.filter(|_| hint_ok).map_or(vec![], |h| vec![h.saturating_sub(1), h]).into_iter();
    while hi - lo > 1 {
        let i = guesses.by_ref().find(|&g| g > lo && g < hi).unwrap_or((lo + hi) / 2);
        if cholesky(a, s, shifts[i], r, true) {
            hi = i;
            held = Some(i);
        } else {
            lo = i;
            held = None;
        }
    }
    if hint_ok {
        *hint = Some(hi.min(tried - 1));
    }
    if hi == tried {
        // Nothing works: keep the last shift's factor, as it stands.
        cholesky(a, s, shifts[tried - 1], r, false);
        return None;
    }
    if held != Some(hi) {
        cholesky(a, s, shifts[hi], r, false);
    }
    Some(shifts[hi])
}

/// Lower Cholesky factor of `a + shift I` into `r` (row-major); false if a
/// pivot is not positive (at once with `early_exit`; otherwise the failed
/// pivots are replaced and the factorisation completed).
fn cholesky(a: &[f64], s: usize, shift: f64, r: &mut [f64], early_exit: bool) -> bool {
    if s >= BLOCKED_CHOLESKY_MIN {
        if cholesky_blocked(a, s, shift, r) {
            return true;
        }
        if early_exit {
            return false;
        }
    }
    cholesky_scalar(a, s, shift, r, early_exit)
}

/// [`cholesky`] by the dot-product (Cholesky-Crout) recursion.
fn cholesky_scalar(a: &[f64], s: usize, shift: f64, r: &mut [f64], early_exit: bool) -> bool {
    let mut ok = true;
    for i in 0..s {
        for j in 0..=i {
            // (A four-accumulator dot product: the compiler vectorises it.)
            let v = a[i * s + j] + if i == j { shift } else { 0.0 } - dot(&r[i * s..i * s + j], &r[j * s..j * s + j]);
            if i == j {
                if !(v > 0.0) || !v.is_finite() {
                    if early_exit {
                        return false;
                    }
                    ok = false;
                    r[i * s + i] = if v.abs() > 1e-300 {
                        v.abs().sqrt()
                    } else {
                        1e-150
                    };
                } else {
                    r[i * s + i] = v.sqrt();
                }
            } else {
                r[i * s + j] = v / r[j * s + j];
            }
        }
    }
    ok
}

/// From this size on, [`cholesky`] first tries faer's blocked
/// factorisation (several times faster from a few dozen columns on; the
/// NPMLE's Hessians reach a few hundred).
const BLOCKED_CHOLESKY_MIN: usize = 32;

/// The lower Cholesky factor of `a + shift I` (row-major, only the lower
/// triangle of `a` read) into `r` by faer's blocked kernel; false, with `r`
/// untouched, if the matrix is not numerically positive definite.
fn cholesky_blocked(a: &[f64], s: usize, shift: f64, r: &mut [f64]) -> bool {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt::factor;
    let mut m = faer::Mat::from_fn(s, s, |i, j| if j <= i { a[i * s + j] + if i == j { shift } else { 0.0 } } else { 0.0 });
    let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<f64>(s, Par::Seq, Default::default()));
    let factored =
        factor::cholesky_in_place(m.as_mut(), Default::default(), Par::Seq, MemStack::new(&mut mem), Default::default()).is_ok();
    crate::simd_state::settle();
    if !factored || (0..s).any(|i| !(m[(i, i)] > 0.0 && m[(i, i)].is_finite())) {
        return false;
    }
    for i in 0..s {
        for j in 0..=i {
            r[i * s + j] = m[(i, j)];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// `B B'` (row-major `s x s`) for an `s x rank` matrix `B` of uniform
    /// draws from `(-1/2, 1/2)`: symmetric, positive semi-definite, and
    /// singular when `rank < s`.
    fn random_gram(state: &mut u64, s: usize, rank: usize) -> Vec<f64> {
        let b: Vec<f64> = (0..s * rank).map(|_| lcg(state) - 0.5).collect();
        let mut a = vec![0.0; s * s];
        for i in 0..s {
            for j in 0..s {
                a[i * s + j] = (0..rank).map(|c| b[i * rank + c] * b[j * rank + c]).sum::<f64>();
            }
        }
        a
    }

    /// KKT: with f's gradient g (normalised weights, eps included),
    /// g_k >= -1 everywhere and g_k ~ -1 where x_k > 0.
    fn check_kkt(l: &[f64], n: usize, m: usize, x: &[f64], tol: f64) {
        let mut u = vec![1e-8; n];
        for k in 0..m {
            for i in 0..n {
                u[i] += x[k] * l[k * n + i];
            }
        }
        for k in 0..m {
            let g: f64 = -(0..n).map(|i| l[k * n + i] / u[i]).sum::<f64>() / n as f64;
            assert!(g >= -1.0 - tol, "dual feasibility fails at {k}: {g}");
            if x[k] > 1e-6 {
                assert!(
                    (g + 1.0).abs() < tol,
                    "complementarity fails at {k}: {g} (x = {})",
                    x[k]
                );
            }
        }
        assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn blocked_cholesky_agrees_with_scalar() {
        let mut state = 11u64;
        let s = 70;
        // A = B B' / s + shift: positive definite; without the shift and
        // with B of rank 40 it is singular.
        let a: Vec<f64> = random_gram(&mut state, s, 40).iter().map(|v| v / s as f64).collect();
        let (mut r1, mut r2) = (vec![0.0; s * s], vec![0.0; s * s]);
        assert!(cholesky_scalar(&a, s, 0.1, &mut r1, true));
        assert!(cholesky_blocked(&a, s, 0.1, &mut r2));
        for i in 0..s {
            for j in 0..=i {
                assert!((r1[i * s + j] - r2[i * s + j]).abs() < 1e-12, "({i}, {j})");
            }
        }
        assert!(!cholesky_blocked(&a, s, -0.1, &mut r2));
        assert!(!cholesky_scalar(&a, s, -0.1, &mut r1, true));
    }

    #[test]
    fn factor_updates_match_a_fresh_factorisation() {
        // H = B B' + 0.01 I (m x m, positive definite); a factor of the
        // block {0, 2, 3, 5, 6, 8}, then 3 and 0 removed and 7, 1 appended.
        let mut state = 3u64;
        let m = 9;
        let mut h = random_gram(&mut state, m, 4);
        for i in 0..m {
            h[i * m + i] += 0.01;
        }
        let fresh = |idx: &[usize]| {
            let s = idx.len();
            let a: Vec<f64> = (0..s * s).map(|t| h[idx[t / s] * m + idx[t % s]]).collect();
            let mut r = vec![0.0; s * s];
            assert!(cholesky_scalar(&a, s, 0.0, &mut r, true));
            r
        };
        let mut fac = Factor { r: vec![0.0; m * m], idx: vec![0, 2, 3, 5, 6, 8], shift: 0.0, exact: true };
        let r0 = fresh(&fac.idx);
        for i in 0..6 {
            fac.r[i * m..i * m + i + 1].copy_from_slice(&r0[i * 6..i * 6 + i + 1]);
        }
        fac.remove(3, m);
        fac.remove(0, m);
        assert!(fac.append(7, &h, m));
        assert!(fac.append(1, &h, m));
        assert_eq!(fac.idx, vec![2, 5, 6, 8, 7, 1]);
        let want = fresh(&fac.idx);
        let s = fac.idx.len();
        for i in 0..s {
            for j in 0..=i {
                assert!((fac.r[i * m + j] - want[i * s + j]).abs() < 1e-12, "({i}, {j})");
            }
        }
        // Solving with the updated factor solves the block's system.
        let rhs0: Vec<f64> = (0..s).map(|i| i as f64 - 2.0).collect();
        let mut z = rhs0.clone();
        fac.solve(&mut z, m);
        for i in 0..s {
            let hz: f64 = (0..s).map(|j| h[fac.idx[i] * m + fac.idx[j]] * z[j]).sum();
            assert!((hz - rhs0[i]).abs() < 1e-9, "row {i}");
        }
        // Appending a co-ordinate whose block is not positive definite at
        // this shift fails and leaves the factor as it was.
        let mut h2 = h.clone();
        h2[4 * m + 4] = -1.0;
        assert!(!fac.append(4, &h2, m));
        assert_eq!(fac.idx.len(), s);
    }

    #[test]
    fn shift_search_ignores_its_hint() {
        // Singular and indefinite matrices need a shift; whatever the hint,
        // the smallest working shift (and so the solution) is the same.
        let mut state = 5u64;
        for (s, rank, neg) in [(40usize, 20usize, 0.0), (50, 50, -1e-6), (35, 10, -3.0), (33, 33, 0.0)] {
            let mut a = random_gram(&mut state, s, rank);
            for i in 0..s {
                a[i * s + i] += neg;
            }
            let rhs0: Vec<f64> = (0..s).map(|_| lcg(&mut state)).collect();
            let mut r = vec![0.0; s * s];
            let mut want = rhs0.clone();
            let mut found = None;
            modified_cholesky_solve(&a, s, &mut r, &mut want, 10.0, &mut found);
            if rank < s && neg == 0.0 {
                assert!(found.is_some(), "s = {s}: a singular matrix needs a shift");
            }
            for h in [None, Some(1), Some(2), Some(7), Some(15), Some(25), Some(29), Some(40)] {
                let mut got = rhs0.clone();
                let mut hint = h;
                modified_cholesky_solve(&a, s, &mut r, &mut got, 10.0, &mut hint);
                assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "s = {s}, hint {h:?}");
            }
        }
    }

    #[test]
    fn two_point_problem_has_closed_form() {
        // Rows (1, 0) repeated a times and (0, 1) repeated b times: x = (a, b)/(a+b).
        let (a, b) = (30usize, 70usize);
        let n = a + b;
        let mut l = vec![0.0; 2 * n];
        for i in 0..n {
            if i < a {
                l[i] = 1.0;
                l[n + i] = 1e-3;
            } else {
                l[i] = 1e-3;
                l[n + i] = 1.0;
            }
        }
        let r = mixsqp(&l, n, 2, None, &[], None, &MixSqpControl::default());
        assert_eq!(r.status, MixSqpStatus::Converged);
        check_kkt(&l, n, 2, &r.x, 1e-7);
        // Stationarity of a log(x1 + c x2) + b log(c x1 + x2) on the simplex
        // gives x1 = (a - b c) / ((1 - c)(a + b)).
        let c = 1e-3;
        let x1 = (a as f64 - b as f64 * c) / ((1.0 - c) * n as f64);
        assert!((r.x[0] - x1).abs() < 1e-6, "{:?} vs {x1}", r.x);
    }

    #[test]
    fn random_problems_satisfy_kkt() {
        let mut st = 7u64;
        for &(n, m) in &[(200usize, 5usize), (1000, 20), (50, 40), (1, 10), (300, 2)] {
            let mut l = vec![0.0; n * m];
            // Normal-likelihood-like columns with a row max of one.
            let xs: Vec<f64> = (0..n).map(|_| 4.0 * (lcg(&mut st) - 0.5) * 3.0).collect();
            for k in 0..m {
                let sd = 0.1 * 1.5f64.powi(k as i32) + 1.0;
                for i in 0..n {
                    l[k * n + i] = -0.5 * (xs[i] / sd).powi(2) - sd.ln();
                }
            }
            for i in 0..n {
                let mx = (0..m)
                    .map(|k| l[k * n + i])
                    .fold(f64::NEG_INFINITY, f64::max);
                for k in 0..m {
                    l[k * n + i] = (l[k * n + i] - mx).exp();
                }
            }
            let r = mixsqp(&l, n, m, None, &[], None, &MixSqpControl::default());
            assert_eq!(r.status, MixSqpStatus::Converged, "n={n} m={m}");
            check_kkt(&l, n, m, &r.x, 1e-6);
        }
    }

    #[test]
    fn penalty_row_matches_augmented_problem() {
        // A penalty row on component 0 with weight 9 is the same as adding
        // nine copies of the row e_0.
        let mut st = 99u64;
        let (n, m) = (150, 6);
        let mut l = vec![0.0; n * m];
        for v in l.iter_mut() {
            *v = lcg(&mut st);
        }
        let r1 = mixsqp(
            &l,
            n,
            m,
            None,
            &[PenaltyRow { k: 0, weight: 9.0 }],
            None,
            &MixSqpControl::default(),
        );
        let n2 = n + 9;
        let mut l2 = vec![0.0; n2 * m];
        for k in 0..m {
            for i in 0..n {
                l2[k * n2 + i] = l[k * n + i];
            }
            for i in n..n2 {
                l2[k * n2 + i] = if k == 0 { 1.0 } else { 0.0 };
            }
        }
        let r2 = mixsqp(&l2, n2, m, None, &[], None, &MixSqpControl::default());
        for k in 0..m {
            assert!((r1.x[k] - r2.x[k]).abs() < 1e-6, "{:?} vs {:?}", r1.x, r2.x);
        }
        check_kkt(&l2, n2, m, &r2.x, 1e-6);
    }

    #[test]
    fn zero_columns_get_zero_weight() {
        let n = 10;
        let mut l = vec![0.0; 3 * n];
        for i in 0..n {
            l[i] = 1.0;
            l[2 * n + i] = if i % 2 == 0 { 1.0 } else { 0.5 };
        }
        let r = mixsqp(&l, n, 3, None, &[], None, &MixSqpControl::default());
        assert_eq!(r.x[1], 0.0);
        assert!((r.x.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
