//! ebnm_point_normal against ebnm 1.1-2's answers on the reference cases.

mod common;

use flashierrs_core::ebnm::{ebnm, EbnmOptions, PriorFamily};

#[test]
fn point_normal_matches_ebnm_reference() {
    let cases = common::cases_for("point_normal");
    assert_eq!(cases.len(), 7, "expected 7 point-normal reference cases");
    for c in cases {
        let fit = ebnm(
            PriorFamily::PointNormal,
            &c.x,
            &c.s,
            &EbnmOptions::default(),
        )
        .unwrap_or_else(|e| panic!("case {}: {e}", c.case));
        // Our optimiser converges further than ebnm's, so its optimum may be
        // a hair higher; never lower.
        assert!(
            fit.log_likelihood >= c.loglik - 1e-8 * c.loglik.abs(),
            "case {}",
            c.case
        );
        let rel = (fit.log_likelihood - c.loglik).abs() / c.loglik.abs();
        assert!(
            rel < 1e-6,
            "case {}: loglik {} vs {}",
            c.case,
            fit.log_likelihood,
            c.loglik
        );
        for i in 0..c.x.len() {
            assert!(
                (fit.mean[i] - c.mean[i]).abs() < 1e-5,
                "case {} mean[{i}]: {} vs {}",
                c.case,
                fit.mean[i],
                c.mean[i]
            );
            assert!(
                (fit.sd[i] - c.sd[i]).abs() < 1e-5,
                "case {} sd[{i}]: {} vs {}",
                c.case,
                fit.sd[i],
                c.sd[i]
            );
            assert!(
                (fit.second_moment[i] - c.second_moment[i]).abs()
                    < 1e-5 * c.second_moment[i].abs().max(1.0),
                "case {} second_moment[{i}]: {} vs {}",
                c.case,
                fit.second_moment[i],
                c.second_moment[i]
            );
        }
    }
}
