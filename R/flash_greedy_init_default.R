#' Initialize a flash factor
#'
#' The default method for initialising the loadings \eqn{\ell_{\cdot k}} and
#' factor values \eqn{f_{\cdot k}} of a new ("greedy") flash factor: an
#' alternating least-squares (power-method) fit of a rank-one matrix to the
#' current residuals. Unlike many implementations it handles missing data
#' (missing entries drop out of the least-squares problems) and sign
#' constraints. See Chapter 2.2.3 of Willwerscheid (2021).
#'
#' This is an R implementation, for use as (or inside) the `init_fn` of
#' [flash_greedy()]; with `init_fn = NULL`, [flash_greedy()] runs the same
#' algorithm (with the same random start, seed 666) in the Rust core.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param sign_constraints Constrains the signs of the initial loadings and
#'   factor: a vector of length two with entries -1, 0 or 1. The first entry
#'   constrains the loadings (-1: nonpositive, +1: nonnegative, 0:
#'   unconstrained), the second the factor values. `NULL` applies no
#'   constraints.
#' @param tol Convergence tolerance: the iterations stop when the largest
#'   (absolute) change in the \eqn{L^2}-normalised loadings and factor is at
#'   most `tol`. The default is \eqn{\min(1 / n, 1 / p)}, for an
#'   \eqn{n \times p} data matrix.
#' @param maxiter Maximum number of power iterations.
#' @param seed The initialisation is random; the seed is set for
#'   reproducibility (the caller's random number stream is left as it was).
#'
#' @return A list of two vectors: the initial loadings (length \eqn{n}) and
#'   factor values (length \eqn{p}), scaled to have equal \eqn{L^2} norms.
#'   If no non-zero factor is found, both are zero (with a warning).
#'
#' @references
#' Jason Willwerscheid (2021), *Empirical Bayes Matrix Factorization:
#' Methods and Applications*. Ph.D. thesis, University of Chicago.
#'
#' @seealso [flash_greedy()]
#'
#' @examples
#' data(gtex)
#' init <- flash_greedy_init_default(flash_init(gtex))
#' # Close to the leading singular vectors of the data:
#' abs(cor(init[[1]], svd(gtex, nu = 1, nv = 0)$u[, 1]))
#' init_nn <- flash_greedy_init_default(flash_init(gtex),
#'                                      sign_constraints = c(1, 0))
#' min(init_nn[[1]])
#' @export
flash_greedy_init_default <- function(flash, sign_constraints = NULL,
                                      tol = NULL, maxiter = 100,
                                      seed = 666) {
  fit <- get_fit(flash)
  if (is.null(sign_constraints)) {
    sign_constraints <- c(0, 0)
  }
  if (!is.numeric(sign_constraints) || length(sign_constraints) != 2 ||
      anyNA(sign_constraints) || !all(sign_constraints %in% c(-1, 0, 1))) {
    abort_arg("sign_constraints", "must be NULL or a vector of length two ",
              "with entries -1, 0 or 1 (loadings, factors).")
  }
  n <- nrow(fit$Y)
  p <- ncol(fit$Y)
  if (is.null(tol)) {
    tol <- 1 / max(n, p)
  }
  check_number(tol, "tol", lower = 0, allow_null = FALSE)
  check_whole_number(maxiter, "maxiter", lower = 1)
  check_whole_number(seed, "seed")

  R <- residuals.flash_fit(fit)
  Z <- !is.na(R)
  R[!Z] <- 0
  Z <- Z * 1

  EF <- with_seed(seed, list(stats::rnorm(n) / sqrt(n),
                             stats::rnorm(p) / sqrt(p)))
  for (d in 1:2) {
    if (sign_constraints[d] == 1) EF[[d]] <- abs(EF[[d]])
    if (sign_constraints[d] == -1) EF[[d]] <- -abs(EF[[d]])
  }
  # Constrained dimensions are updated last.
  update_order <- c(which(sign_constraints == 0),
                    which(sign_constraints != 0))

  max_chg <- Inf
  iter <- 0
  while (max_chg > tol && iter < maxiter) {
    iter <- iter + 1
    old <- EF
    for (d in update_order) {
      other <- EF[[3 - d]]
      if (d == 1) {
        vals <- drop(R %*% other) / drop(Z %*% other^2)
      } else {
        vals <- drop(crossprod(R, other)) / drop(crossprod(Z, other^2))
      }
      vals[!is.finite(vals)] <- 0
      if (sign_constraints[d] == 1) vals <- pmax(vals, 0)
      if (sign_constraints[d] == -1) vals <- pmin(vals, 0)
      EF[[d]] <- vals
    }
    max_chg <- max(abs(unlist(lapply(EF, unit_norm)) -
                       unlist(lapply(old, unit_norm))))
  }

  norms <- vapply(EF, function(x) sqrt(sum(x^2)), numeric(1))
  if (all(norms > 0)) {
    scale <- sqrt(prod(norms))
    EF <- lapply(seq_along(EF), function(d) EF[[d]] / norms[d] * scale)
  } else {
    warning("The initialization function failed to find a non-zero ",
            "factor.", call. = FALSE)
    EF <- lapply(EF, function(x) x * 0)
  }
  EF
}

unit_norm <- function(x) {
  norm <- sqrt(sum(x^2))
  if (norm == 0) x else x / norm
}
