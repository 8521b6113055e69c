//! Reading `ebnm_reference.csv`: ebnm 1.1-2's answers on fixed normal-means
//! cases, kept in `../shared/data/` beside the repository (or wherever the
//! `FLASHIERRS_SHARED_DATA` environment variable points).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One (case, family) problem with ebnm's answers.
#[derive(Debug, Clone)]
pub struct RefCase {
    pub case: String,
    /// ebnm's function name without the `ebnm_` prefix, e.g. `point_normal`.
    pub family: String,
    pub x: Vec<f64>,
    pub s: Vec<f64>,
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    pub second_moment: Vec<f64>,
    pub loglik: f64,
    /// ebnm's error message when it refused the case.
    pub error: Option<String>,
}

pub fn shared_data_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FLASHIERRS_SHARED_DATA") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/data")
}

fn parse_num(field: &str) -> f64 {
    match field {
        "NA" | "" => f64::NAN,
        "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad number {v:?}")),
    }
}

/// Split one CSV line, honouring double quotes (no embedded newlines).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Every case of the reference file, grouped by (case, family).
pub fn load_reference() -> Vec<RefCase> {
    let path = shared_data_dir().join("ebnm_reference.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut groups: BTreeMap<(String, String), RefCase> = BTreeMap::new();
    for line in text.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv(line);
        assert_eq!(f.len(), 10, "unexpected line {line:?}");
        let family = f[1].trim_start_matches("ebnm_").to_string();
        let key = (f[0].clone(), family.clone());
        let entry = groups.entry(key).or_insert_with(|| RefCase {
            case: f[0].clone(),
            family,
            x: vec![],
            s: vec![],
            mean: vec![],
            sd: vec![],
            second_moment: vec![],
            loglik: parse_num(&f[8]),
            error: if f[9].is_empty() {
                None
            } else {
                Some(f[9].clone())
            },
        });
        entry.x.push(parse_num(&f[3]));
        entry.s.push(parse_num(&f[4]));
        entry.mean.push(parse_num(&f[5]));
        entry.sd.push(parse_num(&f[6]));
        entry.second_moment.push(parse_num(&f[7]));
    }
    // Where ebnm refused a case the file holds no data for it: take the
    // case's x and s from the point-normal rows, which every case has.
    let mut cases: Vec<RefCase> = groups.into_values().collect();
    let data: BTreeMap<String, (Vec<f64>, Vec<f64>)> = cases
        .iter()
        .filter(|c| c.family == "point_normal")
        .map(|c| (c.case.clone(), (c.x.clone(), c.s.clone())))
        .collect();
    for c in cases.iter_mut() {
        if c.error.is_some() {
            if let Some((x, s)) = data.get(&c.case) {
                c.x = x.clone();
                c.s = s.clone();
            }
        }
    }
    cases
}

/// The cases of one family (name without the `ebnm_` prefix).
pub fn cases_for(family: &str) -> Vec<RefCase> {
    load_reference()
        .into_iter()
        .filter(|c| c.family == family)
        .collect()
}

/// The gtex matrix (1000 x 44) from `gtex.csv` in the shared data folder.
pub fn gtex() -> faer::Mat<f64> {
    let path = shared_data_dir().join("gtex.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect();
    faer::Mat::from_fn(rows.len(), rows[0].len(), |i, j| rows[i][j])
}

/// flashier's random start for the greedy initialisation on a 1000 x 44
/// matrix: `set.seed(666); c(rnorm(1000) / sqrt(1000), rnorm(44) / sqrt(44))`,
/// written by R 4.2.2 to `fixtures/r_seed666_init_1000x44.txt`. The greedy
/// fit of gtex's fifth factor depends on this start.
pub fn r_start() -> (Vec<f64>, Vec<f64>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/r_seed666_init_1000x44.txt");
    let v: Vec<f64> = std::fs::read_to_string(path).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(v.len(), 1044);
    (v[..1000].to_vec(), v[1000..].to_vec())
}

/// flash()'s greedy fit and nullcheck of `y` with flashier's defaults and
/// random start, one built-in family for loadings and one for factors.
pub fn greedy_fit<'a>(
    y: &'a faer::Mat<f64>,
    var_type: flashierrs_core::variance::VarType,
    families: [flashierrs_core::ebnm::PriorFamily; 2],
    kmax: usize,
    monitor: &mut dyn flashierrs_core::model::Monitor,
) -> flashierrs_core::model::Fitter<'a> {
    use flashierrs_core::ebnm::{BuiltinSolver, EbnmOptions, EbnmSolver};
    use flashierrs_core::model::{default_tol, GreedyControl, Silent};
    let data = flashierrs_core::data::DenseData::new(y.as_ref());
    let (n, p) = (data.nrows(), data.ncols());
    let mut fitter = flashierrs_core::model::Fitter::new(data, vec![], var_type);
    let s0 = BuiltinSolver { family: families[0], options: EbnmOptions::default() };
    let s1 = BuiltinSolver { family: families[1], options: EbnmOptions::default() };
    let solvers: [&dyn EbnmSolver; 2] = [&s0, &s1];
    let mut control = GreedyControl::flashier_defaults(n, p, kmax);
    control.verbose = 3;
    let (u, v) = r_start();
    fitter.greedy(&[solvers], &control, (&u, &v), monitor).unwrap();
    fitter.nullcheck(default_tol(n, p), 0, &mut Silent);
    fitter
}
