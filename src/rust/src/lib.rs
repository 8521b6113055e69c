//! R bindings of flashierrs: the only place that knows about R.
//!
//! Everything numerical lives in the `flashierrs-core` crate; this crate
//! converts between R objects and Rust values, calls R back for user-written
//! EBNM functions, and turns Rust errors (and, as a last resort, panics) into
//! R errors.

mod bridge;
mod convert;

use bridge::{solver_from_r, RMonitor, Solver};
use convert::{ebnm_fit_to_r, factors_from_r, factors_to_r, field, list_of, matrix_from_cols, real_vec};
use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use faer::MatRef;
use flashierrs_core::data::DenseData;
use flashierrs_core::ebnm::{ebnm, EbnmOptions, EbnmSolver, PriorFamily};
use flashierrs_core::model::{BackfitControl, ConvCrit, Extrapolation, Fitter, GreedyControl, Held, InitControl, Outcome};
use flashierrs_core::variance::VarType;

/// Liveness check of the compiled library: always 42.
/// @keywords internal
/// @noRd
#[extendr]
fn rust_ping() -> i32 {
    42
}

/// Version of the Rust glue crate (which is released in step with the core).
/// @keywords internal
/// @noRd
#[extendr]
fn rust_core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Panics on purpose, to show that a Rust panic reaches R as an R error
/// (extendr catches the unwind at the boundary) instead of aborting R.
/// @keywords internal
/// @noRd
#[extendr]
fn rust_panic_test() -> i32 {
    panic!("rust_panic_test: deliberate panic inside Rust")
}

/// Set the number of threads the core uses for products with the data.
/// @keywords internal
/// @noRd
#[extendr]
fn set_threads_rs(n: i32) {
    flashierrs_core::data::set_threads(n.max(1) as usize);
}

/// Seconds taken by `passes` products of the dense matrix `y` with a vector
/// (alternately `y v` and `y' u`), the memory traffic that a backfit sweep
/// over K factors cannot avoid when `passes = 2K` (for bench/run.R).
/// @keywords internal
/// @noRd
#[extendr]
fn stream_rs(y: Robj, passes: i32) -> Robj {
    let Ok((view, n, p)) = data_view(&y) else {
        return error_value(err("stream_rs needs a double matrix"));
    };
    let data = DenseData::new(view);
    let resid = flashierrs_core::data::DenseResidual::new(&data, &[], &[]);
    let (v, u) = (vec![1.0; p], vec![1.0; n]);
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; p]);
    let start = std::time::Instant::now();
    for k in 0..passes.max(0) {
        if k % 2 == 0 {
            resid.times(&v, &mut a);
        } else {
            resid.t_times(&u, &mut b);
        }
    }
    r!(start.elapsed().as_secs_f64())
}

/// One pass over a double vector or matrix (`nrow` rows) without copying
/// it: whether it holds NaN (not NA), infinite values or NA, its largest
/// absolute finite value, and (for a matrix with NA) the 1-based indices of
/// the rows and columns with no observed value.
/// @keywords internal
/// @noRd
#[extendr]
fn scan_data_rs(x: Robj, nrow: i32) -> Robj {
    let Some(v) = x.as_real_slice() else {
        return error_value(err("scan_data_rs needs a double vector"));
    };
    // R's NA_real_ is a NaN whose low word is 1954.
    let is_na = |y: f64| y.is_nan() && (y.to_bits() & 0xFFFF_FFFF) == 1954;
    let (mut nan, mut inf, mut na, mut max_abs) = (false, false, false, 0.0f64);
    for &y in v {
        if y.is_nan() {
            if is_na(y) {
                na = true;
            } else {
                nan = true;
            }
        } else if y.is_infinite() {
            inf = true;
        } else if y.abs() > max_abs {
            max_abs = y.abs();
        }
    }
    let (mut empty_rows, mut empty_cols) = (Vec::<i32>::new(), Vec::<i32>::new());
    let n = nrow.max(1) as usize;
    if na && nrow > 1 && v.len() % n == 0 {
        let p = v.len() / n;
        let mut row_obs = vec![false; n];
        for j in 0..p {
            let col = &v[j * n..(j + 1) * n];
            let mut any = false;
            for (i, &y) in col.iter().enumerate() {
                if !y.is_nan() {
                    row_obs[i] = true;
                    any = true;
                }
            }
            if !any {
                empty_cols.push(j as i32 + 1);
            }
        }
        empty_rows = row_obs.iter().enumerate().filter(|(_, o)| !**o).map(|(i, _)| i as i32 + 1).collect();
    }
    list_of(vec![
        ("nan", r!(nan)),
        ("inf", r!(inf)),
        ("na", r!(na)),
        ("max_abs", r!(max_abs)),
        ("empty_rows", r!(empty_rows)),
        ("empty_cols", r!(empty_cols)),
    ])
}

/// Panics inside Rust reach R as ordinary errors (extendr catches the
/// unwind); the default hook would also print a backtrace to the console.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

/// A failure as an R value: `list(message = ...)` of class
/// `flashierrs_error`.
fn error_value(e: Error) -> Robj {
    let msg = match e {
        Error::Other(m) => m,
        other => other.to_string(),
    };
    let mut robj = list_of(vec![("message", r!(msg))]);
    robj.set_class(["flashierrs_error"]).expect("class can be set");
    robj
}

fn err(msg: impl Into<String>) -> Error {
    Error::Other(msg.into())
}

/// Solve one EBNM problem with a built-in family.
/// @keywords internal
/// @noRd
fn ebnm_rs_impl(family: &str, x: Robj, s: Robj, mode: Robj, scale: Robj, g_init: Robj, fix_g: bool) -> Result<Robj> {
    let family = PriorFamily::from_name(family).ok_or_else(|| err(format!("unknown prior family '{family}'")))?;
    let x = real_vec(&x, "x")?;
    let mut s = real_vec(&s, "s")?;
    if s.len() == 1 && x.len() > 1 {
        s = vec![s[0]; x.len()];
    }
    let g = convert::prior_from_r(&g_init)?;
    if fix_g && g.is_none() {
        return Err(err("g_init must be supplied when fix_g = TRUE"));
    }
    let opts = EbnmOptions {
        mode: convert::mode_from_r(&mode)?,
        scale: convert::scale_from_r(&scale)?,
        g_init: g,
        fix_g,
        compute_lfsr: true,
        prior_start: None,
    };
    let fit = ebnm(family, &x, &s, &opts).map_err(|e| err(e.0))?;
    Ok(ebnm_fit_to_r(&fit))
}

/// `nsamp` draws from the posterior of each `theta_i` under the prior `g`
/// (an nsamp x n matrix, as ebnm's samplers return), using R's RNG.
/// @keywords internal
/// @noRd
fn ebnm_sample_rs_impl(g: Robj, x: Robj, s: Robj, nsamp: i32) -> Result<Robj> {
    let g = convert::prior_from_r(&g)?.ok_or_else(|| err("g must be a fitted prior"))?;
    let x = real_vec(&x, "x")?;
    let s = real_vec(&s, "s")?;
    let nsamp = nsamp.max(0) as usize;
    let n = x.len();
    let mut out = vec![0.0; nsamp * n];
    bridge::with_r_rng(|unif| {
        for i in 0..n {
            for d in 0..nsamp {
                out[i * nsamp + d] = flashierrs_core::ebnm::sample::sample_posterior(&g, x[i], s[i], unif);
            }
        }
    });
    let mut robj: Robj = r!(out);
    robj.set_attrib("dim", r!([nsamp as i32, n as i32]))?;
    Ok(robj)
}

/// The data matrix as a view over R's memory (no copy).
fn data_view(y: &Robj) -> Result<(MatRef<'_, f64>, usize, usize)> {
    let dim = y.get_attrib("dim").and_then(|d| d.as_integer_vector()).ok_or_else(|| err("data must be a matrix"))?;
    if dim.len() != 2 {
        return Err(err("data must be a matrix"));
    }
    let (n, p) = (dim[0] as usize, dim[1] as usize);
    let slice = y.as_real_slice().ok_or_else(|| err("data must be a double matrix"))?;
    Ok((MatRef::from_column_major_slice(slice, n, p), n, p))
}

fn as_usize(x: Robj, what: &str) -> Result<usize> {
    let v = x.as_real().or_else(|| x.as_integer().map(|i| i as f64)).ok_or_else(|| err(format!("{what} must be a number")))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(err(format!("{what} must be a nonnegative whole number")));
    }
    Ok(v as usize)
}

fn as_f64(x: Robj, what: &str) -> Result<f64> {
    x.as_real().or_else(|| x.as_integer().map(|i| i as f64)).ok_or_else(|| err(format!("{what} must be a number")))
}

/// The convergence criterion (`args$conv_crit`: 0 ELBO difference, 1 max
/// change, 2 max change of the loadings, 3 of the factors; default 0).
fn conv_crit(args: &List) -> Result<ConvCrit> {
    let code = field(args, "conv_crit");
    if code.is_null() {
        return Ok(ConvCrit::ElboDiff);
    }
    ConvCrit::from_code(as_f64(code, "conv_crit")? as i32).ok_or_else(|| err("internal: unknown convergence criterion"))
}

/// The final summaries of a fit (`solvers`: one pair per factor): the lfsr
/// of every factor's loadings and factor values (`L_lfsr`, `F_lfsr`) and
/// the proportions of variance explained (`pve`).
fn summaries(fitter: &mut Fitter, solvers: &[[Solver; 2]], extra: &mut Vec<(&str, Robj)>) -> Result<()> {
    let (n, p) = (fitter.n(), fitter.p());
    if solvers.len() != fitter.state.factors.len() {
        return Err(err("internal: one pair of solvers per factor is needed"));
    }
    let mut lfsr: [Vec<Vec<f64>>; 2] = [vec![], vec![]];
    let all: Vec<usize> = (0..solvers.len()).collect();
    for dim in 0..2 {
        // Every factor's residual product along dim in one pass.
        fitter.prefetch_products(dim, &all);
        for (k, pair) in solvers.iter().enumerate() {
            let len = if dim == 0 { n } else { p };
            let v = fitter.lfsr(k, dim, &pair[dim]).map_err(|e| err(e.0))?;
            lfsr[dim].push(v.unwrap_or_else(|| vec![f64::NAN; len]));
        }
    }
    let [ll, lf] = lfsr;
    extra.push(("L_lfsr", matrix_from_cols(ll.iter().map(|v| v.as_slice()).collect(), n)));
    extra.push(("F_lfsr", matrix_from_cols(lf.iter().map(|v| v.as_slice()).collect(), p)));
    extra.push(("pve", r!(fitter.pve())));
    Ok(())
}

/// The (loadings, factor) solvers of each of `k` factors.
fn solver_pairs(specs: &List, k: usize) -> Result<Vec<[Solver; 2]>> {
    if specs.len() != k {
        return Err(err("internal: one pair of solvers per factor is needed"));
    }
    specs.values().map(|pair| solver_pair(&pair)).collect()
}

/// One (loadings, factor) pair of solvers, `list(ebnm_l, ebnm_f)`.
fn solver_pair(pair: &Robj) -> Result<[Solver; 2]> {
    let pair: List = pair.clone().try_into().map_err(|_| err("internal: a solver pair must be a list"))?;
    Ok([solver_from_r(&pair.elt(0)?)?, solver_from_r(&pair.elt(1)?)?])
}

/// One pair of solvers for each of `k` factors from `specs`: the pairs as
/// they are, or, with `recycle_from = Some(b)`, the first `b` pairs for the
/// factors that were there before a greedy step and then its pairs in
/// turn, the last one for every later factor (as the greedy step used
/// them).
fn pairs_for_factors(specs: &List, k: usize, recycle_from: Option<usize>) -> Result<Vec<[Solver; 2]>> {
    let Some(before) = recycle_from else { return solver_pairs(specs, k) };
    let all: Vec<Robj> = specs.values().collect();
    if before > k || before >= all.len() {
        return Err(err("internal: one pair of solvers per factor is needed"));
    }
    // Factor i >= before is the greedy step's (i - before)-th: its pair is
    // at before + min(i - before, pairs - 1) = min(i, all - 1).
    (0..k).map(|i| solver_pair(&all[i.min(all.len() - 1)])).collect()
}

/// The nullcheck step (`args`: tol, verbose, remove, kset, and optionally
/// `solvers` for the final summaries of the factors that remain: one pair
/// per factor, or as `pairs_for_factors` reads them with `recycle_from`).
fn nullcheck_step(fitter: &mut Fitter, args: &List, monitor: &mut RMonitor, extra: &mut Vec<(&str, Robj)>) -> Result<()> {
    let tol = as_f64(field(args, "tol"), "tol")?;
    let verbose = as_f64(field(args, "verbose"), "verbose")? as i32;
    let kk = fitter.state.factors.len();
    let kset: Vec<usize> = match field(args, "kset") {
        k if k.is_null() => (0..kk).collect(),
        k => real_vec(&k, "kset")?.iter().map(|&v| v as usize - 1).filter(|&v| v < kk).collect(),
    };
    let remove = field(args, "remove").as_bool().unwrap_or(true);
    // With `solvers`, the final summaries of the factors that remain are
    // computed in the same call (flash() and flash_nullcheck() save a
    // rebuild).
    let specs = field(args, "solvers");
    let pairs = if specs.is_null() {
        None
    } else {
        let specs: List = specs.try_into().map_err(|_| err("internal: solvers must be a list"))?;
        let from = field(args, "recycle_from");
        let recycle_from = from.as_integer().map(|v| v as usize).or_else(|| from.as_real().map(|v| v as usize));
        Some(pairs_for_factors(&specs, kk, recycle_from)?)
    };
    let removed = fitter.nullcheck_some(&kset, remove, tol, verbose, monitor);
    if let Some(pairs) = pairs {
        let dropped = |k: usize| remove && removed.contains(&(k + 1));
        let kept: Vec<[Solver; 2]> = pairs.into_iter().enumerate().filter(|(k, _)| !dropped(*k)).map(|(_, s)| s).collect();
        summaries(fitter, &kept, extra)?;
    }
    extra.push(("removed", r!(removed.iter().map(|&k| k as i32).collect::<Vec<i32>>())));
    Ok(())
}

/// After a greedy or backfit step that finished, the nullcheck that
/// flash() runs next, in the same call when `args` holds `then_nullcheck`
/// (its arguments): the fit is not rebuilt for it. `wrap_up` prints the
/// step's closing message first, as the R side would between the calls.
fn chained_nullcheck(
    fitter: &mut Fitter,
    args: &List,
    finished: bool,
    wrap_up: bool,
    monitor: &mut RMonitor,
    extra: &mut Vec<(&str, Robj)>,
) -> Result<()> {
    let then = field(args, "then_nullcheck");
    if then.is_null() || !finished {
        return Ok(());
    }
    let then: List = then.try_into().map_err(|_| err("internal: then_nullcheck must be a list"))?;
    if wrap_up {
        flashierrs_core::model::Monitor::message(monitor, "Wrapping up...\nDone.\n");
    }
    nullcheck_step(fitter, &then, monitor, extra)?;
    extra.push(("chained_nullcheck", r!(true)));
    Ok(())
}

/// Run one step of a flash fit (`op`: "init", "greedy", "nullcheck",
/// "wrapup") on data `y` from the fit `state`, returning the new state.
/// @keywords internal
/// @noRd
fn flash_rs_impl(y: Robj, state: List, op: &str, args: List) -> Result<Robj> {
    let code = field(&state, "var_type").as_integer().or_else(|| field(&state, "var_type").as_real().map(|v| v as i32));
    let var_type = code.and_then(VarType::from_code).ok_or_else(|| err("var_type must be 0, 1, 2 or c(1, 2)"))?;
    // Dense data is a double matrix; sparse data a list of a dgCMatrix's
    // slots (i, p, x, dim), low-rank data list(u, v, dim); read in place.
    let sparse: Option<List> = if y.is_list() { Some(y.clone().try_into()?) } else { None };
    let (n, p) = match &sparse {
        Some(sp) => {
            let dim = field(sp, "dim").as_integer_vector().ok_or_else(|| err("internal: sparse data without dim"))?;
            (dim[0] as usize, dim[1] as usize)
        }
        None => {
            let (_, n, p) = data_view(&y)?;
            (n, p)
        }
    };
    let factors = if op == "init" { vec![] } else { factors_from_r(&state, n, p)? };
    let slots;
    let mut fitter = match &sparse {
        Some(lr) if !field(lr, "u").is_null() => {
            // Low-rank data list(u, v, dim), d already folded into u.
            slots = (field(lr, "u"), field(lr, "v"), Robj::from(()));
            let u = slots.0.as_real_slice().ok_or_else(|| err("internal: low-rank u must be double"))?;
            let v = slots.1.as_real_slice().ok_or_else(|| err("internal: low-rank v must be double"))?;
            Fitter::new_low_rank(n, p, u, v, factors, var_type).map_err(|e| err(e.0))?
        }
        Some(sp) => {
            slots = (field(sp, "p"), field(sp, "i"), field(sp, "x"));
            let col_ptr = slots.0.as_integer_slice().ok_or_else(|| err("internal: sparse p slot"))?;
            let row_idx = slots.1.as_integer_slice().ok_or_else(|| err("internal: sparse i slot"))?;
            let values = slots.2.as_real_slice().ok_or_else(|| err("internal: sparse x slot"))?;
            Fitter::new_sparse(n, p, (col_ptr, row_idx, values), factors, var_type).map_err(|e| err(e.0))?
        }
        None => Fitter::new(DenseData::new(data_view(&y)?.0), factors, var_type),
    };
    let given = field(&state, "given");
    if !given.is_null() {
        let given = real_vec(&given, "given precisions")?;
        if given.len() != var_type.len(n, p) {
            return Err(err("internal: given precisions of the wrong length"));
        }
        let fixed = field(&state, "given_fixed").as_bool().unwrap_or(false);
        fitter.set_given_precision(given, fixed);
    }
    fitter.use_fixed_in_ebnm = field(&state, "use_fixed_in_ebnm").as_bool().unwrap_or(false);
    let entry_s2 = field(&state, "entry_s2");
    if !entry_s2.is_null() {
        let (view, rn, rp) = data_view(&entry_s2)?;
        if rn != n || rp != p {
            return Err(err("internal: entrywise variances of the wrong size"));
        }
        let est = field(&state, "entry_est")
            .as_integer()
            .or_else(|| field(&state, "entry_est").as_real().filter(|v| v.is_finite()).map(|v| v as i32))
            .and_then(VarType::from_code);
        fitter.set_entry_noise(view.to_owned(), est).map_err(|e| err(e.0))?;
    }
    let time_left = field(&args, "time_left").as_real().unwrap_or(f64::INFINITY);
    let mut monitor = RMonitor::new(time_left);
    let mut extra: Vec<(&str, Robj)> = vec![];
    match op {
        "init" | "refresh" => {}
        "greedy" => {
            let verbose = as_f64(field(&args, "verbose"), "verbose")? as i32;
            let specs: List = field(&args, "ebnm").try_into().map_err(|_| err("internal: ebnm must be a list"))?;
            let pairs = solver_pairs(&specs, specs.len())?;
            let control = GreedyControl {
                kmax: as_usize(field(&args, "kmax"), "Kmax")?,
                maxiter: as_usize(field(&args, "maxiter"), "maxiter")?,
                tol: as_f64(field(&args, "tol"), "tol")?,
                verbose,
                init: InitControl {
                    maxiter: as_usize(field(&args, "init_maxiter"), "init maxiter")?,
                    tol: as_f64(field(&args, "init_tol"), "init tol")?,
                },
                extrapolate: field(&args, "extrapolate").as_bool().unwrap_or(false),
                extrapolation: Extrapolation::greedy(),
                conv: conv_crit(&args)?,
                given_init: field(&args, "given_init").as_bool().unwrap_or(false),
            };
            let u = real_vec(&field(&args, "init_u"), "init_u")?;
            let v = real_vec(&field(&args, "init_v"), "init_v")?;
            if u.len() != n || v.len() != p {
                return Err(err("internal: initial vectors of the wrong length"));
            }
            let refs: Vec<[&dyn EbnmSolver; 2]> = pairs.iter().map(|[a, b]| [a as &dyn EbnmSolver, b as &dyn EbnmSolver]).collect();
            let outcome = fitter.greedy(&refs, &control, (&u, &v), &mut monitor).map_err(|e| err(e.0))?;
            extra.push(("interrupted", r!(outcome == Outcome::Interrupted)));
            // (The count before a chained nullcheck removes any.)
            extra.push(("greedy_k", r!(fitter.state.factors.len() as i32)));
            chained_nullcheck(&mut fitter, &args, outcome == Outcome::Finished, verbose > 0, &mut monitor, &mut extra)?;
        }
        "backfit" => {
            let specs: List = field(&args, "solvers").try_into().map_err(|_| err("internal: solvers must be a list"))?;
            let solvers = solver_pairs(&specs, fitter.state.factors.len())?;
            let refs: Vec<[&dyn EbnmSolver; 2]> = solvers.iter().map(|[a, b]| [a as &dyn EbnmSolver, b as &dyn EbnmSolver]).collect();
            let kset: Vec<usize> = real_vec(&field(&args, "kset"), "kset")?.iter().map(|&k| k as usize - 1).collect();
            let control = BackfitControl {
                kset,
                maxiter: as_usize(field(&args, "maxiter"), "maxiter")?,
                tol: as_f64(field(&args, "tol"), "tol")?,
                verbose: as_f64(field(&args, "verbose"), "verbose")? as i32,
                extrapolate: field(&args, "extrapolate").as_bool().unwrap_or(true),
                warmstart: field(&args, "warmstart").as_bool().unwrap_or(true),
                extrapolation: Extrapolation::default(),
                conv: conv_crit(&args)?,
                rotate: field(&args, "rotate").as_bool().unwrap_or(false),
            };
            let k_before = fitter.state.factors.len();
            let outcome = fitter.backfit(&refs, &control, &mut monitor).map_err(|e| err(e.0))?;
            extra.push(("interrupted", r!(outcome == Outcome::Interrupted)));
            let wrap_up = control.verbose > 0 && k_before > 0;
            chained_nullcheck(&mut fitter, &args, outcome == Outcome::Finished, wrap_up, &mut monitor, &mut extra)?;
        }
        "sample" => {
            let nsamp = as_usize(field(&args, "nsamp"), "nsamp")?;
            let kk = fitter.state.factors.len();
            let problems: Vec<[Option<(Vec<f64>, Vec<f64>, flashierrs_core::ebnm::Prior)>; 2]> =
                (0..kk).map(|k| [fitter.posterior_problem(k, 0), fitter.posterior_problem(k, 1)]).collect();
            let mut samples: Vec<Robj> = Vec::with_capacity(nsamp);
            bridge::with_r_rng(|unif| {
                for _ in 0..nsamp {
                    let mut mats: Vec<Robj> = Vec::with_capacity(2);
                    for dim in 0..2 {
                        let len = if dim == 0 { n } else { p };
                        let cols: Vec<Vec<f64>> = problems
                            .iter()
                            .enumerate()
                            .map(|(k, pr)| match &pr[dim] {
                                Some((x, s, g)) => {
                                    let fac = &fitter.state.factors[k];
                                    let values = if dim == 0 { &fac.l } else { &fac.f };
                                    let held = match &fac.fixed[dim] {
                                        Held::Some(m) => Some(m.clone()),
                                        _ => None,
                                    };
                                    // Held entries are constants, not draws.
                                    x.iter()
                                        .zip(s)
                                        .enumerate()
                                        .map(|(i, (&xi, &si))| match &held {
                                            Some(m) if m[i] => values[i],
                                            _ => flashierrs_core::ebnm::sample::sample_posterior(g, xi, si, unif),
                                        })
                                        .collect()
                                }
                                None => {
                                    let fac = &fitter.state.factors[k];
                                    if dim == 0 { fac.l.clone() } else { fac.f.clone() }
                                }
                            })
                            .collect();
                        debug_assert!(cols.iter().all(|c| c.len() == len));
                        mats.push(matrix_from_cols(cols.iter().map(|c| c.as_slice()).collect(), len));
                    }
                    samples.push(List::from_values(mats).into());
                }
            });
            extra.push(("samples", List::from_values(samples).into()));
        }
        "nullcheck" => nullcheck_step(&mut fitter, &args, &mut monitor, &mut extra)?,
        "wrapup" => {
            let specs = field(&args, "solvers");
            let specs: List = specs.try_into().map_err(|_| err("internal: solvers must be a list"))?;
            let solvers = solver_pairs(&specs, fitter.state.factors.len())?;
            summaries(&mut fitter, &solvers, &mut extra)?;
        }
        other => return Err(err(format!("internal: unknown operation '{other}'"))),
    }
    extra.push(("timed_out", r!(monitor.timed_out)));
    extra.push(("user_interrupt", r!(monitor.user_interrupt)));
    let mut out = factors_to_r(&fitter.state.factors, n, p);
    out.push(("var_type", r!(var_type.code())));
    match &fitter.state.precision.matrix {
        Some(t) => {
            out.push(("tau", matrix_from_cols((0..p).map(|j| t.col(j).try_as_col_major().expect("contiguous").as_slice()).collect(), n)));
            out.push(("est_var", r!(fitter.state.precision.tau.clone())));
        }
        None => out.push(("tau", r!(fitter.state.precision.tau.clone()))),
    }
    out.push(("elbo", r!(fitter.state.elbo)));
    out.extend(extra);
    Ok(list_of(out))
}


/// See `ebnm_rs_impl`; failures come back as a value (`flashierrs_error`) that
/// the R wrapper turns into an R error, so nothing unwinds through R.
/// @keywords internal
/// @noRd
#[extendr]
fn ebnm_rs(family: &str, x: Robj, s: Robj, mode: Robj, scale: Robj, g_init: Robj, fix_g: bool) -> Robj {
    quiet_panics();
    ebnm_rs_impl(family, x, s, mode, scale, g_init, fix_g).unwrap_or_else(error_value)
}


/// See `flash_rs_impl`; failures come back as a value (`flashierrs_error`) that
/// the R wrapper turns into an R error, so nothing unwinds through R.
/// @keywords internal
/// @noRd
#[extendr]
fn flash_rs(y: Robj, state: List, op: &str, args: List) -> Robj {
    quiet_panics();
    flash_rs_impl(y, state, op, args).unwrap_or_else(error_value)
}


/// See `ebnm_sample_rs_impl`; failures come back as a value (`flashierrs_error`) that
/// the R wrapper turns into an R error, so nothing unwinds through R.
/// @keywords internal
/// @noRd
#[extendr]
fn ebnm_sample_rs(g: Robj, x: Robj, s: Robj, nsamp: i32) -> Robj {
    quiet_panics();
    ebnm_sample_rs_impl(g, x, s, nsamp).unwrap_or_else(error_value)
}

// Registers the functions above with R (symbol `R_init_flashierrs_extendr`,
// called from src/entrypoint.c); the R side is R/extendr-wrappers.R.
extendr_module! {
    mod flashierrs;
    fn rust_ping;
    fn rust_core_version;
    fn rust_panic_test;
    fn ebnm_rs;
    fn flash_rs;
    fn set_threads_rs;
    fn ebnm_sample_rs;
    fn stream_rs;
    fn scan_data_rs;
}
