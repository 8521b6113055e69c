#' Initialize flash factors at specified values
#'
#' Adds factor/loadings pairs whose posterior means are set to the values
#' given by `init`. Two uses: start several pairs at once (for instance from
#' a truncated SVD) and optimise them together with [flash_backfit()], which
#' sometimes finds a better fit than adding them one at a time with
#' [flash_greedy()]; or add "known" factors or loadings and hold them with
#' [flash_factors_fix()].
#'
#' Unless `init` is a flash fit, the posterior second moments are set to the
#' squares of the posterior means. The new pairs start with no fitted prior
#' and a KL divergence of zero (as in flashier), and the residual precision
#' and the ELBO are recomputed for the new set of factors.
#'
#' @param flash A `flash` or `flash_fit` object to which factors are to be
#'   added.
#' @param init The values at which the new pairs start: an SVD-like list with
#'   fields `u`, `d` and `v` (the loadings start at \eqn{u \sqrt{d}}, the
#'   factors at \eqn{v \sqrt{d}}); a `flash` or `flash_fit` object (its
#'   posterior first and second moments are copied); or a list of two
#'   matrices, the first \eqn{n \times k} (loadings) and the second
#'   \eqn{p \times k} (factors), for an \eqn{n \times p} data matrix. A pair
#'   of vectors is taken as one factor. Missing or infinite values are not
#'   allowed.
#' @param ebnm_fn The prior family of the new pairs: an `ebnm_*` function
#'   used for loadings and factors, or a list of two (loadings, factors); see
#'   [flash()].
#'
#' @return The `flash` object from argument `flash` with the new factors
#'   added after the existing ones.
#'
#' @seealso [flash_factors_fix()], [flash_backfit()]
#'
#' @examples
#' data(gtex)
#' # Start five pairs at once from a truncated SVD, then backfit them.
#' fl <- flash_init(gtex) |>
#'   flash_set_verbose(0) |>
#'   flash_factors_init(init = svd(gtex, nu = 5, nv = 5)) |>
#'   flash_backfit()
#' fl$elbo
#'
#' # A factor given as a list of two matrices.
#' ones <- matrix(1, nrow = nrow(gtex), ncol = 1)
#' ls_soln <- t(solve(crossprod(ones), crossprod(ones, gtex)))
#' fl <- flash_factors_init(flash_init(gtex), init = list(ones, ls_soln))
#' fl$n_factors
#' @export
flash_factors_init <- function(flash, init, ebnm_fn = ebnm_point_normal) {
  fit <- get_fit(flash)
  if (missing(init)) {
    abort_arg("init", "is missing: give an SVD-like list (u, d, v), a ",
              "flash fit or a list of two matrices.")
  }
  moments <- init_moments(init, nrow(fit$Y), ncol(fit$Y))
  specs <- ebnm_fn_pair(ebnm_fn)
  k_new <- ncol(moments$L)
  if (k_new == 0) {
    return(wrapup_flash(fit))
  }
  k_old <- n_factors_fit(fit)
  kl_old <- fit$KL
  if (length(kl_old) != 2 * k_old) {
    kl_old <- rep(0, 2 * k_old)
  }
  keep_old <- function(lst) {
    lst <- as.list(lst)
    length(lst) <- k_old
    lst
  }
  fixed <- fit_fixed(fit)
  fit["L"] <- list(cbind(fit$L, moments$L))
  fit["F"] <- list(cbind(fit$F, moments$F))
  fit["L2"] <- list(cbind(fit$L2, moments$L2))
  fit["F2"] <- list(cbind(fit$F2, moments$F2))
  fit["KL"] <- list(c(kl_old, rep(0, 2 * k_new)))
  fit["g_l"] <- list(c(keep_old(fit$g_l), vector("list", k_new)))
  fit["g_f"] <- list(c(keep_old(fit$g_f), vector("list", k_new)))
  fit["ebnm"] <- list(c(keep_old(fit$ebnm), rep(list(specs), k_new)))
  fit <- set_fixed(fit, c(fixed, vector("list", k_new)))
  wrapup_flash(refresh_fit(fit))
}

# The posterior moments (L, F, L2, F2) that `init` describes, checked
# against the data's dimensions n x p.
init_moments <- function(init, n, p) {
  if (inherits(init, "flash")) {
    init <- init$flash_fit
  }
  if (inherits(init, "flash_fit")) {
    if (n_factors_fit(init) == 0) {
      out <- empty_moments(nrow(init$Y), ncol(init$Y))
    } else {
      out <- list(L = init$L, F = init$F, L2 = init$L2, F2 = init$F2)
    }
  } else if (is.list(init) && !is.data.frame(init) &&
             all(c("u", "d", "v") %in% names(init))) {
    u <- init_matrix(init$u, "init$u")
    v <- init_matrix(init$v, "init$v")
    d <- init$d
    if (ncol(u) != ncol(v)) {
      abort_arg("init", "is SVD-like but its fields u and v have different ",
                "numbers of columns (", ncol(u), " and ", ncol(v), ").")
    }
    if (!is.numeric(d) || length(d) < ncol(u) || anyNA(d) ||
        any(!is.finite(d)) || any(d[seq_len(ncol(u))] < 0)) {
      abort_arg("init", "is SVD-like but its field d must hold at least ",
                ncol(u), " non-negative finite singular values.")
    }
    root_d <- sqrt(d[seq_len(ncol(u))])
    ef_l <- sweep(u, 2, root_d, `*`)
    ef_f <- sweep(v, 2, root_d, `*`)
    out <- list(L = ef_l, F = ef_f, L2 = ef_l^2, F2 = ef_f^2)
  } else if (is.list(init) && !is.data.frame(init) && length(init) == 2) {
    ef_l <- init_matrix(init[[1]], "init[[1]]")
    ef_f <- init_matrix(init[[2]], "init[[2]]")
    out <- list(L = ef_l, F = ef_f, L2 = ef_l^2, F2 = ef_f^2)
  } else {
    abort_arg("init", "must be an SVD-like list (fields u, d and v), a ",
              "flash or flash_fit object, or a list of two matrices ",
              "(loadings, factors).")
  }
  out <- lapply(out, function(m) {
    m <- as.matrix(m)
    storage.mode(m) <- "double"
    dimnames(m) <- NULL
    m
  })
  if (nrow(out$L) != n || nrow(out$F) != p) {
    abort_arg("init", "does not match the data: the loadings must have ",
              n, " rows and the factors ", p, " rows (got ", nrow(out$L),
              " and ", nrow(out$F), ").")
  }
  if (ncol(out$L) != ncol(out$F)) {
    abort_arg("init", "gives ", ncol(out$L), " set(s) of loadings but ",
              ncol(out$F), " factor(s); the numbers must agree.")
  }
  if (nrow(out$L2) != n || nrow(out$F2) != p ||
      ncol(out$L2) != ncol(out$L) || ncol(out$F2) != ncol(out$F)) {
    abort_arg("init", "has second moments whose dimensions do not match ",
              "its first moments.")
  }
  values <- unlist(out, use.names = FALSE)
  if (anyNA(values)) {
    abort_arg("init", "may not contain missing values.")
  }
  if (any(!is.finite(values))) {
    abort_arg("init", "may not contain infinite values.")
  }
  out
}

init_matrix <- function(x, what) {
  if (inherits(x, "Matrix")) {
    x <- as.matrix(x)
  }
  if (!(is.numeric(x) || is.logical(x)) ||
      !(is.matrix(x) || is.null(dim(x)))) {
    abort_arg("init", "must hold numeric matrices or vectors; ", what,
              " is not.")
  }
  if (is.null(dim(x))) {
    x <- matrix(x, ncol = 1)
  }
  x
}

empty_moments <- function(n, p) {
  list(L = matrix(0, n, 0), F = matrix(0, p, 0), L2 = matrix(0, n, 0),
       F2 = matrix(0, p, 0))
}
