#' Fix flash factors
#'
#' Fixes the loadings \eqn{\ell_{\cdot k}} or the factor values
#' \eqn{f_{\cdot k}} of one or more factor/loadings pairs, so that their
#' values are not updated during subsequent backfits. For a given pair,
#' either the loadings or the factor can be fixed, but not both, and either
#' all entries or a subset can be fixed. To unfix, use
#' [flash_factors_unfix()]. See [flash_factors_init()] and
#' [flash_add_intercept()] for uses.
#'
#' The settings are recorded in the `flash_fit` object (field `fixed`: one
#' element per factor, `NULL` or `list(dim, idx)` with `dim` 1 for loadings
#' or 2 for factors and `idx` the fixed indices). During backfits, fixed
#' values keep their current values (with zero posterior spread, no lfsr and
#' no part in the KL term); the other values of a partly fixed pair are fit
#' as usual, with the prior estimated from them alone unless
#' `use_fixed_in_ebnm = TRUE`. [flash_greedy()] never updates existing
#' factors and is unaffected.
#'
#' @param flash A `flash` or `flash_fit` object.
#' @param kset A vector of integers indexing the factor/loadings pairs whose
#'   loadings or factors are to be fixed.
#' @param which_dim Whether to fix factors or loadings.
#' @param fixed_idx If `NULL`, all loadings or factor values are fixed. To
#'   fix a subset, a vector or matrix of values that can be coerced to
#'   logical: for loadings, a length-\eqn{n} vector (the same subset for
#'   every pair in `kset`) or an \eqn{n \times} `length(kset)` matrix; for
#'   factors likewise with \eqn{p}.
#' @param use_fixed_in_ebnm By default, fixed elements are ignored when the
#'   prior \eqn{\hat{g}} is estimated; `TRUE` uses them. A global setting
#'   for all pairs (stored as `use_fixed_in_ebnm` in the `flash_fit`).
#'
#' @return The `flash` object from argument `flash`, with factors or
#'   loadings fixed as specified.
#'
#' @examples
#' data(gtex)
#' ones <- matrix(1, nrow = nrow(gtex), ncol = 1)
#' ls_soln <- t(solve(crossprod(ones), crossprod(ones, gtex)))
#' fl <- flash_init(gtex) |>
#'   flash_factors_init(init = list(ones, ls_soln)) |>
#'   flash_factors_fix(kset = 1, which_dim = "loadings") |>
#'   flash_set_verbose(0) |>
#'   flash_greedy(Kmax = 3)
#' str(fl$flash_fit$fixed[[1]])
#' @export
flash_factors_fix <- function(flash, kset,
                              which_dim = c("factors", "loadings"),
                              fixed_idx = NULL, use_fixed_in_ebnm = NULL) {
  fit <- get_fit(flash)
  if (!is.null(use_fixed_in_ebnm)) {
    if (!is.logical(use_fixed_in_ebnm) || length(use_fixed_in_ebnm) != 1 ||
        is.na(use_fixed_in_ebnm)) {
      abort_arg("use_fixed_in_ebnm", "must be NULL, TRUE or FALSE.")
    }
    fit["use_fixed_in_ebnm"] <- list(use_fixed_in_ebnm)
  }
  if (missing(kset)) {
    abort_arg("kset", "is missing: say which factors to fix.")
  }
  kset <- check_kset(fit, kset)
  if (!is.character(which_dim) || length(which_dim) < 1 ||
      anyNA(which_dim)) {
    abort_arg("which_dim", "must be \"factors\" or \"loadings\".")
  }
  which_dim <- tryCatch(match.arg(which_dim), error = function(e) {
    abort_arg("which_dim", "must be \"factors\" or \"loadings\".")
  })
  dim_code <- if (which_dim == "loadings") 1L else 2L
  len <- if (dim_code == 1) nrow(fit$Y) else ncol(fit$Y)

  if (is.null(fixed_idx)) {
    fixed_idx <- TRUE
  }
  ok_vector <- is.null(dim(fixed_idx)) && length(fixed_idx) %in% c(1, len)
  ok_matrix <- identical(as.integer(dim(fixed_idx)),
                         as.integer(c(len, length(kset))))
  if (!(is.logical(fixed_idx) || is.numeric(fixed_idx)) ||
      !(ok_vector || ok_matrix) || anyNA(fixed_idx)) {
    abort_arg("fixed_idx", "must be NULL, a logical vector of length ", len,
              " or a ", len, " x ", length(kset), " logical matrix.")
  }
  fixed_idx <- array(as.logical(fixed_idx), dim = c(len, length(kset)))

  fixed <- fit_fixed(fit)
  for (i in seq_along(kset)) {
    k <- kset[i]
    idx <- which(fixed_idx[, i])
    if (length(idx) == 0) {
      fixed[k] <- list(NULL)
    } else if (!is.null(fixed[[k]]) && fixed[[k]]$dim != dim_code) {
      abort_arg("which_dim", "conflicts with factor ", k, ", whose ",
                if (fixed[[k]]$dim == 1) "loadings" else "factor values",
                " are already fixed; loadings and factor values cannot both ",
                "be fixed (unfix it first with flash_factors_unfix()).")
    } else {
      fixed[[k]] <- list(dim = dim_code, idx = idx)
    }
  }
  wrapup_flash(set_fixed(fit, fixed))
}

#' Unfix flash factors
#'
#' Undoes [flash_factors_fix()] for one or more factor/loadings pairs, so
#' that their loadings and factor values are again updated by backfits.
#'
#' @inheritParams flash_factors_fix
#' @param kset A vector of integers indexing the factor/loadings pairs whose
#'   values are to be unfixed.
#'
#' @return The `flash` object from argument `flash`, with the factor/loadings
#'   pairs specified by `kset` unfixed.
#'
#' @examples
#' data(gtex)
#' fl <- flash_add_intercept(flash_init(gtex))
#' fl <- flash_factors_unfix(fl, kset = 1)
#' is.null(fl$flash_fit$fixed[[1]])
#' fl <- flash_backfit(fl, verbose = 0)
#' @export
flash_factors_unfix <- function(flash, kset) {
  fit <- get_fit(flash)
  if (missing(kset)) {
    abort_arg("kset", "is missing: say which factors to unfix.")
  }
  kset <- check_kset(fit, kset)
  fixed <- fit_fixed(fit)
  fixed[kset] <- list(NULL)
  wrapup_flash(set_fixed(fit, fixed))
}
