//! The pieces of the fitting loop that need R: EBNM solvers written in R,
//! progress messages, user interrupts.

use crate::convert::{field, mode_from_r, prior_from_r, prior_to_r, real_vec, scale_from_r};
use extendr_api::prelude::*;
use extendr_api::{Error, Result};
use flashierrs_core::ebnm::{
    BuiltinSolver, EbnmError, EbnmFit, EbnmOptions, EbnmSolver, Prior, PriorFamily,
};
use flashierrs_core::model::Monitor;
use std::os::raw::c_void;

extern "C" {
    fn unif_rand() -> f64;
    fn GetRNGstate();
    fn PutRNGstate();
    fn R_ToplevelExec(fun: Option<unsafe extern "C" fn(*mut c_void)>, data: *mut c_void) -> i32;
    fn R_CheckUserInterrupt();
}

unsafe extern "C" fn check_interrupt_cb(_: *mut c_void) {
    R_CheckUserInterrupt();
}

/// True if the user pressed Ctrl-C (or R's event loop asked to stop). The
/// check runs in a top-level context so that R's interrupt cannot unwind
/// through Rust frames.
pub fn user_interrupted() -> bool {
    unsafe { R_ToplevelExec(Some(check_interrupt_cb), std::ptr::null_mut()) == 0 }
}

/// Prints progress through R's console and answers interrupts and the
/// time limit set by flash_set_timeout().
pub struct RMonitor {
    pub deadline: Option<std::time::Instant>,
    pub timed_out: bool,
    pub user_interrupt: bool,
}

impl RMonitor {
    /// A monitor whose time runs out after `seconds` (infinite: never).
    pub fn new(seconds: f64) -> RMonitor {
        let deadline = if seconds.is_finite() {
            Some(std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds.max(0.0)))
        } else {
            None
        };
        RMonitor { deadline, timed_out: false, user_interrupt: false }
    }
}

impl Monitor for RMonitor {
    fn message(&mut self, text: &str) {
        rprint!("{}", text);
    }
    fn interrupted(&mut self) -> bool {
        if self.deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            self.timed_out = true;
            return true;
        }
        if user_interrupted() {
            self.user_interrupt = true;
            return true;
        }
        false
    }
}

/// An EBNM solver: a built-in family (entirely in Rust) or an R function.
pub enum Solver {
    Builtin(BuiltinSolver),
    R(RSolver),
}

impl EbnmSolver for Solver {
    fn solve(&self, x: &[f64], s: &[f64], g_init: Option<&Prior>, fix_g: bool) -> std::result::Result<EbnmFit, EbnmError> {
        match self {
            Solver::Builtin(b) => b.solve(x, s, g_init, fix_g),
            Solver::R(r) => r.solve(x, s, g_init, fix_g),
        }
    }
    fn sign(&self) -> i8 {
        match self {
            Solver::Builtin(b) => b.sign(),
            Solver::R(r) => r.sign,
        }
    }
    fn symmetric_about_zero(&self) -> bool {
        matches!(self, Solver::Builtin(b) if b.symmetric_about_zero())
    }
    fn warm_start_is_free(&self) -> bool {
        matches!(self, Solver::Builtin(b) if b.warm_start_is_free())
    }
    // The built-in families start their optimiser from the previous prior
    // (an R function only sees g_init when the user asks for warm starts).
    fn solve_from(&self, x: &[f64], s: &[f64], start: Option<&Prior>) -> std::result::Result<EbnmFit, EbnmError> {
        match self {
            Solver::Builtin(b) => b.solve_from(x, s, start),
            Solver::R(r) => r.solve(x, s, None, false),
        }
    }
}

/// A user's EBNM function, called back through R.
pub struct RSolver {
    pub fun: Function,
    pub sign: i8,
}

impl RSolver {
    fn solve(&self, x: &[f64], s: &[f64], g_init: Option<&Prior>, fix_g: bool) -> std::result::Result<EbnmFit, EbnmError> {
        let g: Robj = g_init.map(prior_to_r).unwrap_or_else(|| ().into());
        let mut output = vec!["posterior_mean", "posterior_second_moment", "fitted_g", "log_likelihood"];
        if fix_g {
            output.push("posterior_lfsr");
        }
        let res = self
            .fun
            .call(pairlist!(x = x.to_vec(), s = s.to_vec(), g_init = g, fix_g = fix_g, output = output))
            .map_err(|_| EbnmError("the ebnm function could not be called".into()))?;
        // The R side wraps user functions so that an R error comes back as a
        // value holding its message (R/ebnm.R, ebnm_spec()).
        if res.inherits("flashierrs_ebnm_error") {
            let msg = res.dollar("message").ok().and_then(|m| m.as_str().map(String::from)).unwrap_or_default();
            return Err(EbnmError(format!("the ebnm function threw an error: {msg}")));
        }
        let bad = |what: &str| EbnmError(format!("the ebnm function returned {what}"));
        let list: List = res.try_into().map_err(|_| bad("something that is not a list"))?;
        let post = field(&list, "posterior");
        if post.is_null() {
            return Err(bad("no 'posterior' data frame"));
        }
        let post: List = post.try_into().map_err(|_| bad("no 'posterior' data frame"))?;
        let mean = real_vec(&field(&post, "mean"), "posterior$mean").map_err(|_| bad("no numeric posterior$mean"))?;
        let second = real_vec(&field(&post, "second_moment"), "posterior$second_moment")
            .map_err(|_| bad("no numeric posterior$second_moment"))?;
        if mean.len() != x.len() || second.len() != x.len() {
            return Err(bad(&format!("{} posterior means for {} observations", mean.len(), x.len())));
        }
        if mean.iter().chain(&second).any(|v| !v.is_finite()) {
            return Err(bad("non-finite posterior moments"));
        }
        let lfsr = real_vec(&field(&post, "lfsr"), "lfsr").ok().filter(|v| v.len() == x.len());
        let ll = field(&list, "log_likelihood")
            .as_real()
            .ok_or_else(|| bad("no numeric log_likelihood"))?;
        let prior = prior_from_r(&field(&list, "fitted_g"))
            .map_err(|e| bad(&format!("an unusable fitted_g ({e})")))?
            .ok_or_else(|| bad("no fitted_g"))?;
        let sd = mean.iter().zip(&second).map(|(m, m2)| (m2 - m * m).max(0.0).sqrt()).collect();
        Ok(EbnmFit { prior, mean, second_moment: second, sd, lfsr, log_likelihood: ll })
    }
}

/// A solver from its R description: `list(family = "point_normal", mode, scale)`
/// for a built-in family, or `list(family = "custom", fn = <function>, sign)`.
pub fn solver_from_r(spec: &Robj) -> Result<Solver> {
    let list: List = spec
        .clone()
        .try_into()
        .map_err(|_| Error::Other("internal: an ebnm_fn description must be a list".into()))?;
    let family = field(&list, "family")
        .as_str()
        .ok_or_else(|| Error::Other("internal: ebnm_fn description without a family".into()))?
        .to_string();
    if family == "custom" {
        let fun: Function = field(&list, "fn")
            .try_into()
            .map_err(|_| Error::Other("ebnm_fn must be a function".into()))?;
        let sign = field(&list, "sign").as_real().unwrap_or(0.0) as i8;
        return Ok(Solver::R(RSolver { fun, sign }));
    }
    let family = PriorFamily::from_name(&family)
        .ok_or_else(|| Error::Other(format!("unknown prior family '{family}'")))?;
    let mode = field(&list, "mode");
    let scale = field(&list, "scale");
    let options = EbnmOptions {
        mode: if mode.is_null() { flashierrs_core::ebnm::Mode::Fixed(0.0) } else { mode_from_r(&mode)? },
        scale: if scale.is_null() { flashierrs_core::ebnm::Scale::Estimate } else { scale_from_r(&scale)? },
        g_init: None,
        fix_g: false,
        compute_lfsr: true,
        prior_start: None,
    };
    Ok(Solver::Builtin(BuiltinSolver { family, options }))
}

/// Run `f` with a source of uniform draws from R's random number generator,
/// so that `set.seed()` makes the draws reproducible.
pub fn with_r_rng<T>(f: impl FnOnce(&mut dyn FnMut() -> f64) -> T) -> T {
    unsafe { GetRNGstate() };
    let mut unif = || unsafe { unif_rand() };
    let out = f(&mut unif);
    unsafe { PutRNGstate() };
    out
}
