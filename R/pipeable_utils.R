# Internal helpers shared by the pipeable flash_factors_* / flash_set_*
# functions: argument checks, subsetting the factors of a flash_fit, and the
# bookkeeping of fixed factors (fit$fixed).

# kset as flashier's pipeable functions take it: distinct indices of
# existing factors. Returns the indices as integers.
check_kset <- function(fit, kset, arg = "kset") {
  k <- n_factors_fit(fit)
  if (k == 0) {
    abort_arg(arg, "cannot index any factor: the flash object has no ",
              "factors.")
  }
  if (!is.numeric(kset) || length(kset) == 0 || anyNA(kset) ||
      any(!is.finite(kset)) || any(kset != round(kset)) || any(kset < 1) ||
      any(kset > k) || anyDuplicated(kset)) {
    abort_arg(arg, "must hold distinct factor indices between 1 and ", k,
              ".")
  }
  as.integer(kset)
}

# The dimension argument `n` of the flash_fit accessors and the
# convergence/verbose functions: 1 (loadings) or 2 (factors).
check_dim_n <- function(n, arg = "n") {
  if (missing(n)) {
    abort_arg(arg, "is missing: set n = 1 for loadings or n = 2 for factors.")
  }
  if (!is.numeric(n) || length(n) != 1 || is.na(n) || !(n %in% c(1, 2))) {
    abort_arg(arg, "must be 1 (loadings) or 2 (factors).")
  }
  as.integer(n)
}

# The fixed-factor records, one per factor (NULL: not fixed).
fit_fixed <- function(fit) {
  fixed <- as.list(fit$fixed)
  length(fixed) <- n_factors_fit(fit)
  fixed
}

any_fixed <- function(fit, kset = seq_len(n_factors_fit(fit))) {
  fixed <- fit_fixed(fit)[kset]
  any(!vapply(fixed, is.null, logical(1)))
}

set_fixed <- function(fit, fixed) {
  fit["fixed"] <- list(fixed)
  fit
}

# After the Rust nullcheck removed factors `removed`, drop their records.
drop_fixed <- function(fit, removed) {
  if (is.null(fit$fixed) || length(removed) == 0) {
    return(fit)
  }
  fixed <- as.list(fit$fixed)
  length(fixed) <- max(length(fixed), max(removed))
  set_fixed(fit, fixed[-removed])
}

# Keep factors `keep` of a fit, in that order (their moments, KL, priors,
# solvers and fixed records). The ELBO and tau are stale until the fit is
# refreshed.
subset_factors <- function(fit, keep) {
  k <- n_factors_fit(fit)
  fixed <- fit_fixed(fit)
  if (length(keep) == 0) {
    for (name in c("L", "F", "L2", "F2", "KL")) {
      fit[name] <- list(NULL)
    }
    fit["g_l"] <- list(list())
    fit["g_f"] <- list(list())
    fit["ebnm"] <- list(list())
    return(set_fixed(fit, list()))
  }
  for (name in c("L", "F", "L2", "F2")) {
    fit[name] <- list(as.matrix(fit[[name]])[, keep, drop = FALSE])
  }
  kl <- fit$KL
  if (length(kl) != 2 * k) {
    kl <- rep(0, 2 * k)
  }
  fit["KL"] <- list(as.vector(matrix(kl, nrow = 2)[, keep, drop = FALSE]))
  pad <- function(lst) {
    lst <- as.list(lst)
    length(lst) <- k
    lst[keep]
  }
  fit["g_l"] <- list(pad(fit$g_l))
  fit["g_f"] <- list(pad(fit$g_f))
  fit["ebnm"] <- list(pad(fit$ebnm))
  set_fixed(fit, fixed[keep])
}

# Recompute the residual precision and the ELBO of a fit whose factors were
# changed in R.
refresh_fit <- function(fit) {
  class(fit) <- c("flash_fit", "list")
  run_rust(fit, "refresh")
}

# Run `expr` with the random seed set to `seed`, leaving the user's random
# number stream as it was.
with_seed <- function(seed, expr) {
  had_seed <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
  if (had_seed) {
    old_seed <- get(".Random.seed", envir = globalenv(), inherits = FALSE)
  }
  on.exit({
    if (had_seed) {
      assign(".Random.seed", old_seed, envir = globalenv())
    } else if (exists(".Random.seed", envir = globalenv(),
                      inherits = FALSE)) {
      rm(".Random.seed", envir = globalenv())
    }
  })
  set.seed(seed)
  expr
}

# Factors of `kset` whose priors have never been fitted (added by
# flash_factors_init() or flash_add_intercept(), and not zero): their KL is
# 0 and their second moments are the squared means, so the ELBO overstates
# the fit. flashier marks such factors "invalid" and does not let the first
# backfit sweep count as convergence.
unfitted_factors <- function(fit, kset) {
  k <- n_factors_fit(fit)
  if (k == 0 || length(kset) == 0) {
    return(integer(0))
  }
  g_l <- as.list(fit$g_l)
  g_f <- as.list(fit$g_f)
  length(g_l) <- k
  length(g_f) <- k
  ef_l <- as.matrix(fit$L)
  ef_f <- as.matrix(fit$F)
  kset[vapply(kset, function(j) {
    (is.null(g_l[[j]]) || is.null(g_f[[j]])) &&
      any(ef_l[, j] != 0) && any(ef_f[, j] != 0)
  }, logical(1))]
}

# The Rust core's backfit stops as soon as a sweep lowers the ELBO, which
# the first sweep over unfitted factors always does (their KL starts being
# counted). So, as flashier in effect does, one sweep is made
# unconditionally first; the backfit proper then starts from valid ELBOs.
presweep_unfitted <- function(fit, kset, warmstart) {
  if (length(unfitted_factors(fit, kset)) == 0) {
    return(fit)
  }
  run_rust(fit, "backfit", list(
    kset = as.numeric(kset), maxiter = 1, tol = 0, verbose = 0,
    extrapolate = TRUE, warmstart = warmstart,
    solvers = lapply(fit$ebnm, unname)
  ))
}
