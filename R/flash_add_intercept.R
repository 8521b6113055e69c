#' Add "intercept" to a flash object
#'
#' Adds an all-ones vector as a fixed set of loadings (if `rowwise = TRUE`)
#' or a fixed factor (if `rowwise = FALSE`). With the intercept indexed as
#' \eqn{k = 1}, fixed loadings give
#' \deqn{\mathbf{y}_{i \cdot} \approx \mathbf{f}_1 + \sum_{k = 2}^K
#' \ell_{ik} \mathbf{f}_k,}
#' so that the estimated factor \eqn{\mathbf{f}_1} is shared by all rows;
#' a fixed factor gives
#' \deqn{\mathbf{y}_{\cdot j} \approx \boldsymbol{\ell}_1 + \sum_{k = 2}^K
#' f_{jk} \boldsymbol{\ell}_k,}
#' so that the estimated loadings \eqn{\boldsymbol{\ell}_1} are shared by all
#' columns.
#'
#' The estimated factor (if `rowwise = TRUE`) or loadings (if
#' `rowwise = FALSE`) start at the column- or row-wise means of the
#' residuals (of the data, if there are no factors yet), missing entries
#' left out; that is the least-squares fit given the all-ones vector.
#'
#' The new pair is then backfit with the ones held fixed (see
#' [flash_factors_fix()]), as in flashier.
#'
#' @param flash A `flash` or `flash_fit` object to which an "intercept" is
#'   to be added.
#' @param rowwise Should the all-ones vector be added as a fixed set of
#'   loadings ("row-wise") or a fixed factor ("column-wise")?
#' @param ebnm_fn As with other factor/loadings pairs, a prior is put on the
#'   estimated factor (if `rowwise = TRUE`) or loadings (if
#'   `rowwise = FALSE`); `ebnm_fn` gives its family (see [flash()]).
#'
#' @return The `flash` object from argument `flash`, with an "intercept"
#'   added as its last factor.
#'
#' @examples
#' data(gtex)
#' # Equivalent to initialising the pair, fixing its factor values and
#' # backfitting it:
#' fl <- flash_add_intercept(flash_init(gtex), rowwise = FALSE)
#' init <- list(matrix(rowMeans(gtex), ncol = 1),
#'              matrix(1, nrow = ncol(gtex)))
#' fl2 <- flash_init(gtex) |>
#'   flash_factors_init(init) |>
#'   flash_factors_fix(kset = 1, which_dim = "factors") |>
#'   flash_backfit(kset = 1)
#' all.equal(fl$elbo, fl2$elbo)
#' # Further factors are added greedily around the intercept.
#' fl <- flash_set_verbose(fl, 0) |>
#'   flash_greedy(Kmax = 3)
#' fl$n_factors
#' @export
flash_add_intercept <- function(flash, rowwise = TRUE,
                                ebnm_fn = ebnm_point_normal) {
  fit <- get_fit(flash)
  check_flag(rowwise, "rowwise")
  ebnm_fn_pair(ebnm_fn)
  R <- residuals.flash_fit(fit)
  observed <- !is.na(R)
  R[!observed] <- 0
  if (rowwise) {
    init <- list(matrix(1, nrow = nrow(R), ncol = 1),
                 matrix(colSums(R) / colSums(observed), ncol = 1))
    which_dim <- "loadings"
  } else {
    init <- list(matrix(rowSums(R) / rowSums(observed), ncol = 1),
                 matrix(1, nrow = ncol(R), ncol = 1))
    which_dim <- "factors"
  }
  fl <- flash_factors_init(fit, init, ebnm_fn = ebnm_fn)
  fl <- flash_factors_fix(fl, kset = fl$n_factors, which_dim = which_dim)
  flash_backfit(fl, kset = fl$n_factors)
}
