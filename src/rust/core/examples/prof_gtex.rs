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
    // FAM=nsm, us or npmle: that prior family instead of point-normal.
    let fam = match std::env::var("FAM").as_deref() {
        Ok("nsm") => PriorFamily::NormalScaleMixture,
        Ok("us") => PriorFamily::UnimodalSymmetric,
        Ok("npmle") => PriorFamily::Npmle,
        _ => PriorFamily::PointNormal,
    };
    if std::env::var("FLASH_DEBUG").is_ok() { common::greedy_fit(&y, vt, [fam; 2], 5, &mut Print); return; }
    let t = std::time::Instant::now();
    let mut elbo = 0.0;
    for _ in 0..reps {
        let fit = common::greedy_fit(&y, vt, [fam; 2], 5, &mut Silent);
        elbo = fit.state.elbo;
    }
    println!("{:.3} ms per fit, ELBO {elbo:.4}", t.elapsed().as_secs_f64() * 1e3 / reps as f64);
}
