//! Residual precision structures (flashier's `var_type`).
//!
//! The residual precision is `tau_ij = a_i b_j`, a rank-one matrix. For the
//! structures estimated in closed form, `tau` varies along at most one
//! dimension and its maximum-likelihood estimate given the expected squared
//! residuals `E[R_ij^2]` is `tau_d = (non-missing count)_d / sum_{ij in d} E[R_ij^2]`.

use faer::Mat;
use std::sync::Arc;

/// Which precisions are estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    /// One precision for every entry (`var_type = 0`).
    Constant,
    /// One precision per row (`var_type = 1`).
    ByRow,
    /// One precision per column (`var_type = 2`).
    ByCol,
    /// `tau_ij = a_i b_j`, both estimated (`var_type = c(1, 2)`); the
    /// precision vector holds `a` (n values) then `b` (p values).
    Kronecker,
}

impl VarType {
    pub fn from_code(code: i32) -> Option<VarType> {
        match code {
            0 => Some(VarType::Constant),
            1 => Some(VarType::ByRow),
            2 => Some(VarType::ByCol),
            3 => Some(VarType::Kronecker),
            _ => None,
        }
    }

    pub fn code(self) -> i32 {
        match self {
            VarType::Constant => 0,
            VarType::ByRow => 1,
            VarType::ByCol => 2,
            VarType::Kronecker => 3,
        }
    }

    /// Length of the vector of precisions for an `n x p` matrix.
    pub fn len(self, n: usize, p: usize) -> usize {
        match self {
            VarType::Constant => 1,
            VarType::ByRow => n,
            VarType::ByCol => p,
            VarType::Kronecker => n + p,
        }
    }
}

/// Precisions in the estimated dimension, with their rank-one expansion.
#[derive(Clone, Debug)]
pub struct Precision {
    pub var_type: VarType,
    /// One value (Constant), n values (ByRow) or p values (ByCol); n + p
    /// values (Kronecker). When `matrix` is set, the estimated variance
    /// components instead (see `model::entry`).
    pub tau: Vec<f64>,
    /// Precisions that vary over every entry (`n x p`, zero where the data
    /// are missing): standard errors `S` that are not constant along the
    /// estimated dimension.
    pub matrix: Option<Arc<Mat<f64>>>,
}

impl Precision {
    /// Row weights `a` (length n) of `tau_ij = a_i b_j`.
    pub fn row_weights(&self, n: usize) -> Vec<f64> {
        match self.var_type {
            VarType::ByRow => self.tau.clone(),
            VarType::Kronecker => self.tau[..n].to_vec(),
            _ => vec![1.0; n],
        }
    }

    /// Column weights `b` (length p) of `tau_ij = a_i b_j`.
    pub fn col_weights(&self, p: usize) -> Vec<f64> {
        match self.var_type {
            VarType::Constant => vec![self.tau[0]; p],
            VarType::ByCol => self.tau.clone(),
            VarType::ByRow => vec![1.0; p],
            VarType::Kronecker => self.tau[self.tau.len() - p..].to_vec(),
        }
    }

    /// Precisions given expected squared residuals `r2` and non-missing
    /// counts `counts` in the estimated dimension. Without `given`, the
    /// maximum-likelihood `c_d / r2_d`. With `given` precisions (from
    /// standard errors `S`): when `fixed`, those (flashier's `var_type =
    /// NULL`); otherwise the estimate with `given` as a ceiling, so that the
    /// total variance is never below `S^2` (flashier's rule for `S` with a
    /// one-dimensional `var_type`).
    pub fn estimate(var_type: VarType, r2: &[f64], counts: &[f64], given: Option<&[f64]>, fixed: bool) -> Precision {
        let tau = r2
            .iter()
            .zip(counts)
            .enumerate()
            .map(|(d, (&r, &c))| {
                let est = c / r.max(f64::EPSILON);
                match given {
                    Some(g) if fixed => g[d],
                    Some(g) => g[d].min(est),
                    None => est,
                }
            })
            .collect();
        Precision { var_type, tau, matrix: None }
    }

    /// The expected log-likelihood of the data:
    /// `-1/2 sum_d (c_d (log(2 pi) - log(tau_d)) + tau_d r2_d)` (at the
    /// maximum-likelihood precision `tau_d r2_d = c_d`).
    pub fn expected_loglik(&self, counts: &[f64], r2: &[f64]) -> f64 {
        let ln2pi = (2.0 * std::f64::consts::PI).ln();
        -0.5 * self
            .tau
            .iter()
            .zip(counts)
            .zip(r2)
            .filter(|((_, &c), _)| c > 0.0)
            .map(|((&t, &c), &r)| c * (ln2pi - t.ln()) + t * r)
            .sum::<f64>()
    }

    /// Residual standard deviations `1 / sqrt(tau)`.
    pub fn residual_sd(&self) -> Vec<f64> {
        self.tau.iter().map(|t| 1.0 / t.sqrt()).collect()
    }
}
