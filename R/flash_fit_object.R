#' Extract a flash_fit object
#'
#' `flash_fit` objects are the "internal" objects used by flash functions to
#' fit an EBMF model. Whereas `flash` objects (the end results of the fitting
#' process) have user-friendly fields and methods, `flash_fit` objects hold
#' the state of the fit: the data, the posterior moments of every factor,
#' the fitted priors, the residual precision and the ELBO. The convergence
#' and "verbose" functions ([flash_conv_crit_elbo_diff()],
#' [flash_verbose_elbo()] and their relatives) take `flash_fit` objects, and
#' the accessors below help in writing such functions.
#'
#' The S3 methods [fitted.flash_fit()], [residuals.flash_fit()] and
#' [ldf.flash_fit()] are also available.
#'
#' @param flash A `flash` object (a `flash_fit` is returned as it is).
#' @param f A `flash_fit` object (a `flash` object is also accepted).
#' @param n Set `n = 1` to access loadings \eqn{L} and `n = 2` to access
#'   factors \eqn{F}.
#'
#' @return `flash_fit`: the `flash_fit` object. The accessors:
#'   \describe{
#'     \item{`flash_fit_get_pm`}{The posterior means of the loadings
#'       (\eqn{n \times K} matrix, `n = 1`) or factors (\eqn{p \times K},
#'       `n = 2`); `NULL` when there are no factors.}
#'     \item{`flash_fit_get_p2m`}{The posterior second moments, likewise.}
#'     \item{`flash_fit_get_est_tau`}{The precision \eqn{1 / \sigma^2} of
#'       the estimated part of the residual variance: a number
#'       (`var_type = 0`), or a vector with one value per row
#'       (`var_type = 1`) or per column (`var_type = 2`); for the Kronecker
#'       structure a list of the row and column precisions. `NULL` with
#'       `var_type = NULL` (nothing estimated).}
#'     \item{`flash_fit_get_fixed_tau`}{The precision \eqn{1 / s^2} given by
#'       standard errors `S` (`NULL` when `S` was not given).}
#'     \item{`flash_fit_get_tau`}{The overall precision
#'       \eqn{1 / (\sigma^2 + s^2)}; without `S` the same as
#'       `flash_fit_get_est_tau`.}
#'     \item{`flash_fit_get_elbo`}{The variational lower bound (ELBO).}
#'     \item{`flash_fit_get_KL`}{A vector of length \eqn{K}: the KL-divergence
#'       part of the ELBO for each set of loadings (`n = 1`) or each factor
#'       (`n = 2`).}
#'     \item{`flash_fit_get_g`}{A list of length \eqn{K}: the fitted priors
#'       \eqn{\hat{g}_\ell} (`n = 1`) or \eqn{\hat{g}_f} (`n = 2`); an
#'       element is `NULL` for a factor whose prior has not been fitted (for
#'       instance one added by [flash_factors_init()]).}
#'   }
#'
#' @examples
#' data(gtex)
#' fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' ff <- flash_fit(fl)
#' dim(flash_fit_get_pm(ff, 1))
#' dim(flash_fit_get_p2m(ff, 2))
#' flash_fit_get_tau(ff)
#' flash_fit_get_elbo(ff)
#' flash_fit_get_KL(ff, 1)
#' flash_fit_get_g(ff, 2)[[1]]
#' @export
flash_fit <- function(flash) {
  get_fit(flash)
}

#' @rdname flash_fit
#' @export
flash_fit_get_pm <- function(f, n) {
  f <- get_fit(f, "f")
  if (check_dim_n(n) == 1) f$L else f$F
}

#' @rdname flash_fit
#' @export
flash_fit_get_p2m <- function(f, n) {
  f <- get_fit(f, "f")
  if (check_dim_n(n) == 1) f$L2 else f$F2
}

#' @rdname flash_fit
#' @export
flash_fit_get_est_tau <- function(f) {
  f <- get_fit(f, "f")
  if (isTRUE(f$given_fixed)) {
    return(NULL)
  }
  if (!is.null(f$entry_s2)) {
    # Variance components estimated on top of S^2 (Kronecker: a_i b_j).
    return(split_kronecker_tau(f, 1 / f$est_var))
  }
  tau <- f$tau
  if (!is.null(f$given) && length(f$given) == length(tau)) {
    # The estimated part of the variance: the total less the given S^2.
    est_var <- pmax(1 / tau - 1 / f$given, 0)
    tau <- 1 / est_var
  }
  split_kronecker_tau(f, tau)
}

#' @rdname flash_fit
#' @export
flash_fit_get_fixed_tau <- function(f) {
  f <- get_fit(f, "f")
  if (!is.null(f$entry_s2)) {
    return(1 / f$entry_s2)
  }
  f$given
}

#' @rdname flash_fit
#' @export
flash_fit_get_tau <- function(f) {
  f <- get_fit(f, "f")
  split_kronecker_tau(f, f$tau)
}

#' @rdname flash_fit
#' @export
flash_fit_get_elbo <- function(f) {
  get_fit(f, "f")$elbo
}

#' @rdname flash_fit
#' @export
flash_fit_get_KL <- function(f, n) {
  f <- get_fit(f, "f")
  n <- check_dim_n(n)
  k <- n_factors_fit(f)
  kl <- f$KL
  if (length(kl) != 2 * k) {
    kl <- rep(0, 2 * k)
  }
  kl[seq(n, by = 2, length.out = k)]
}

#' @rdname flash_fit
#' @export
flash_fit_get_g <- function(f, n) {
  f <- get_fit(f, "f")
  g <- as.list(if (check_dim_n(n) == 1) f$g_l else f$g_f)
  length(g) <- n_factors_fit(f)
  g
}

# With the Kronecker variance structure (code 3) tau holds the n row
# precisions then the p column precisions; flashier returns them as a list.
split_kronecker_tau <- function(f, tau) {
  if (identical(as.integer(f$var_type), 3L) &&
      length(tau) == nrow(f$Y) + ncol(f$Y)) {
    n <- nrow(f$Y)
    return(list(tau[seq_len(n)], tau[-seq_len(n)]))
  }
  tau
}
