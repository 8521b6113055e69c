//! Profiling aid: a simulated 2000 x 500 rank-8 greedy fit plus backfit
//! (`cargo run --release --example prof_mid -- REPS THREADS`).
use flashierrs_core::ebnm::{BuiltinSolver, EbnmOptions, EbnmSolver, PriorFamily};
use flashierrs_core::variance::VarType;
use rand::{RngExt, SeedableRng};

/// Prints the fit's progress messages (`VERB=` sets the verbosity).
struct Print;
impl flashierrs_core::model::Monitor for Print {
    fn message(&mut self, text: &str) {
        eprint!("{text}");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let reps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    flashierrs_core::data::set_threads(threads);
    // N=, P=, K= change the size and rank; NOBACKFIT=1 stops after the greedy fit;
    // EXTRAP=1 turns on greedy extrapolation; VERB= prints progress.
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (n, p, k) = (env("N", 2000), env("P", 500), env("K", 8));
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let normal = |rng: &mut rand::rngs::StdRng| -> f64 { rng.sample(rand_distr::StandardNormal) };
    let l: Vec<f64> = (0..n * k).map(|_| if rng.random::<f64>() < 0.3 { normal(&mut rng) } else { 0.0 }).collect();
    let f: Vec<f64> = (0..p * k).map(|_| normal(&mut rng)).collect();
    let y = faer::Mat::from_fn(n, p, |i, j| (0..k).map(|c| l[c * n + i] * f[c * p + j]).sum::<f64>() + normal(&mut rng));
    let pn = BuiltinSolver { family: PriorFamily::PointNormal, options: EbnmOptions::default() };
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let data = flashierrs_core::data::DenseData::new(y.as_ref());
        let mut fit = flashierrs_core::model::Fitter::new(data, vec![], VarType::Constant);
        let mut control = flashierrs_core::model::GreedyControl::flashier_defaults(n, p, 15);
        control.extrapolate = std::env::var("EXTRAP").is_ok();
        control.verbose = env("VERB", 0) as i32;
        let envf = |name: &str, default: f64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        control.extrapolation.beta_init = envf("BINIT", control.extrapolation.beta_init);
        control.extrapolation.beta_max = envf("BMAX", control.extrapolation.beta_max);
        control.extrapolation.beta_increase = envf("BINC", control.extrapolation.beta_increase);
        control.extrapolation.beta_decrease = envf("BDEC", control.extrapolation.beta_decrease);
        let u: Vec<f64> = (0..n).map(|i| ((i * 7919 % 1000) as f64 / 500.0 - 1.0) / (n as f64).sqrt()).collect();
        let v: Vec<f64> = (0..p).map(|j| ((j * 104729 % 1000) as f64 / 500.0 - 1.0) / (p as f64).sqrt()).collect();
        fit.greedy(&[[&pn as &dyn EbnmSolver, &pn]], &control, (&u, &v), &mut Print).unwrap();
        let t1 = t.elapsed().as_secs_f64();
        let kk = fit.state.factors.len();
        if std::env::var("NOBACKFIT").is_ok() {
            println!("greedy {t1:.3} s, K = {kk}, ELBO {:.2}", fit.state.elbo);
            continue;
        }
        let solvers: Vec<[&dyn EbnmSolver; 2]> = vec![[&pn, &pn]; kk];
        let mut control = flashierrs_core::model::BackfitControl::flashier_defaults(kk, n, p);
        control.verbose = env("VERB", 0) as i32;
        fit.backfit(&solvers, &control, &mut Print).unwrap();
        println!("greedy {t1:.3} s, total {:.3} s, K = {kk}, ELBO {:.2}", t.elapsed().as_secs_f64(), fit.state.elbo);
    }
}
