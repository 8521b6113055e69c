#' Initialize a flash object
#'
#' Sets up a flash object with no factors: checks the data, chooses the
#' residual variance structure and estimates the residual precision. Factors
#' are then added with [flash_greedy()].
#'
#' @param data The observations: a numeric matrix (or a data frame of numeric
#'   columns), a sparse `Matrix::dgCMatrix`, or a low-rank matrix given as a
#'   list with fields `u`, `d` and `v` (standing for `u %*% diag(d) %*%
#'   t(v)`, as returned by `svd()` and similar functions). Missing entries
#'   (`NA`) are allowed in dense matrices; they drop out of the likelihood.
#'   Sparse and low-rank data are never made dense.
#' @param S Standard errors of the observations: `NULL` (all residual
#'   variance estimated), a number, a vector with one value per row or per
#'   column, or an `n x p` matrix. With `var_type = NULL` the residual
#'   variance is `S^2`. With an estimated `var_type` it is `S^2` plus an
#'   estimated component: when `S` is constant along the estimated
#'   dimension, this is the closed form "variance at least `S^2`"; otherwise
#'   (a matrix `S`, a vector along the other dimension, or the Kronecker
#'   structure, where the component is \eqn{\sigma^2_i \sigma^2_j}) each
#'   component is found by a one-dimensional search, as in flashier. Such
#'   entrywise variances are held as an `n x p` matrix (sparse data are then
#'   made dense).
#' @param var_type The structure of the estimated residual variance: `0`
#'   (one variance for all entries), `1` (one per row), `2` (one per
#'   column), `c(1, 2)` (Kronecker: \eqn{\tau_{ij} = a_i b_j}) or `NULL`
#'   (no estimated variance: all of it given by `S`).
#'
#' @return A `flash` object with no factors.
#'
#' @examples
#' data(gtex)
#' fl <- flash_init(gtex, var_type = 2)
#' fl$elbo
#' @export
flash_init <- function(data, S = NULL, var_type = 0L) {
  wrapup_flash(run_rust(init_fit(data, S, var_type), "init"))
}

# The flash_fit of flash_init() before the Rust core has seen it (no
# precision or ELBO yet): every later step rebuilds those from the data, so
# flash() starts its greedy fit from here.
init_fit <- function(data, S, var_type) {
  data <- prepare_data(data)
  variance <- prepare_variance(var_type, S, nrow(data), ncol(data))
  if (!is.null(variance$s2) && !is.matrix(data)) {
    # Variances that differ over entries are a dense n x p matrix anyway.
    data <- as.matrix(data)
  }
  fit <- list(Y = data, var_type = variance$code, S = S,
              given = variance$given, given_fixed = variance$fixed,
              entry_s2 = variance$s2, entry_est = variance$est,
              L = NULL, F = NULL,
              L2 = NULL, F2 = NULL, KL = NULL, g_l = list(), g_f = list(),
              ebnm = list(), tau = NULL, elbo = NULL, verbose = 1L)
  class(fit) <- c("flash_fit", "list")
  fit
}

#' Set the verbosity of a flash object
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param verbose `0` prints nothing, `1` announces each factor and step,
#'   `2` also reports the ELBO, `3` prints a table after every iteration
#'   (as flashier does by default: the change in ELBO, `"ELBO Diff"`, and
#'   the largest change in the normalised loadings and factors, `"LF Max
#'   Chg"`). `-1` prints the same information as one tab-delimited table
#'   (columns Type, Factor, Iter, ELBO, ELBO.diff, LF.max.chg), whose
#'   header is printed now.
#' @param fns,colnames,colwidths flashier's custom table columns.
#'   **flashierrs difference:** the table is printed by the Rust core, which
#'   cannot call R functions between iterations; custom columns are not
#'   supported and giving them is an error.
#' @return The `flash` object with its verbosity set.
#' @examples
#' data(gtex)
#' fl <- flash_set_verbose(flash_init(gtex), 0)
#' fl3 <- flash_set_verbose(flash_init(gtex), 3) |>
#'   flash_greedy(Kmax = 1)
#' @export
flash_set_verbose <- function(flash, verbose = 1L, fns = NULL,
                              colnames = NULL, colwidths = NULL) {
  fit <- get_fit(flash)
  check_verbose(verbose)
  if (!is.null(fns) || !is.null(colnames) || !is.null(colwidths)) {
    abort_arg("fns", "(custom table columns) is not supported by ",
              "flashierrs: the table has the columns ELBO Diff and LF Max ",
              "Chg.")
  }
  fit$verbose <- as.integer(verbose)
  if (verbose == -1) {
    cat("Type\tFactor\tIter\tELBO\tELBO.diff\tLF.max.chg\n")
  }
  wrapup_flash(fit)
}
