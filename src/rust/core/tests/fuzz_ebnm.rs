//! Seeded property test of every EBNM family on random, often nasty,
//! normal-means problems (issue 7).
//!
//! Each case is one `(family, x, s)` problem, drawn from its own seed (so a
//! case can be replayed alone, and the cases can be run on several threads):
//! standard errors from 1e-8 to 1e8, homo- or heteroskedastic; observations
//! far in the tails (|x| / s up to 1e3), all equal, or mixtures of nulls and
//! signals whose scale runs from 1e-6 to 1e6; n from 1 to 200. Every built-in
//! family is run with ebnm's default options, and the answer must be either
//!
//! * `Ok`, with a finite log-likelihood (the flat prior reports `NaN`, R's
//!   `NA`, as ebnm 1.1 does), finite posterior means, second moments and
//!   sds, `second_moment >= mean^2` (up to 1e-12 relative), `sd >= 0`, an
//!   lfsr in [0, 1], and the sign constraint of the family (posterior means
//!   >= 0 for point_exponential, unimodal_nonnegative and generalized_binary,
//!   <= 0 for unimodal_nonpositive); or
//! * an `Err` with a non-empty message, for the refusals ebnm makes too:
//!   horseshoe with heteroskedastic `s`, with a single observation (whose
//!   scale search interval [1/n, 1] is empty) or with observations more than
//!   1e8 standard errors from zero (beyond its integrals' range), and
//!   generalized_binary's empty search interval for its mode.
//!
//! Anything else (another error, a panic, a violated property) is a failure:
//! the failing case is shrunk to a small reproduction, printed as Rust and as
//! R code, and the test fails.
//!
//! The number of cases is read at run time from the environment variable
//! `FLASHIERRS_FUZZ_CASES`. Unset, the test runs [`DEFAULT_CASES`] cases of
//! the quick profile (heteroskedastic `s` spread over at most a decade; about
//! 15 s on two cores in the release profile). Set, it runs that many cases
//! of the full profile, which adds `s` spread over 2 to 16 decades and `s` at
//! two far-apart levels: there the unimodal and npmle families can take
//! seconds to tens of seconds per call, so 1e5 cases take hours. The full
//! run is `make fuzz`, i.e.
//!
//! ```text
//! cd src/rust && FLASHIERRS_FUZZ_CASES=100000 \
//!     cargo test -p flashierrs-core --release --test fuzz_ebnm -- --nocapture
//! ```
//!
//! Other environment variables: `FLASHIERRS_FUZZ_SEED` (default 20240607)
//! changes the base seed; `FLASHIERRS_FUZZ_PROFILE=quick|full` overrides the
//! distribution; `FLASHIERRS_FUZZ_THREADS` sets the number of threads
//! (default: the available cores, at most 8); `FLASHIERRS_FUZZ_ONLY=i`
//! replays case `i` alone and prints its data; `FLASHIERRS_FUZZ_TIMES=1`
//! prints the time of every call.
//!
//! Families that are known to fail a property are listed in
//! [`KNOWN_FAILING`]: the main test skips them and the separate test
//! `known_failing_families_satisfy_the_properties` runs them alone (and fails
//! until their solvers are fixed).

use flashierrs_core::ebnm::{ebnm, EbnmOptions, PriorFamily, ALL_FAMILIES};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Cases (one family each) of the default run.
const DEFAULT_CASES: usize = 2100;
const DEFAULT_SEED: u64 = 20240607;
/// Calls slower than this are listed (not failed).
const SLOW: Duration = Duration::from_millis(500);

/// Families found failing the properties: the main test skips them,
/// `known_failing_families_satisfy_the_properties` checks them (and fails
/// until their solvers are fixed). Empty while every family passes. (The
/// first runs found the horseshoe's log-likelihood -Inf and posterior mean
/// NaN for `|x| / s >~ 1e9`, e.g. `ebnm_horseshoe(x = c(0, 1e11), s = 1)`;
/// it now refuses such observations with an error naming `x`.)
const KNOWN_FAILING: &[PriorFamily] = &[];

// ---------------------------------------------------------------------------
// A small random number generator: SplitMix64 for seeding, xoshiro256** for
// the stream. No crates, so the cases are the same on every platform.

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut st = seed;
        Rng {
            s: [
                splitmix64(&mut st),
                splitmix64(&mut st),
                splitmix64(&mut st),
                splitmix64(&mut st),
            ],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1).
    fn unif(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unif()
    }

    /// Uniform integer in [a, b].
    fn int(&mut self, a: usize, b: usize) -> usize {
        a + (self.next_u64() % (b - a + 1) as u64) as usize
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        self.unif() < p
    }

    /// Standard normal (Box-Muller).
    fn norm(&mut self) -> f64 {
        let u1 = 1.0 - self.unif(); // (0, 1]
        let u2 = self.unif();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// 10^U(lo, hi).
    fn log10_unif(&mut self, lo: f64, hi: f64) -> f64 {
        10f64.powf(self.range(lo, hi))
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.int(0, v.len() - 1)]
    }
}

// ---------------------------------------------------------------------------
// Panics inside a solver are caught and reported as failures; keep their
// messages off stderr without touching the messages of the tests' own
// assertions (the panic hook is global, the silence is per thread).

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                default(info);
            }
        }));
    });
}

/// Run `f` with solver panics silenced on this thread.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    install_quiet_hook();
    let old = QUIET.with(|q| q.replace(true));
    let out = f();
    QUIET.with(|q| q.set(old));
    out
}

// ---------------------------------------------------------------------------
// Cases.

#[derive(Clone, Debug)]
struct Case {
    /// What kind of case this is (for the report).
    kind: String,
    x: Vec<f64>,
    s: Vec<f64>,
}

fn draw_n(rng: &mut Rng) -> usize {
    match rng.int(0, 9) {
        0 => 1,
        1 => rng.int(2, 3),
        2..=5 => rng.int(4, 30),
        _ => rng.int(31, 200),
    }
}

/// Standard errors: homoskedastic at a level from 1e-8 to 1e8, or
/// heteroskedastic, spread over a decade (both profiles), over 2 to 8
/// decades, over the whole range 1e-8..1e8, or at two levels far apart (full
/// profile only: the unimodal and npmle families can take seconds, up to
/// tens of seconds, per call when `max |x| / min s` is huge and `s` is
/// heteroskedastic, so the default run keeps to one decade).
fn draw_s(rng: &mut Rng, n: usize, profile: Profile) -> (String, Vec<f64>) {
    let level = rng.log10_unif(-8.0, 8.0);
    let pick = match profile {
        Profile::Quick => rng.int(0, 3),
        Profile::Full => rng.int(0, 5),
    };
    match pick {
        0 | 1 => ("homo".into(), vec![level; n]),
        2 | 3 => (
            "hetero1".into(),
            (0..n).map(|_| level * rng.log10_unif(-0.5, 0.5)).collect(),
        ),
        4 => {
            let w = rng.range(1.0, 4.0);
            let centre = rng.range(-8.0 + w, 8.0 - w);
            (
                "hetero_wide".into(),
                (0..n)
                    .map(|_| rng.log10_unif(centre - w, centre + w))
                    .collect(),
            )
        }
        _ => {
            if rng.bernoulli(0.5) {
                (
                    "hetero_all".into(),
                    (0..n).map(|_| rng.log10_unif(-8.0, 8.0)).collect(),
                )
            } else {
                // A few observations at another level.
                let other = rng.log10_unif(-8.0, 8.0);
                let mut s = vec![level; n];
                let k = rng.int(1, n.min(3));
                for v in s.iter_mut().take(k) {
                    *v = other;
                }
                ("two_levels".into(), s)
            }
        }
    }
}

/// The distribution of the cases: `Full` when `FLASHIERRS_FUZZ_CASES` is
/// set, `Quick` (heteroskedastic spreads of at most a decade) by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Quick,
    Full,
}

fn draw_case(seed: u64, profile: Profile) -> Case {
    let mut rng = Rng::new(seed);
    let n = draw_n(&mut rng);
    let (skind, s) = draw_s(&mut rng, n, profile);
    let (xkind, x): (&str, Vec<f64>) = match rng.int(0, 5) {
        // Pure noise.
        0 => ("null", s.iter().map(|&si| si * rng.norm()).collect()),
        // Nulls and signals, signals of either sign or of one sign.
        1 | 2 => {
            let u = rng.unif();
            let pi0 = rng.pick(&[0.0, 0.5, 0.9, 0.99, u]);
            let scale = rng.log10_unif(-6.0, 6.0);
            let sign_mode = rng.int(0, 2);
            let x = s
                .iter()
                .map(|&si| {
                    let theta = if rng.bernoulli(pi0) {
                        0.0
                    } else {
                        let t = scale * rng.norm();
                        match sign_mode {
                            0 => t,
                            1 => t.abs(),
                            _ => -t.abs(),
                        }
                    };
                    theta + si * rng.norm()
                })
                .collect();
            ("mixture", x)
        }
        // Some observations far in the tails: |x| / s up to 1e3.
        3 => {
            let frac = rng.pick(&[0.01, 0.1, 0.5, 1.0]);
            let sign_mode = rng.int(0, 2);
            let x = s
                .iter()
                .map(|&si| {
                    if rng.bernoulli(frac) || n == 1 {
                        let z = rng.log10_unif(0.5, 3.0);
                        let z = match sign_mode {
                            0 => {
                                if rng.bernoulli(0.5) {
                                    z
                                } else {
                                    -z
                                }
                            }
                            1 => z,
                            _ => -z,
                        };
                        si * z
                    } else {
                        si * rng.norm()
                    }
                })
                .collect();
            ("tails", x)
        }
        // All observations equal (zero, or at some scale).
        4 => {
            let c = match rng.int(0, 3) {
                0 => 0.0,
                1 => s[0] * rng.range(-5.0, 5.0),
                2 => rng.log10_unif(-6.0, 6.0),
                _ => -rng.log10_unif(-6.0, 6.0),
            };
            ("all_equal", vec![c; n])
        }
        // A pure signal at a scale unrelated to s.
        _ => {
            let scale = rng.log10_unif(-6.0, 6.0);
            let x = s
                .iter()
                .map(|&si| scale * rng.norm() + si * rng.norm())
                .collect();
            ("signal", x)
        }
    };
    Case {
        kind: format!("{xkind}/{skind}/n={n}"),
        x,
        s,
    }
}

// ---------------------------------------------------------------------------
// Properties.

/// Why a case failed.
#[derive(Clone, Debug, PartialEq)]
enum Failure {
    Panic(String),
    UnexpectedError(String),
    EmptyError,
    WrongLength(&'static str),
    LogLik(f64),
    NonFinite(&'static str, usize, f64),
    SecondMoment(usize, f64, f64),
    NegativeSd(usize, f64),
    Lfsr(usize, f64),
    Sign(usize, f64),
}

impl Failure {
    /// A coarse label, so the shrinker keeps the same kind of failure.
    fn label(&self) -> String {
        match self {
            Failure::Panic(_) => "panic".into(),
            Failure::UnexpectedError(m) => {
                format!("error: {}", m.chars().take(40).collect::<String>())
            }
            Failure::EmptyError => "empty error".into(),
            Failure::WrongLength(w) => format!("wrong length of {w}"),
            Failure::LogLik(_) => "non-finite log-likelihood".into(),
            Failure::NonFinite(w, _, _) => format!("non-finite {w}"),
            Failure::SecondMoment(..) => "second_moment < mean^2".into(),
            Failure::NegativeSd(..) => "negative sd".into(),
            Failure::Lfsr(..) => "lfsr outside [0, 1]".into(),
            Failure::Sign(..) => "sign constraint".into(),
        }
    }
}

/// The refusals that ebnm makes too.
fn allowed_error(family: PriorFamily, msg: &str) -> bool {
    match family {
        PriorFamily::Horseshoe => {
            msg.contains("requires homoskedastic standard errors")
                || msg.contains("needs at least two observations")
                || msg.contains("standard errors from zero")
        }
        PriorFamily::GeneralizedBinary => msg.contains("search interval"),
        _ => false,
    }
}

fn check(family: PriorFamily, x: &[f64], s: &[f64]) -> Result<(), Failure> {
    let opts = EbnmOptions::default();
    let res = catch_unwind(AssertUnwindSafe(|| ebnm(family, x, s, &opts)));
    let fit = match res {
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "<non-string panic>".into());
            return Err(Failure::Panic(msg));
        }
        Ok(Err(e)) => {
            if e.0.trim().is_empty() {
                return Err(Failure::EmptyError);
            }
            if allowed_error(family, &e.0) {
                return Ok(());
            }
            return Err(Failure::UnexpectedError(e.0));
        }
        Ok(Ok(fit)) => fit,
    };
    let n = x.len();
    if fit.mean.len() != n {
        return Err(Failure::WrongLength("mean"));
    }
    if fit.second_moment.len() != n {
        return Err(Failure::WrongLength("second_moment"));
    }
    if fit.sd.len() != n {
        return Err(Failure::WrongLength("sd"));
    }
    if let Some(l) = &fit.lfsr {
        if l.len() != n {
            return Err(Failure::WrongLength("lfsr"));
        }
    }
    let ll_ok = fit.log_likelihood.is_finite()
        || (family == PriorFamily::Flat && fit.log_likelihood.is_nan());
    if !ll_ok {
        return Err(Failure::LogLik(fit.log_likelihood));
    }
    for i in 0..n {
        let (m, m2, sd) = (fit.mean[i], fit.second_moment[i], fit.sd[i]);
        if !m.is_finite() {
            return Err(Failure::NonFinite("mean", i, m));
        }
        if !m2.is_finite() {
            return Err(Failure::NonFinite("second_moment", i, m2));
        }
        if !sd.is_finite() {
            return Err(Failure::NonFinite("sd", i, sd));
        }
        if m2 < m * m - 1e-12 * (1.0 + m * m) {
            return Err(Failure::SecondMoment(i, m, m2));
        }
        if sd < 0.0 {
            return Err(Failure::NegativeSd(i, sd));
        }
        if let Some(l) = &fit.lfsr {
            if !(l[i] >= 0.0 && l[i] <= 1.0) {
                return Err(Failure::Lfsr(i, l[i]));
            }
        }
        let sign_ok = match family.sign() {
            1 => m >= 0.0,
            -1 => m <= 0.0,
            _ => true,
        };
        if !sign_ok {
            return Err(Failure::Sign(i, m));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Shrinking a failing case to a small reproduction.

fn fails_same(family: PriorFamily, x: &[f64], s: &[f64], label: &str) -> bool {
    matches!(check(family, x, s), Err(f) if f.label() == label)
}

/// Round to `digits` significant digits.
fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    if !p.is_finite() || p == 0.0 {
        return v;
    }
    let r = (v * p).round() / p;
    if r.is_finite() {
        r
    } else {
        v
    }
}

/// Shrink `(x, s)` while `fails` still holds: fewer observations, a common
/// `s`, `s[0] = 1`, fewer significant digits, zeros.
fn shrink(x: &[f64], s: &[f64], fails: &dyn Fn(&[f64], &[f64]) -> bool) -> (Vec<f64>, Vec<f64>) {
    let (mut x, mut s) = (x.to_vec(), s.to_vec());
    // 1. Drop chunks of observations, halving the chunk size.
    let mut chunk = x.len() / 2;
    while chunk >= 1 {
        let mut i = 0;
        while i < x.len() && x.len() > 1 {
            let end = (i + chunk).min(x.len());
            if end - i == x.len() {
                break;
            }
            let mut x2 = x.clone();
            let mut s2 = s.clone();
            x2.drain(i..end);
            s2.drain(i..end);
            if fails(&x2, &s2) {
                x = x2;
                s = s2;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    // 2. Try a common s.
    if s.iter().any(|&v| v != s[0]) {
        for cand in [s[0], s.iter().sum::<f64>() / s.len() as f64] {
            let s2 = vec![cand; s.len()];
            if fails(&x, &s2) {
                s = s2;
                break;
            }
        }
    }
    // 3. Rescale so that s[0] = 1 (every family is scale-equivariant).
    if s[0] != 1.0 {
        let c = s[0];
        let x2: Vec<f64> = x.iter().map(|v| v / c).collect();
        let s2: Vec<f64> = s.iter().map(|v| v / c).collect();
        if fails(&x2, &s2) {
            x = x2;
            s = s2;
        }
    }
    // 4. Round every value to as few significant digits as still fails.
    for digits in [1, 2, 3, 6, 10] {
        let x2: Vec<f64> = x.iter().map(|&v| round_sig(v, digits)).collect();
        if fails(&x2, &s) {
            x = x2;
            break;
        }
    }
    for digits in [1, 2, 3, 6, 10] {
        let s2: Vec<f64> = s.iter().map(|&v| round_sig(v, digits)).collect();
        if fails(&x, &s2) {
            s = s2;
            break;
        }
    }
    // 5. Try zeroing single observations.
    for i in 0..x.len() {
        if x[i] != 0.0 {
            let mut x2 = x.clone();
            x2[i] = 0.0;
            if fails(&x2, &s) {
                x = x2;
            }
        }
    }
    (x, s)
}

fn fmt_vec(v: &[f64]) -> String {
    v.iter()
        .map(|a| format!("{a:e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// The driver.

/// The number of cases and their distribution: `FLASHIERRS_FUZZ_CASES`
/// cases of the full profile when set, else [`DEFAULT_CASES`] of the quick
/// one. `FLASHIERRS_FUZZ_PROFILE=quick|full` overrides the profile.
fn settings() -> (usize, Profile) {
    let (n, mut profile) = match std::env::var("FLASHIERRS_FUZZ_CASES") {
        Ok(v) => (
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("FLASHIERRS_FUZZ_CASES must be a number, not {v:?}")),
            Profile::Full,
        ),
        Err(_) => (DEFAULT_CASES, Profile::Quick),
    };
    match std::env::var("FLASHIERRS_FUZZ_PROFILE").as_deref() {
        Ok("quick") => profile = Profile::Quick,
        Ok("full") => profile = Profile::Full,
        Ok(v) => panic!("FLASHIERRS_FUZZ_PROFILE must be quick or full, not {v:?}"),
        Err(_) => {}
    }
    (n, profile)
}

/// Threads for the cases: `FLASHIERRS_FUZZ_THREADS`, or the available cores
/// (at most 8).
fn n_threads() -> usize {
    std::env::var("FLASHIERRS_FUZZ_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|v| v.get())
                .unwrap_or(1)
                .min(8)
        })
        .max(1)
}

/// `FLASHIERRS_FUZZ_ONLY=i` replays case `i` alone.
fn only_case() -> Option<usize> {
    std::env::var("FLASHIERRS_FUZZ_ONLY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

fn base_seed() -> u64 {
    std::env::var("FLASHIERRS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// The seed of case `i` (the case's data; the family is `i % 14`).
fn case_seed(base: u64, i: usize) -> u64 {
    let mut st = base ^ (i as u64 / ALL_FAMILIES.len() as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
    splitmix64(&mut st)
}

struct Found {
    index: usize,
    family: PriorFamily,
    case: Case,
    failure: Failure,
}

/// Run cases `0..n` (case i: family `ALL_FAMILIES[i % 14]` on data drawn
/// from `case_seed(base, i)`, so the 14 families share each data set)
/// restricted to `families`, on [`n_threads`] threads. Returns the number of
/// cases run, the failures and the calls slower than [`SLOW`].
fn run(
    families: &[PriorFamily],
    n: usize,
    profile: Profile,
) -> (usize, Vec<Found>, Vec<(Duration, String)>) {
    let base = base_seed();
    let threads = n_threads();
    let results: Vec<(usize, Vec<Found>, Vec<(Duration, String)>)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                sc.spawn(move || {
                    quietly(|| {
                        let mut found = Vec::new();
                        let mut ran = 0;
                        let mut slow = Vec::new();
                        let mut i = t;
                        while i < n {
                            let family = ALL_FAMILIES[i % ALL_FAMILIES.len()];
                            if families.contains(&family) && only_case().is_none_or(|o| o == i) {
                                let case = draw_case(case_seed(base, i), profile);
                                if only_case().is_some() {
                                    eprintln!(
                                        "case {i}: {} {}\n  x = c({})\n  s = c({})",
                                        family.name(),
                                        case.kind,
                                        fmt_vec(&case.x),
                                        fmt_vec(&case.s)
                                    );
                                }
                                let t0 = Instant::now();
                                let res = check(family, &case.x, &case.s);
                                let dt = t0.elapsed();
                                if std::env::var("FLASHIERRS_FUZZ_TIMES").is_ok() {
                                    eprintln!(
                                        "TIME\t{i}\t{}\t{}\t{}",
                                        family.name(),
                                        case.kind,
                                        dt.as_secs_f64()
                                    );
                                }
                                if dt > SLOW {
                                    slow.push((
                                        dt,
                                        format!("case {i} ({}, {})", family.name(), case.kind),
                                    ));
                                }
                                ran += 1;
                                if let Err(failure) = res {
                                    found.push(Found {
                                        index: i,
                                        family,
                                        case,
                                        failure,
                                    });
                                }
                            }
                            i += threads;
                        }
                        (ran, found, slow)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ran = 0;
    let mut found = Vec::new();
    let mut slow = Vec::new();
    for (r, f, sl) in results {
        ran += r;
        found.extend(f);
        slow.extend(sl);
    }
    found.sort_by_key(|f| f.index);
    slow.sort_by(|a, b| b.0.cmp(&a.0));
    (ran, found, slow)
}

/// Print a summary of the failures (one shrunk reproduction per family and
/// kind of failure) and return it.
fn report(found: &[Found]) -> String {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(String, String), (usize, &Found)> = BTreeMap::new();
    for f in found {
        let key = (f.family.name().to_string(), f.failure.label());
        groups.entry(key).or_insert((0, f)).0 += 1;
    }
    let mut out = String::new();
    for ((fam, label), (count, f)) in &groups {
        let (x, s, shrunk) = quietly(|| {
            let (x, s) = shrink(&f.case.x, &f.case.s, &|x, s| {
                fails_same(f.family, x, s, label)
            });
            let shrunk = check(f.family, &x, &s).unwrap_err();
            (x, s, shrunk)
        });
        out += &format!(
            "\n{fam}: {label} ({count} case(s); first: case {}, {})\n  \
             original failure: {:?}\n  \
             minimal failure:  {:?}\n  \
             Rust: ebnm(PriorFamily::from_name(\"{fam}\").unwrap(), &[{}], &[{}], &EbnmOptions::default())\n  \
             R:    ebnm::ebnm_{fam}(x = c({}), s = c({}))\n",
            f.index,
            f.case.kind,
            f.failure,
            shrunk,
            fmt_vec(&x),
            fmt_vec(&s),
            fmt_vec(&x),
            fmt_vec(&s),
        );
    }
    out
}

fn fuzz(families: &[PriorFamily], what: &str) {
    let (n, profile) = settings();
    let t0 = Instant::now();
    let (ran, found, slow) = run(families, n, profile);
    eprintln!(
        "fuzz_ebnm ({what}): {ran} cases ({profile:?} profile) of {} families in {:.2?} \
         (seed {}); {} failure(s); {} call(s) slower than {SLOW:?}",
        families.len(),
        t0.elapsed(),
        base_seed(),
        found.len(),
        slow.len()
    );
    for (dt, what) in slow.iter().take(20) {
        eprintln!("  slow: {dt:.2?} {what}");
    }
    if !found.is_empty() {
        let rep = report(&found);
        let fams: std::collections::BTreeSet<&str> =
            found.iter().map(|f| f.family.name()).collect();
        panic!(
            "{} of {ran} EBNM fuzz cases failed, in families {:?}:{rep}",
            found.len(),
            fams
        );
    }
}

#[test]
fn every_family_satisfies_the_properties() {
    let families: Vec<PriorFamily> = ALL_FAMILIES
        .iter()
        .copied()
        .filter(|f| !KNOWN_FAILING.contains(f))
        .collect();
    fuzz(&families, "main");
}

/// The families of [`KNOWN_FAILING`], alone: fails until they are fixed.
#[test]
fn known_failing_families_satisfy_the_properties() {
    if KNOWN_FAILING.is_empty() {
        return;
    }
    fuzz(KNOWN_FAILING, "known failing");
}

#[test]
fn generator_is_deterministic() {
    let a = draw_case(case_seed(DEFAULT_SEED, 12345), Profile::Full);
    let b = draw_case(case_seed(DEFAULT_SEED, 12345), Profile::Full);
    assert_eq!(a.x, b.x);
    assert_eq!(a.s, b.s);
    let mut r = Rng::new(1);
    let u: Vec<f64> = (0..1000).map(|_| r.unif()).collect();
    assert!(u.iter().all(|&v| (0.0..1.0).contains(&v)));
    let mean = u.iter().sum::<f64>() / 1000.0;
    assert!((mean - 0.5).abs() < 0.05, "{mean}");
}

/// The edge cases the brief lists explicitly, on every family, besides the
/// random ones.
#[test]
fn fixed_edge_cases() {
    let mut cases: Vec<(&str, Vec<f64>, Vec<f64>)> = vec![
        ("n = 1, x = 0", vec![0.0], vec![1.0]),
        ("n = 1, x = 3", vec![3.0], vec![1.0]),
        ("n = 1, x = -1e3 s", vec![-1e3], vec![1.0]),
        ("all zero", vec![0.0; 50], vec![1.0; 50]),
        ("all equal 5", vec![5.0; 50], vec![1.0; 50]),
        ("all equal -5", vec![-5.0; 50], vec![1.0; 50]),
        (
            "tiny s",
            (0..50).map(|i| (i as f64 - 25.0) * 1e-8).collect(),
            vec![1e-8; 50],
        ),
        (
            "huge s",
            (0..50).map(|i| (i as f64 - 25.0) * 1e8).collect(),
            vec![1e8; 50],
        ),
        (
            "x = 1e3 s",
            (0..50)
                .map(|i| if i % 2 == 0 { 1e3 } else { 0.1 })
                .collect(),
            vec![1.0; 50],
        ),
        (
            "hetero 1e-8..1e8",
            (0..17)
                .map(|i| if i % 3 == 0 { 1.0 } else { -2.0 })
                .collect(),
            (0..17).map(|i| 10f64.powi(i - 8)).collect(),
        ),
    ];
    cases.push((
        "signal 1e6",
        (0..30).map(|i| 1e6 * (i as f64 - 15.0)).collect(),
        vec![1.0; 30],
    ));
    cases.push((
        "signal 1e-6",
        (0..30).map(|i| 1e-6 * (i as f64 - 15.0)).collect(),
        vec![1.0; 30],
    ));
    let mut failures = Vec::new();
    for (name, x, s) in &cases {
        for &family in ALL_FAMILIES.iter().filter(|f| !KNOWN_FAILING.contains(f)) {
            let t0 = Instant::now();
            let res = quietly(|| check(family, x, s));
            if std::env::var("FLASHIERRS_FUZZ_TIMES").is_ok() {
                eprintln!("TIME\t{name}\t{}\t{:?}", family.name(), t0.elapsed());
            }
            if let Err(f) = res {
                failures.push(format!("{name}: {}: {f:?}", family.name()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fixed edge cases failed:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Log-likelihood consistency (properties beyond the list of issue 7, added
// because a log-likelihood can be wrong while finite):
//
// * scale equivariance: multiplying x and s by c = 2^k (exactly, in floating
//   point) must shift the log-likelihood by -n log c (to 1e-6 relative), as
//   every family's prior is fitted on a scale-free grid or by maximum
//   likelihood over its scale. (The posterior means are not compared: when
//   the likelihood is flat in some direction of g, two equally good fits
//   can give an uninformative observation different means.)
// * the upper bound sum_i -log(s_i sqrt(2 pi)): no prior gives an
//   observation a density above that of a point mass at the observation.
//
// It runs on a sixth as many cases as the main test.

/// Families whose log-likelihood is known to fail these checks: the test
/// `loglik_is_consistent` skips them, `known_inconsistent_logliks_are_consistent`
/// runs them alone (and fails until they are fixed). Empty while every
/// family passes. (The first runs found point_normal, point_laplace and
/// point_exponential losing the log-likelihood to cancellation as `|x| / s`
/// grew, e.g. `ebnm_point_normal(x = -2e7, s = 1)` gave -18.21875 and
/// `ebnm_point_exponential(x = 1e12, s = 1)` exactly 0. generalized_binary
/// exceeds the bound, e.g. -0.572 for `x = 0, s = 1`, by ebnm's own
/// log(2) / 2 per observation, which the check allows.)
///
/// Listed now: point_laplace and point_exponential with `s` spread over
/// several decades and the slab scale driven to ~1e-17 exceed the upper
/// bound, e.g. `x = c(0, 0, 0), s = c(1, 1e-6, 1e-6)` gives 27.631 (point
/// Laplace) and 24.901 (point exponential) > 24.874 (see
/// [`fixed_loglik_cases`]; the excess tends to 2.757 as the spread grows).
const KNOWN_INCONSISTENT_LOGLIK: &[PriorFamily] = &[];

fn check_equivariance(family: PriorFamily, x: &[f64], s: &[f64], k: i32) -> Result<(), String> {
    let c = 2f64.powi(k);
    let xc: Vec<f64> = x.iter().map(|v| v * c).collect();
    let sc: Vec<f64> = s.iter().map(|v| v * c).collect();
    let opts = EbnmOptions::default();
    let run = |x: &[f64], s: &[f64]| catch_unwind(AssertUnwindSafe(|| ebnm(family, x, s, &opts)));
    let (a, b) = match (run(x, s), run(&xc, &sc)) {
        (Ok(Ok(a)), Ok(Ok(b))) => (a, b),
        (Ok(Err(_)), Ok(Err(_))) => return Ok(()),
        (Err(_), _) | (_, Err(_)) => return Err("panic".into()),
        (Ok(Err(e)), Ok(Ok(_))) => return Err(format!("error at scale 1 only: {e}")),
        (Ok(Ok(_)), Ok(Err(e))) => return Err(format!("error at scale 2^{k} only: {e}")),
    };
    let n = x.len() as f64;
    // p(x_i) = int N(x_i; theta, s_i^2) g(dtheta) <= 1 / (s_i sqrt(2 pi)).
    // The generalized binary family reports ebnm's log-likelihood, which
    // carries a documented excess of log(2) / 2 per observation; allow it.
    let excess = if family == PriorFamily::GeneralizedBinary {
        n * flashierrs_core::ebnm::generalized_binary::LOGLIK_EXCESS_PER_OBS
    } else {
        0.0
    };
    let bound: f64 = s
        .iter()
        .map(|si| -si.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln())
        .sum::<f64>()
        + excess;
    if a.log_likelihood > bound + 1e-8 * (1.0 + bound.abs()) {
        return Err(format!(
            "log-likelihood {} above its upper bound sum(-log(s) - log(2 pi) / 2) = {bound}",
            a.log_likelihood
        ));
    }
    if family != PriorFamily::Flat && a.log_likelihood.is_finite() && b.log_likelihood.is_finite() {
        let expected = a.log_likelihood - n * c.ln();
        // The generalized binary fit (ebnm's EM, tolerance 1e-3) is only
        // converged to about 1e-3 in its log-likelihood.
        let slack = if family == PriorFamily::GeneralizedBinary {
            1e-2
        } else {
            0.0
        };
        let tol = slack + 1e-6 * (1.0 + a.log_likelihood.abs());
        if (b.log_likelihood - expected).abs() > tol {
            return Err(format!(
                "log-likelihood {} at scale 1, {} at scale 2^{k} (expected {expected})",
                a.log_likelihood, b.log_likelihood
            ));
        }
    }
    Ok(())
}

fn equivariance(families: &[PriorFamily]) {
    let (n, profile) = settings();
    let n = n / 6;
    let base = base_seed() ^ 0x5CA1_E000;
    let t0 = Instant::now();
    let nthreads = n_threads();
    let results: Vec<(usize, Vec<(PriorFamily, Case, i32, String)>)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..nthreads)
            .map(|t| {
                sc.spawn(move || {
                    quietly(|| {
                        let mut failures = Vec::new();
                        let mut ran = 0;
                        for i in (t..n).step_by(nthreads) {
                            let family = ALL_FAMILIES[i % ALL_FAMILIES.len()];
                            if !families.contains(&family) {
                                continue;
                            }
                            let seed = case_seed(base, i);
                            let case = draw_case(seed, profile);
                            let k = {
                                let mut r = Rng::new(seed ^ 0xABCD);
                                let k = r.int(1, 40) as i32;
                                if r.bernoulli(0.5) {
                                    k
                                } else {
                                    -k
                                }
                            };
                            ran += 1;
                            if let Err(msg) = check_equivariance(family, &case.x, &case.s, k) {
                                failures.push((family, case, k, msg));
                            }
                        }
                        (ran, failures)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ran: usize = results.iter().map(|r| r.0).sum();
    let failures: Vec<(PriorFamily, Case, i32, String)> =
        results.into_iter().flat_map(|r| r.1).collect();
    eprintln!(
        "log-likelihood consistency: {ran} cases ({profile:?} profile) in {:.2?}; {} failure(s)",
        t0.elapsed(),
        failures.len()
    );
    if failures.is_empty() {
        return;
    }
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for (family, case, k, msg) in &failures {
        if !seen.insert(family.name()) {
            continue;
        }
        let count = failures.iter().filter(|f| f.0 == *family).count();
        let (x, s) = quietly(|| {
            shrink(&case.x, &case.s, &|x, s| {
                check_equivariance(*family, x, s, *k).is_err()
            })
        });
        let shrunk = quietly(|| check_equivariance(*family, &x, &s, *k)).unwrap_err();
        out += &format!(
            "\n{}: {count} case(s); first ({}): {msg}\n  minimal, x and s times 2^{k}: {shrunk}\n  \
             R: ebnm::ebnm_{}(x = c({}), s = c({}))$log_likelihood\n",
            family.name(),
            case.kind,
            family.name(),
            fmt_vec(&x),
            fmt_vec(&s)
        );
    }
    let fams: Vec<&str> = seen.into_iter().collect();
    panic!(
        "{} of {ran} log-likelihood consistency cases failed, in families {fams:?}:{out}",
        failures.len()
    );
}

/// Hand-picked cases for the log-likelihood checks, found by the full
/// profile (which the default run does not draw): `(x, s, k)`.
fn fixed_loglik_cases() -> Vec<(Vec<f64>, Vec<f64>, i32)> {
    vec![
        // s over six decades, x all zero: point_laplace and
        // point_exponential exceeded the upper bound by 2.76 (their slab
        // scale shrank to ~1e-17).
        (vec![0.0; 3], vec![1.0, 1e-6, 1e-6], 20),
        (vec![0.0, 0.5, -0.2], vec![1.0, 1e-4, 1e-4], -20),
        // One observation, n = 1.
        (vec![8e-4], vec![6e-4], -20),
        // A wide spread of s with one large |x| / s.
        (vec![0.0, 3.0, -2e4], vec![1e-7, 1.0, 10.0], 17),
    ]
}

fn fixed_loglik(families: &[PriorFamily]) {
    let mut failures = Vec::new();
    quietly(|| {
        for (x, s, k) in fixed_loglik_cases() {
            for &family in families {
                if let Err(msg) = check_equivariance(family, &x, &s, k) {
                    failures.push(format!(
                        "{}: x = c({}), s = c({}), k = {k}: {msg}",
                        family.name(),
                        fmt_vec(&x),
                        fmt_vec(&s)
                    ));
                }
            }
        }
    });
    assert!(
        failures.is_empty(),
        "fixed log-likelihood cases failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn loglik_is_consistent() {
    let families: Vec<PriorFamily> = ALL_FAMILIES
        .iter()
        .copied()
        .filter(|f| !KNOWN_INCONSISTENT_LOGLIK.contains(f))
        .collect();
    fixed_loglik(&families);
    equivariance(&families);
}

#[test]
fn known_inconsistent_logliks_are_consistent() {
    if KNOWN_INCONSISTENT_LOGLIK.is_empty() {
        return;
    }
    fixed_loglik(KNOWN_INCONSISTENT_LOGLIK);
    equivariance(KNOWN_INCONSISTENT_LOGLIK);
}
