//! Empirical Bayes matrix factorization: the fit, the greedy algorithm and
//! the nullcheck (Wang & Stephens 2021; flashier's algorithms).
//!
//! The model is `Y = L F' + E`, `E_ij ~ N(0, 1 / tau_ij)`, with a prior `g`
//! on every column of `L` and of `F`. The variational lower bound (ELBO) is
//! the expected log-likelihood of the data plus, for every loadings and factor
//! vector, `KL = log p(x | g, s) - E_q[log N(x; theta, s^2)]`, where `(x, s)`
//! is the normal-means problem that the vector was fit to.

mod backfit;
mod entry;
mod init;
mod kronecker;
mod rotation;
pub mod progress;

pub use entry::EntryNoise;
pub use progress::ConvCrit;

pub use backfit::{BackfitControl, Extrapolation};
use backfit::{extrapolated_factor, extrapolated_precision};

pub use init::{greedy_init, Gram, InitControl};

use crate::data::{DenseData, DenseResidual, Residual};
use crate::sparse::SparseResidual;
use crate::ebnm::{EbnmError, EbnmFit, EbnmSolver, Prior};
use crate::special::LN_SQRT_2PI;
use crate::variance::{Precision, VarType};

/// One loadings/factor pair with its posterior moments and fitted priors.
#[derive(Clone, Debug)]
pub struct Factor {
    /// Posterior means of the loadings (length n) and factor (length p).
    pub l: Vec<f64>,
    pub f: Vec<f64>,
    /// Posterior second moments.
    pub l2: Vec<f64>,
    pub f2: Vec<f64>,
    /// KL terms of the loadings and the factor.
    pub kl: [f64; 2],
    /// Fitted priors of the loadings and the factor.
    pub g: [Option<Prior>; 2],
    pub is_zero: bool,
    /// Loadings (`[0]`) or factor values (`[1]`) held at their values
    /// (flashier's fixed factors): all of them (not updated, with no prior
    /// and no KL term) or some (the others are fit as usual).
    pub fixed: [Held; 2],
}

/// Which values of one side of a factor are held at their current values.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Held {
    #[default]
    Free,
    All,
    /// `true` marks a held entry.
    Some(std::sync::Arc<Vec<bool>>),
}

impl Held {
    pub fn is_all(&self) -> bool {
        matches!(self, Held::All)
    }
}

impl Factor {
    fn zero(n: usize, p: usize) -> Factor {
        Factor {
            l: vec![0.0; n],
            f: vec![0.0; p],
            l2: vec![0.0; n],
            f2: vec![0.0; p],
            kl: [0.0; 2],
            g: [None, None],
            is_zero: true,
            fixed: [Held::Free, Held::Free],
        }
    }

    /// `(u, u2, v, v2)`: this dimension's means and second moments, then the
    /// other dimension's (dim 0: loadings first; dim 1: factor values first).
    pub(crate) fn sides(&self, dim: Dim) -> (&[f64], &[f64], &[f64], &[f64]) {
        if dim == 0 {
            (&self.l, &self.l2, &self.f, &self.f2)
        } else {
            (&self.f, &self.f2, &self.l, &self.l2)
        }
    }

    fn kl_total(&self) -> f64 {
        self.kl[0] + self.kl[1]
    }
}

/// Everything that defines a fit, independent of the data.
#[derive(Clone, Debug)]
pub struct FitState {
    pub factors: Vec<Factor>,
    pub precision: Precision,
    pub elbo: f64,
}

/// Where the fitting loop reports to: progress messages and interrupts.
pub trait Monitor {
    fn message(&mut self, _text: &str) {}
    /// True when the user asked to stop.
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// A monitor that says nothing and is never interrupted.
pub struct Silent;
impl Monitor for Silent {}

/// An error raised while fitting, with a message for a statistician.
#[derive(Clone, Debug, PartialEq)]
pub struct FitError(pub String);

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FitError {}

/// Settings of the greedy algorithm.
#[derive(Clone, Debug)]
pub struct GreedyControl {
    pub kmax: usize,
    pub maxiter: usize,
    /// Convergence tolerance on the ELBO difference (flashier: `n p sqrt(eps)`).
    pub tol: f64,
    pub verbose: i32,
    pub init: InitControl,
    /// Accelerate each new factor's iterations by extrapolation (flashier's
    /// `extrapolate`, off by default).
    pub extrapolate: bool,
    pub extrapolation: Extrapolation,
    /// What is compared with `tol` after each iteration.
    pub conv: ConvCrit,
    /// Start each new factor at the initial vectors themselves (a user's
    /// `init_fn`) instead of the alternating least-squares fit from them.
    pub given_init: bool,
}

impl GreedyControl {
    /// flashier's defaults for an `n x p` matrix: at most 500 iterations per
    /// factor, tolerance `n p sqrt(eps)`, the initialisation's 100 rounds to
    /// tolerance `1 / max(n, p)`, no extrapolation, silent.
    pub fn flashier_defaults(n: usize, p: usize, kmax: usize) -> GreedyControl {
        GreedyControl {
            kmax,
            maxiter: 500,
            tol: default_tol(n, p),
            verbose: 0,
            init: InitControl { maxiter: 100, tol: 1.0 / n.max(p) as f64 },
            extrapolate: false,
            extrapolation: Extrapolation::greedy(),
            conv: ConvCrit::ElboDiff,
            given_init: false,
        }
    }
}

/// How a fitting call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Finished,
    Interrupted,
}

/// Default tolerance `n p sqrt(machine epsilon)`.
pub fn default_tol(n: usize, p: usize) -> f64 {
    (n as f64) * (p as f64) * f64::EPSILON.sqrt()
}

/// Which of the two dimensions: 0 = loadings (rows), 1 = factors (columns).
pub type Dim = usize;

/// A fit bound to its data: the state plus the working residuals and the
/// cached expected squared residuals.
pub struct Fitter<'a> {
    pub data: DenseData<'a>,
    pub(crate) resid: Residual<'a>,
    pub state: FitState,
    /// Sum over factors of `Z o (l2 f2' - (l o l)(f o f)')`, summed into the
    /// estimated dimension of the precision.
    var_terms: Vec<f64>,
    /// Expected squared residuals in the estimated dimension.
    r2: Vec<f64>,
    /// Precisions given by the user's standard errors (`1 / S^2`) in the
    /// precision's dimension, and whether they are used as they are
    /// (`var_type = NULL`) or as a ceiling on the estimate.
    given: Option<(Vec<f64>, bool)>,
    /// Standard errors that vary over entries (see [`entry`]).
    entry: Option<EntryNoise>,
    /// Whether held entries of partly fixed factors count when their prior
    /// is estimated (flashier's `use_fixed_in_ebnm`).
    pub use_fixed_in_ebnm: bool,
    /// `Y' l_k` for the nonzero factors, made from a backfit sweep's
    /// products before its factor-value updates (see [`ColCross`]); taken
    /// by the next [`Fitter::refresh`].
    col_cross: Option<ColCross>,
}

/// The data's products with the loadings `Y' l_k` of the nonzero factors
/// `ks` (as they were when made: `l`), from which the column sums of
/// squared residuals follow without reading the residual matrix:
/// `sum_i (y_ij - sum_k l_ik f_jk)^2 = |y_j|^2 - 2 sum_k f_jk (Y' l_k)_j +
/// sum_kk' f_jk (l_k' l_k') f_jk'`.
struct ColCross {
    ks: Vec<usize>,
    l: Vec<Vec<f64>>,
    /// `l_a' l_b` (row-major, `ks.len()` squared).
    ltl: Vec<f64>,
    ytl: Vec<Vec<f64>>,
}

/// Column sums of squared residuals from [`ColCross`] are used only where
/// they keep this share of the data's sum of squares (the difference of
/// large sums loses the rest to rounding); otherwise the matrix is read.
const CROSS_MIN_SHARE: f64 = 1e-6;

/// A candidate factor during the greedy algorithm, with the precision and
/// ELBO that the fit would have if it were added.
#[derive(Clone)]
struct Candidate {
    factor: Factor,
    precision: Precision,
    elbo: f64,
    valid: bool,
    /// `R' l` for the candidate's loadings when its update computed it
    /// (complete row weights: constant or column-wise precision), which the
    /// Gram matrix's update reuses when the candidate is added.
    rl: Option<Vec<f64>>,
}

impl<'a> Fitter<'a> {
    /// Bind `state` to `data` (the state's factors are taken as they are;
    /// the precision and ELBO are recomputed).
    pub fn new(data: DenseData<'a>, factors: Vec<Factor>, var_type: VarType) -> Fitter<'a> {
        let ls: Vec<Vec<f64>> = factors.iter().map(|f| f.l.clone()).collect();
        let fs: Vec<Vec<f64>> = factors.iter().map(|f| f.f.clone()).collect();
        let resid = Residual::Dense(DenseResidual::new(&data, &ls, &fs));
        Self::with_residual(data, resid, factors, var_type)
    }

    /// A fit of sparse data `Y` (an `n x p` matrix in compressed sparse
    /// columns, complete: its zeros are observed) whose residuals are never
    /// formed densely.
    pub fn new_sparse(
        n: usize,
        p: usize,
        csc: (&'a [i32], &'a [i32], &'a [f64]),
        factors: Vec<Factor>,
        var_type: VarType,
    ) -> Result<Fitter<'a>, FitError> {
        let ls: Vec<Vec<f64>> = factors.iter().map(|f| f.l.clone()).collect();
        let fs: Vec<Vec<f64>> = factors.iter().map(|f| f.f.clone()).collect();
        let resid = SparseResidual::new(n, p, csc.0, csc.1, csc.2, &ls, &fs).map_err(FitError)?;
        Ok(Self::with_residual(DenseData::complete(n, p), Residual::Sparse(resid), factors, var_type))
    }

    /// A fit of low-rank data `Y = U V'` (`u`: n x r, `v`: p x r,
    /// column-major; flashier's `list(u, d, v)` with `d` folded into `u`),
    /// never formed densely.
    pub fn new_low_rank(n: usize, p: usize, u: &[f64], v: &[f64], factors: Vec<Factor>, var_type: VarType) -> Result<Fitter<'a>, FitError> {
        let ls: Vec<Vec<f64>> = factors.iter().map(|f| f.l.clone()).collect();
        let fs: Vec<Vec<f64>> = factors.iter().map(|f| f.f.clone()).collect();
        let resid = SparseResidual::low_rank(n, p, u, v, &ls, &fs).map_err(FitError)?;
        Ok(Self::with_residual(DenseData::complete(n, p), Residual::Sparse(resid), factors, var_type))
    }

    fn with_residual(data: DenseData<'a>, resid: Residual<'a>, factors: Vec<Factor>, var_type: VarType) -> Fitter<'a> {
        let (n, p) = (data.nrows(), data.ncols());
        let len = var_type.len(n, p);
        let precision = Precision {
            var_type,
            tau: vec![1.0; len],
            matrix: None,
        };
        let state = FitState {
            factors,
            precision,
            elbo: f64::NEG_INFINITY,
        };
        let mut fitter = Fitter {
            given: None,
            entry: None,
            use_fixed_in_ebnm: false,
            col_cross: None,
            data,
            resid,
            state,
            var_terms: vec![0.0; len],
            r2: vec![0.0; len],
        };
        fitter.refresh();
        fitter
    }

    pub fn n(&self) -> usize {
        self.data.nrows()
    }

    pub fn p(&self) -> usize {
        self.data.ncols()
    }

    fn var_type(&self) -> VarType {
        self.state.precision.var_type
    }

    /// The sum of the factors' KL terms, leaving out factor `skip`.
    fn kl_sum(&self, skip: Option<usize>) -> f64 {
        self.state.factors.iter().enumerate().filter(|(j, _)| Some(*j) != skip).map(|(_, f)| f.kl_total()).sum()
    }

    /// Use precisions `1 / S^2` given by the user (in the precision's
    /// dimension): as they are when `fixed`, else as a ceiling on the
    /// estimate.
    pub fn set_given_precision(&mut self, given: Vec<f64>, fixed: bool) {
        self.given = Some((given, fixed));
        self.refresh();
    }

    fn precision_from_r2(&self, r2: &[f64], counts: &[f64]) -> Precision {
        let (given, fixed) = match &self.given {
            Some((g, f)) => (Some(g.as_slice()), *f),
            None => (None, false),
        };
        Precision::estimate(self.var_type(), r2, counts, given, fixed)
    }

    /// Non-missing counts in the estimated dimension.
    pub fn counts(&self) -> Vec<f64> {
        match self.var_type() {
            VarType::Constant => vec![self.data.total_count],
            VarType::ByRow => self.data.row_counts.clone(),
            VarType::ByCol => self.data.col_counts.clone(),
            VarType::Kronecker => vec![self.data.total_count],
        }
    }

    /// Fold a per-row (n) or per-column (p) vector into the estimated
    /// dimension of the precision.
    fn fold(&self, v: Vec<f64>, dim: Dim) -> Vec<f64> {
        match (self.var_type(), dim) {
            (VarType::Constant, _) => vec![v.iter().sum()],
            (VarType::ByRow, 0) | (VarType::ByCol, 1) => v,
            _ => unreachable!("fold into the wrong dimension"),
        }
    }

    /// The dimension along which quantities are accumulated for the
    /// precision: rows for ByRow, columns for ByCol, rows for Constant.
    fn acc_dim(&self) -> Dim {
        match self.var_type() {
            VarType::ByCol => 1,
            _ => 0,
        }
    }

    /// `Z o (l2 f2' - (l o l)(f o f)')` folded into the precision's dimension.
    fn variance_term(&self, factor: &Factor) -> Vec<f64> {
        let dim = self.acc_dim();
        let (u, u2, v, v2) = factor.sides(dim);
        let zv2 = self.z_prod(dim, v2);
        let vsq: Vec<f64> = v.iter().map(|x| x * x).collect();
        let zvsq = self.z_prod(dim, &vsq);
        let per: Vec<f64> = (0..u.len())
            .map(|i| u2[i] * zv2[i] - u[i] * u[i] * zvsq[i])
            .collect();
        self.fold(per, dim)
    }

    /// `Z v` (dim 0, v of length p) or `Z' v` (dim 1, v of length n).
    pub(crate) fn z_prod(&self, dim: Dim, v: &[f64]) -> Vec<f64> {
        if dim == 0 {
            let mut out = vec![0.0; self.n()];
            self.data.z_times(v, &mut out);
            out
        } else {
            let mut out = vec![0.0; self.p()];
            self.data.zt_times(v, &mut out);
            out
        }
    }

    /// `R v` (dim 0) or `R' v` (dim 1).
    pub(crate) fn r_prod(&self, dim: Dim, v: &[f64]) -> Vec<f64> {
        if dim == 0 {
            let mut out = vec![0.0; self.n()];
            self.resid.times(v, &mut out);
            out
        } else {
            let mut out = vec![0.0; self.p()];
            self.resid.t_times(v, &mut out);
            out
        }
    }

    /// Compute, in one pass over the residuals, the products that the
    /// normal-means problems along `dim` of factors `ks` ask for at the
    /// current precision (see [`Self::ebnm_args`]), for a loop over those
    /// factors that leaves the residuals as they are until its factor
    /// changes (a backfit half-sweep, the final lfsr).
    pub fn prefetch_products(&mut self, dim: Dim, ks: &[usize]) {
        let precision = &self.state.precision;
        if precision.matrix.is_some() {
            return;
        }
        let w = if dim == 0 { precision.col_weights(self.p()) } else { precision.row_weights(self.n()) };
        self.prefetch_sides(dim, ks, Some(&w));
    }

    /// Prefetch the residuals' products along `dim` with the other-side
    /// vectors of the nonzero factors among `ks`, each multiplied by `w`
    /// when given (see [`crate::data::DenseResidual::prefetch`]).
    fn prefetch_sides(&mut self, dim: Dim, ks: &[usize], w: Option<&[f64]>) {
        let vs = ks
            .iter()
            .map(|&k| &self.state.factors[k])
            .filter(|f| !f.is_zero)
            .map(|f| {
                let v = f.sides(dim).2;
                match w {
                    Some(w) => v.iter().zip(w).map(|(x, w)| x * w).collect(),
                    None => v.to_vec(),
                }
            })
            .collect();
        self.resid.prefetch(dim, vs);
    }

    /// Indices of the factors that are not zero.
    fn nonzero_factors(&self) -> Vec<usize> {
        (0..self.state.factors.len()).filter(|&k| !self.state.factors[k].is_zero).collect()
    }

    /// Before a backfit sweep's factor-value updates (after the loadings'
    /// and the products along dimension 1 were prefetched): keep `Y' l_k`
    /// for every nonzero factor, so that the sweep's closing refresh finds
    /// the column sums of squared residuals without folding the sweep's
    /// changes into the residual matrix. Only for complete dense data with
    /// a constant or column-wise precision, and only when every nonzero
    /// factor's product was prefetched.
    pub(crate) fn keep_col_cross(&mut self) {
        self.col_cross = None;
        if col_cross_disabled()
            || self.has_entry_noise()
            || self.data.has_missing()
            || !matches!(self.var_type(), VarType::Constant | VarType::ByCol)
            || self.state.precision.matrix.is_some()
        {
            return;
        }
        let Residual::Dense(resid) = &self.resid else {
            return;
        };
        let ks = self.nonzero_factors();
        // Where the next sweep's products fold the pending changes into the
        // matrix anyway (many factors against a short side, as gtex with K
        // = 20), this would only move that work.
        let (n, p) = (self.n(), self.p());
        if ks.len() * (n + p) * crate::data::PENDING_COST_RATIO > n * p {
            return;
        }
        let kk = ks.len();
        let factors = &self.state.factors;
        let mut ltl = vec![0.0; kk * kk];
        for a in 0..kk {
            for b in 0..=a {
                let v = crate::fastmath::dot(&factors[ks[a]].l, &factors[ks[b]].l);
                ltl[a * kk + b] = v;
                ltl[b * kk + a] = v;
            }
        }
        let mut ytl = Vec::with_capacity(kk);
        for (a, &k) in ks.iter().enumerate() {
            // (The row weights are one here, so the prefetched vectors are the loadings.)
            let Some(mut v) = resid.prefetched(1, &factors[k].l) else {
                return;
            };
            // Y' l_k = R' l_k + sum_j f_j (l_j' l_k).
            for (b, &j) in ks.iter().enumerate() {
                crate::fastmath::add_scaled(&mut v, &factors[j].f, ltl[a * kk + b]);
            }
            ytl.push(v);
        }
        let l = ks.iter().map(|&k| factors[k].l.clone()).collect();
        self.col_cross = Some(ColCross { ks, l, ltl, ytl });
    }

    /// Column sums of squared residuals from `cross`, when the loadings are
    /// still those it was made with and no column loses too much to
    /// rounding (see [`CROSS_MIN_SHARE`]).
    fn col_sq_from_cross(&self, cross: ColCross) -> Option<Vec<f64>> {
        let Residual::Dense(resid) = &self.resid else {
            return None;
        };
        let ks = self.nonzero_factors();
        if ks != cross.ks || ks.iter().zip(&cross.l).any(|(&k, l)| self.state.factors[k].l != *l) {
            return None;
        }
        let kk = ks.len();
        let ltl = &cross.ltl;
        let ysq = resid.y_col_sq();
        let fs: Vec<&[f64]> = ks.iter().map(|&k| self.state.factors[k].f.as_slice()).collect();
        let mut out = Vec::with_capacity(ysq.len());
        let mut fj = vec![0.0; kk];
        for (j, &y2) in ysq.iter().enumerate() {
            for (a, f) in fs.iter().enumerate() {
                fj[a] = f[j];
            }
            let mut s = y2;
            for a in 0..kk {
                let mut quad = 0.0;
                for b in 0..kk {
                    quad += ltl[a * kk + b] * fj[b];
                }
                s += fj[a] * (quad - 2.0 * cross.ytl[a][j]);
            }
            if !(s >= CROSS_MIN_SHARE * y2) {
                return None;
            }
            out.push(s);
        }
        #[cfg(test)]
        COL_CROSS_USED.with(|c| c.set(c.get() + 1));
        Some(out)
    }

    /// Recompute the variance terms, expected squared residuals, precision
    /// and ELBO from scratch.
    pub fn refresh(&mut self) {
        if self.var_type() == VarType::Kronecker || self.has_entry_noise() {
            self.recompute_r2();
            return;
        }
        let len = self.r2.len();
        let mut var_terms = vec![0.0; len];
        for factor in self.state.factors.iter().filter(|f| !f.is_zero) {
            for (a, b) in var_terms.iter_mut().zip(self.variance_term(factor)) {
                *a += b;
            }
        }
        self.var_terms = var_terms;
        self.recompute_r2();
    }

    /// Expected squared residuals from the working residuals, then the
    /// precision and ELBO.
    fn recompute_r2(&mut self) {
        let cross = self.col_cross.take();
        if self.has_entry_noise() {
            self.resid.flush();
            let kl = self.kl_sum(None);
            let (precision, elbo) = self.entry_score(kronecker::Change::None, kl);
            self.state.precision = precision;
            self.state.elbo = elbo;
            return;
        }
        if self.var_type() == VarType::Kronecker {
            self.resid.flush();
            let (precision, loglik) = self.kron_fit(kronecker::Change::None, &self.state.precision);
            let kl = self.kl_sum(None);
            self.state.precision = precision;
            self.state.elbo = kl + loglik;
            return;
        }
        let sq = match cross.and_then(|c| self.col_sq_from_cross(c)) {
            Some(cols) if self.var_type() == VarType::ByCol => cols,
            Some(cols) => vec![cols.iter().sum()],
            None => {
                let sq = self.resid.flushed_sq(self.acc_dim());
                self.fold(sq, self.acc_dim())
            }
        };
        self.r2 = sq.iter().zip(&self.var_terms).map(|(a, b)| a + b).collect();
        let counts = self.counts();
        self.state.precision = self.precision_from_r2(&self.r2, &counts);
        let kl = self.kl_sum(None);
        self.state.elbo = kl + self.state.precision.expected_loglik(&counts, &self.r2);
    }

    /// The normal-means problem for dimension `dim` of a factor whose other
    /// dimension has means `other` and second moments `other2`. `existing`
    /// holds the factor's current contribution `(u, v)` to the residuals when
    /// the factor is already part of the fit (it is added back).
    fn ebnm_args(
        &self,
        dim: Dim,
        other: &[f64],
        other2: &[f64],
        existing: Option<(&[f64], &[f64])>,
        precision: &Precision,
        given_rv: Option<&[f64]>,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, p) = (self.n(), self.p());
        let (w_this, zv2, rv) = if let Some(t) = &precision.matrix {
            // Precisions tau_ij: (tau o R) v, tau v2 and tau (v o v_old).
            let cross: Option<Vec<f64>> = existing.map(|(_, v_old)| other.iter().zip(v_old).map(|(x, y)| x * y).collect());
            let [mut rv, zv2, zc] = self.resid.tau_products((**t).as_ref(), dim, other, other2, cross.as_deref());
            if let Some((u_old, _)) = existing {
                for ((r, u), z) in rv.iter_mut().zip(u_old).zip(&zc) {
                    *r += u * z;
                }
            }
            (vec![1.0; if dim == 0 { n } else { p }], zv2, rv)
        } else {
            let a = precision.row_weights(n);
            let b = precision.col_weights(p);
            // Weights of this dimension and of the other one.
            let (w_this, w_other) = if dim == 0 { (a, b) } else { (b, a) };
            let wv: Vec<f64> = other.iter().zip(&w_other).map(|(x, w)| x * w).collect();
            let wv2: Vec<f64> = other2.iter().zip(&w_other).map(|(x, w)| x * w).collect();
            let zv2 = self.z_prod(dim, &wv2);
            let mut rv = match given_rv {
                // R v given for the unweighted v: the weights are one
                // number here (see `update_dim`).
                Some(given) => {
                    debug_assert!(w_other.iter().all(|w| *w == w_other[0]));
                    let c = w_other.first().copied().unwrap_or(1.0);
                    given.iter().map(|g| c * g).collect()
                }
                None => self.r_prod(dim, &wv),
            };
            if let Some((u_old, v_old)) = existing {
                let cross: Vec<f64> = wv.iter().zip(v_old).map(|(x, y)| x * y).collect();
                let zc = self.z_prod(dim, &cross);
                for ((r, u), z) in rv.iter_mut().zip(u_old).zip(&zc) {
                    *r += u * z;
                }
            }
            (w_this, zv2, rv)
        };
        // Where the precision is not positive and finite there is no
        // information about the value: flashier uses x = 0, s = Inf. A huge
        // finite s has the same effect on the fit (the likelihood is flat)
        // and keeps the solvers finite. (Both sides of each choice are
        // computed, so the loops vectorise.)
        let informative = |w: f64, z: f64| {
            let prec = w * z;
            prec > 0.0 && prec < f64::INFINITY
        };
        let x: Vec<f64> = rv
            .iter()
            .zip(&zv2)
            .zip(&w_this)
            .map(|((&r, &z), &w)| if informative(w, z) { r / z } else { 0.0 })
            .collect();
        let s_of = |z: f64, w: f64| if informative(w, z) { 1.0 / (w * z).sqrt() } else { 1e100 };
        // One precision for every point (complete data, a weight that is one
        // number along this dimension): one square root serves them all.
        let uniform = |v: &[f64]| v.first().is_some_and(|a| v.iter().all(|b| b.to_bits() == a.to_bits()));
        let s: Vec<f64> = if uniform(&zv2) && uniform(&w_this) {
            vec![s_of(zv2[0], w_this[0]); zv2.len()]
        } else {
            zv2.iter().zip(&w_this).map(|(&z, &w)| s_of(z, w)).collect()
        };
        (x, s, rv)
    }

    /// Solve the EBNM problem of one dimension and return the posterior with
    /// its KL term.
    fn solve(
        solver: &dyn EbnmSolver,
        x: &[f64],
        s: &[f64],
        g_init: Option<&Prior>,
        fix_g: bool,
    ) -> Result<(EbnmFit, f64), EbnmError> {
        let fit = solver.solve(x, s, g_init, fix_g)?;
        Self::check_and_kl(fit, x, s)
    }

    /// Check a solver's answer and compute its KL term.
    fn check_and_kl(fit: EbnmFit, x: &[f64], s: &[f64]) -> Result<(EbnmFit, f64), EbnmError> {
        if fit.mean.len() != x.len() || fit.second_moment.len() != x.len() {
            return Err(EbnmError(format!(
                "the solver returned {} posterior means for {} observations",
                fit.mean.len(),
                x.len()
            )));
        }
        if !fit.log_likelihood.is_finite() {
            return Err(EbnmError(
                "the solver returned a non-finite log-likelihood".into(),
            ));
        }
        let kl = fit.log_likelihood - normal_means_loglik(x, s, &fit.mean, &fit.second_moment);
        Ok((fit, kl))
    }

    /// [`Self::solve`] from a starting point that does not change the
    /// answer (see [`EbnmSolver::solve_from`]).
    fn solve_with(
        solver: &dyn EbnmSolver,
        x: &[f64],
        s: &[f64],
        start: Option<&Prior>,
    ) -> Result<(EbnmFit, f64), EbnmError> {
        let fit = solver.solve_from(x, s, start)?;
        Self::check_and_kl(fit, x, s)
    }

    /// Whether the product that [`Self::update_dim`] forms along `dim` is the
    /// residuals' own product with the other side's vector (`R f` for the
    /// loadings, `R' l` for the factor values) times one number: no
    /// precision matrix or entrywise noise, and the other dimension's
    /// weights one number (the column weights for `dim` 0, the row weights,
    /// then all one, for `dim` 1).
    fn plain_product(&self, dim: Dim) -> bool {
        self.state.precision.matrix.is_none()
            && !self.has_entry_noise()
            && match self.var_type() {
                VarType::Constant => true,
                VarType::ByRow => dim == 0,
                VarType::ByCol => dim == 1,
                VarType::Kronecker => false,
            }
    }

    /// Update one dimension of `factor` (existing: its current contribution
    /// to the residuals). `given_rv`, for the loadings only, is `R f` for
    /// the factor's current values `f`, computed elsewhere; it may be given
    /// only where [`Self::plain_product`] holds for the loadings.
    fn update_dim(
        &self,
        factor: &mut Factor,
        dim: Dim,
        solver: &dyn EbnmSolver,
        existing: Option<(&[f64], &[f64])>,
        precision: &Precision,
        label: &str,
        warmstart: bool,
        given_rv: Option<&[f64]>,
    ) -> Result<Vec<f64>, FitError> {
        let (_, _, other, other2) = factor.sides(dim);
        let (mut x_all, mut s_all, product) = self.ebnm_args(dim, other, other2, existing, precision, given_rv);
        // Entries held at their values drop out of the EBNM problem.
        let mask = match &factor.fixed[dim] {
            Held::Some(mask) => Some(mask.clone()),
            _ => None,
        };
        let (x, s) = match &mask {
            Some(m) => (
                x_all.iter().zip(m.iter()).filter(|(_, h)| !**h).map(|(v, _)| *v).collect(),
                s_all.iter().zip(m.iter()).filter(|(_, h)| !**h).map(|(v, _)| *v).collect(),
            ),
            // (x_all and s_all are only read again when entries are held.)
            None => (std::mem::take(&mut x_all), std::mem::take(&mut s_all)),
        };
        // With `warmstart` the previous prior is ebnm's g_init (for mixture
        // families that also keeps its grid, as in flashier); otherwise it
        // only seeds the solver's optimiser, which leaves the answer as is.
        let start = factor.g[dim].clone();
        if mask.is_some() && self.use_fixed_in_ebnm {
            // The prior is estimated from every entry, held ones included;
            // the free entries' posterior then comes from that prior.
            let g = solver
                .solve(&x_all, &s_all, start.as_ref(), false)
                .map_err(|e| FitError(format!("EBNM solver failed on the {} of {}: {}", if dim == 0 { "loadings" } else { "factor values" }, label, e)))?
                .prior;
            let (fit, kl) = Self::solve(solver, &x, &s, Some(&g), true).map_err(|e| {
                FitError(format!("EBNM solver failed on the {} of {}: {}", if dim == 0 { "loadings" } else { "factor values" }, label, e))
            })?;
            return self.store_dim(factor, dim, fit, kl, mask.as_deref(), label).map(|_| product);
        }
        let attempt = if warmstart {
            Self::solve(solver, &x, &s, start.as_ref(), false)
        } else {
            Self::solve_with(solver, &x, &s, start.as_ref())
        };
        // A warm start that fails is retried from scratch, as flashier does.
        let attempt = match (attempt, &start) {
            (Err(_), Some(_)) => Self::solve(solver, &x, &s, None, false),
            (other, _) => other,
        };
        let (fit, kl) = attempt.map_err(|e| {
            FitError(format!(
                "EBNM solver failed on the {} of {}: {}",
                if dim == 0 { "loadings" } else { "factor values" },
                label,
                e
            ))
        })?;
        self.store_dim(factor, dim, fit, kl, mask.as_deref(), label)?;
        Ok(product)
    }

    /// Put a solver's posterior for dimension `dim` into `factor` (held
    /// entries, marked in `mask`, keep their values).
    fn store_dim(&self, factor: &mut Factor, dim: Dim, fit: EbnmFit, kl: f64, mask: Option<&Vec<bool>>, label: &str) -> Result<(), FitError> {
        if fit
            .mean
            .iter()
            .chain(&fit.second_moment)
            .any(|v| !v.is_finite())
        {
            return Err(FitError(format!(
                "EBNM solver returned non-finite posterior moments for the {} of {}",
                if dim == 0 { "loadings" } else { "factor values" },
                label
            )));
        }
        let (mean, second) = match mask {
            Some(m) => {
                // Held entries keep their values (with no posterior spread).
                let (current, _, _, _) = factor.sides(dim);
                let (mut mean, mut second) = (current.to_vec(), vec![0.0; current.len()]);
                let mut free = fit.mean.iter().zip(&fit.second_moment);
                for i in 0..mean.len() {
                    if m[i] {
                        second[i] = mean[i] * mean[i];
                    } else if let Some((a, b)) = free.next() {
                        mean[i] = *a;
                        second[i] = *b;
                    }
                }
                (mean, second)
            }
            None => (fit.mean, fit.second_moment),
        };
        let is_zero = mean.iter().all(|v| v.abs() < f64::EPSILON);
        if dim == 0 {
            factor.l = mean;
            factor.l2 = second;
        } else {
            factor.f = mean;
            factor.f2 = second;
        }
        factor.kl[dim] = kl;
        factor.g[dim] = Some(fit.prior);
        if is_zero {
            *factor = Factor::zero(self.n(), self.p());
        }
        Ok(())
    }

    /// Expected squared residuals (in the precision's dimension) if
    /// `factor`, not yet part of the fit, were added:
    /// `E||R - l f'||^2 = ||R||^2 - 2 <R, l f'> + Z(l2 f2)` (plus the fit's
    /// variance terms, already in `r2`). `rl`, when given, is `R' l` (the
    /// product the factor update just computed), which saves a pass over `R`
    /// when the precision does not vary by row.
    fn candidate_r2(&self, factor: &Factor, rl: Option<&[f64]>) -> Vec<f64> {
        let dim = match (self.var_type(), rl) {
            (VarType::ByRow, _) => 0,
            (VarType::ByCol, _) => 1,
            (VarType::Constant, Some(_)) => 1,
            (VarType::Constant, None) => 0,
            (VarType::Kronecker, _) => unreachable!("Kronecker candidates are scored in kronecker.rs"),
        };
        let (u, u2, v, v2) = factor.sides(dim);
        let rv = match rl {
            Some(prod) if dim == 1 => prod.to_vec(),
            _ => self.r_prod(dim, v),
        };
        let zv2 = self.z_prod(dim, v2);
        let delta: Vec<f64> = (0..u.len())
            .map(|i| -2.0 * u[i] * rv[i] + u2[i] * zv2[i])
            .collect();
        let delta = self.fold(delta, dim);
        self.r2.iter().zip(&delta).map(|(a, b)| a + b).collect()
    }

    /// Precision and ELBO of the fit with `factor` added. A Kronecker
    /// precision is estimated from `start`: the candidate's previous
    /// precision, which is near the answer (the fit's is not: adding the
    /// candidate moves it by up to 60%), so the alternation needs about 7.6
    /// rounds instead of 9.4 on gtex.
    fn score_candidate(&self, factor: &Factor, rl: Option<&[f64]>, start: &Precision) -> (Precision, f64) {
        if self.has_entry_noise() {
            let kl = self.kl_sum(None) + factor.kl_total();
            return self.entry_score(kronecker::Change::Add(factor), kl);
        }
        if self.var_type() == VarType::Kronecker {
            let (precision, loglik) = self.kron_fit(kronecker::Change::Add(factor), start);
            let kl = self.kl_sum(None) + factor.kl_total();
            return (precision, kl + loglik);
        }
        let r2 = self.candidate_r2(factor, rl);
        let counts = self.counts();
        let precision = self.precision_from_r2(&r2, &counts);
        let kl = self.kl_sum(None) + factor.kl_total();
        let elbo = kl + precision.expected_loglik(&counts, &r2);
        (precision, elbo)
    }

    /// One update of a greedy candidate: loadings, then factor (at the
    /// candidate's precision), then the precision and ELBO with it added.
    fn step_candidate(
        &self,
        cand: &Candidate,
        solvers: [&dyn EbnmSolver; 2],
        label: &str,
        rf: Option<&[f64]>,
    ) -> Result<Candidate, FitError> {
        let mut next = cand.factor.clone();
        // R' (a o l) from the factor update: R' l when a = 1.
        let mut rl = None;
        for dim in 0..2 {
            if next.is_zero {
                break;
            }
            let given = if dim == 0 { rf } else { None };
            let product = self.update_dim(&mut next, dim, solvers[dim], None, &cand.precision, label, false, given)?;
            if dim == 1 && !next.is_zero && self.var_type() != VarType::ByRow {
                rl = Some(product);
            }
        }
        let (precision, elbo) = self.score_candidate(&next, rl.as_deref(), &cand.precision);
        // Only `R' l` itself serves the Gram matrix.
        Ok(Candidate { factor: next, precision, elbo, valid: true, rl: rl.filter(|_| self.plain_product(1)) })
    }

    /// Add a factor to the fit: update the residuals and the cached terms.
    fn add_factor(&mut self, factor: Factor) {
        self.resid
            .replace_rank_one(&self.data, None, Some((&factor.l, &factor.f)));
        if self.var_type() != VarType::Kronecker && !self.has_entry_noise() {
            let vt = self.variance_term(&factor);
            for (a, b) in self.var_terms.iter_mut().zip(vt) {
                *a += b;
            }
        }
        self.state.factors.push(factor);
        self.recompute_r2();
    }

    /// Remove factor `k` from the fit.
    pub fn remove_factor(&mut self, k: usize) {
        let factor = self.state.factors.remove(k);
        if !factor.is_zero {
            self.resid
                .replace_rank_one(&self.data, Some((&factor.l, &factor.f)), None);
        }
        self.refresh();
    }

    /// flashier's greedy algorithm: add up to `kmax` factors, one at a time,
    /// while each raises the ELBO.
    ///
    /// `solvers[i]` are the (loadings, factor) solvers of the `i`-th new
    /// factor; the last pair serves every later factor.
    pub fn greedy(
        &mut self,
        solvers: &[[&dyn EbnmSolver; 2]],
        control: &GreedyControl,
        init_vectors: (&[f64], &[f64]),
        monitor: &mut dyn Monitor,
    ) -> Result<Outcome, FitError> {
        if solvers.is_empty() {
            return Err(FitError("greedy needs at least one pair of solvers".into()));
        }
        // The Gram matrix serves every initialisation when no solver has a
        // sign; with signs on the factor values only, when it is R'R (p <= n),
        // whose power iterations are those factor values.
        let unsigned_loadings = solvers.iter().all(|s| s[0].sign() == 0);
        let all_unsigned = unsigned_loadings && solvers.iter().all(|s| s[1].sign() == 0);
        let gram_serves = all_unsigned || (unsigned_loadings && self.p() <= self.n());
        let mut gram = if gram_serves && !control.given_init { Gram::for_fit(self) } else { None };
        // `R f` may be handed to the loadings' update (see `update_dim`)
        // when the column weights are one number.
        let given_rf_ok = self.plain_product(0) && !products_recomputed();
        let mut added = 0;
        while added < control.kmax {
            let solvers = solvers[added.min(solvers.len() - 1)];
            let signs = [solvers[0].sign(), solvers[1].sign()];
            let k = self.state.factors.len() + 1;
            if control.verbose > 0 {
                monitor.message(&format!("Adding factor {k} to flash object...\n"));
            }
            // `R f0`, when the Gram initialisation computed it along the way.
            let (l0, f0, mut rf_known) = match &gram {
                _ if control.given_init => (init_vectors.0.to_vec(), init_vectors.1.to_vec(), None),
                Some(g) => g.als(self, init_vectors, signs[1], &control.init),
                None => {
                    let (l, f) = greedy_init(self, init_vectors, signs, &control.init);
                    (l, f, None)
                }
            };
            if !given_rf_ok {
                rf_known = None;
            }
            let start_zero = l0.iter().all(|v| *v == 0.0) || f0.iter().all(|v| *v == 0.0);
            let mut factor = Factor {
                l2: l0.iter().map(|v| v * v).collect(),
                f2: f0.iter().map(|v| v * v).collect(),
                l: l0,
                f: f0,
                kl: [0.0; 2],
                g: [None, None],
                is_zero: start_zero,
                fixed: [Held::Free, Held::Free],
            };
            if start_zero {
                factor = Factor::zero(self.n(), self.p());
            }
            let (precision, elbo) = self.score_candidate(&factor, None, &self.state.precision);
            let mut cand = Candidate {
                factor,
                precision,
                elbo,
                valid: false,
                rl: None,
            };
            if control.verbose > 1 {
                monitor.message("  Optimizing factor...\n");
            }
            if let Some(h) = progress::table_header(control.verbose, false) {
                monitor.message(&h);
            }
            let mut iter = 0;
            let mut conv = f64::INFINITY;
            let label = format!("factor {k}");
            // flashier's optional extrapolation (Ang and Gillis): propose a
            // step beyond the current candidate along its last change (with
            // the greedy settings of Extrapolation::greedy).
            let mut old = cand.clone();
            let mut beta = control.extrapolation.beta_init / control.extrapolation.beta_increase;
            // With extrapolation and column weights that are one number,
            // the loadings update of the proposed point needs `R f` at
            // `f + beta (f - f_old)`: that is `R f + beta (R f - R f_old)`,
            // from `R f` (one pass) and the previous candidate's. When the
            // proposal fails, the plain step from the candidate then reuses
            // `R f` instead of reading the matrix again.
            let linear = control.extrapolate && given_rf_ok;
            let mut rf_old: Option<Vec<f64>> = None;
            while conv > control.tol && iter < control.maxiter && !cand.factor.is_zero {
                if monitor.interrupted() {
                    return Ok(Outcome::Interrupted);
                }
                iter += 1;
                let next = if control.extrapolate {
                    let start = Candidate {
                        factor: extrapolated_factor(&cand.factor, &old.factor, beta),
                        precision: extrapolated_precision(&cand.precision, &old.precision, beta),
                        elbo: cand.elbo,
                        valid: cand.valid,
                        rl: None,
                    };
                    let rf = linear.then(|| rf_known.take().unwrap_or_else(|| self.r_prod(0, &cand.factor.f)));
                    // (As extrapolated_factor: a zero old factor is not
                    // extrapolated from.)
                    let rf_start = rf.as_ref().map(|rf| match &rf_old {
                        Some(ro) if !old.factor.is_zero => rf.iter().zip(ro).map(|(c, o)| c + beta * (c - o)).collect(),
                        _ => rf.clone(),
                    });
                    let proposed = self.step_candidate(&start, solvers, &label, rf_start.as_deref())?;
                    let next = if proposed.elbo - cand.elbo < control.tol {
                        beta *= control.extrapolation.beta_decrease;
                        self.step_candidate(&cand, solvers, &label, rf.as_deref())?
                    } else {
                        beta = (beta * control.extrapolation.beta_increase).min(control.extrapolation.beta_max);
                        proposed
                    };
                    rf_old = rf;
                    next
                } else {
                    self.step_candidate(&cand, solvers, &label, rf_known.take().as_deref())?
                };
                let diff = next.elbo - cand.elbo;
                if cand.valid && diff < 0.0 {
                    if control.verbose > 2 {
                        monitor.message(&format!(
                            "An iteration decreased the objective by {}.\n",
                            format_e(-diff, 2)
                        ));
                    }
                    break;
                }
                let elbo_diff = if cand.valid { diff } else { f64::INFINITY };
                conv = control.conv.value(&[&next.factor], &[&cand.factor], elbo_diff);
                let chg = progress::max_chg(&[&next.factor], &[&cand.factor], [true, true]);
                if let Some(row) = progress::table_row(control.verbose, false, iter, &k.to_string(), next.elbo, elbo_diff, chg) {
                    monitor.message(&row);
                }
                old = std::mem::replace(&mut cand, next);
            }
            if iter == control.maxiter && control.verbose > 0 {
                monitor.message("  --Maximum number of iterations reached!\n");
            }
            if !cand.factor.is_zero && cand.elbo > self.state.elbo + control.tol {
                if let Some(g) = gram.as_mut() {
                    g.subtract_rank_one(self, &cand.factor.l, &cand.factor.f, cand.rl.as_deref());
                }
                self.add_factor(cand.factor);
                added += 1;
                if control.verbose > 1 {
                    monitor.message(&format!(
                        "  Factor successfully added. Objective: {:.3} \n",
                        self.state.elbo
                    ));
                }
            } else {
                if control.verbose > 0 {
                    monitor.message(
                        "Factor doesn't significantly increase objective and won't be added.\n",
                    );
                }
                break;
            }
        }
        Ok(Outcome::Finished)
    }

    /// The change in ELBO from setting factor `k` to zero.
    fn elbo_without(&self, k: usize) -> f64 {
        let factor = &self.state.factors[k];
        if factor.is_zero {
            return 0.0;
        }
        let kl = self.kl_sum(Some(k));
        if self.has_entry_noise() {
            return self.entry_score(kronecker::Change::Remove(k), kl).1 - self.state.elbo;
        }
        if self.var_type() == VarType::Kronecker {
            let (_, loglik) = self.kron_fit(kronecker::Change::Remove(k), &self.state.precision);
            return kl + loglik - self.state.elbo;
        }
        let dim = self.acc_dim();
        let (u, u2, v, v2) = factor.sides(dim);
        // E||R^{-k}||^2 = E||R||^2 + 2 <R, u v'> + 2 Z(u^2 v^2) - Z(u2 v2).
        let rv = self.r_prod(dim, v);
        let vsq: Vec<f64> = v.iter().map(|x| x * x).collect();
        let zvsq = self.z_prod(dim, &vsq);
        let zv2 = self.z_prod(dim, v2);
        let delta: Vec<f64> = (0..u.len())
            .map(|i| 2.0 * u[i] * rv[i] + 2.0 * u[i] * u[i] * zvsq[i] - u2[i] * zv2[i])
            .collect();
        let delta = self.fold(delta, dim);
        let r2: Vec<f64> = self.r2.iter().zip(&delta).map(|(a, b)| a + b).collect();
        let counts = self.counts();
        let precision = self.precision_from_r2(&r2, &counts);
        kl + precision.expected_loglik(&counts, &r2) - self.state.elbo
    }

    /// flashier's nullcheck: set to zero (and remove) every factor whose
    /// removal lowers the ELBO by less than `tol`. Returns the removed
    /// factors' indices (1-based, as the user numbers them).
    pub fn nullcheck(&mut self, tol: f64, verbose: i32, monitor: &mut dyn Monitor) -> Vec<usize> {
        let all: Vec<usize> = (0..self.state.factors.len()).collect();
        self.nullcheck_some(&all, true, tol, verbose, monitor)
    }

    /// [`Self::nullcheck`] of the factors in `kset` (0-based); with `remove
    /// = false` the factors that fail are set to zero but kept in place.
    pub fn nullcheck_some(&mut self, kset: &[usize], remove: bool, tol: f64, verbose: i32, monitor: &mut dyn Monitor) -> Vec<usize> {
        let kk = kset.len();
        if kk == 0 {
            if verbose > 0 {
                monitor.message("No factors have been added. Skipping nullcheck.\n");
            }
            return vec![];
        }
        if verbose > 0 {
            monitor.message(&format!("Nullchecking {kk} factors...\n"));
            let nz = kset.iter().filter(|&&k| self.state.factors[k].is_zero).count();
            if nz == 1 {
                monitor.message("  One factor is identically zero.\n");
            } else if nz > 1 {
                monitor.message(&format!("  {nz} factors are identically zero.\n"));
            }
        }
        // The products R v_k that elbo_without asks for, in one pass (they
        // stay valid until a factor is set to zero).
        if !self.has_entry_noise() && self.var_type() != VarType::Kronecker {
            self.prefetch_sides(self.acc_dim(), kset, None);
        }
        let mut zeroed = vec![];
        for &k in kset {
            if self.state.factors[k].is_zero {
                zeroed.push(k);
                continue;
            }
            let diff = self.elbo_without(k);
            if diff >= -tol {
                let zero = Factor::zero(self.n(), self.p());
                let factor = std::mem::replace(&mut self.state.factors[k], zero);
                self.resid
                    .replace_rank_one(&self.data, Some((&factor.l, &factor.f)), None);
                self.refresh();
                zeroed.push(k);
                if verbose > 0 {
                    let msg = if diff > 0.0 {
                        format!(
                            "Factor {} set to zero, increasing objective by {}.\n",
                            k + 1,
                            format_e(diff, 3)
                        )
                    } else if diff == 0.0 {
                        format!(
                            "Factor {} set to zero with no change to objective.\n",
                            k + 1
                        )
                    } else {
                        format!(
                            "Factor {} set to zero, decreasing objective by {}.\n",
                            k + 1,
                            format_e(-diff, 3)
                        )
                    };
                    monitor.message(&msg);
                }
            }
        }
        if zeroed.is_empty() {
            if verbose > 1 {
                monitor.message(
                    "  No factor can be removed without significantly decreasing the objective.\n",
                );
            }
        } else if remove {
            if verbose > 0 {
                monitor.message("Wrapping up...\n");
            }
            zeroed.sort_unstable();
            for &k in zeroed.iter().rev() {
                self.state.factors.remove(k);
            }
            self.refresh();
            if verbose > 0 {
                if zeroed.len() == 1 {
                    monitor.message("  Removed one factor.\n");
                } else {
                    monitor.message(&format!("  Removed {} factors.\n", zeroed.len()));
                }
            }
        }
        if verbose > 0 {
            monitor.message("Done.\n");
        }
        zeroed.iter().map(|k| k + 1).collect()
    }

    /// Local false sign rates of factor `k` in dimension `dim`, from the
    /// normal-means problem with the fitted prior held fixed.
    pub fn lfsr(
        &self,
        k: usize,
        dim: Dim,
        solver: &dyn EbnmSolver,
    ) -> Result<Option<Vec<f64>>, FitError> {
        let Some((x, s, g)) = self.posterior_problem(k, dim) else {
            return Ok(None);
        };
        let fit = solver
            .solve(&x, &s, Some(&g), true)
            .map_err(|e| {
                FitError(format!(
                    "computing the lfsr of the {} of factor {}: {}",
                    if dim == 0 { "loadings" } else { "factor values" },
                    k + 1,
                    e
                ))
            })?;
        // Held entries have no posterior: their lfsr is undefined.
        Ok(fit.lfsr.map(|mut v| {
            if let Held::Some(m) = &self.state.factors[k].fixed[dim] {
                v.iter_mut().zip(m.iter()).filter(|(_, h)| **h).for_each(|(x, _)| *x = f64::NAN);
            }
            v
        }))
    }

    /// The normal-means problem `(x, s)` of factor `k` in dimension `dim` at
    /// the current fit (the factor's own contribution added back), with its
    /// fitted prior: what the posterior sampler draws from.
    pub fn posterior_problem(&self, k: usize, dim: Dim) -> Option<(Vec<f64>, Vec<f64>, Prior)> {
        let factor = &self.state.factors[k];
        if factor.is_zero {
            return None;
        }
        let g = factor.g[dim].clone()?;
        // The factor's own contribution (u, v) is added back to the residuals.
        let (u, _, v, v2) = factor.sides(dim);
        let (x, s, _) = self.ebnm_args(dim, v, v2, Some((u, v)), &self.state.precision, None);
        Some((x, s, g))
    }

    /// Proportion of variance explained by each factor:
    /// `S_k / (sum_k S_k + sum_ij 1 / tau_ij)`, `S_k = sum_i E[l_ik^2] sum_j E[f_jk^2]`.
    pub fn pve(&self) -> Vec<f64> {
        let s: Vec<f64> = self
            .state
            .factors
            .iter()
            .map(|f| f.l2.iter().sum::<f64>() * f.f2.iter().sum::<f64>())
            .collect();
        if self.has_entry_noise() {
            let total: f64 = s.iter().sum::<f64>() + self.entry_total_variance();
            return s.iter().map(|v| v / total).collect();
        }
        if self.var_type() == VarType::Kronecker {
            let n = self.n();
            let inv_b: Vec<f64> = self.state.precision.tau[n..].iter().map(|t| 1.0 / t).collect();
            let zb = self.z_prod(0, &inv_b);
            let var_from_tau: f64 = self.state.precision.tau[..n].iter().zip(&zb).map(|(a, z)| z / a).sum();
            let total: f64 = s.iter().sum::<f64>() + var_from_tau;
            return s.iter().map(|v| v / total).collect();
        }
        let counts = self.counts();
        let var_from_tau: f64 = self
            .state
            .precision
            .tau
            .iter()
            .zip(&counts)
            .map(|(t, c)| c / t)
            .sum();
        let total: f64 = s.iter().sum::<f64>() + var_from_tau;
        s.iter().map(|v| v / total).collect()
    }
}

/// `sum_i E_q[log N(x_i; theta_i, s_i^2)]` given posterior first and second
/// moments of `theta`.
pub fn normal_means_loglik(x: &[f64], s: &[f64], mean: &[f64], second: &[f64]) -> f64 {
    // One standard error for all (the usual case in a fit with a constant
    // or row-wise precision): one logarithm, and a sum that vectorises.
    if let Some(&s0) = s.first() {
        if s0.is_finite() && s0 > 0.0 && s.iter().fold(true, |same, &v| same & (v == s0)) {
            let n = x.len().min(mean.len()).min(second.len());
            let sq: f64 = (0..n).map(|i| second[i] - 2.0 * x[i] * mean[i] + x[i] * x[i]).sum();
            return -(n as f64) * (LN_SQRT_2PI + s0.ln()) - 0.5 * sq / (s0 * s0);
        }
    }
    let n = x.len().min(s.len());
    let mut ln_s = vec![0.0; n];
    crate::fastmath::ln_into(&s[..n], &mut ln_s);
    let mut acc = 0.0;
    for i in 0..n {
        let si = s[i];
        if !(si.is_finite() && si > 0.0) {
            continue;
        }
        let s2 = si * si;
        acc += -LN_SQRT_2PI - ln_s[i] - 0.5 * (second[i] - 2.0 * x[i] * mean[i] + x[i] * x[i]) / s2;
    }
    acc
}

/// R's `formatC(x, format = "e", digits = d)`.
pub fn format_e(x: f64, digits: usize) -> String {
    let s = format!("{:.*e}", digits, x);
    // Rust prints 1.23e4; R prints 1.23e+04.
    match s.split_once('e') {
        Some((mant, exp)) => {
            let e: i32 = exp.parse().unwrap_or(0);
            format!("{}e{}{:02}", mant, if e < 0 { '-' } else { '+' }, e.abs())
        }
        None => s,
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: recompute every product of the greedy extrapolation instead
    /// of combining earlier ones (the path before that reuse).
    static RECOMPUTE_PRODUCTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Tests: read the residual matrix for every sum of squares (no
    /// [`ColCross`]); and how many refreshes used a `ColCross`.
    static NO_COL_CROSS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static COL_CROSS_USED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether a test turned [`ColCross`] off (never outside tests).
fn col_cross_disabled() -> bool {
    #[cfg(test)]
    return NO_COL_CROSS.with(|c| c.get());
    #[cfg(not(test))]
    false
}

/// Whether a test asked for [`RECOMPUTE_PRODUCTS`] (never outside tests).
fn products_recomputed() -> bool {
    #[cfg(test)]
    return RECOMPUTE_PRODUCTS.with(|c| c.get());
    #[cfg(not(test))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebnm::{BuiltinSolver, EbnmOptions, PriorFamily};

    /// The point-normal solver and fixed starting vectors (length n and p)
    /// for the greedy fits of these tests.
    fn point_normal_and_start(n: usize, p: usize) -> (BuiltinSolver, Vec<f64>, Vec<f64>) {
        let pn = BuiltinSolver { family: PriorFamily::PointNormal, options: EbnmOptions::default() };
        let u = (0..n).map(|i| ((i * 31 % 17) as f64 - 8.0) / 10.0).collect();
        let v = (0..p).map(|j| ((j * 13 % 11) as f64 - 5.0) / 10.0).collect();
        (pn, u, v)
    }

    /// The point-normal greedy fit of up to four factors to `y` from the
    /// starting vectors of [`point_normal_and_start`].
    fn greedy_four<'y>(y: &'y faer::Mat<f64>, vt: VarType, extrapolate: bool) -> Fitter<'y> {
        let (n, p) = (y.nrows(), y.ncols());
        let (pn, u, v) = point_normal_and_start(n, p);
        let mut fit = Fitter::new(crate::data::DenseData::new(y.as_ref()), vec![], vt);
        let mut control = GreedyControl::flashier_defaults(n, p, 4);
        control.extrapolate = extrapolate;
        fit.greedy(&[[&pn as &dyn EbnmSolver, &pn]], &control, (&u, &v), &mut Silent).unwrap();
        fit
    }

    /// Counts the backfit's iterations (each asks once about interrupts).
    struct CountIterations(usize);
    impl Monitor for CountIterations {
        fn interrupted(&mut self) -> bool {
            self.0 += 1;
            false
        }
    }

    /// On data whose loadings are sparse and overlap (so that the greedy
    /// factors are mixtures of the true ones), the rotation after the first
    /// sweep is kept, and the backfit reaches an ELBO at least as high as
    /// without it in far fewer sweeps; the fitted values `L F'` do not
    /// move when only the rotation is applied.
    #[test]
    fn the_varimax_rotation_shortens_a_backfit_of_mixed_factors() {
        use rand::{RngExt, SeedableRng};
        let (n, p, k) = (600, 200, 5);
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let normal = |rng: &mut rand::rngs::StdRng| -> f64 { rng.sample(rand_distr::StandardNormal) };
        let l: Vec<f64> = (0..n * k).map(|_| if rng.random::<f64>() < 0.3 { normal(&mut rng) } else { 0.0 }).collect();
        let f: Vec<f64> = (0..p * k).map(|_| normal(&mut rng)).collect();
        let y = faer::Mat::from_fn(n, p, |i, j| (0..k).map(|c| l[c * n + i] * f[c * p + j]).sum::<f64>() + normal(&mut rng));
        let (pn, u, v) = point_normal_and_start(n, p);
        let fit_with = |rotate: bool| {
            let mut fit = Fitter::new(crate::data::DenseData::new(y.as_ref()), vec![], VarType::Constant);
            let control = GreedyControl::flashier_defaults(n, p, 8);
            fit.greedy(&[[&pn as &dyn EbnmSolver, &pn]], &control, (&u, &v), &mut Silent).unwrap();
            let kk = fit.state.factors.len();
            let solvers: Vec<[&dyn EbnmSolver; 2]> = vec![[&pn, &pn]; kk];
            let mut control = BackfitControl::flashier_defaults(kk, n, p);
            control.rotate = rotate;
            let mut count = CountIterations(0);
            fit.backfit(&solvers, &control, &mut count).unwrap();
            (fit.state.elbo, count.0, kk)
        };
        let (plain_elbo, plain_sweeps, kk) = fit_with(false);
        let (rot_elbo, rot_sweeps, _) = fit_with(true);
        assert_eq!(kk, k);
        assert!(rot_elbo >= plain_elbo - default_tol(n, p), "{rot_elbo} against {plain_elbo}");
        assert!(rot_sweeps * 3 <= plain_sweeps, "{rot_sweeps} sweeps against {plain_sweeps}");

        // The proposal itself: the same L F', a different L.
        let mut fit = Fitter::new(crate::data::DenseData::new(y.as_ref()), vec![], VarType::Constant);
        let control = GreedyControl::flashier_defaults(n, p, 8);
        fit.greedy(&[[&pn as &dyn EbnmSolver, &pn]], &control, (&u, &v), &mut Silent).unwrap();
        let solvers: Vec<[&dyn EbnmSolver; 2]> = vec![[&pn, &pn]; k];
        let kset: Vec<usize> = (0..k).collect();
        let rotated = fit.rotation_proposal(&kset, &solvers).expect("a rotation worth a sweep");
        let fitted = |fs: &[Factor], i: usize, j: usize| fs.iter().map(|x| x.l[i] * x.f[j]).sum::<f64>();
        let mut moved: f64 = 0.0;
        for i in (0..n).step_by(7) {
            for j in (0..p).step_by(5) {
                let (a, b) = (fitted(&fit.state.factors, i, j), fitted(&rotated, i, j));
                assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "L F' moved at ({i}, {j})");
            }
            moved = moved.max((rotated[0].l[i] - fit.state.factors[0].l[i]).abs());
        }
        assert!(moved > 1e-3);
        // A factor with a one-signed prior takes no part: with only one
        // symmetric factor left there is nothing to rotate.
        let pe = BuiltinSolver { family: PriorFamily::PointExponential, options: EbnmOptions::default() };
        let mut mixed: Vec<[&dyn EbnmSolver; 2]> = vec![[&pn, &pe]; k];
        mixed[0] = [&pn, &pn];
        assert!(fit.rotation_proposal(&kset, &mixed).is_none());
    }

    /// The extrapolated greedy fit combining `R f` products (one pass fewer
    /// per failed proposal) reaches the fit that recomputes each product,
    /// with constant and row-wise precisions.
    #[test]
    fn greedy_extrapolation_with_combined_products_matches_recomputed_ones() {
        let (n, p) = (300, 120);
        let cell = |i: usize, j: usize| {
            let l1 = if i % 3 == 0 { (i as f64 * 0.37).sin() * 3.0 } else { 0.0 };
            let l2 = if i % 4 == 1 { (i as f64 * 0.11).cos() * 2.0 } else { 0.0 };
            let noise = (((i * 7919 + j * 104729) % 1009) as f64 / 1009.0 - 0.5) * 2.0;
            l1 * (j as f64 * 0.05).cos() + l2 * (1.0 + (j % 7) as f64 * 0.2) + noise
        };
        let y = faer::Mat::from_fn(n, p, cell);
        for vt in [VarType::Constant, VarType::ByRow] {
            let fit_with = |recompute: bool| {
                RECOMPUTE_PRODUCTS.with(|c| c.set(recompute));
                let fit = greedy_four(&y, vt, true);
                RECOMPUTE_PRODUCTS.with(|c| c.set(false));
                (fit.state.elbo, fit.state.factors.iter().map(|f| f.l.clone()).collect::<Vec<_>>())
            };
            let (e1, l1) = fit_with(false);
            let (e0, l0) = fit_with(true);
            assert!(l1.len() >= 2 && l1.len() == l0.len(), "{vt:?}: K {} vs {}", l1.len(), l0.len());
            assert!((e1 - e0).abs() <= 1e-8 * e0.abs(), "{vt:?}: ELBO {e1} vs {e0}");
            for (a, b) in l1.iter().flatten().zip(l0.iter().flatten()) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{vt:?}: {a} vs {b}");
            }
        }
    }

    /// A backfit whose sums of squares come from the sweeps' own products
    /// (`ColCross`, no fold of the sweep's changes into the residual
    /// matrix) reaches the fit that reads the matrix after every sweep, with
    /// constant and column-wise precisions; with row-wise precision it is
    /// never used.
    #[test]
    fn backfit_sums_of_squares_from_products_match_the_matrix() {
        let (n, p) = (240, 90);
        let cell = |i: usize, j: usize| {
            let l1 = if i % 3 == 0 { (i as f64 * 0.37).sin() * 3.0 } else { 0.0 };
            let l2 = if i % 4 == 1 { (i as f64 * 0.11).cos() * 2.0 } else { 0.0 };
            let l3 = (i as f64 * 0.05).sin();
            let noise = (((i * 7919 + j * 104729) % 1009) as f64 / 1009.0 - 0.5) * 2.0 * (1.0 + (j % 3) as f64);
            l1 * (j as f64 * 0.05).cos() + l2 * (1.0 + (j % 7) as f64 * 0.2) + l3 * ((j % 5) as f64 - 2.0) + noise
        };
        let y = faer::Mat::from_fn(n, p, cell);
        let (pn, _, _) = point_normal_and_start(n, p);
        for vt in [VarType::Constant, VarType::ByCol, VarType::ByRow] {
            let fit_with = |disabled: bool| {
                NO_COL_CROSS.with(|c| c.set(disabled));
                COL_CROSS_USED.with(|c| c.set(0));
                let mut fit = greedy_four(&y, vt, false);
                let kk = fit.state.factors.len();
                let solvers: Vec<[&dyn EbnmSolver; 2]> = vec![[&pn, &pn]; kk];
                let mut control = BackfitControl::flashier_defaults(kk, n, p);
                control.maxiter = 30;
                fit.backfit(&solvers, &control, &mut Silent).unwrap();
                NO_COL_CROSS.with(|c| c.set(false));
                let used = COL_CROSS_USED.with(|c| c.get());
                (fit.state.elbo, fit.state.precision.tau.clone(), fit.state.factors.iter().map(|f| f.l.clone()).collect::<Vec<_>>(), used)
            };
            let (e1, t1, l1, used1) = fit_with(false);
            let (e0, t0, l0, used0) = fit_with(true);
            assert_eq!(used0, 0);
            if vt == VarType::ByRow {
                assert_eq!(used1, 0, "row-wise precision needs the matrix");
            } else {
                assert!(used1 >= 10, "{vt:?}: the products served {used1} refreshes");
            }
            assert!(l1.len() >= 2 && l1.len() == l0.len(), "{vt:?}: K {} vs {}", l1.len(), l0.len());
            assert!((e1 - e0).abs() <= 1e-9 * e0.abs(), "{vt:?}: ELBO {e1} vs {e0}");
            for (a, b) in t1.iter().zip(&t0) {
                assert!((a - b).abs() <= 1e-9 * b.abs(), "{vt:?}: precision {a} vs {b}");
            }
            for (a, b) in l1.iter().flatten().zip(l0.iter().flatten()) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{vt:?}: {a} vs {b}");
            }
        }
    }

    /// The term-by-term definition of `normal_means_loglik`.
    fn by_terms(x: &[f64], s: &[f64], mean: &[f64], second: &[f64]) -> f64 {
        (0..x.len())
            .map(|i| -LN_SQRT_2PI - s[i].ln() - 0.5 * (second[i] - 2.0 * x[i] * mean[i] + x[i] * x[i]) / (s[i] * s[i]))
            .sum()
    }

    #[test]
    fn normal_means_loglik_with_one_or_many_standard_errors() {
        let x = [0.5, -1.0, 2.0, 0.0, 3.5];
        let mean = [0.4, -0.2, 1.5, 0.0, 3.0];
        let second = [0.3, 0.1, 2.5, 0.01, 9.5];
        let same = [0.7; 5];
        let varied = [0.7, 1.0, 0.2, 3.0, 0.7];
        let want = by_terms(&x, &same, &mean, &second);
        assert!((normal_means_loglik(&x, &same, &mean, &second) - want).abs() < 1e-12 * want.abs());
        let want = by_terms(&x, &varied, &mean, &second);
        assert!((normal_means_loglik(&x, &varied, &mean, &second) - want).abs() < 1e-12 * want.abs());
    }
}
