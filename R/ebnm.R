# EBNM prior families. Each ebnm_* function solves an empirical Bayes
# normal-means problem in Rust and returns ebnm's result shape.

ebnm_families <- c("point_normal", "point_laplace", "point_exponential",
                   "normal", "normal_scale_mixture", "unimodal",
                   "unimodal_symmetric", "unimodal_nonnegative",
                   "unimodal_nonpositive", "npmle", "generalized_binary",
                   "horseshoe", "flat", "point_mass")

#' Default outputs of the EBNM functions
#'
#' The outputs an `ebnm_*` function returns unless told otherwise, and all
#' the outputs it can return, as in the ebnm package.
#'
#' @return A character vector.
#' @examples
#' ebnm_output_default()
#' @export
ebnm_output_default <- function() {
  c("data", "posterior_mean", "posterior_sd", "fitted_g", "log_likelihood")
}

#' @rdname ebnm_output_default
#' @export
ebnm_output_all <- function() {
  c("data", "posterior_mean", "posterior_sd", "posterior_second_moment",
    "posterior_lfsr", "fitted_g", "log_likelihood", "posterior_sampler")
}

# Checks shared by every family; returns s recycled to the length of x.
check_ebnm_args <- function(x, s, g_init, fix_g, output) {
  if (!is.numeric(x) || length(x) < 1) {
    abort_arg("x", "must be a numeric vector with at least one element.")
  }
  if (anyNA(x) || any(!is.finite(x))) {
    abort_arg("x", "must not contain NA, NaN or infinite values.")
  }
  if (!is.numeric(s) || !(length(s) == 1 || length(s) == length(x))) {
    abort_arg("s", "must be a positive number or a vector of the same ",
              "length as x (", length(x), ").")
  }
  if (anyNA(s) || any(!is.finite(s)) || any(s <= 0)) {
    abort_arg("s", "must contain only positive, finite values.")
  }
  check_magnitude(x, "x", limit = 1e150)
  if (any(s < 1e-150) || any(s > 1e150)) {
    abort_arg("s", "must lie between 1e-150 and 1e150 (the squares of ",
              "values beyond underflow or overflow); rescale x and s ",
              "together.")
  }
  if (!is.null(g_init) &&
      !(is.list(g_init) && inherits(g_init, c("normalmix", "laplacemix",
                                               "gammamix", "unimix",
                                               "tnormalmix", "horseshoe")))) {
    abort_arg("g_init", "must be NULL or a fitted prior (an object of ",
              "class normalmix, laplacemix, gammamix, unimix, tnormalmix or ",
              "horseshoe).")
  }
  check_flag(fix_g, "fix_g")
  if (fix_g && is.null(g_init)) {
    abort_arg("g_init", "must be supplied when fix_g = TRUE.")
  }
  bad <- setdiff(output, ebnm_output_all())
  if (length(bad) > 0) {
    abort_arg("output", "has unknown value(s): ", paste(bad, collapse = ", "),
              ".")
  }
  if (length(s) == 1) {
    s <- rep(s, length(x))
  }
  as.double(s)
}

# Solve with a built-in family and dress the result as ebnm does.
ebnm_solve <- function(family, x, s, mode, scale, g_init, fix_g, output) {
  s <- check_ebnm_args(x, s, g_init, fix_g, output)
  apply_thread_option()
  res <- ebnm_rs(family, as.double(x), s, mode, scale, g_init, fix_g)
  out <- list()
  post <- list()
  if ("posterior_mean" %in% output) post$mean <- res$mean
  if ("posterior_sd" %in% output) post$sd <- res$sd
  if ("posterior_second_moment" %in% output) {
    post$second_moment <- res$second_moment
  }
  if ("posterior_lfsr" %in% output && !is.null(res$lfsr)) {
    post$lfsr <- res$lfsr
  }
  if ("data" %in% output) out$data <- data.frame(x = x, s = s)
  if (length(post) > 0) out$posterior <- as.data.frame(post)
  if ("fitted_g" %in% output) out$fitted_g <- res$fitted_g
  if ("posterior_sampler" %in% output) {
    g <- res$fitted_g
    xs <- as.double(x)
    out$posterior_sampler <- function(nsamp) {
      check_whole_number(nsamp, "nsamp", lower = 1)
      ebnm_sample_rs(g, xs, s, as.integer(nsamp))
    }
  }
  if ("log_likelihood" %in% output) {
    out$log_likelihood <- structure(res$log_likelihood, df = NA,
                                    nobs = length(x), class = "logLik")
  }
  class(out) <- c("list", "ebnm")
  out
}

#' Empirical Bayes normal means with point-normal priors
#'
#' Solves the empirical Bayes normal means problem
#' \eqn{x_i \sim N(\theta_i, s_i^2)}, \eqn{\theta_i \sim g}, with \eqn{g} a
#' point-normal prior \eqn{\pi_0 \delta_\mu + (1 - \pi_0) N(\mu, \sigma^2)}:
#' \eqn{g} is estimated by maximum marginal likelihood and the posterior of
#' each \eqn{\theta_i} is summarised. The computation runs in Rust.
#'
#' @param x Observations: a numeric vector.
#' @param s Standard errors: a positive number, or a vector of the length of
#'   `x`.
#' @param mode The location \eqn{\mu} of the prior, or `"estimate"`.
#' @param scale The prior's standard deviation \eqn{\sigma}, or `"estimate"`.
#' @param g_init A prior of class `normalmix` to start from (or, with
#'   `fix_g = TRUE`, to use as it is).
#' @param fix_g If `TRUE`, \eqn{g} is not estimated: `g_init` is used.
#' @param output Which results to return; see [ebnm_output_default()].
#' @param ... Ignored (accepted for compatibility with ebnm).
#'
#' @return A list of class `ebnm` with elements `data`, `posterior` (a data
#'   frame with columns `mean`, `sd`, `second_moment`, `lfsr` as asked),
#'   `fitted_g` (a `normalmix`: `pi`, `mean`, `sd`) and `log_likelihood`.
#'
#' @examples
#' set.seed(1)
#' theta <- c(rep(0, 80), rnorm(20, sd = 3))
#' x <- theta + rnorm(100)
#' fit <- ebnm_point_normal(x, s = 1)
#' fit$fitted_g
#' head(fit$posterior)
#' @export
ebnm_point_normal <- function(x, s = 1, mode = 0, scale = "estimate",
                              g_init = NULL, fix_g = FALSE,
                              output = ebnm_output_default(), ...) {
  ebnm_solve("point_normal", x, s, mode, scale, g_init, fix_g, output)
}

# How the Rust core should solve the EBNM problems of one dimension: a
# built-in family (with its options) or the user's R function.
ebnm_spec <- function(fn, arg = "ebnm_fn") {
  if (!is.function(fn)) {
    abort_arg(arg, "must be a function (or a list of functions).")
  }
  spec <- attr(fn, "flashierrs_spec")
  if (!is.null(spec)) {
    return(spec)
  }
  for (family in ebnm_families) {
    builtin <- get(paste0("ebnm_", family), envir = asNamespace("flashierrs"))
    if (identical(fn, builtin)) {
      defaults <- formals(builtin)
      return(list(family = family, mode = eval(defaults$mode),
                  scale = eval(defaults$scale)))
    }
  }
  list(family = "custom", fn = guard_ebnm_fn(fn), sign = custom_sign(fn))
}

# A user's EBNM function called from Rust: an R error comes back as a value
# that carries its message, which the Rust side turns into a clear error
# naming the factor and dimension.
guard_ebnm_fn <- function(fn) {
  force(fn)
  function(...) {
    tryCatch(fn(...), error = function(e) {
      structure(list(message = conditionMessage(e)),
                class = "flashierrs_ebnm_error")
    })
  }
}

# The sign of a user's EBNM function's posterior means, found (as flashier
# does) by calling it on a small test problem: +1 if they are never
# negative, -1 if never positive, 0 otherwise.
custom_sign <- function(fn) {
  res <- tryCatch(fn(x = c(-10, -1, 1, 10), s = rep(1, 4), g_init = NULL,
                     fix_g = FALSE, output = c("posterior_mean")),
                  error = function(e) NULL)
  pm <- tryCatch(res$posterior$mean, error = function(e) NULL)
  if (!is.numeric(pm) || length(pm) != 4 || anyNA(pm)) {
    return(0)
  }
  if (all(pm >= 0)) return(1)
  if (all(pm <= 0)) return(-1)
  0
}

# ebnm_fn as flash() and flash_greedy() take it: one function, or a pair
# (loadings, factors). Returns two specs.
ebnm_fn_pair <- function(ebnm_fn, arg = "ebnm_fn") {
  if (is.function(ebnm_fn)) {
    spec <- ebnm_spec(ebnm_fn, arg)
    return(list(spec, spec))
  }
  if (is.list(ebnm_fn) && length(ebnm_fn) == 2 &&
      all(vapply(ebnm_fn, is.function, logical(1)))) {
    return(list(ebnm_spec(ebnm_fn[[1]], paste0(arg, "[[1]]")),
                ebnm_spec(ebnm_fn[[2]], paste0(arg, "[[2]]"))))
  }
  abort_arg(arg, "must be a function or a list of two functions ",
            "(one for loadings, one for factors).")
}

# ebnm_fn for a greedy fit: as ebnm_fn_pair(), or a list with one entry (a
# function or a pair) per new factor, the last entry serving any later
# factors. Returns a list of pairs of specs.
ebnm_fn_pairs <- function(ebnm_fn) {
  is_pair <- is.list(ebnm_fn) && length(ebnm_fn) == 2 &&
    all(vapply(ebnm_fn, is.function, logical(1)))
  if (is.function(ebnm_fn) || is_pair) {
    return(list(ebnm_fn_pair(ebnm_fn)))
  }
  if (is.list(ebnm_fn) && length(ebnm_fn) > 0) {
    return(lapply(seq_along(ebnm_fn), function(i) {
      ebnm_fn_pair(ebnm_fn[[i]], paste0("ebnm_fn[[", i, "]]"))
    }))
  }
  abort_arg("ebnm_fn", "must be a function, a list of two functions (one ",
            "for loadings, one for factors), or a list with one of these ",
            "per factor.")
}
