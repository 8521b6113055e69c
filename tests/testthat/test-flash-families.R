# flash() with the other prior families on gtex (ELBOs of flashier 1.0.7),
# pairs of families, user-written ebnm functions called back from Rust, and
# what happens when such a function misbehaves.

data("gtex", package = "flashierrs", envir = environment())
small <- gtex[1:60, 1:12]

fit_gtex <- function(ebnm_fn, var_type = 0, Kmax = 5) {
  flash(gtex, ebnm_fn = ebnm_fn, var_type = var_type, greedy_Kmax = Kmax,
        verbose = 0)
}

# ELBO at least the reference minus 1 (a higher ELBO is fine).
expect_elbo <- function(fit, expected) {
  expect_true(fit$elbo >= expected - 1.0,
              label = sprintf("ELBO %.2f >= %.2f - 1", fit$elbo, expected))
}

test_that("gtex fits with other families reach flashier's ELBO", {
  expect_elbo(fit_gtex(ebnm_normal_scale_mixture), -82981.84)
  expect_elbo(fit_gtex(ebnm_unimodal_symmetric), -82978.90)
  expect_elbo(fit_gtex(ebnm_point_laplace), -83036.30)
  expect_elbo(fit_gtex(ebnm_normal), -83677.93)
})

semi_nn <- fit_gtex(c(ebnm_point_normal, ebnm_point_exponential),
                    var_type = 2)

test_that("the semi-nonnegative pair fits gtex with nonnegative factors", {
  expect_elbo(semi_nn, -81194.23)
  expect_true(all(semi_nn$F_pm >= 0))
  expect_true(any(semi_nn$L_pm < 0))
  expect_length(semi_nn$residuals_sd, ncol(gtex))
  expect_true(all(semi_nn$F_lfsr >= 0 & semi_nn$F_lfsr <= 1))
})

# A user's ebnm function: point-normal through R, counting its calls.
calls <- new.env()
calls$n <- 0
wrapper <- function(x, s, g_init = NULL, fix_g = FALSE,
                    output = ebnm_output_default()) {
  calls$n <- calls$n + 1
  ebnm_point_normal(x, s, g_init = g_init, fix_g = fix_g, output = output)
}
builtin3 <- fit_gtex(ebnm_point_normal, Kmax = 3)

expect_same_fit <- function(fit, ref, tol = 1e-6) {
  expect_near(fit$elbo, ref$elbo, tol)
  expect_equal(fit$n_factors, ref$n_factors)
  for (what in c("L_pm", "F_pm", "L_psd", "F_psd", "L_lfsr", "F_lfsr",
                 "pve", "residuals_sd")) {
    expect_equal(fit[[what]], ref[[what]], tolerance = tol, label = what)
  }
}

test_that("a custom R ebnm_fn gives the built-in fit and is called", {
  calls$n <- 0
  custom <- fit_gtex(wrapper, Kmax = 3)
  expect_gt(calls$n, 0)
  expect_same_fit(custom, builtin3)
  # One custom function in a pair.
  calls$n <- 0
  half <- fit_gtex(c(ebnm_point_normal, wrapper), Kmax = 3)
  expect_gt(calls$n, 0)
  expect_same_fit(half, builtin3)
})

test_that("a custom nonnegative ebnm_fn gives the built-in semi-NN fit", {
  pexp <- function(x, s, g_init = NULL, fix_g = FALSE,
                   output = ebnm_output_default()) {
    ebnm_point_exponential(x, s, g_init = g_init, fix_g = fix_g,
                           output = output)
  }
  custom <- fit_gtex(c(ebnm_point_normal, pexp), var_type = 2)
  expect_same_fit(custom, semi_nn)
  expect_true(all(custom$F_pm >= 0))
})

test_that("flash_ebnm() gives the same fit as the ebnm_* function", {
  expect_same_fit(fit_gtex(flash_ebnm("point_normal"), Kmax = 3), builtin3,
                  tol = 1e-10)
  est <- fit_gtex(flash_ebnm("point_normal", mode = "estimate"), Kmax = 3)
  expect_true(is.finite(est$elbo))
  expect_gte(est$n_factors, 1)
  expect_s3_class(est$L_ghat[[1]], "normalmix")
})

# A function returning the posterior of the wrong length, one without a
# posterior, and one that fails.
drop_one <- function(x, s, g_init = NULL, fix_g = FALSE,
                     output = ebnm_output_default()) {
  res <- ebnm_point_normal(x, s, g_init = g_init, fix_g = fix_g,
                           output = output)
  res$posterior <- res$posterior[-1, ]
  res
}
no_posterior <- function(x, s, g_init = NULL, fix_g = FALSE,
                         output = ebnm_output_default()) {
  res <- ebnm_point_normal(x, s, g_init = g_init, fix_g = fix_g,
                           output = output)
  res$posterior <- NULL
  res
}
boom <- function(x, s, g_init = NULL, fix_g = FALSE,
                 output = ebnm_output_default()) {
  stop("boom")
}

test_that("a custom ebnm_fn of the wrong shape: error names factor and side", {
  expect_error(flash(small, ebnm_fn = drop_one, verbose = 0),
               "loadings of factor 1: the ebnm function returned 59 posterior means for 60",
               fixed = TRUE)
  expect_error(flash(small, ebnm_fn = c(ebnm_point_normal, drop_one),
                     verbose = 0),
               "factor values of factor 1: the ebnm function returned 11 posterior means for 12",
               fixed = TRUE)
  expect_error(flash(small, ebnm_fn = no_posterior, verbose = 0),
               "loadings of factor 1: the ebnm function returned no 'posterior' data frame",
               fixed = TRUE)
  expect_error(flash(small, ebnm_fn = function(x, s, ...) 42, verbose = 0),
               "loadings of factor 1: the ebnm function returned something that is not a list",
               fixed = TRUE)
})

test_that("a custom ebnm_fn that calls stop() gives an R error", {
  expect_error(flash(small, ebnm_fn = boom, verbose = 0),
               "loadings of factor 1: the ebnm function threw an error: boom")
  expect_error(flash(small, ebnm_fn = c(ebnm_point_normal, boom),
                     verbose = 0),
               "factor values of factor 1: the ebnm function threw an error: boom")
})

test_that("the R error of a custom ebnm_fn reaches the user", {
  msg <- "a message that is not in the function's source"
  failing <- function(x, s, g_init = NULL, fix_g = FALSE,
                      output = ebnm_output_default()) {
    stop(msg)
  }
  expect_error(flash(small, ebnm_fn = failing, verbose = 0), msg,
               fixed = TRUE)
})

test_that("after the errors the R session still fits", {
  calls$n <- 0
  fit <- flash(small, ebnm_fn = wrapper, greedy_Kmax = 2, verbose = 0)
  expect_gt(calls$n, 0)
  expect_true(is.finite(fit$elbo))
  expect_near(fit$elbo,
              flash(small, greedy_Kmax = 2, verbose = 0)$elbo, 1e-6)
  expect_near(fit_gtex(ebnm_normal)$elbo, -83677.93, 1.0)
})

test_that("ebnm_fn can give one prior family per new factor", {
  fit <- flash(gtex, greedy_Kmax = 3, verbose = 0,
               ebnm_fn = list(ebnm_point_normal,
                              c(ebnm_point_normal, ebnm_point_exponential)))
  expect_equal(fit$n_factors, 3)
  # Factors 2 and 3 use the nonnegative family for the factor values.
  expect_true(all(fit$F_pm[, 2:3] >= 0))
  expect_true(any(fit$F_pm[, 1] != 0))
  expect_s3_class(fit$F_ghat[[2]], "gammamix")
  expect_s3_class(fit$F_ghat[[1]], "normalmix")
  expect_error(flash(gtex, ebnm_fn = list(ebnm_normal, "x"), verbose = 0),
               "'ebnm_fn\\[\\[2\\]\\]'")
})
