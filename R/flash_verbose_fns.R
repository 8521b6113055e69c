#' Display the current ELBO
#'
#' Displays the value of the variational lower bound (ELBO) at the current
#' iteration.
#'
#' @details In flashier, this function may be passed to parameter `fns` of
#'   `flash_set_verbose()` to customise the table printed after each greedy
#'   or backfitting iteration. In flashierrs the Rust core prints that
#'   table itself (its default columns are this function's siblings
#'   [flash_verbose_elbo_diff()] and [flash_verbose_max_chg()]), so `fns`
#'   is not taken; the functions can be called on any two `flash_fit`
#'   objects, for instance the fits before and after a backfit.
#'
#' @param curr The [flash_fit] object from the current iteration (a `flash`
#'   object is also accepted).
#' @param prev The [flash_fit] object from the previous iteration.
#' @param k Only used during sequential backfits (calls to [flash_backfit()]
#'   with `extrapolate = FALSE`): the index of the factor/loadings pair being
#'   optimised. `NULL` (or missing) compares all pairs.
#'
#' @return `flash_verbose_elbo`: a character string, the ELBO with two
#'   decimals (`"NA"` when the fit has no valid ELBO).
#'
#' @seealso [flash_verbose_elbo_diff()], [flash_verbose_max_chg()],
#'   [flash_verbose_max_chg_L()], [flash_verbose_max_chg_F()]
#'
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_verbose_elbo(curr, prev, NULL)
#' flash_verbose_elbo_diff(curr, prev, NULL)
#' flash_verbose_max_chg(curr, prev, NULL)
#' flash_verbose_find_max_chg_L(curr, prev, NULL)
#' @export
flash_verbose_elbo <- function(curr, prev, k) {
  elbo <- fit_elbo(get_fit(curr, "curr"))
  if (is.na(elbo)) {
    return("NA")
  }
  formatC(elbo, format = "f", digits = 2)
}

#' Display the difference in ELBO
#'
#' Displays the difference in the variational lower bound (ELBO) from one
#' iteration to the next.
#'
#' @inherit flash_verbose_elbo details
#' @inheritParams flash_verbose_elbo
#' @return The ELBO of `curr` less that of `prev` (`NA` when either is
#'   missing).
#' @seealso [flash_verbose_elbo()], [flash_verbose_max_chg()],
#'   [flash_verbose_max_chg_L()], [flash_verbose_max_chg_F()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_verbose_elbo_diff(curr, prev, NULL)
#' @export
flash_verbose_elbo_diff <- function(curr, prev, k) {
  diff <- calc_elbo_diff(curr, prev)
  if (is.infinite(diff)) NA_real_ else diff
}

#' Display the maximum difference in scaled loadings and factors
#'
#' Displays the maximum (absolute) change over all posterior means of the
#' loadings \eqn{\ell_{ik}} and factors \eqn{f_{jk}}, with each loadings
#' vector \eqn{\ell_{\cdot k}} and factor \eqn{f_{\cdot k}} first scaled to
#' unit \eqn{L^2} norm.
#'
#' @inherit flash_verbose_elbo details
#' @inheritParams flash_verbose_elbo
#' @return A number.
#' @seealso [flash_verbose_elbo()], [flash_verbose_elbo_diff()],
#'   [flash_verbose_max_chg_L()], [flash_verbose_max_chg_F()],
#'   [flash_verbose_find_max_chg()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_verbose_max_chg(curr, prev, NULL)
#' @export
flash_verbose_max_chg <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = NULL)
}

#' Display the maximum difference in scaled loadings
#'
#' Displays the maximum (absolute) change over all posterior means of the
#' loadings \eqn{\ell_{ik}}, with each loadings vector \eqn{\ell_{\cdot k}}
#' first scaled to unit \eqn{L^2} norm.
#'
#' @inherit flash_verbose_elbo details
#' @inherit flash_verbose_max_chg return
#' @inheritParams flash_verbose_elbo
#' @seealso [flash_verbose_elbo()], [flash_verbose_elbo_diff()],
#'   [flash_verbose_max_chg()], [flash_verbose_max_chg_F()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_verbose_max_chg_L(curr, prev, NULL)
#' @export
flash_verbose_max_chg_L <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = 1)
}

#' Display the maximum difference in scaled factors
#'
#' Displays the maximum (absolute) change over all posterior means of the
#' factors \eqn{f_{jk}}, with each factor \eqn{f_{\cdot k}} first scaled to
#' unit \eqn{L^2} norm.
#'
#' @inherit flash_verbose_elbo details
#' @inherit flash_verbose_max_chg return
#' @inheritParams flash_verbose_elbo
#' @seealso [flash_verbose_elbo()], [flash_verbose_elbo_diff()],
#'   [flash_verbose_max_chg()], [flash_verbose_max_chg_L()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' flash_verbose_max_chg_F(curr, prev, NULL)
#' @export
flash_verbose_max_chg_F <- function(curr, prev, k) {
  calc_max_abs_chg(curr, prev, if (missing(k)) NULL else k, n = 2)
}

#' Find where the scaled loadings and factors changed most
#'
#' Companions of [flash_verbose_max_chg()] (flashierrs additions; flashier
#' 1.0.7 has no exported equivalent): instead of the size of the largest
#' change in the \eqn{L^2}-normalised posterior means, they return where it
#' happened.
#'
#' @inherit flash_verbose_elbo details
#' @inheritParams flash_verbose_elbo
#' @return The index of the row whose largest (absolute) change is greatest:
#'   a row of the loadings (`flash_verbose_find_max_chg_L`, between 1 and
#'   \eqn{n}), of the factors (`flash_verbose_find_max_chg_F`, between 1 and
#'   \eqn{p}), or of the two stacked (`flash_verbose_find_max_chg`: 1 to
#'   \eqn{n} are rows of the loadings, \eqn{n + 1} to \eqn{n + p} rows of
#'   the factors). `NA` when there are no factors.
#' @seealso [flash_verbose_max_chg()]
#' @examples
#' data(gtex)
#' prev <- flash_fit(flash(gtex, greedy_Kmax = 2, verbose = 0))
#' curr <- flash_fit(flash_backfit(prev, verbose = 0))
#' i <- flash_verbose_find_max_chg_L(curr, prev, NULL)
#' rownames(gtex)[i]
#' @export
flash_verbose_find_max_chg <- function(curr, prev, k) {
  which_max_chg(curr, prev, if (missing(k)) NULL else k, n = NULL)
}

#' @rdname flash_verbose_find_max_chg
#' @export
flash_verbose_find_max_chg_L <- function(curr, prev, k) {
  which_max_chg(curr, prev, if (missing(k)) NULL else k, n = 1)
}

#' @rdname flash_verbose_find_max_chg
#' @export
flash_verbose_find_max_chg_F <- function(curr, prev, k) {
  which_max_chg(curr, prev, if (missing(k)) NULL else k, n = 2)
}
