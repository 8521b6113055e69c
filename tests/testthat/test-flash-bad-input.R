# Bad input gets an R error that names the argument; the session goes on.

data("gtex", package = "flashierrs", envir = environment())
small <- gtex[1:50, 1:10]

test_that("flash() rejects bad data with a message naming 'data'", {
  expect_error(flash(matrix(letters[1:6], 2, 3), verbose = 0),
               "'data' must be numeric")
  expect_error(flash(data.frame(a = 1:3, b = c("x", "y", "z")), verbose = 0),
               "'data' is a data frame with non-numeric column\\(s\\): b")
  expect_error(flash(1:10, verbose = 0), "'data' must be a matrix")
  expect_error(flash(matrix(1:3, 1, 3), verbose = 0),
               "'data' must have at least 2 rows and 2 columns")
  expect_error(flash(matrix(1:3, 3, 1), verbose = 0),
               "'data' must have at least 2 rows and 2 columns")
  y <- small
  y[3, ] <- NA
  expect_error(flash(y, verbose = 0), "'data' has rows with no observed values")
  y <- small
  y[, 4] <- NA
  expect_error(flash(y, verbose = 0),
               "'data' has columns with no observed values")
  y <- small
  y[2, 2] <- Inf
  expect_error(flash(y, verbose = 0), "'data' contains infinite values")
  y <- small
  y[2, 2] <- NaN
  expect_error(flash(y, verbose = 0), "'data' contains NaN values")
})

test_that("flash() rejects bad settings with a message naming them", {
  expect_error(flash(small, greedy_Kmax = 0, verbose = 0), "'greedy_Kmax'")
  expect_error(flash(small, greedy_Kmax = 2.5, verbose = 0), "'greedy_Kmax'")
  expect_error(flash(small, greedy_Kmax = "a", verbose = 0), "'greedy_Kmax'")
  expect_error(flash(small, var_type = 3, verbose = 0), "'var_type'")
  expect_error(flash(small, var_type = "row", verbose = 0), "'var_type'")
  expect_error(flash(small, verbose = 5), "'verbose'")
  expect_error(flash(small, verbose = -2), "'verbose'")
  expect_error(flash(small, ebnm_fn = "point_normal", verbose = 0),
               "'ebnm_fn'")
  expect_error(flash(small, nullcheck = NA, verbose = 0), "'nullcheck'")
})

test_that("bad standard errors and variance structures are named", {
  expect_error(flash(small, var_type = NULL, verbose = 0),
               "'var_type' can be NULL only when")
  expect_error(flash(small, S = -1, verbose = 0), "'S' must contain only")
  expect_error(flash(small, S = c(1, NA), verbose = 0), "'S'")
  expect_error(flash(small, S = rep(1, 7), verbose = 0), "'S' has length 7")
  expect_error(flash(small, S = matrix(1, 3, 3), verbose = 0),
               "'S' is a 3 x 3 matrix")
  expect_error(flash(small, var_type = c(1, 3), verbose = 0),
               "'var_type' must be")
})

test_that("integer and logical matrices are fit as numbers", {
  set.seed(3)
  y <- matrix(rpois(60 * 20, 3), 60, 20)
  fit <- flash(y, verbose = 0)
  expect_equal(fit$elbo, flash(y * 1.0, verbose = 0)$elbo)
})

test_that("the R session still works after the errors", {
  expect_error(flash("nonsense"))
  fit <- flash(small, greedy_Kmax = 1, verbose = 0)
  expect_true(is.finite(fit$elbo))
})
