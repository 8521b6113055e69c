//! Greedy fits of the gtex z-scores against flashier 1.0.7's ELBOs.

mod common;

use faer::Mat;
use flashierrs_core::ebnm::PriorFamily;
use flashierrs_core::model::{Fitter, Monitor};

struct Print;
impl Monitor for Print {
    fn message(&mut self, t: &str) {
        if std::env::var("FLASH_DEBUG").is_ok() {
            eprint!("{t}");
        }
    }
}
use flashierrs_core::variance::VarType;

use common::gtex;

fn fit_gtex(y: &Mat<f64>, var_type: VarType, families: [PriorFamily; 2], kmax: usize) -> Fitter<'_> {
    common::greedy_fit(y, var_type, families, kmax, &mut Print)
}

#[test]
fn point_normal_greedy_matches_flashier() {
    let y = gtex();
    let pn = [PriorFamily::PointNormal; 2];
    for (vt, expected) in [
        (VarType::Constant, -83131.69),
        (VarType::ByCol, -80490.27),
        (VarType::ByRow, -80329.12),
    ] {
        let fit = fit_gtex(&y, vt, pn, 5);
        eprintln!(
            "{vt:?}: K = {}, ELBO = {:.4}",
            fit.state.factors.len(),
            fit.state.elbo
        );
        assert_eq!(fit.state.factors.len(), 5);
        assert!(
            (fit.state.elbo - expected).abs() < 0.5,
            "{vt:?}: {} vs {expected}",
            fit.state.elbo
        );
    }
}

/// The ELBO recomputed from its definition for a by-column precision.
fn brute_force_elbo_bycol(y: &Mat<f64>, fit: &Fitter) -> f64 {
    let (n, p) = (y.nrows(), y.ncols());
    let mut elbo = 0.0;
    for j in 0..p {
        let mut r2 = 0.0;
        for i in 0..n {
            let mut fitted = 0.0;
            let mut var = 0.0;
            for fac in &fit.state.factors {
                fitted += fac.l[i] * fac.f[j];
                var += fac.l2[i] * fac.f2[j] - fac.l[i] * fac.l[i] * fac.f[j] * fac.f[j];
            }
            r2 += (y[(i, j)] - fitted).powi(2) + var;
        }
        let tau = n as f64 / r2;
        elbo += -0.5 * n as f64 * ((2.0 * std::f64::consts::PI).ln() - tau.ln() + 1.0);
    }
    elbo + fit
        .state
        .factors
        .iter()
        .map(|f| f.kl[0] + f.kl[1])
        .sum::<f64>()
}

#[test]
fn elbo_matches_its_definition() {
    let y = gtex();
    let fit = fit_gtex(&y, VarType::ByCol, [PriorFamily::PointNormal; 2], 3);
    let bf = brute_force_elbo_bycol(&y, &fit);
    assert!(
        (bf - fit.state.elbo).abs() < 1e-6 * bf.abs(),
        "{bf} vs {}",
        fit.state.elbo
    );
}
