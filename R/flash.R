#' Empirical Bayes matrix factorization
#'
#' Fits the empirical Bayes matrix factorization model
#' \deqn{Y = L F' + E, \quad E_{ij} \sim N(0, 1 / \tau_{ij}),}
#' with a prior on every column of \eqn{L} and of \eqn{F}, each prior
#' estimated from the data (Wang and Stephens, 2021). Factor/loadings pairs
#' are added greedily while they raise the variational lower bound (ELBO);
#' a nullcheck then removes any pair that does not help. This is the
#' one-call interface; see [flash_init()], [flash_greedy()] and
#' [flash_nullcheck()] for the steps.
#'
#' @param data The observations: a numeric matrix (or a data frame of numeric
#'   columns; `NA` marks missing entries), a sparse `dgCMatrix`, or low-rank
#'   data as a list with fields `u`, `d` and `v` (see [flash_init()]).
#' @param S Standard errors: `NULL`, a number, a vector over rows or
#'   columns, or an `n x p` matrix (see [flash_init()]).
#' @param ebnm_fn The prior family: an `ebnm_*` function for loadings and
#'   factors, or a list of two (loadings, factors).
#' @param var_type The residual variance structure: `0` (constant), `1` (by
#'   row), `2` (by column), `c(1, 2)` (Kronecker) or `NULL` (given by `S`).
#' @param greedy_Kmax The maximum number of factors to add.
#' @param backfit Whether to backfit the factors after the greedy fit
#'   (see [flash_backfit()]).
#' @param nullcheck Whether to remove factors that do not raise the ELBO.
#' @param verbose `0` prints nothing, `1` (the default) reports progress.
#'
#' @return A `flash` object: `n_factors`, `pve`, `elbo`, `residuals_sd`,
#'   `L_pm`, `F_pm`, `L_psd`, `F_psd`, `L_lfsr`, `F_lfsr`, `L_ghat`,
#'   `F_ghat` and the `flash_fit` it was built from.
#'
#' @references Wang, W. and Stephens, M. (2021). Empirical Bayes matrix
#'   factorization. *Journal of Machine Learning Research* 22, 1--40.
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 5)
#' fit$elbo
#' fit$pve
#' @export
flash <- function(data, S = NULL, ebnm_fn = ebnm_point_normal,
                  var_type = 0L, greedy_Kmax = 50L, backfit = FALSE,
                  nullcheck = TRUE, verbose = 1L) {
  check_whole_number(greedy_Kmax, "greedy_Kmax", lower = 1)
  check_flag(backfit, "backfit")
  check_flag(nullcheck, "nullcheck")
  check_verbose(verbose)
  # The steps without their summaries (lfsr, pve, sampler): only the last
  # fit's are kept.
  # (The greedy fit's Rust call computes the precision and ELBO of the
  # empty fit itself; flash_init()'s call for them would be repeated work.)
  fit <- init_fit(data, S = S, var_type = var_type)
  fit$verbose <- as.integer(verbose)
  # The nullcheck (with the summaries) runs in the same Rust call as the
  # step before it, which saves rebuilding the fit; when that step stops
  # early it runs on its own, as before.
  fit <- greedy_fit(fit, Kmax = greedy_Kmax, ebnm_fn = ebnm_fn,
                    init_fn = NULL, extrapolate = NULL, warmstart = FALSE,
                    maxiter = 500, tol = NULL, verbose = NULL,
                    then_nullcheck = nullcheck && !backfit)
  if (backfit) {
    fit <- backfit_fit(fit, kset = NULL, extrapolate = TRUE, warmstart = TRUE,
                       maxiter = 500, tol = NULL, verbose = NULL,
                       then_nullcheck = nullcheck)
  }
  if (nullcheck && !isTRUE(attr(fit, "nullchecked"))) {
    fit <- nullcheck_fit(fit, kset = NULL, remove = TRUE, tol = NULL,
                         verbose = NULL, summaries = TRUE)
  }
  wrapup_flash(fit)
}
