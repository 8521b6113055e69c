//! flashier's default greedy initialisation: alternating least squares for
//! the best rank-one approximation `u v'` of the current residuals (missing
//! entries skipped), with optional sign constraints, from a fixed random start.

use super::Fitter;

/// Settings of the initialisation.
#[derive(Clone, Debug)]
pub struct InitControl {
    pub maxiter: usize,
    /// Stop when the largest change in the L2-normalised vectors is at most
    /// this (flashier: `1 / max(n, p)`).
    pub tol: f64,
}

fn normalized(v: &[f64]) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

fn max_abs_change(new: &[&[f64]; 2], old: &[&[f64]; 2]) -> f64 {
    let mut m: f64 = 0.0;
    for d in 0..2 {
        let a = normalized(new[d]);
        let b = normalized(old[d]);
        for (x, y) in a.iter().zip(&b) {
            m = m.max((x - y).abs());
        }
    }
    m
}

/// Initial loadings and factor for a new greedy factor. `start` holds the
/// random starting vectors (flashier draws `rnorm(n) / sqrt(n)` and
/// `rnorm(p) / sqrt(p)` after `set.seed(666)`); `signs` are +1 (nonnegative),
/// -1 (nonpositive) or 0 per dimension. Returns zeros when no nonzero
/// rank-one approximation satisfies the constraints.
pub fn greedy_init(
    fitter: &Fitter,
    start: (&[f64], &[f64]),
    signs: [i8; 2],
    control: &InitControl,
) -> (Vec<f64>, Vec<f64>) {
    let mut ef = [start.0.to_vec(), start.1.to_vec()];
    for d in 0..2 {
        match signs[d] {
            1 => ef[d].iter_mut().for_each(|v| *v = v.abs()),
            -1 => ef[d].iter_mut().for_each(|v| *v = -v.abs()),
            _ => {}
        }
    }
    // Unconstrained dimensions first, sign-constrained ones last.
    let order: Vec<usize> = {
        let mut o: Vec<usize> = (0..2).filter(|&d| signs[d] == 0).collect();
        o.extend((0..2).filter(|&d| signs[d] != 0));
        o
    };
    let mut iter = 0;
    let mut change = f64::INFINITY;
    while change > control.tol && iter < control.maxiter {
        iter += 1;
        let old = ef.clone();
        for &d in &order {
            let other = &ef[1 - d];
            let sq: Vec<f64> = other.iter().map(|v| v * v).collect();
            let num = fitter.r_prod(d, other);
            let den = fitter.z_prod(d, &sq);
            let mut vals: Vec<f64> = num
                .iter()
                .zip(&den)
                .map(|(a, b)| {
                    let v = a / b;
                    if v.is_finite() {
                        v
                    } else {
                        0.0
                    }
                })
                .collect();
            match signs[d] {
                1 => vals.iter_mut().for_each(|v| *v = v.max(0.0)),
                -1 => vals.iter_mut().for_each(|v| *v = v.min(0.0)),
                _ => {}
            }
            ef[d] = vals;
        }
        change = max_abs_change(&[&ef[0], &ef[1]], &[&old[0], &old[1]]);
    }
    // Balance the two norms.
    let norms: Vec<f64> = ef
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    if norms.iter().all(|&n| n > 0.0) {
        let target = (norms[0] * norms[1]).sqrt();
        for d in 0..2 {
            let scale = target / norms[d];
            ef[d].iter_mut().for_each(|v| *v *= scale);
        }
    } else {
        for v in ef.iter_mut() {
            v.iter_mut().for_each(|x| *x = 0.0);
        }
    }
    let [l, f] = ef;
    (l, f)
}
