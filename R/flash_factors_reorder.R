#' Reorder factors in a flash object
#'
#' Reorders the factor/loadings pairs of a `flash` object (their posterior
#' moments, fitted priors, KL divergences, prior families and fixed-value
#' settings move together). The ELBO does not change.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset A vector of integers specifying the new order of the
#'   factor/loadings pairs. All existing factors must be included in `kset`;
#'   to drop factors, use [flash_factors_remove()].
#'
#' @return The `flash` object from argument `flash`, with the factors
#'   reordered according to argument `kset`.
#'
#' @examples
#' data(gtex)
#' fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' fl2 <- flash_factors_reorder(fl, kset = c(3, 1, 2))
#' all.equal(fl2$L_pm, fl$L_pm[, c(3, 1, 2)])
#' @export
flash_factors_reorder <- function(flash, kset) {
  fit <- get_fit(flash)
  if (missing(kset)) {
    abort_arg("kset", "is missing: give the new order of the factors.")
  }
  kset <- check_kset(fit, kset)
  k <- n_factors_fit(fit)
  if (length(kset) != k) {
    abort_arg("kset", "must include all ", k, " factors (a permutation of ",
              "1:", k, "); to drop factors, use flash_factors_remove().")
  }
  wrapup_flash(refresh_fit(subset_factors(fit, kset)))
}
