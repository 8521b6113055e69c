//! Point-exponential prior: `g = pi0 delta_mu + (1 - pi0) (mu + Exp(rate a))`,
//! returned as ebnm's `gammamix` (two shape-1 components with shift `mu`, the
//! first of scale 0).
//!
//! The fitting machinery is shared with the point-Laplace family (see
//! [`super::point_laplace`]): the slab marginal relative to the spike is
//! `b R(b - t)` with `t = (x - mu) / s`, `b = s a` and `R` the Mills ratio,
//! and the posterior of a slab effect is `N(x - s^2 a, s^2)` truncated to
//! `[mu, inf)`. The local false sign rate is the posterior probability of the
//! spike, `1 - P(slab | x)` (reported, as in ebnm, only when the mode is 0).

use super::point_laplace::{fit, lfsr_wanted, posterior, FamilySpec, ReadPrior, Slab, SpikeSlab};
use super::{EbnmError, EbnmFit, EbnmOptions, Prior};

fn read_gammamix(g: &Prior) -> Option<ReadPrior> {
    match g {
        Prior::GammaMix {
            pi,
            shape,
            scale,
            shift,
        } => {
            // ebnm only accepts exponential components (shape 1).
            if shape.iter().any(|&k| (k - 1.0).abs() > 1.5e-8) {
                return None;
            }
            Some((pi.clone(), shift.clone(), scale.clone()))
        }
        _ => None,
    }
}

/// The fitted point-exponential prior as a `gammamix`.
pub fn to_prior(g: SpikeSlab) -> Prior {
    if g.pi0 <= 0.0 {
        Prior::GammaMix {
            pi: vec![1.0],
            shape: vec![1.0],
            scale: vec![1.0 / g.a],
            shift: vec![g.mu],
        }
    } else {
        Prior::GammaMix {
            pi: vec![g.pi0, 1.0 - g.pi0],
            shape: vec![1.0, 1.0],
            scale: vec![0.0, 1.0 / g.a],
            shift: vec![g.mu, g.mu],
        }
    }
}

/// Fit the point-exponential prior (unless `fix_g`) and return the posterior.
pub fn solve(x: &[f64], s: &[f64], opts: &EbnmOptions) -> Result<EbnmFit, EbnmError> {
    if let Some(Prior::GammaMix { shape, .. }) = &opts.g_init {
        if shape.iter().any(|&k| (k - 1.0).abs() > 1.5e-8) {
            return Err("g_init must be of class gammamix with shape parameter = 1".into());
        }
    }
    let spec = FamilySpec {
        kind: Slab::Exponential,
        read: read_gammamix,
        class_name: "gammamix",
    };
    let (g, ll) = fit(&spec, x, s, opts)?;
    let (mean, second_moment, sd, lfsr) = posterior(Slab::Exponential, x, s, g, lfsr_wanted(opts));
    Ok(EbnmFit {
        prior: to_prior(g),
        mean,
        second_moment,
        sd,
        lfsr,
        log_likelihood: ll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebnm::{Mode, Scale};

    #[test]
    fn fix_g_uses_g_init() {
        let g = Prior::GammaMix {
            pi: vec![0.4, 0.6],
            shape: vec![1.0, 1.0],
            scale: vec![0.0, 2.0],
            shift: vec![0.0, 0.0],
        };
        let opts = EbnmOptions {
            g_init: Some(g.clone()),
            fix_g: true,
            ..Default::default()
        };
        let fit = solve(&[1.0, -1.0, 3.0], &[1.0, 1.0, 1.0], &opts).unwrap();
        assert_eq!(fit.prior, g);
        assert!(fit.mean.iter().all(|&m| m >= 0.0));
        assert!(fit.lfsr.is_some());
    }

    #[test]
    fn refuses_other_shapes() {
        let g = Prior::GammaMix {
            pi: vec![1.0],
            shape: vec![2.0],
            scale: vec![1.0],
            shift: vec![0.0],
        };
        let opts = EbnmOptions {
            g_init: Some(g),
            ..Default::default()
        };
        let err = solve(&[1.0], &[1.0], &opts).unwrap_err();
        assert_eq!(
            err.0,
            "g_init must be of class gammamix with shape parameter = 1"
        );
    }

    #[test]
    fn estimates_mode_and_drops_lfsr() {
        let x: Vec<f64> = (0..50)
            .map(|i| 3.0 + (i as f64 * 0.37).sin().abs() * 2.0)
            .collect();
        let s = vec![0.5; 50];
        let opts = EbnmOptions {
            mode: Mode::Estimate,
            ..Default::default()
        };
        let fit = solve(&x, &s, &opts).unwrap();
        assert!(fit.lfsr.is_none());
        let Prior::GammaMix { shift, .. } = &fit.prior else {
            panic!()
        };
        assert!(shift[0] > 3.0 && shift[0] < 4.5, "{:?}", fit.prior);
        // The estimated mode beats any fixed one.
        for m in [3.0, 3.5, 4.0, 4.25] {
            let o = EbnmOptions {
                mode: Mode::Fixed(m),
                ..Default::default()
            };
            assert!(fit.log_likelihood >= solve(&x, &s, &o).unwrap().log_likelihood);
        }
        // Fixed scale is respected.
        let opts = EbnmOptions {
            scale: Scale::Fixed(vec![0.7]),
            ..Default::default()
        };
        let fit = solve(&x, &s, &opts).unwrap();
        let Prior::GammaMix { scale, .. } = &fit.prior else {
            panic!()
        };
        assert!((scale[scale.len() - 1] - 0.7).abs() < 1e-12);
    }
}
