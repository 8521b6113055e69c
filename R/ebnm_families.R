# The prior families of ebnm 1.1, each solved in Rust. They share one
# signature; see ebnm_point_normal() for the arguments.


#' Empirical Bayes normal means with other prior families
#'
#' Each function solves the empirical Bayes normal means problem
#' \eqn{x_i \sim N(\theta_i, s_i^2)}, \eqn{\theta_i \sim g}, with \eqn{g} in
#' the named family, as the function of the same name in the ebnm package
#' does: point-Laplace and point-exponential (a point mass plus a Laplace or
#' exponential slab), normal, scale mixtures of normals, unimodal
#' distributions (any, symmetric, nonnegative or nonpositive support), the
#' nonparametric MLE, generalized binary, horseshoe, the flat (improper
#' uniform) prior and a point mass. Parametric families are fit by maximum
#' likelihood over their parameters; mixture families on ebnm's default
#' grids with their weights found by sequential quadratic programming.
#'
#' @inheritParams ebnm_point_normal
#' @return A list of class `ebnm` as described in [ebnm_point_normal()];
#'   `fitted_g` is a `normalmix`, `laplacemix`, `gammamix`, `unimix`,
#'   `tnormalmix` or `horseshoe` object as ebnm defines them.
#' @examples
#' set.seed(1)
#' x <- c(rep(0, 50), rexp(50, 1 / 3)) + rnorm(100)
#' ebnm_point_exponential(x)$fitted_g
#' ebnm_unimodal_nonnegative(x)$log_likelihood
#' @name ebnm_families
NULL

#' @rdname ebnm_families
#' @export
ebnm_point_laplace <- function(x, s = 1, mode = 0, scale = "estimate",
                               g_init = NULL, fix_g = FALSE,
                               output = ebnm_output_default(), ...) {
  ebnm_solve("point_laplace", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_point_exponential <- function(x, s = 1, mode = 0, scale = "estimate",
                                   g_init = NULL, fix_g = FALSE,
                                   output = ebnm_output_default(), ...) {
  ebnm_solve("point_exponential", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_normal <- function(x, s = 1, mode = 0, scale = "estimate",
                        g_init = NULL, fix_g = FALSE,
                        output = ebnm_output_default(), ...) {
  ebnm_solve("normal", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_normal_scale_mixture <- function(x, s = 1, mode = 0,
                                      scale = "estimate", g_init = NULL,
                                      fix_g = FALSE,
                                      output = ebnm_output_default(), ...) {
  ebnm_solve("normal_scale_mixture", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_unimodal <- function(x, s = 1, mode = 0, scale = "estimate",
                          g_init = NULL, fix_g = FALSE,
                          output = ebnm_output_default(), ...) {
  ebnm_solve("unimodal", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_unimodal_symmetric <- function(x, s = 1, mode = 0, scale = "estimate",
                                    g_init = NULL, fix_g = FALSE,
                                    output = ebnm_output_default(), ...) {
  ebnm_solve("unimodal_symmetric", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_unimodal_nonnegative <- function(x, s = 1, mode = 0,
                                      scale = "estimate", g_init = NULL,
                                      fix_g = FALSE,
                                      output = ebnm_output_default(), ...) {
  ebnm_solve("unimodal_nonnegative", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_unimodal_nonpositive <- function(x, s = 1, mode = 0,
                                      scale = "estimate", g_init = NULL,
                                      fix_g = FALSE,
                                      output = ebnm_output_default(), ...) {
  ebnm_solve("unimodal_nonpositive", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_npmle <- function(x, s = 1, mode = 0, scale = "estimate",
                       g_init = NULL, fix_g = FALSE,
                       output = ebnm_output_default(), ...) {
  ebnm_solve("npmle", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_generalized_binary <- function(x, s = 1, mode = "estimate",
                                    scale = "estimate", g_init = NULL,
                                    fix_g = FALSE,
                                    output = ebnm_output_default(), ...) {
  ebnm_solve("generalized_binary", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_horseshoe <- function(x, s = 1, mode = 0, scale = "estimate",
                           g_init = NULL, fix_g = FALSE,
                           output = ebnm_output_default(), ...) {
  ebnm_solve("horseshoe", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_flat <- function(x, s = 1, mode = 0, scale = "estimate",
                      g_init = NULL, fix_g = FALSE,
                      output = ebnm_output_default(), ...) {
  ebnm_solve("flat", x, s, mode, scale, g_init, fix_g, output)
}

#' @rdname ebnm_families
#' @export
ebnm_point_mass <- function(x, s = 1, mode = 0, scale = "estimate",
                            g_init = NULL, fix_g = FALSE,
                            output = ebnm_output_default(), ...) {
  ebnm_solve("point_mass", x, s, mode, scale, g_init, fix_g, output)
}

#' Build an EBNM function with non-default arguments
#'
#' Returns a function that flash can use as `ebnm_fn`: the prior family
#' `prior_family` with the given `mode`, `scale` and other settings, as
#' flashier's `flash_ebnm()` does. The result is also an ordinary EBNM
#' function that can be called on its own.
#'
#' @param prior_family The name of the family, as in the `ebnm_*` function
#'   names: `"point_normal"`, `"point_laplace"`, `"point_exponential"`,
#'   `"normal"`, `"normal_scale_mixture"`, `"unimodal"`,
#'   `"unimodal_symmetric"`, `"unimodal_nonnegative"`,
#'   `"unimodal_nonpositive"`, `"npmle"`, `"generalized_binary"`,
#'   `"horseshoe"`, `"flat"` or `"point_mass"`.
#' @param mode,scale As in [ebnm_point_normal()].
#' @param ... Ignored (accepted for compatibility with flashier).
#' @return A function with ebnm's signature.
#' @examples
#' data(gtex)
#' fn <- flash_ebnm(prior_family = "point_normal", mode = "estimate")
#' fit <- flash(gtex, ebnm_fn = fn, greedy_Kmax = 2, verbose = 0)
#' @export
flash_ebnm <- function(prior_family = "point_normal", mode = 0,
                       scale = "estimate", ...) {
  if (!is.character(prior_family) || length(prior_family) != 1 ||
      !(prior_family %in% ebnm_families)) {
    abort_arg("prior_family", "must be one of ",
              paste0("\"", ebnm_families, "\"", collapse = ", "), ".")
  }
  if (!(identical(mode, "estimate") ||
        (is.numeric(mode) && length(mode) == 1 && is.finite(mode)))) {
    abort_arg("mode", "must be a number or \"estimate\".")
  }
  if (!(identical(scale, "estimate") ||
        (is.numeric(scale) && length(scale) >= 1 && all(is.finite(scale)) &&
         all(scale >= 0)))) {
    abort_arg("scale", "must be \"estimate\" or nonnegative numbers.")
  }
  family <- prior_family
  fn <- function(x, s = 1, g_init = NULL, fix_g = FALSE,
                 output = ebnm_output_default(), ...) {
    ebnm_solve(family, x, s, mode, scale, g_init, fix_g, output)
  }
  attr(fn, "flashierrs_spec") <- list(family = family, mode = mode,
                                      scale = scale)
  fn
}
