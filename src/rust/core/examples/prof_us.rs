//! Profiling aid: ebnm_unimodal_symmetric on 1e5 points
//! (`cargo run --release --example prof_us -- THREADS [N]`).
use flashierrs_core::ebnm::{mixture_posterior, unimodal, EbnmOptions};
use rand::{RngExt, SeedableRng};

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let n: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    flashierrs_core::data::set_threads(threads);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let x: Vec<f64> = (0..n)
        .map(|i| {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            if i % 10 == 0 { 4.0 * z } else { z }
        })
        .collect();
    let s = vec![1.0; x.len()];
    let opts = EbnmOptions::default();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let fit = unimodal::solve_symmetric(&x, &s, &opts).unwrap();
        let t1 = t.elapsed().as_secs_f64();
        let mix = mixture_posterior::Mixture::from_prior(&fit.prior).unwrap();
        let t = std::time::Instant::now();
        let lik = mixture_posterior::lik_matrix(&mix, &x, &s);
        println!("solve {t1:.3} s, lik_matrix ({} comps) {:.3} s, loglik {:.4}", mix.len(), t.elapsed().as_secs_f64(), fit.log_likelihood);
        drop(lik);
    }
}
