//! Profiling aid: repeat the gtex greedy fit (`cargo run --release --example prof_gtex -- REPS`).
#[path = "../tests/common/mod.rs"]
mod common;
use flashierrs_core::ebnm::PriorFamily;
use flashierrs_core::model::{Monitor, Silent};
struct Print;
impl Monitor for Print { fn message(&mut self, t: &str) { eprint!("{t}"); } }
use flashierrs_core::variance::VarType;

fn main() {
    let reps: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let y = common::gtex();
    let vt = match std::env::var("VT").as_deref() {
        Ok("1") => VarType::ByRow,
        Ok("2") => VarType::ByCol,
        Ok("12") => VarType::Kronecker,
        _ => VarType::Constant,
    };
    // FAM=nsm, us, npmle or pnpe: those prior families (loadings, factors)
    // instead of point-normal.
    let fams = match std::env::var("FAM").as_deref() {
        Ok("nsm") => [PriorFamily::NormalScaleMixture; 2],
        Ok("us") => [PriorFamily::UnimodalSymmetric; 2],
        Ok("npmle") => [PriorFamily::Npmle; 2],
        Ok("pnpe") => [PriorFamily::PointNormal, PriorFamily::PointExponential],
        _ => [PriorFamily::PointNormal; 2],
    };
    // KMAX=k: greedy_Kmax; BACKFIT=1: a backfit after the greedy fit.
    let kmax: usize = std::env::var("KMAX").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let backfit = std::env::var("BACKFIT").is_ok();
    if std::env::var("FLASH_DEBUG").is_ok() { common::greedy_fit(&y, vt, fams, kmax, &mut Print); return; }
    let t = std::time::Instant::now();
    let mut elbo = 0.0;
    for _ in 0..reps {
        let mut fit = common::greedy_fit(&y, vt, fams, kmax, &mut Silent);
        if backfit {
            use flashierrs_core::ebnm::{BuiltinSolver, EbnmOptions, EbnmSolver};
            let s0 = BuiltinSolver { family: fams[0], options: EbnmOptions::default() };
            let s1 = BuiltinSolver { family: fams[1], options: EbnmOptions::default() };
            let k = fit.state.factors.len();
            let solvers: Vec<[&dyn EbnmSolver; 2]> = vec![[&s0, &s1]; k];
            let control = flashierrs_core::model::BackfitControl::flashier_defaults(k, y.nrows(), y.ncols());
            fit.backfit(&solvers, &control, &mut Silent).unwrap();
        }
        elbo = fit.state.elbo;
    }
    println!("{:.3} ms per fit, ELBO {elbo:.4}", t.elapsed().as_secs_f64() * 1e3 / reps as f64);
}
