//! A small damped-Newton maximiser for the few-parameter likelihoods of the
//! parametric prior families. The caller supplies the objective, gradient and
//! Hessian; steps are Levenberg-Marquardt damped until the objective rises,
//! so the iteration never moves downhill and never leaves finite values.

/// Objective, gradient and Hessian at a point; `None` where undefined.
pub type Evaluation = Option<(f64, Vec<f64>, Vec<f64>)>;

/// Settings for [`maximize`].
#[derive(Clone, Copy, Debug)]
pub struct NewtonControl {
    pub max_iter: usize,
    /// Stop when the largest absolute gradient entry falls below this.
    pub grad_tol: f64,
    /// Stop when an accepted step raises the objective by less than this
    /// (relative to `1 + |f|`).
    pub rel_tol: f64,
    /// A co-ordinate whose optimum may lie at minus infinity (a weight's
    /// logit going to zero): when the steps creep that way, [`maximize`]
    /// tries many steps' worth of it at once.
    pub creep_coordinate: Option<usize>,
}

impl Default for NewtonControl {
    fn default() -> Self {
        NewtonControl {
            max_iter: 200,
            grad_tol: 1e-10,
            rel_tol: 1e-15,
            creep_coordinate: None,
        }
    }
}

/// Solve the symmetric system `A d = b` (row-major `A`, tiny `k`) by Gaussian
/// elimination with partial pivoting; `None` if singular.
fn solve_small(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut m = a.to_vec();
    let mut rhs = b.to_vec();
    for col in 0..k {
        let piv =
            (col..k).max_by(|&i, &j| m[i * k + col].abs().total_cmp(&m[j * k + col].abs()))?;
        if m[piv * k + col].abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for j in 0..k {
                m.swap(piv * k + j, col * k + j);
            }
            rhs.swap(piv, col);
        }
        for row in col + 1..k {
            let factor = m[row * k + col] / m[col * k + col];
            for j in col..k {
                m[row * k + j] -= factor * m[col * k + j];
            }
            rhs[row] -= factor * rhs[col];
        }
    }
    let mut d = vec![0.0; k];
    for row in (0..k).rev() {
        let mut acc = rhs[row];
        for j in row + 1..k {
            acc -= m[row * k + j] * d[j];
        }
        d[row] = acc / m[row * k + row];
    }
    if d.iter().all(|v| v.is_finite()) {
        Some(d)
    } else {
        None
    }
}

/// How many Newton steps' worth [`maximize`] takes at once along a creep.
const CREEP_JUMP: f64 = 16.0;

/// Two full Newton steps that look like a creep of co-ordinate `i`
/// towards minus infinity: about the same step (length 0.5-2, same
/// direction, mostly along `i`, downwards) and the second gaining between a
/// fifth and 0.6 of the first (an objective `f_inf - c exp(t)` gains a
/// factor e less per unit step). Near an ordinary optimum Newton's gains
/// fall far faster than that.
fn creeping(last_gain: f64, last_d: &[f64], gain: f64, d: &[f64], i: usize) -> bool {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (a, b) = (norm(last_d), norm(d));
    let cos = last_d.iter().zip(d).map(|(x, y)| x * y).sum::<f64>() / (a * b);
    let ratio = gain / last_gain;
    last_gain > 0.0
        && (0.5..=2.0).contains(&b)
        && (0.5..=2.0).contains(&a)
        && cos > 0.99
        && d[i] < -0.9 * b
        && (0.2..=0.6).contains(&ratio)
}

/// Maximise `f` from `start`. `eval(theta)` returns the objective, gradient
/// and row-major Hessian. Returns the best point found and its objective.
pub fn maximize<F>(start: &[f64], control: NewtonControl, mut eval: F) -> (Vec<f64>, f64)
where
    F: FnMut(&[f64]) -> Evaluation,
{
    let k = start.len();
    let mut theta = start.to_vec();
    let Some((mut f, mut g, mut h)) = eval(&theta) else {
        return (theta, f64::NEG_INFINITY);
    };
    let mut lambda = 0.0_f64;
    // The last full Newton step (gain, direction), for spotting a creep.
    let mut last_full: Option<(f64, Vec<f64>)> = None;
    'outer: for _ in 0..control.max_iter {
        if g.iter().all(|v| v.abs() < control.grad_tol) {
            break;
        }
        let mut accepted = false;
        // Try the Newton step, damping it (towards gradient ascent) until it
        // is an ascent step that raises f.
        for _ in 0..60 {
            // Solve (-H + lambda * D) d = g, with D = max(|diag H|, 1).
            let mut a: Vec<f64> = h.iter().map(|v| -v).collect();
            for i in 0..k {
                a[i * k + i] += lambda * h[i * k + i].abs().max(1.0);
            }
            let step = solve_small(&a, &g, k);
            let ok_dir = step
                .as_ref()
                .map(|d| d.iter().zip(&g).map(|(di, gi)| di * gi).sum::<f64>() > 0.0)
                .unwrap_or(false);
            if let (true, Some(d)) = (ok_dir, step) {
                // At the optimum to working precision the model's predicted
                // gain (g'd / 2 for a Newton step) is below the rounding
                // noise of f, a sum over many observations: stop rather than
                // damp a step that rounding makes look downhill.
                let predicted = 0.5 * d.iter().zip(&g).map(|(di, gi)| di * gi).sum::<f64>();
                let noise = 1e-13 * (1.0 + f.abs());
                if lambda == 0.0 && predicted <= noise {
                    break 'outer;
                }
                // Cap huge steps in the transformed parameters.
                let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
                let cap = if norm > 10.0 { 10.0 / norm } else { 1.0 };
                let cand: Vec<f64> = theta.iter().zip(&d).map(|(t, di)| t + cap * di).collect();
                if let Some((fc, gc, hc)) = eval(&cand) {
                    if fc.is_finite() && fc < f && f - fc <= noise && predicted <= 1e3 * noise {
                        // A step that is a wash to rounding: converged.
                        break 'outer;
                    }
                    if fc.is_finite() && fc >= f {
                        let gain = fc - f;
                        let full = lambda == 0.0 && cap == 1.0;
                        theta = cand;
                        f = fc;
                        g = gc;
                        h = hc;
                        if full {
                            let mut jumped = false;
                            if let (Some((last_gain, last_d)), Some(i)) = (&last_full, control.creep_coordinate) {
                                if creeping(*last_gain, last_d, gain, &d, i) {
                                    // Towards an optimum at minus infinity (as
                                    // pi0 -> 0 in logit terms) each step gains a
                                    // fixed fraction of the last: take many
                                    // steps' worth at once along that
                                    // co-ordinate, kept only if it does not lose.
                                    let mut far = theta.clone();
                                    far[i] += CREEP_JUMP * d[i];
                                    if let Some((ff, gf, hf)) = eval(&far) {
                                        if ff.is_finite() && ff >= f {
                                            theta = far;
                                            f = ff;
                                            g = gf;
                                            h = hf;
                                            jumped = true;
                                        }
                                    }
                                }
                            }
                            last_full = if jumped { None } else { Some((gain, d.clone())) };
                        } else {
                            last_full = None;
                        }
                        lambda = if lambda > 0.0 { lambda / 10.0 } else { 0.0 };
                        if lambda < 1e-12 {
                            lambda = 0.0;
                        }
                        accepted = true;
                        // A full step that no longer changes f (to the
                        // precision of a sum over many observations) means
                        // the optimum is reached: the gradient's own noise
                        // grows with the number of terms, so an absolute
                        // gradient test alone would spin on large inputs.
                        if gain <= control.rel_tol * (1.0 + f.abs())
                            && (lambda == 0.0 || g.iter().all(|v| v.abs() < 1e-6))
                        {
                            break 'outer;
                        }
                        break;
                    }
                }
            }
            lambda = if lambda == 0.0 { 1e-6 } else { lambda * 10.0 };
        }
        if !accepted {
            break;
        }
    }
    (theta, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_maximum_of_concave_quadratic() {
        // f = -(x - 1)^2 - 2 (y + 3)^2 + x y / 2
        let (theta, _) = maximize(&[10.0, 10.0], NewtonControl::default(), |t| {
            let (x, y) = (t[0], t[1]);
            let f = -(x - 1.0).powi(2) - 2.0 * (y + 3.0).powi(2) + 0.5 * x * y;
            let g = vec![-2.0 * (x - 1.0) + 0.5 * y, -4.0 * (y + 3.0) + 0.5 * x];
            let h = vec![-2.0, 0.5, 0.5, -4.0];
            Some((f, g, h))
        });
        // Stationary point: -2x + 2 + y/2 = 0, -4y - 12 + x/2 = 0.
        let y = (-12.0 + 0.5) / (4.0 - 0.125);
        let x = 1.0 + y / 4.0;
        assert!((theta[0] - x).abs() < 1e-9 && (theta[1] - y).abs() < 1e-9);
    }

    #[test]
    fn stops_at_the_optimum_of_a_noisy_sum() {
        // A huge sum whose rounding makes every step at the optimum look
        // downhill: the maximiser must stop after few evaluations.
        let mut calls = 0;
        let n = 1e6;
        let (theta, _) = maximize(&[3.0], NewtonControl::default(), |t| {
            calls += 1;
            let x = t[0];
            // f = -n (x - 1)^2 + noise of relative size 1e-16.
            let noise = if calls % 2 == 0 { 1e-10 } else { -1e-10 };
            Some((-n * (x - 1.0).powi(2) + 1e6 + noise, vec![-2.0 * n * (x - 1.0)], vec![-2.0 * n]))
        });
        assert!((theta[0] - 1.0).abs() < 1e-8);
        assert!(calls < 10, "{calls} evaluations");
    }

    #[test]
    fn an_optimum_at_infinity_is_reached_in_few_evaluations() {
        // f = -c exp(a) - (b - 1)^2: sup as a -> -inf. Newton creeps in a
        // by -1 per step, each step gaining a factor e less; without the
        // long steps it needs 20 evaluations.
        let c = 1e-2;
        let mut calls = 0;
        let control = NewtonControl { creep_coordinate: Some(0), ..NewtonControl::default() };
        let (theta, f) = maximize(&[0.0, 0.0], control, |t| {
            calls += 1;
            let (a, b) = (t[0], t[1]);
            let e = c * a.exp();
            Some((-e - (b - 1.0).powi(2), vec![-e, -2.0 * (b - 1.0)], vec![-e, 0.0, 0.0, -2.0]))
        });
        assert!(calls <= 12, "{calls} evaluations");
        // As far as plain Newton steps go: a gradient below 1e-10.
        assert!(c * theta[0].exp() < 1e-10 && (theta[1] - 1.0).abs() < 1e-12, "{theta:?}");
        assert!(f > -1e-10 && f <= 0.0);
    }

    #[test]
    fn handles_nonconcave_start() {
        // f = -x^4 + x^2 has maxima at +-1/sqrt(2); start near the minimum at 0.
        let (theta, f) = maximize(&[0.01], NewtonControl::default(), |t| {
            let x = t[0];
            Some((
                -x.powi(4) + x * x,
                vec![-4.0 * x.powi(3) + 2.0 * x],
                vec![-12.0 * x * x + 2.0],
            ))
        });
        assert!((theta[0].abs() - 0.5f64.sqrt()).abs() < 1e-8);
        assert!((f - 0.25).abs() < 1e-12);
    }
}
