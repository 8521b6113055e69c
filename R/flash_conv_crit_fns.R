#' Calculate the difference in ELBO
#'
#' The default convergence criterion: the difference in the variational
#' lower bound ("ELBO") from one iteration to the next.
#'
#' @details This function is an example of a function that may be passed to
#'   parameter `fn` in [flash_set_conv_crit()] to set the convergence
#'   criterion for a flash pipeline. See [flash_set_conv_crit()] for details.
#'
#' @param curr The [flash_fit] object from the current iteration (a `flash`
#'   object is also accepted).
#' @param prev The [flash_fit] object from the previous iteration.
#' @param k Only used during sequential backfits (calls to [flash_backfit()]
#'   with `extrapolate = FALSE`): the index of the factor/loadings pair being
#'   optimised. `NULL` (or missing) compares all pairs.
#'
#' @return A scalar, which is compared against the tolerance parameter `tol`
#'   to determine whether a fit has converged. For the ELBO difference this
#'   is `Inf` when either ELBO is missing or not finite.
#'
#' @seealso [flash_conv_crit_max_chg()], [flash_conv_crit_max_chg_L()],
#'   [flash_conv_crit_max_chg_F()]
#'
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_conv_crit_elbo_diff(curr, prev, NULL)
#' flash_conv_crit_max_chg(curr, prev, NULL)
#' flash_conv_crit_max_chg_L(curr, prev, k = 1)
#' @export
flash_conv_crit_elbo_diff <- function(curr, prev, k) {
  calc_elbo_diff(curr, prev)
}

#' Calculate the maximum absolute difference in scaled loadings and factors
#'
#' An alternative convergence criterion: the maximum (absolute) change over
#' all posterior means of the loadings \eqn{\ell_{ik}} and factors
#' \eqn{f_{jk}}, with each loadings vector \eqn{\ell_{\cdot k}} and each
#' factor \eqn{f_{\cdot k}} first scaled to unit \eqn{L^2} norm.
#'
#' @inherit flash_conv_crit_elbo_diff details
#' @inheritParams flash_conv_crit_elbo_diff
#' @return A scalar, which is compared against the tolerance parameter `tol`
#'   to determine whether a fit has converged.
#' @seealso [flash_conv_crit_elbo_diff()], [flash_conv_crit_max_chg_L()],
#'   [flash_conv_crit_max_chg_F()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_conv_crit_max_chg(curr, prev, NULL)
#' @export
flash_conv_crit_max_chg <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = NULL)
}

#' Calculate the maximum absolute difference in scaled loadings
#'
#' An alternative convergence criterion: the maximum (absolute) change over
#' all posterior means of the loadings \eqn{\ell_{ik}}, with each loadings
#' vector \eqn{\ell_{\cdot k}} first scaled to unit \eqn{L^2} norm.
#'
#' @inherit flash_conv_crit_max_chg details return
#' @inheritParams flash_conv_crit_elbo_diff
#' @seealso [flash_conv_crit_elbo_diff()], [flash_conv_crit_max_chg()],
#'   [flash_conv_crit_max_chg_F()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_conv_crit_max_chg_L(curr, prev, NULL)
#' @export
flash_conv_crit_max_chg_L <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = 1)
}

#' Calculate the maximum absolute difference in scaled factors
#'
#' An alternative convergence criterion: the maximum (absolute) change over
#' all posterior means of the factors \eqn{f_{jk}}, with each factor
#' \eqn{f_{\cdot k}} first scaled to unit \eqn{L^2} norm.
#'
#' @inherit flash_conv_crit_max_chg details return
#' @inheritParams flash_conv_crit_elbo_diff
#' @seealso [flash_conv_crit_elbo_diff()], [flash_conv_crit_max_chg()],
#'   [flash_conv_crit_max_chg_L()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_conv_crit_max_chg_F(curr, prev, NULL)
#' @export
flash_conv_crit_max_chg_F <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = 2)
}

# Shared by the convergence and verbose functions ----------------------------

# A fit's ELBO, or NA when it has none (or a non-finite one).
fit_elbo <- function(fit) {
  elbo <- fit$elbo
  if (!is.numeric(elbo) || length(elbo) != 1 || !is.finite(elbo)) {
    return(NA_real_)
  }
  elbo
}

calc_elbo_diff <- function(curr, prev) {
  curr <- get_fit(curr, "curr")
  prev <- get_fit(prev, "prev")
  diff <- fit_elbo(curr) - fit_elbo(prev)
  if (is.na(diff)) Inf else diff
}

# The posterior means to compare: L (n = 1), F (n = 2) or both stacked
# (n = NULL), each column scaled to unit L2 norm; only column k if k is set.
scaled_pm <- function(fit, k, n, arg) {
  kk <- n_factors_fit(fit)
  if (!is.null(k)) {
    if (!is.numeric(k) || length(k) != 1 || is.na(k) || k != round(k) ||
        k < 1 || k > kk) {
      abort_arg("k", "must be NULL or the index of one factor of '", arg,
                "' (between 1 and ", kk, ").")
    }
  }
  dims <- if (is.null(n)) c(1L, 2L) else n
  mats <- lapply(dims, function(d) {
    m <- if (d == 1) fit$L else fit$F
    len <- if (d == 1) nrow(fit$Y) else ncol(fit$Y)
    m <- if (is.null(m)) matrix(0, len, 0) else as.matrix(m)
    if (!is.null(k)) {
      m <- m[, k, drop = FALSE]
    }
    l2_normalize(m)
  })
  do.call(rbind, mats)
}

l2_normalize <- function(m) {
  norms <- sqrt(colSums(m^2))
  norms[norms == 0] <- 1
  sweep(m, 2, norms, `/`)
}

pm_change <- function(curr, prev, k, n) {
  curr <- get_fit(curr, "curr")
  prev <- get_fit(prev, "prev")
  if (!is.null(n)) {
    n <- check_dim_n(n)
  }
  a <- scaled_pm(curr, k, n, "curr")
  b <- scaled_pm(prev, k, n, "prev")
  if (!identical(dim(a), dim(b))) {
    abort_arg("prev", "must have the same dimensions and number of factors ",
              "as 'curr' (", n_factors_fit(prev), " factor(s) against ",
              n_factors_fit(curr), ").")
  }
  a - b
}

calc_max_abs_chg <- function(curr, prev, k, n) {
  chg <- abs(pm_change(curr, prev, k, n))
  if (length(chg) == 0) {
    return(0)
  }
  max(chg)
}

which_max_chg <- function(curr, prev, k, n) {
  chg <- abs(pm_change(curr, prev, k, n))
  if (length(chg) == 0) {
    return(NA_integer_)
  }
  as.integer(which.max(apply(chg, 1, max)))
}
