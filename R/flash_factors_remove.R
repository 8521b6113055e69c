#' Remove factors from a flash object
#'
#' Sets factor/loadings pairs to zero and then removes them from the `flash`
#' object. The residual precision and the ELBO are recomputed without them.
#' Note that this changes the indices of the pairs that follow.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset A vector of integers specifying which factor/loadings pairs to
#'   remove.
#'
#' @return The `flash` object from argument `flash`, with the factors
#'   specified by `kset` removed.
#'
#' @seealso [flash_factors_set_to_zero()]
#'
#' @examples
#' data(gtex)
#' fl <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' fl2 <- flash_factors_remove(fl, kset = c(2, 4))
#' fl2$n_factors
#' @export
flash_factors_remove <- function(flash, kset) {
  fit <- get_fit(flash)
  if (missing(kset)) {
    abort_arg("kset", "is missing: say which factors to remove.")
  }
  kset <- check_kset(fit, kset)
  keep <- setdiff(seq_len(n_factors_fit(fit)), kset)
  wrapup_flash(refresh_fit(subset_factors(fit, keep)))
}

#' Set flash factors to zero
#'
#' Sets factor/loadings pairs to zero but does not remove them from the
#' `flash` object, so that the indices of the other pairs stay the same. The
#' zeroed pairs lose their fitted priors and KL divergences; the residual
#' precision and the ELBO are recomputed. [flash_nullcheck()] removes pairs
#' that are identically zero.
#'
#' @inheritParams flash_factors_remove
#' @param kset A vector of integers specifying which factor/loadings pairs to
#'   set to zero.
#'
#' @return The `flash` object from argument `flash`, with the factors
#'   specified by `kset` set to zero.
#'
#' @seealso [flash_factors_remove()]
#'
#' @examples
#' data(gtex)
#' fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#' fl <- flash_factors_set_to_zero(fl, kset = 2)
#' range(fl$L_pm[, 2])
#' flash_nullcheck(fl, verbose = 0)$n_factors
#' @export
flash_factors_set_to_zero <- function(flash, kset) {
  fit <- get_fit(flash)
  if (missing(kset)) {
    abort_arg("kset", "is missing: say which factors to set to zero.")
  }
  kset <- check_kset(fit, kset)
  for (name in c("L", "F", "L2", "F2")) {
    m <- as.matrix(fit[[name]])
    m[, kset] <- 0
    fit[name] <- list(m)
  }
  k <- n_factors_fit(fit)
  kl <- fit$KL
  if (length(kl) != 2 * k) {
    kl <- rep(0, 2 * k)
  }
  kl[c(2 * kset - 1, 2 * kset)] <- 0
  fit["KL"] <- list(kl)
  for (name in c("g_l", "g_f")) {
    g <- as.list(fit[[name]])
    length(g) <- k
    g[kset] <- list(NULL)
    fit[name] <- list(g)
  }
  wrapup_flash(refresh_fit(fit))
}
