//! Empirical Bayes normal means.
//!
//! Every solver fits the model `x_i ~ N(theta_i, s_i^2)`, `theta_i ~ g`,
//! `g` in a prior family `G`, by maximising the marginal log-likelihood
//! `sum_i log int N(x_i; theta, s_i^2) g(dtheta)` over `g` (unless `fix_g`),
//! and returns the fitted prior, the posterior moments of each `theta_i` and
//! that log-likelihood. The matrix-factorization code only talks to solvers
//! through [`EbnmSolver`], so it never needs to know which family it has.

use std::fmt;

/// The prior families that ebnm 1.1 offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PriorFamily {
    PointNormal,
    PointLaplace,
    PointExponential,
    Normal,
    NormalScaleMixture,
    Unimodal,
    UnimodalSymmetric,
    UnimodalNonnegative,
    UnimodalNonpositive,
    Npmle,
    GeneralizedBinary,
    Horseshoe,
    Flat,
    PointMass,
}

impl PriorFamily {
    /// ebnm's name for the family (`"point_normal"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PriorFamily::PointNormal => "point_normal",
            PriorFamily::PointLaplace => "point_laplace",
            PriorFamily::PointExponential => "point_exponential",
            PriorFamily::Normal => "normal",
            PriorFamily::NormalScaleMixture => "normal_scale_mixture",
            PriorFamily::Unimodal => "unimodal",
            PriorFamily::UnimodalSymmetric => "unimodal_symmetric",
            PriorFamily::UnimodalNonnegative => "unimodal_nonnegative",
            PriorFamily::UnimodalNonpositive => "unimodal_nonpositive",
            PriorFamily::Npmle => "npmle",
            PriorFamily::GeneralizedBinary => "generalized_binary",
            PriorFamily::Horseshoe => "horseshoe",
            PriorFamily::Flat => "flat",
            PriorFamily::PointMass => "point_mass",
        }
    }

    pub fn from_name(name: &str) -> Option<PriorFamily> {
        ALL_FAMILIES.iter().copied().find(|f| f.name() == name)
    }

    /// Sign of the support when the mode is zero: +1 nonnegative, -1
    /// nonpositive, 0 unconstrained. flash uses it to constrain the greedy
    /// initialisation.
    pub fn sign(self) -> i8 {
        match self {
            PriorFamily::PointExponential
            | PriorFamily::UnimodalNonnegative
            | PriorFamily::GeneralizedBinary => 1,
            PriorFamily::UnimodalNonpositive => -1,
            _ => 0,
        }
    }
}

pub const ALL_FAMILIES: [PriorFamily; 14] = [
    PriorFamily::PointNormal,
    PriorFamily::PointLaplace,
    PriorFamily::PointExponential,
    PriorFamily::Normal,
    PriorFamily::NormalScaleMixture,
    PriorFamily::Unimodal,
    PriorFamily::UnimodalSymmetric,
    PriorFamily::UnimodalNonnegative,
    PriorFamily::UnimodalNonpositive,
    PriorFamily::Npmle,
    PriorFamily::GeneralizedBinary,
    PriorFamily::Horseshoe,
    PriorFamily::Flat,
    PriorFamily::PointMass,
];

/// A fitted prior, in the shapes ebnm returns (`normalmix`, `laplacemix`,
/// `gammamix`, `unimix`, `tnormalmix`, `horseshoe`). Components are parallel
/// vectors; `pi` sums to one.
#[derive(Clone, Debug, PartialEq)]
pub enum Prior {
    /// `sum_k pi_k N(mean_k, sd_k^2)`; `sd_k = 0` is a point mass.
    NormalMix {
        pi: Vec<f64>,
        mean: Vec<f64>,
        sd: Vec<f64>,
    },
    /// `sum_k pi_k Laplace(mean_k, scale_k)`; `scale_k = 0` is a point mass.
    LaplaceMix {
        pi: Vec<f64>,
        mean: Vec<f64>,
        scale: Vec<f64>,
    },
    /// `sum_k pi_k (shift_k + Gamma(shape_k, scale_k))`; `scale_k = 0` is a point mass.
    GammaMix {
        pi: Vec<f64>,
        shape: Vec<f64>,
        scale: Vec<f64>,
        shift: Vec<f64>,
    },
    /// `sum_k pi_k Uniform(a_k, b_k)`; `a_k = b_k` is a point mass.
    UniMix {
        pi: Vec<f64>,
        a: Vec<f64>,
        b: Vec<f64>,
    },
    /// `sum_k pi_k N(mean_k, sd_k^2)` truncated to `[a_k, b_k]`.
    TNormalMix {
        pi: Vec<f64>,
        mean: Vec<f64>,
        sd: Vec<f64>,
        a: Vec<f64>,
        b: Vec<f64>,
    },
    /// Horseshoe prior with global scale `scale` (ebnm's `horseshoe` class).
    Horseshoe { scale: f64 },
}

impl Prior {
    /// The mixture weights of a normal or uniform mixture.
    pub fn mixture_weights(&self) -> Option<&[f64]> {
        match self {
            Prior::NormalMix { pi, .. } | Prior::UniMix { pi, .. } => Some(pi),
            _ => None,
        }
    }
}

/// What the user asks of the mode of `g`.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Fixed(f64),
    Estimate,
}

/// What the user asks of the scale of `g`: estimated, or fixed. For the
/// parametric families a fixed scale is one number (sigma for point-normal,
/// the Laplace / exponential scale, ...); for the mixture families it is the
/// grid (ebnm's `scale` argument).
#[derive(Clone, Debug, PartialEq)]
pub enum Scale {
    Estimate,
    Fixed(Vec<f64>),
}

/// Options shared by every family, mirroring ebnm's arguments.
#[derive(Clone, Debug)]
pub struct EbnmOptions {
    pub mode: Mode,
    pub scale: Scale,
    /// Starting point (or, with `fix_g`, the prior itself).
    pub g_init: Option<Prior>,
    pub fix_g: bool,
    /// Compute local false sign rates (`lfsr`).
    pub compute_lfsr: bool,
    /// A previous fit's prior whose weights start the mixture families'
    /// weights: as they are when the grid has as many components (scale
    /// mixtures, unimodal), moved onto the new grid for the NPMLE, whose
    /// grid follows the range of `x`. The weights' optimum on a grid is
    /// unique, so the start only changes how fast it is found; the other
    /// families ignore it.
    pub prior_start: Option<Prior>,
}

impl EbnmOptions {
    /// The weights of `prior_start` when it is a mixture of `len`
    /// components: the start of the scale-mixture and unimodal families'
    /// weights on a grid of that length.
    pub fn start_weights(&self, len: usize) -> Option<&[f64]> {
        self.prior_start.as_ref().and_then(Prior::mixture_weights).filter(|w| w.len() == len)
    }
}

impl Default for EbnmOptions {
    fn default() -> Self {
        EbnmOptions {
            mode: Mode::Fixed(0.0),
            scale: Scale::Estimate,
            g_init: None,
            fix_g: false,
            compute_lfsr: true,
            prior_start: None,
        }
    }
}

/// The result of an EBNM fit.
#[derive(Clone, Debug)]
pub struct EbnmFit {
    pub prior: Prior,
    /// Posterior means `E[theta_i | x_i]`.
    pub mean: Vec<f64>,
    /// Posterior second moments `E[theta_i^2 | x_i]`.
    pub second_moment: Vec<f64>,
    /// Posterior standard deviations.
    pub sd: Vec<f64>,
    /// Local false sign rates, when asked for.
    pub lfsr: Option<Vec<f64>>,
    /// `sum_i log p(x_i | g_hat, s_i)`.
    pub log_likelihood: f64,
}

/// Why a solver could not answer. Messages are meant for a statistician.
#[derive(Clone, Debug, PartialEq)]
pub struct EbnmError(pub String);

impl fmt::Display for EbnmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EbnmError {}

impl From<String> for EbnmError {
    fn from(s: String) -> Self {
        EbnmError(s)
    }
}

impl From<&str> for EbnmError {
    fn from(s: &str) -> Self {
        EbnmError(s.to_string())
    }
}

/// Anything flash can hand an EBNM problem to: a built-in family, or (in the
/// R glue crate) a user's R function.
pub trait EbnmSolver {
    /// Solve the EBNM problem for observations `x` with standard errors `s`.
    /// `g_init` is a warm start (or, with `fix_g`, the prior to use as is).
    fn solve(
        &self,
        x: &[f64],
        s: &[f64],
        g_init: Option<&Prior>,
        fix_g: bool,
    ) -> Result<EbnmFit, EbnmError>;

    /// +1 if every posterior mean is nonnegative, -1 if nonpositive, 0 otherwise.
    fn sign(&self) -> i8 {
        0
    }

    /// True when the prior is estimated from a family of priors symmetric
    /// about zero (a rotation of the factors then proposes priors of the
    /// same family; see `Fitter::rotation_proposal`).
    fn symmetric_about_zero(&self) -> bool {
        false
    }

    /// True when `g_init` is only a starting point whose choice does not
    /// change the optimum (parametric families fit by local optimisation of
    /// a well-behaved likelihood), so the fitting loop may warm-start from
    /// the previous iteration's prior to save work.
    fn warm_start_is_free(&self) -> bool {
        false
    }

    /// Solve from a starting point `start` (the previous iteration's prior)
    /// that changes only the work, not the answer: parametric families
    /// start their optimiser there, mixture families their weights. The
    /// default ignores it.
    fn solve_from(&self, x: &[f64], s: &[f64], start: Option<&Prior>) -> Result<EbnmFit, EbnmError> {
        let _ = start;
        self.solve(x, s, None, false)
    }
}

/// A built-in family together with its options: the usual [`EbnmSolver`].
#[derive(Clone, Debug)]
pub struct BuiltinSolver {
    pub family: PriorFamily,
    pub options: EbnmOptions,
}

impl EbnmSolver for BuiltinSolver {
    fn solve(
        &self,
        x: &[f64],
        s: &[f64],
        g_init: Option<&Prior>,
        fix_g: bool,
    ) -> Result<EbnmFit, EbnmError> {
        let mut opts = self.options.clone();
        if let Some(g) = g_init {
            opts.g_init = Some(g.clone());
        }
        opts.fix_g = opts.fix_g || fix_g;
        // Inside a fit, lfsr is only needed for the final summaries, which
        // are computed with the fitted prior held fixed.
        opts.compute_lfsr = opts.fix_g;
        ebnm(self.family, x, s, &opts)
    }

    fn sign(&self) -> i8 {
        match self.options.mode {
            Mode::Fixed(m) if m == 0.0 => self.family.sign(),
            _ => 0,
        }
    }

    fn symmetric_about_zero(&self) -> bool {
        matches!(self.options.mode, Mode::Fixed(m) if m == 0.0)
            && !self.options.fix_g
            && matches!(
                self.family,
                PriorFamily::PointNormal
                    | PriorFamily::PointLaplace
                    | PriorFamily::Normal
                    | PriorFamily::NormalScaleMixture
                    | PriorFamily::UnimodalSymmetric
                    | PriorFamily::Horseshoe
            )
    }

    fn warm_start_is_free(&self) -> bool {
        self.options.g_init.is_none()
            && matches!(
                self.family,
                PriorFamily::PointNormal | PriorFamily::Normal | PriorFamily::PointExponential | PriorFamily::PointLaplace
            )
    }

    fn solve_from(&self, x: &[f64], s: &[f64], start: Option<&Prior>) -> Result<EbnmFit, EbnmError> {
        let Some(g) = start else { return self.solve(x, s, None, false) };
        if self.warm_start_is_free() {
            return self.solve(x, s, Some(g), false);
        }
        let mut opts = self.options.clone();
        opts.compute_lfsr = false;
        if self.options.g_init.is_none() {
            opts.prior_start = Some(g.clone());
        }
        ebnm(self.family, x, s, &opts)
    }
}

/// Check the inputs every family shares: equal lengths (or `s` of length
/// one), finite `x`, and positive finite `s`.
pub fn check_inputs(x: &[f64], s: &[f64]) -> Result<(), EbnmError> {
    if x.is_empty() {
        return Err("x must have at least one element".into());
    }
    if s.len() != x.len() {
        return Err(format!(
            "s must have length 1 or the length of x ({}), not {}",
            x.len(),
            s.len()
        )
        .into());
    }
    // A branch-free scan first (it vectorises); the offending element is
    // looked for only when there is one.
    let x_ok = x.iter().fold(true, |ok, v| ok & v.is_finite());
    let s_ok = s.iter().fold(true, |ok, v| ok & (v.is_finite() & (*v > 0.0)));
    if x_ok && s_ok {
        return Ok(());
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(format!("x must be finite (element {} is {})", i + 1, x[i]).into());
    }
    if let Some(i) = s.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        return Err(format!(
            "s must be positive and finite (element {} is {})",
            i + 1,
            s[i]
        )
        .into());
    }
    Ok(())
}

/// Solve one EBNM problem with a built-in family.
pub fn ebnm(
    family: PriorFamily,
    x: &[f64],
    s: &[f64],
    opts: &EbnmOptions,
) -> Result<EbnmFit, EbnmError> {
    check_inputs(x, s)?;
    match family {
        PriorFamily::PointNormal => point_normal::solve(x, s, opts),
        PriorFamily::PointLaplace => point_laplace::solve(x, s, opts),
        PriorFamily::PointExponential => point_exponential::solve(x, s, opts),
        PriorFamily::Normal => normal::solve(x, s, opts),
        PriorFamily::GeneralizedBinary => generalized_binary::solve(x, s, opts),
        PriorFamily::Horseshoe => horseshoe::solve(x, s, opts),
        PriorFamily::Flat => flat::solve(x, s, opts),
        PriorFamily::PointMass => point_mass::solve(x, s, opts),
        PriorFamily::NormalScaleMixture => normal_scale_mixture::solve(x, s, opts),
        PriorFamily::Unimodal => unimodal::solve_unimodal(x, s, opts),
        PriorFamily::UnimodalSymmetric => unimodal::solve_symmetric(x, s, opts),
        PriorFamily::UnimodalNonnegative => unimodal::solve_nonnegative(x, s, opts),
        PriorFamily::UnimodalNonpositive => unimodal::solve_nonpositive(x, s, opts),
        PriorFamily::Npmle => npmle::solve(x, s, opts),
        #[allow(unreachable_patterns)]
        other => Err(format!("prior family '{}' is not implemented yet", other.name()).into()),
    }
}

pub mod flat;
pub mod generalized_binary;
pub mod grid;
pub mod horseshoe;
pub mod mixsqp;
pub mod mixture_posterior;
pub mod newton;
pub mod normal;
pub mod normal_scale_mixture;
pub mod npmle;
pub mod optim;
pub mod point_exponential;
pub mod point_laplace;
pub mod point_mass;
pub mod point_normal;
pub mod sample;
pub mod truncnorm;
pub mod unimodal;
