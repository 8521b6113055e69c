//! flashier's backfitting: cycle through the existing factors, updating each
//! given all the others, until the ELBO stops rising; by default with the
//! extrapolation of Ang and Gillis (2019) that flashier uses to accelerate it.

use super::progress::{self, ConvCrit};
use super::{format_e, Factor, FitError, Fitter, Monitor, Outcome};
use crate::ebnm::EbnmSolver;
use crate::variance::Precision;

/// flashier's extrapolation settings (its `extrapolate.control` defaults).
#[derive(Clone, Copy, Debug)]
pub struct Extrapolation {
    pub beta_init: f64,
    pub beta_increase: f64,
    pub beta_decrease: f64,
    pub beta_max: f64,
}

impl Default for Extrapolation {
    fn default() -> Self {
        Extrapolation { beta_init: 0.5, beta_increase: 1.2, beta_decrease: 0.5, beta_max: 2.0 }
    }
}

impl Extrapolation {
    /// The settings of the greedy fit's extrapolation (ours: flashier does
    /// not extrapolate there by default): a bolder start and ceiling, `1`
    /// and `4`. On simulated data from 2000 x 500 to 20000 x 500 and 3000 x
    /// 3000 (ranks 6-15) they took fewer iterations (202 -> 147 on the
    /// 10000 x 1000 benchmark) and every fit ended at a higher ELBO (by
    /// 0.5-23). In a backfit the same settings did worse (a 2000 x 500 fit
    /// took as many sweeps or reached a lower optimum), so it keeps
    /// flashier's.
    pub fn greedy() -> Self {
        Extrapolation { beta_init: 1.0, beta_max: 4.0, ..Extrapolation::default() }
    }
}

/// Settings of a backfit.
#[derive(Clone, Debug)]
pub struct BackfitControl {
    /// Factors to update (0-based).
    pub kset: Vec<usize>,
    pub maxiter: usize,
    pub tol: f64,
    pub verbose: i32,
    pub extrapolate: bool,
    /// Start each EBNM problem from the factor's current prior.
    pub warmstart: bool,
    pub extrapolation: Extrapolation,
    /// What is compared with `tol` after each sweep.
    pub conv: ConvCrit,
    /// With `extrapolate`: whether the first sweep also tries the varimax
    /// rotation of the factors (see [`super::rotation`] and
    /// [`Fitter::rotation_proposal`]). Not in flashier.
    pub rotate: bool,
}

impl BackfitControl {
    /// flashier's `flash_backfit()` defaults for factors `0..k` of an
    /// `n x p` fit: at most 500 sweeps, tolerance `n p sqrt(eps)`,
    /// extrapolation and warm starts on, the ELBO as the criterion; and our
    /// rotation of the first sweep on.
    pub fn flashier_defaults(k: usize, n: usize, p: usize) -> BackfitControl {
        BackfitControl {
            kset: (0..k).collect(),
            maxiter: 500,
            tol: super::default_tol(n, p),
            verbose: 0,
            extrapolate: true,
            warmstart: true,
            extrapolation: Extrapolation::default(),
            conv: ConvCrit::default(),
            rotate: true,
        }
    }
}

/// A snapshot of the factors and precision (not the residuals).
#[derive(Clone)]
struct Snapshot {
    factors: Vec<Factor>,
    precision: Precision,
    elbo: f64,
}

const EXTRAPOLATION_EPS: f64 = 1e-10;

/// The least relative gain in the varimax criterion for which a rotation
/// is tried (see [`Fitter::rotation_proposal`]).
const ROTATION_MIN_GAIN: f64 = 0.05;

fn extrapolate_vec(new: &[f64], old: &[f64], beta: f64) -> Vec<f64> {
    new.iter().zip(old).map(|(a, b)| a + beta * (a - b)).collect()
}

/// `c + beta (c - o)` for a factor's means and second moments (second
/// moments kept above the squared means); zero factors stay as they are.
pub(super) fn extrapolated_factor(c: &Factor, o: &Factor, beta: f64) -> Factor {
    if c.is_zero || o.is_zero {
        return c.clone();
    }
    let l = extrapolate_vec(&c.l, &o.l, beta);
    let f = extrapolate_vec(&c.f, &o.f, beta);
    let l2 = extrapolate_vec(&c.l2, &o.l2, beta)
        .iter()
        .zip(&l)
        .map(|(v2, v)| v2.max(v * v + EXTRAPOLATION_EPS))
        .collect();
    let f2 = extrapolate_vec(&c.f2, &o.f2, beta)
        .iter()
        .zip(&f)
        .map(|(v2, v)| v2.max(v * v + EXTRAPOLATION_EPS))
        .collect();
    Factor { l, f, l2, f2, kl: c.kl, g: c.g.clone(), is_zero: false, fixed: c.fixed.clone() }
}

/// `c + beta (c - o)` for the precision, kept positive.
pub(super) fn extrapolated_precision(c: &Precision, o: &Precision, beta: f64) -> Precision {
    let matrix = match (&c.matrix, &o.matrix) {
        (Some(cm), Some(om)) => Some(std::sync::Arc::new(faer::Mat::from_fn(cm.nrows(), cm.ncols(), |i, j| {
            let t = cm[(i, j)];
            // Missing entries (zero precision) stay zero.
            if t == 0.0 { 0.0 } else { (t + beta * (t - om[(i, j)])).max(EXTRAPOLATION_EPS) }
        }))),
        (m, _) => m.clone(),
    };
    if matrix.is_some() {
        // The variance components only seed the next estimate.
        return Precision { var_type: c.var_type, tau: c.tau.clone(), matrix };
    }
    let tau = extrapolate_vec(&c.tau, &o.tau, beta)
        .into_iter()
        .map(|t| t.max(EXTRAPOLATION_EPS))
        .collect();
    Precision { var_type: c.var_type, tau, matrix: None }
}

impl Fitter<'_> {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            factors: self.state.factors.clone(),
            precision: self.state.precision.clone(),
            elbo: self.state.elbo,
        }
    }

    /// Replace the fit's factors by `factors` and its precision by
    /// `precision`, without re-estimating it. The residual change is
    /// deferred where possible: the sweep that follows corrects its
    /// products, and its own updates cancel these terms where they overlap.
    fn set_factors(&mut self, factors: Vec<Factor>, precision: Precision) {
        let changes: Vec<_> = self
            .state
            .factors
            .iter()
            .zip(&factors)
            .filter(|(old, new)| old.l != new.l || old.f != new.f)
            .map(|(old, new)| ((old.l.as_slice(), old.f.as_slice()), (new.l.as_slice(), new.f.as_slice())))
            .collect();
        self.resid.defer_rank_one(&self.data, &changes);
        self.state.factors = factors;
        self.state.precision = precision;
    }

    /// The factor `k` updated given all the others (loadings, then factor),
    /// at the precision `precision`. The fit is not changed.
    fn updated_factor(
        &self,
        k: usize,
        solvers: [&dyn EbnmSolver; 2],
        precision: &Precision,
        warmstart: bool,
    ) -> Result<Factor, FitError> {
        let current = &self.state.factors[k];
        let mut factor = current.clone();
        let label = format!("factor {}", k + 1);
        // Each side given the other, its current contribution added back;
        // a side held in full is left as it is.
        for dim in 0..2 {
            if current.fixed[dim].is_all() || (dim == 1 && factor.is_zero) {
                continue;
            }
            let (u, _, v, _) = current.sides(dim);
            self.update_dim(&mut factor, dim, solvers[dim], Some((u, v)), precision, &label, warmstart, None)?;
        }
        Ok(factor)
    }

    /// Put an updated factor `k` into the fit (residuals and variance terms;
    /// the precision and ELBO are not re-estimated).
    fn insert_factor(&mut self, k: usize, factor: Factor) {
        let old = std::mem::replace(&mut self.state.factors[k], factor);
        let new = &self.state.factors[k];
        // Products correct for the change until the precision is next
        // re-estimated (see DenseResidual::defer_rank_one).
        self.resid.defer_rank_one(&self.data, &[((&old.l, &old.f), (&new.l, &new.f))]);
    }

    /// One sweep over `kset` with the precision held fixed, then the
    /// precision and ELBO re-estimated (flashier's extrapolated backfit).
    /// The loadings of every factor are updated first, then the factor
    /// values of every factor (each update given all the others, as in
    /// flashier): each half then needs the residuals' products with the
    /// other side's vectors as they were when it began, which one pass over
    /// the matrix gives (see [`crate::data::DenseResidual::prefetch`]).
    fn sweep(&mut self, kset: &[usize], solvers: &[[&dyn EbnmSolver; 2]], warmstart: bool) -> Result<(), FitError> {
        let precision = self.state.precision.clone();
        for dim in 0..2 {
            // (The precision is the fit's until the sweep ends.)
            let ks: Vec<usize> = kset.iter().copied().filter(|&k| !self.state.factors[k].fixed[dim].is_all()).collect();
            self.prefetch_products(dim, &ks);
            if dim == 1 {
                self.keep_col_cross();
            }
            for &k in kset {
                let current = &self.state.factors[k];
                if current.is_zero || current.fixed[dim].is_all() {
                    continue;
                }
                let mut factor = current.clone();
                let (u, _, v, _) = current.sides(dim);
                let label = format!("factor {}", k + 1);
                self.update_dim(&mut factor, dim, solvers[k][dim], Some((u, v)), &precision, &label, warmstart, None)?;
                self.insert_factor(k, factor);
            }
        }
        self.refresh();
        Ok(())
    }

    /// One sweep in which every update re-estimates the precision and is
    /// kept only if it raises the ELBO (flashier's sequential backfit).
    /// Returns, for each factor's update, its ELBO change, convergence
    /// criterion and largest change in the normalised vectors.
    fn sequential_sweep(
        &mut self,
        kset: &[usize],
        solvers: &[[&dyn EbnmSolver; 2]],
        warmstart: bool,
        verbose: i32,
        conv: ConvCrit,
        monitor: &mut dyn Monitor,
    ) -> Result<Vec<(usize, f64, f64, f64)>, FitError> {
        let mut changes = Vec::with_capacity(kset.len());
        for &k in kset {
            if self.state.factors[k].is_zero {
                changes.push((k, 0.0, conv.value(&[], &[], 0.0), 0.0));
                continue;
            }
            let before = self.snapshot();
            let precision = self.state.precision.clone();
            let factor = self.updated_factor(k, solvers[k], &precision, warmstart)?;
            self.insert_factor(k, factor);
            self.refresh();
            let diff = self.state.elbo - before.elbo;
            if diff < 0.0 {
                if verbose > 0 {
                    monitor.message(&format!(
                        "An update to factor {} decreased the objective by {}.\n",
                        k + 1,
                        format_e(-diff, 3)
                    ));
                }
                let old = before.factors[k].clone();
                self.insert_factor(k, old);
                self.refresh();
                changes.push((k, 0.0, conv.value(&[], &[], 0.0), 0.0));
            } else {
                let (new, old) = (&self.state.factors[k], &before.factors[k]);
                let chg = progress::max_chg(&[new], &[old], [true, true]);
                changes.push((k, diff, conv.value(&[new], &[old], diff), chg));
            }
        }
        Ok(changes)
    }

    /// The fit's factors with those of `kset` that qualify rotated by
    /// varimax (see [`super::rotation`]), or `None` when there is nothing
    /// worth a sweep. A factor qualifies when it is nonzero, has no held
    /// values and both of its priors come from families symmetric about
    /// zero (a rotation mixes signs). The rotation is that of the side
    /// whose criterion it raises more (relatively); a side is only tried
    /// when its varimax costs less than about a sweep (`32 K` at most the
    /// length of the other side), and the gain must reach 5%.
    pub(super) fn rotation_proposal(&self, kset: &[usize], solvers: &[[&dyn EbnmSolver; 2]]) -> Option<Vec<Factor>> {
        use super::rotation::{rotated, VARIMAX_ROUNDS};
        use super::Held;
        let ks: Vec<usize> = kset
            .iter()
            .copied()
            .filter(|&k| {
                let f = &self.state.factors[k];
                !f.is_zero
                    && f.fixed.iter().all(|h| *h == Held::Free)
                    && solvers[k].iter().all(|s| s.symmetric_about_zero())
            })
            .collect();
        if ks.len() < 2 {
            return None;
        }
        let factors: Vec<&Factor> = ks.iter().map(|&k| &self.state.factors[k]).collect();
        let lens = [factors[0].l.len(), factors[0].f.len()];
        let best = (0..2)
            .filter(|&dim| ks.len() * VARIMAX_ROUNDS * 4 <= lens[1 - dim])
            .filter_map(|dim| rotated(&factors, dim))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        if !(best.1 >= ROTATION_MIN_GAIN) {
            return None;
        }
        let mut out = self.state.factors.clone();
        for (k, f) in ks.into_iter().zip(best.0) {
            out[k] = f;
        }
        Some(out)
    }

    /// After the first sweep of an extrapolated backfit: a sweep from the
    /// rotated factors of [`Fitter::rotation_proposal`], kept if it ends
    /// higher than the first sweep by more than `tol` (else the fit goes
    /// back to the first sweep's factors). Returns whether it was kept.
    fn try_rotation(
        &mut self,
        kset: &[usize],
        solvers: &[[&dyn EbnmSolver; 2]],
        control: &BackfitControl,
        monitor: &mut dyn Monitor,
    ) -> Result<bool, FitError> {
        let Some(factors) = self.rotation_proposal(kset, solvers) else {
            return Ok(false);
        };
        let plain = self.snapshot();
        self.set_factors(factors, plain.precision.clone());
        self.sweep(kset, solvers, control.warmstart)?;
        let kept = self.state.elbo > plain.elbo + control.tol;
        if control.verbose > 2 {
            monitor.message(&format!(
                "  A varimax rotation of the factors {} (objective {:.3} against {:.3}).\n",
                if kept { "was kept" } else { "did not help" },
                self.state.elbo,
                plain.elbo
            ));
        }
        if !kept {
            self.set_factors(plain.factors, plain.precision);
            self.refresh();
        }
        Ok(kept)
    }

    /// The extrapolated fit `S + beta (S - O)` of the current snapshot `S`
    /// and an older one `O`.
    fn extrapolated(current: &Snapshot, old: &Snapshot, beta: f64) -> (Vec<Factor>, Precision) {
        let factors = current
            .factors
            .iter()
            .zip(&old.factors)
            .map(|(c, o)| extrapolated_factor(c, o, beta))
            .collect();
        (factors, extrapolated_precision(&current.precision, &old.precision, beta))
    }

    /// flashier's `flash_backfit()`. `solvers[k]` are factor `k`'s solvers.
    pub fn backfit(
        &mut self,
        solvers: &[[&dyn EbnmSolver; 2]],
        control: &BackfitControl,
        monitor: &mut dyn Monitor,
    ) -> Result<Outcome, FitError> {
        let kk = self.state.factors.len();
        if solvers.len() != kk {
            return Err(FitError(format!("backfit needs solvers for {kk} factors, got {}", solvers.len())));
        }
        if kk == 0 || control.kset.is_empty() {
            if control.verbose > 0 {
                monitor.message("No factors have been added. Skipping backfit.\n");
            }
            return Ok(Outcome::Finished);
        }
        if control.verbose > 0 {
            monitor.message(&format!(
                "Backfitting {} factors (tolerance: {})...\n",
                control.kset.len(),
                format_e(control.tol, 2)
            ));
        }
        let kset = &control.kset;
        let mut iter = 0;
        let mut conv = f64::INFINITY;
        let mut next_target: Option<f64> = None;
        let mut beta = control.extrapolation.beta_init / control.extrapolation.beta_increase;
        let mut old = self.snapshot();
        let start_elbo = self.state.elbo;
        let mut outcome = Outcome::Finished;
        if let Some(h) = progress::table_header(control.verbose, true) {
            monitor.message(&h);
        }
        while iter < control.maxiter && conv > control.tol {
            if monitor.interrupted() {
                outcome = Outcome::Interrupted;
                break;
            }
            iter += 1;
            let before = self.snapshot();
            let mut rotated = false;
            if control.extrapolate {
                // Propose the extrapolated fit and sweep from it.
                let (factors, precision) = Self::extrapolated(&before, &old, beta);
                // (The first sweep extrapolates from itself: nothing moves.)
                let moved = factors.iter().zip(&before.factors).any(|(a, b)| a.l != b.l || a.f != b.f);
                if moved {
                    self.set_factors(factors, precision);
                }
                self.sweep(kset, solvers, control.warmstart)?;
                if self.state.elbo - before.elbo < control.tol {
                    // Not worth it: back to the current fit, a plain sweep.
                    self.set_factors(before.factors.clone(), before.precision.clone());
                    self.state.elbo = before.elbo;
                    self.sweep(kset, solvers, control.warmstart)?;
                    beta *= control.extrapolation.beta_decrease;
                } else {
                    beta = (beta * control.extrapolation.beta_increase).min(control.extrapolation.beta_max);
                }
                if iter == 1 && control.rotate {
                    rotated = self.try_rotation(kset, solvers, control, monitor)?;
                    if rotated {
                        beta = control.extrapolation.beta_init / control.extrapolation.beta_increase;
                    }
                }
                let diff = self.state.elbo - before.elbo;
                let new: Vec<&Factor> = kset.iter().map(|&k| &self.state.factors[k]).collect();
                let prev: Vec<&Factor> = kset.iter().map(|&k| &before.factors[k]).collect();
                conv = control.conv.value(&new, &prev, diff);
                let chg = progress::max_chg(&new, &prev, [true, true]);
                if let Some(row) = progress::table_row(control.verbose, true, iter, "all", self.state.elbo, diff, chg) {
                    monitor.message(&row);
                }
            } else {
                let changes = self.sequential_sweep(kset, solvers, control.warmstart, control.verbose, control.conv, monitor)?;
                conv = changes.iter().map(|c| c.2).fold(0.0, f64::max);
                for (k, diff, _, chg) in &changes {
                    if let Some(row) = progress::table_row(control.verbose, true, iter, &(k + 1).to_string(), self.state.elbo, *diff, *chg) {
                        monitor.message(&row);
                    }
                }
            }
            // After a rotation the last change is no direction to go on.
            old = if rotated { self.snapshot() } else { before };
            if conv.is_finite() && conv > 0.0 {
                match next_target {
                    None => next_target = Some(10f64.powf(conv.log10().floor())),
                    Some(t) if conv < t => {
                        if control.verbose > 0 && control.verbose < 3 {
                            monitor.message(&format!("  Difference between iterations is within {}...\n", format_e(t, 1)));
                        }
                        next_target = Some(t / 10.0);
                    }
                    _ => {}
                }
            }
        }
        if iter == control.maxiter && control.verbose > 0 {
            monitor.message("  --Maximum number of iterations reached!\n");
        }
        if control.verbose > 1 && self.state.elbo > start_elbo {
            monitor.message(&format!("  Backfit complete. Objective: {:.3} \n", self.state.elbo));
        }
        Ok(outcome)
    }
}
