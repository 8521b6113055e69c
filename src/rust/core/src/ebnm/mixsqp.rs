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

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Settings of [`mixsqp`]; the defaults are those of `mixsqp_control_default()`.
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
    /// `None`: `min(20, m + 1)`.
    pub maxiter_activeset: Option<usize>,
    pub numiter_em: usize,
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
    #[inline]
    fn wi(&self, i: usize) -> f64 {
        match &self.w {
            Some(w) => w[i],
            None => self.w_unif,
        }
    }

    fn col(&self, k: usize) -> &[f64] {
        &self.l[k * self.n..(k + 1) * self.n]
    }

    /// `u = L x + eps`.
    fn lx(&self, x: &[f64], u: &mut [f64]) {
        u.fill(self.eps);
        for (k, &xk) in x.iter().enumerate() {
            if xk != 0.0 {
                for (ui, &l) in u.iter_mut().zip(self.col(k)) {
                    *ui += xk * l;
                }
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
                let mut acc = 0.0;
                for &ui in u {
                    if ui <= 0.0 {
                        return f64::INFINITY;
                    }
                    acc += ui.ln();
                }
                f -= self.w_unif * acc;
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

    /// Gradient and Hessian at `x`, given `u = L x + eps`. `d` and `zbuf`
    /// are scratch space (`n` and `BLOCK * m`).
    fn grad_hess(&self, x: &[f64], u: &[f64], g: &mut [f64], h: &mut [f64], d: &mut [f64], zbuf: &mut [f64]) {
        let (n, m) = (self.n, self.m);
        for i in 0..n {
            d[i] = self.wi(i) / u[i];
        }
        for k in 0..m {
            let mut acc = 0.0;
            for (&l, &di) in self.col(k).iter().zip(d.iter()) {
                acc += l * di;
            }
            g[k] = -acc;
        }
        // Hessian: L' diag(w / u^2) L, by blocks of rows.
        h.fill(0.0);
        let mut hmat = MatMut::from_column_major_slice_mut(h, m, m);
        let mut start = 0;
        while start < n {
            let len = BLOCK.min(n - start);
            for k in 0..m {
                let col = &self.col(k)[start..start + len];
                let zc = &mut zbuf[k * len..(k + 1) * len];
                for j in 0..len {
                    let i = start + j;
                    // sqrt(w_i) / u_i = sqrt(d_i / u_i)
                    zc[j] = col[j] * (d[i] / u[i]).sqrt();
                }
            }
            let z = MatRef::from_column_major_slice(&zbuf[..len * m], len, m);
            matmul(hmat.as_mut(), Accum::Add, z.transpose(), z, 1.0, Par::Seq);
            start += len;
        }
        for k in 0..m {
            let v = self.pen[k];
            if v > 0.0 {
                let t = x[k] + self.eps;
                g[k] -= v / t;
                h[k * m + k] += v / (t * t);
            }
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
        return MixSqpResult { x, status: MixSqpStatus::DidNotRun, objective: f64::NAN, max_rdual: 0.0, iterations: 0 };
    }
    if usable.len() < m {
        // Work on the usable columns only (copying them once).
        let mut sub = Vec::with_capacity(n * usable.len());
        for &k in &usable {
            sub.extend_from_slice(&l[k * n..(k + 1) * n]);
        }
        let pen: Vec<PenaltyRow> = penalty
            .iter()
            .filter_map(|p| usable.iter().position(|&k| k == p.k).map(|j| PenaltyRow { k: j, weight: p.weight }))
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
        Some(v) if v.len() == m && v.iter().all(|t| t.is_finite() && *t >= 0.0) && v.iter().sum::<f64>() > 0.0 => {
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

    // A few EM updates first, as mixsqp does.
    let mut d = vec![0.0; n];
    for _ in 0..control.numiter_em {
        for i in 0..n {
            d[i] = prob.wi(i) / u[i];
        }
        let mut s = 0.0;
        for k in 0..m {
            let mut acc = 0.0;
            for (&lv, &di) in prob.col(k).iter().zip(d.iter()) {
                acc += lv * di;
            }
            if prob.pen[k] > 0.0 {
                acc += prob.pen[k] / (x[k] + prob.eps);
            }
            x[k] *= acc;
            s += x[k];
        }
        if !(s > 0.0 && s.is_finite()) {
            break;
        }
        for v in x.iter_mut() {
            *v /= s;
            if *v < control.zero_threshold_solution {
                *v = 0.0;
            }
        }
        let s2: f64 = x.iter().sum();
        for v in x.iter_mut() {
            *v /= s2;
        }
        prob.lx(&x, &mut u);
    }

    let maxiter_as = control.maxiter_activeset.unwrap_or((m + 1).min(20));
    let mut g = vec![0.0; m];
    let mut h = vec![0.0; m * m];
    let mut zbuf = vec![0.0; BLOCK.min(n.max(1)) * m];
    let mut ghat = vec![0.0; m];
    let mut y = vec![0.0; m];
    let mut p = vec![0.0; m];
    let mut xnew = vec![0.0; m];
    let mut unew = vec![0.0; n];
    let mut qp = ActiveSet::new(m);
    let mut f = prob.objective(&x, &u);
    let mut status = MixSqpStatus::MaxIterations;
    let mut max_rdual = f64::INFINITY;
    let mut iter = 0;
    while iter < control.maxiter_sqp {
        iter += 1;
        prob.grad_hess(&x, &u, &mut g, &mut h, &mut d, &mut zbuf);
        let gmin = g.iter().copied().fold(f64::INFINITY, f64::min);
        max_rdual = -(1.0 + gmin);
        if 1.0 + gmin >= -control.convtol_sqp {
            status = MixSqpStatus::Converged;
            break;
        }
        // Quadratic subproblem.
        for k in 0..m {
            let mut hx = 0.0;
            for j in 0..m {
                hx += h[j * m + k] * x[j];
            }
            ghat[k] = g[k] - hx + 1.0;
        }
        let support: Vec<bool> = x.iter().map(|&v| v >= control.zero_threshold_solution).collect();
        qp.solve(&h, &ghat, &support, &mut y, maxiter_as, control);
        for k in 0..m {
            p[k] = y[k] - x[k];
        }
        // Backtracking line search.
        let slope: f64 = p.iter().zip(&g).map(|(a, b)| a * b).sum();
        let mut step = 0.99;
        let mut fnew;
        loop {
            for k in 0..m {
                xnew[k] = x[k] + step * p[k];
            }
            let feasible = xnew.iter().all(|&v| v >= 0.0);
            if feasible {
                prob.lx(&xnew, &mut unew);
                fnew = prob.objective(&xnew, &unew);
                if fnew <= f + control.suffdecr_linesearch * step * slope {
                    break;
                }
            }
            let next = control.stepsizereduce * step;
            if next < control.minstepsize {
                step = control.minstepsize;
                for k in 0..m {
                    xnew[k] = x[k] + step * p[k];
                }
                if xnew.iter().any(|&v| v < 0.0) {
                    xnew.copy_from_slice(&x);
                }
                prob.lx(&xnew, &mut unew);
                fnew = prob.objective(&xnew, &unew);
                break;
            }
            step = next;
        }
        if !fnew.is_finite() {
            break;
        }
        std::mem::swap(&mut x, &mut xnew);
        std::mem::swap(&mut u, &mut unew);
        f = fnew;
    }
    let s: f64 = x.iter().sum();
    for v in x.iter_mut() {
        *v = (*v / s).max(0.0);
    }
    MixSqpResult { x, status, objective: f, max_rdual, iterations: iter }
}

/// Workspace of the active-set solver for the subproblem.
struct ActiveSet {
    m: usize,
    b: Vec<f64>,
    p: Vec<f64>,
    hs: Vec<f64>,
    chol: Vec<f64>,
    rhs: Vec<f64>,
    idx: Vec<usize>,
    t: Vec<bool>,
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
            idx: Vec::with_capacity(m),
            t: vec![false; m],
        }
    }

    /// Approximately minimise `1/2 y'Hy + c'y` over `y >= 0`, starting from
    /// the uniform vector on `support` (the working set's complement).
    fn solve(&mut self, h: &[f64], c: &[f64], support: &[bool], y: &mut [f64], maxiter: usize, ctl: &MixSqpControl) {
        let m = self.m;
        self.t.copy_from_slice(support);
        let nnz = self.t.iter().filter(|&&v| v).count().max(1);
        for k in 0..m {
            y[k] = if self.t[k] { 1.0 / nnz as f64 } else { 0.0 };
        }
        for _ in 0..maxiter {
            // b = H y + c
            for k in 0..m {
                let mut acc = c[k];
                for j in 0..m {
                    if y[j] != 0.0 {
                        acc += h[j * m + k] * y[j];
                    }
                }
                self.b[k] = acc;
            }
            self.idx.clear();
            for k in 0..m {
                if self.t[k] {
                    self.idx.push(k);
                }
            }
            let s = self.idx.len();
            self.p.fill(0.0);
            if s > 0 {
                for (a, &ka) in self.idx.iter().enumerate() {
                    for (bb, &kb) in self.idx.iter().enumerate() {
                        self.hs[a * s + bb] = h[kb * m + ka];
                    }
                    self.rhs[a] = -self.b[ka];
                }
                modified_cholesky_solve(&self.hs[..s * s], s, &mut self.chol[..s * s], &mut self.rhs[..s], ctl.identity_contrib_increase);
                for (a, &ka) in self.idx.iter().enumerate() {
                    self.p[ka] = self.rhs[a];
                }
            }
            let pmax = self.p.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
            if pmax <= ctl.zero_threshold_searchdir {
                // Stationary on the current face: check the multipliers of
                // the zeroed co-ordinates.
                let mut best = None;
                let mut bmin = f64::INFINITY;
                for k in 0..m {
                    if !self.t[k] && self.b[k] < bmin {
                        bmin = self.b[k];
                        best = Some(k);
                    }
                }
                match best {
                    None => break,
                    Some(_) if bmin >= -ctl.convtol_activeset => break,
                    Some(k) => self.t[k] = true,
                }
            } else {
                // Largest step keeping y >= 0; a blocking co-ordinate joins
                // the working set (if at least two stay free).
                let mut alpha = 1.0;
                let mut block = None;
                for k in 0..m {
                    if self.t[k] && self.p[k] < 0.0 {
                        let z = -y[k] / self.p[k];
                        if z < alpha {
                            alpha = z;
                            block = Some(k);
                        }
                    }
                }
                if let Some(k) = block {
                    if s >= 2 {
                        self.t[k] = false;
                    }
                }
                for k in 0..m {
                    y[k] += alpha * self.p[k];
                }
                if let Some(k) = block {
                    if !self.t[k] {
                        y[k] = 0.0;
                    }
                }
            }
        }
        for v in y.iter_mut() {
            if *v < 0.0 {
                *v = 0.0;
            }
        }
    }
}

/// Solve `(A + a I) z = rhs` in place, where `a >= 0` is the smallest
/// multiple (from 0, 1e-15, growing by `ainc`, up to 1) that makes the
/// matrix positive definite ("Cholesky with added multiple of the
/// identity", Nocedal & Wright, Alg. 3.3).
fn modified_cholesky_solve(a: &[f64], s: usize, r: &mut [f64], rhs: &mut [f64], ainc: f64) {
    let a0 = 1e-15;
    let amax = 1.0;
    let dmin = (0..s).map(|i| a[i * s + i]).fold(f64::INFINITY, f64::min);
    let mut shift = if dmin < 0.0 { a0 - dmin } else { 0.0 };
    loop {
        let ok = cholesky(a, s, shift, r);
        if ok || shift * ainc > amax {
            break;
        }
        shift = if shift <= 0.0 { a0 } else { shift * ainc };
    }
    // Forward and back substitution with the lower factor (row-major r).
    for i in 0..s {
        let mut v = rhs[i];
        for j in 0..i {
            v -= r[i * s + j] * rhs[j];
        }
        rhs[i] = v / r[i * s + i];
    }
    for i in (0..s).rev() {
        let mut v = rhs[i];
        for j in i + 1..s {
            v -= r[j * s + i] * rhs[j];
        }
        rhs[i] = v / r[i * s + i];
    }
    for v in rhs.iter_mut() {
        if !v.is_finite() {
            *v = 0.0;
        }
    }
}

/// Lower Cholesky factor of `a + shift I` into `r` (row-major); false if a
/// pivot is not positive.
fn cholesky(a: &[f64], s: usize, shift: f64, r: &mut [f64]) -> bool {
    let mut ok = true;
    for i in 0..s {
        for j in 0..=i {
            let mut v = a[i * s + j] + if i == j { shift } else { 0.0 };
            for k in 0..j {
                v -= r[i * s + k] * r[j * s + k];
            }
            if i == j {
                if !(v > 0.0) || !v.is_finite() {
                    ok = false;
                    r[i * s + i] = if v.abs() > 1e-300 { v.abs().sqrt() } else { 1e-150 };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> f64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
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
                assert!((g + 1.0).abs() < tol, "complementarity fails at {k}: {g} (x = {})", x[k]);
            }
        }
        assert!((x.iter().sum::<f64>() - 1.0).abs() < 1e-12);
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
                let mx = (0..m).map(|k| l[k * n + i]).fold(f64::NEG_INFINITY, f64::max);
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
        let r1 = mixsqp(&l, n, m, None, &[PenaltyRow { k: 0, weight: 9.0 }], None, &MixSqpControl::default());
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

    fn timing(n: usize, m: usize) {
        let mut st = 3u64;
        let mut l = vec![0.0; n * m];
        let xs: Vec<f64> = (0..n)
            .map(|_| {
                let z = lcg(&mut st);
                if z < 0.6 {
                    (lcg(&mut st) - 0.5) * 2.0
                } else {
                    (lcg(&mut st) - 0.5) * 20.0
                }
            })
            .collect();
        let grid: Vec<f64> = (0..m).map(|k| if k == 0 { 0.0 } else { 0.1 * 1.3f64.powi(k as i32) }).collect();
        let t0 = std::time::Instant::now();
        for k in 0..m {
            let sd = (1.0 + grid[k] * grid[k]).sqrt();
            for i in 0..n {
                l[k * n + i] = -0.5 * (xs[i] / sd).powi(2) - sd.ln();
            }
        }
        for i in 0..n {
            let mx = (0..m).map(|k| l[k * n + i]).fold(f64::NEG_INFINITY, f64::max);
            for k in 0..m {
                l[k * n + i] = (l[k * n + i] - mx).exp();
            }
        }
        let t1 = std::time::Instant::now();
        let r = mixsqp(&l, n, m, None, &[], None, &MixSqpControl::default());
        let t2 = std::time::Instant::now();
        eprintln!(
            "mixsqp n={n} m={m}: matrix {:.2}s, solve {:.2}s, {} iterations, status {:?}",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            r.iterations,
            r.status
        );
    }

    #[test]
    #[ignore]
    fn timing_large() {
        for &(n, m) in &[(100_000usize, 20usize), (100_000, 50), (1_000_000, 20), (1_000_000, 50)] {
            timing(n, m);
        }
    }
}
