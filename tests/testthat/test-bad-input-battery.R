# A battery of bad and extreme inputs (issue 7) through flash(),
# flash_init() / flash_greedy() / flash_backfit() / flash_nullcheck(), the
# ebnm_* solvers, ldf() and plot(). Every case must end in either
#
# * a correct fit: a finite ELBO, no NaN (nor Inf) in L_pm / F_pm, a sensible
#   number of factors and posterior means of the right shape; or
# * an R error whose message names the offending argument.
#
# None may crash R or hand back NaN. Cases that fail here are known bugs:
# the expectation states what should happen.

data("gtex", package = "flashierrs", envir = environment())

set.seed(7)
rank1 <- outer(rnorm(30), rnorm(12)) * 3 + matrix(rnorm(360), 30, 12)

# A fit is sound: finite ELBO, L_pm / F_pm n x K and p x K without NaN or
# Inf, and K between k_min and k_max.
expect_sound_fit <- function(fit, n, p, k_min = 0, k_max = min(n, p)) {
  expect_s3_class(fit, "flash")
  expect_true(is.finite(fit$elbo),
              label = sprintf("is.finite(elbo) [elbo = %s]", format(fit$elbo)))
  k <- fit$n_factors
  expect_true(is.numeric(k) && length(k) == 1 && k >= k_min && k <= k_max,
              label = sprintf("%s <= n_factors = %s <= %s", k_min, k, k_max))
  if (isTRUE(k > 0)) {
    expect_equal(dim(fit$L_pm), c(n, k))
    expect_equal(dim(fit$F_pm), c(p, k))
    expect_false(any(is.nan(fit$L_pm)), label = "any NaN in L_pm")
    expect_false(any(is.nan(fit$F_pm)), label = "any NaN in F_pm")
    expect_true(all(is.finite(fit$L_pm)), label = "all L_pm finite")
    expect_true(all(is.finite(fit$F_pm)), label = "all F_pm finite")
    expect_true(all(is.finite(fit$pve)), label = "all pve finite")
  } else {
    expect_true(is.null(fit$L_pm) || length(fit$L_pm) == 0)
  }
  invisible(fit)
}

# An error whose message names `arg` (as a word, quoted or not) and, when
# given, matches `also`.
expect_arg_error <- function(expr, arg, also = NULL) {
  err <- tryCatch({
    force(expr)
    NULL
  }, error = function(e) e)
  expect_true(inherits(err, "error"),
              label = sprintf("an error naming '%s' was raised", arg))
  if (!inherits(err, "error")) {
    return(invisible(NULL))
  }
  msg <- conditionMessage(err)
  esc <- gsub("([][{}()+*^$|\\\\?.])", "\\\\\\1", arg)
  pattern <- paste0("(^|[^A-Za-z0-9_.])", esc, "($|[^A-Za-z0-9_(])")
  expect_true(grepl(pattern, msg),
              label = sprintf("the message names '%s': \"%s\"", arg, msg))
  if (!is.null(also)) {
    expect_match(msg, also)
  }
  invisible(msg)
}

# ---------------------------------------------------------------------------
# flash(): the data.

test_that("1. data of the wrong type: NULL, a function, a list", {
  expect_arg_error(flash(NULL, verbose = 0), "data", "must be a matrix")
  expect_arg_error(flash(mean, verbose = 0), "data", "must be a matrix")
  expect_arg_error(flash(list(1, 2), verbose = 0), "data")
})

test_that("2. data of the wrong type: character and complex matrices", {
  expect_arg_error(flash(matrix(letters[1:6], 3, 2), verbose = 0), "data",
                   "numeric")
  expect_arg_error(flash(matrix(1i, 3, 3), verbose = 0), "data", "numeric")
})

test_that("3. data of the wrong dimensions: a vector, a 3-d array, 0 x 0", {
  expect_arg_error(flash(rnorm(10), verbose = 0), "data", "must be a matrix")
  expect_arg_error(flash(array(1, c(3, 3, 3)), verbose = 0), "data",
                   "must be a matrix")
  expect_arg_error(flash(matrix(numeric(0), 0, 0), verbose = 0), "data",
                   "at least 2 rows")
})

test_that("4. data with one row or one column", {
  expect_arg_error(flash(matrix(rnorm(5), 1, 5), verbose = 0), "data",
                   "at least 2 rows and 2 columns")
  expect_arg_error(flash(matrix(rnorm(5), 5, 1), verbose = 0), "data",
                   "at least 2 rows and 2 columns")
})

test_that("5. a data frame with a factor column", {
  df <- data.frame(a = factor(c("x", "y", "z")), b = 1:3)
  expect_arg_error(flash(df, verbose = 0), "data", "non-numeric")
})

test_that("6. a data frame of numbers is fit like the matrix", {
  fit <- expect_sound_fit(flash(as.data.frame(rank1), verbose = 0), 30, 12,
                          k_min = 1)
  expect_equal(fit$elbo, flash(rank1, verbose = 0)$elbo)
})

test_that("7. NaN in the data", {
  y <- rank1
  y[5, 5] <- NaN
  expect_arg_error(flash(y, verbose = 0), "data", "NaN")
})

test_that("8. Inf and -Inf in the data", {
  y <- rank1
  y[5, 5] <- Inf
  expect_arg_error(flash(y, verbose = 0), "data", "infinite")
  y[5, 5] <- -Inf
  expect_arg_error(flash(y, verbose = 0), "data", "infinite")
})

test_that("9. NA in the data: missing entries are fit", {
  y <- rank1
  set.seed(9)
  y[sample(length(y), 60)] <- NA
  expect_sound_fit(flash(y, verbose = 0), 30, 12, k_min = 1)
})

test_that("10. a row or a column with nothing observed", {
  y <- rank1
  y[4, ] <- NA
  expect_arg_error(flash(y, verbose = 0), "data", "rows with no observed")
  y <- rank1
  y[, 2] <- NA
  expect_arg_error(flash(y, verbose = 0), "data", "columns with no observed")
})

test_that("11. only the diagonal observed", {
  y <- matrix(NA_real_, 10, 10)
  diag(y) <- rnorm(10)
  expect_sound_fit(flash(y, verbose = 0), 10, 10)
})

test_that("12. zero-variance data: a constant matrix", {
  y <- matrix(5, 20, 10)
  for (vt in list(0, 1, 2)) {
    fit <- expect_sound_fit(flash(y, var_type = vt, verbose = 0), 20, 10,
                            k_max = 1)
    if (fit$n_factors == 1) {
      expect_equal(fitted(fit), y, tolerance = 1e-6)
    }
  }
  expect_sound_fit(flash(y, backfit = TRUE, verbose = 0), 20, 10, k_max = 1)
})

test_that("13. a matrix of all zeros", {
  y <- matrix(0, 20, 10)
  for (vt in list(0, 1, 2, c(1, 2))) {
    expect_sound_fit(flash(y, var_type = vt, verbose = 0), 20, 10, k_max = 0)
  }
  expect_sound_fit(flash(y, S = 1, var_type = NULL, verbose = 0), 20, 10,
                   k_max = 0)
})

test_that("14. a 2 x 2 matrix, every variance structure", {
  y <- matrix(c(1, 2, 3, 5), 2, 2)
  for (vt in list(0, 1, 2, c(1, 2))) {
    expect_sound_fit(flash(y, var_type = vt, verbose = 0), 2, 2)
  }
  expect_sound_fit(flash(y, backfit = TRUE, verbose = 0), 2, 2)
})

test_that("15. n = 1e6 rows and p = 2 columns", {
  set.seed(15)
  u <- rnorm(1e6)
  y <- cbind(u, -u) + matrix(rnorm(2e6), 1e6, 2)
  # The point-normal prior takes ~25 s here (1e6-long EBNM problems); the
  # normal prior keeps the test quick and exercises the same code paths.
  fit <- flash(y, greedy_Kmax = 1, ebnm_fn = ebnm_normal, verbose = 0)
  expect_sound_fit(fit, 1e6, 2, k_max = 1)
})

test_that("16. n = 2 rows and p = 1e6 columns", {
  set.seed(16)
  v <- rnorm(1e6)
  y <- rbind(v, -v) + matrix(rnorm(2e6), 2, 1e6)
  fit <- flash(y, greedy_Kmax = 1, ebnm_fn = ebnm_normal, verbose = 0)
  expect_sound_fit(fit, 2, 1e6, k_max = 1)
})

test_that("17. huge values (1e150)", {
  y <- rank1 * 1e150
  for (vt in list(0, 1, 2, c(1, 2))) {
    fit <- expect_sound_fit(flash(y, var_type = vt, verbose = 0), 30, 12,
                            k_min = 1)
  }
  fit <- expect_sound_fit(flash(y, greedy_Kmax = 2, backfit = TRUE,
                                verbose = 0), 30, 12, k_min = 1)
  # The fit scales with the data.
  small_fit <- flash(rank1, greedy_Kmax = 1, verbose = 0)
  big_fit <- flash(y, greedy_Kmax = 1, verbose = 0)
  expect_equal(fitted(big_fit) / 1e150, fitted(small_fit), tolerance = 1e-6)
})

test_that("18. huger values (1e200): a fit or an error naming 'data'", {
  # Squared residuals overflow from |y| ~ 1e153 on.
  res <- tryCatch(flash(rank1 * 1e200, verbose = 0), error = function(e) e)
  if (inherits(res, "error")) {
    expect_match(conditionMessage(res), "'data'")
  } else {
    expect_sound_fit(res, 30, 12)
  }
})

test_that("19. denormal values (1e-310)", {
  y <- rank1 * 1e-310
  expect_sound_fit(flash(y, verbose = 0), 30, 12)
  y <- rank1
  y[1:5, ] <- 1e-310
  expect_sound_fit(flash(y, verbose = 0), 30, 12)
  expect_sound_fit(flash(matrix(1e-310, 20, 10), verbose = 0), 20, 10,
                   k_max = 1)
})

test_that("20. integer matrices (with NA) are fit as numbers", {
  set.seed(20)
  y <- matrix(rpois(400, 3), 40, 10)
  y[3, 4] <- NA_integer_
  expect_type(y, "integer")
  fit <- expect_sound_fit(flash(y, verbose = 0), 40, 10)
  expect_equal(fit$elbo, flash(y * 1.0, verbose = 0)$elbo)
})

test_that("21. logical matrices (with NA) are fit as 0/1", {
  set.seed(21)
  y <- matrix(runif(400) > 0.5, 40, 10)
  y[2, 2] <- NA
  fit <- expect_sound_fit(flash(y, verbose = 0), 40, 10)
  expect_equal(fit$elbo, flash(y * 1.0, verbose = 0)$elbo)
  expect_sound_fit(flash(matrix(TRUE, 20, 10), verbose = 0), 20, 10,
                   k_max = 1)
})

test_that("22. matrices with and without dimnames", {
  y <- rank1
  dimnames(y) <- list(paste0("r", 1:30), paste0("c", 1:12))
  fit <- expect_sound_fit(flash(y, verbose = 0), 30, 12, k_min = 1)
  expect_identical(rownames(fit$L_pm), rownames(y))
  expect_identical(rownames(fit$F_pm), colnames(y))
  fit0 <- expect_sound_fit(flash(unname(y), verbose = 0), 30, 12, k_min = 1)
  expect_null(rownames(fit0$L_pm))
  expect_equal(fit0$elbo, fit$elbo)
  # Only row names.
  y2 <- rank1
  rownames(y2) <- paste0("r", 1:30)
  fit2 <- expect_sound_fit(flash(y2, verbose = 0), 30, 12, k_min = 1)
  expect_identical(rownames(fit2$L_pm), rownames(y2))
})

test_that("23. Kmax beyond what the data support", {
  y <- rank1[1:5, 1:4]
  expect_sound_fit(flash(y, greedy_Kmax = 100, verbose = 0), 5, 4)
  expect_sound_fit(flash(y, greedy_Kmax = 100, backfit = TRUE, verbose = 0),
                   5, 4)
  expect_sound_fit(flash(y, greedy_Kmax = 2^31, verbose = 0), 5, 4)
  expect_sound_fit(flash(rank1, greedy_Kmax = 1e10, verbose = 0), 30, 12)
})

# ---------------------------------------------------------------------------
# flash(): S, var_type and the other settings.

test_that("24. NA, NaN, Inf, 0 and negative values in S", {
  for (bad in list(NA_real_, NaN, Inf, -Inf, 0, -1)) {
    expect_arg_error(flash(rank1, S = bad, verbose = 0), "S",
                     "positive, finite")
  }
  expect_arg_error(flash(rank1, S = c(rep(1, 29), NA), var_type = 1,
                         verbose = 0), "S")
  expect_arg_error(flash(rank1, S = matrix(NA_real_, 30, 12), verbose = 0),
                   "S")
})

test_that("25. S of the wrong type or dimensions", {
  expect_arg_error(flash(rank1, S = "1", verbose = 0), "S")
  expect_arg_error(flash(rank1, S = list(1), verbose = 0), "S")
  expect_arg_error(flash(rank1, S = numeric(0), verbose = 0), "S")
  expect_arg_error(flash(rank1, S = rep(1, 7), verbose = 0), "S",
                   "has length 7")
  expect_arg_error(flash(rank1, S = matrix(1, 12, 30), verbose = 0), "S",
                   "12 x 30")
})

test_that("26. extreme S: tiny, huge and denormal standard errors", {
  expect_sound_fit(flash(rank1, S = 1e-8, var_type = NULL, verbose = 0),
                   30, 12)
  expect_sound_fit(flash(rank1, S = 1e8, var_type = NULL, verbose = 0),
                   30, 12, k_max = 0)
  expect_sound_fit(flash(rank1, S = 1e150, verbose = 0), 30, 12)
  expect_sound_fit(flash(rank1, S = 1e-310, verbose = 0), 30, 12)
  expect_sound_fit(flash(rank1, S = matrix(1, 30, 12), verbose = 0), 30, 12)
})

test_that("27. var_type of the wrong type or value", {
  for (bad in list(NA, "0", 3, -1, c(0, 1), c(1, 1), list(1))) {
    expect_arg_error(flash(rank1, var_type = bad, verbose = 0), "var_type")
  }
  expect_arg_error(flash(rank1, var_type = NULL, verbose = 0), "var_type")
})

test_that("28. greedy_Kmax of the wrong type or value", {
  for (bad in list(NA, Inf, c(1, 2), "2", 0, -1, 1.5, TRUE, NULL)) {
    expect_arg_error(flash(rank1, greedy_Kmax = bad, verbose = 0),
                     "greedy_Kmax")
  }
})

test_that("29. backfit, nullcheck and verbose of the wrong type", {
  expect_arg_error(flash(rank1, backfit = "yes", verbose = 0), "backfit")
  expect_arg_error(flash(rank1, backfit = NA, verbose = 0), "backfit")
  expect_arg_error(flash(rank1, nullcheck = c(TRUE, FALSE), verbose = 0),
                   "nullcheck")
  expect_arg_error(flash(rank1, verbose = NA), "verbose")
  expect_arg_error(flash(rank1, verbose = "1"), "verbose")
})

test_that("30. ebnm_fn of the wrong type or length", {
  expect_arg_error(flash(rank1, ebnm_fn = 42, verbose = 0), "ebnm_fn")
  expect_arg_error(flash(rank1, ebnm_fn = list(1, 2), verbose = 0),
                   "ebnm_fn[[1]]")
  expect_arg_error(flash(rank1, ebnm_fn = NULL, verbose = 0), "ebnm_fn")
})

# ---------------------------------------------------------------------------
# flash_init(), flash_greedy(), flash_backfit(), flash_nullcheck().

test_that("31. flash_init() with bad data, S and var_type", {
  expect_arg_error(flash_init("x"), "data")
  expect_arg_error(flash_init(rank1, S = c(1, 2, 3)), "S", "has length 3")
  expect_arg_error(flash_init(rank1, var_type = 4), "var_type")
  fl <- flash_init(rank1)
  expect_s3_class(fl, "flash")
  expect_equal(fl$n_factors, 0)
  expect_true(is.finite(fl$elbo))
})

test_that("32. flash_greedy() on something that is not a flash object", {
  for (bad in list("x", NULL, list(), rank1)) {
    expect_arg_error(flash_greedy(bad), "flash")
  }
})

test_that("33. flash_greedy() with bad Kmax, maxiter, tol and flags", {
  fl <- flash_init(rank1)
  expect_arg_error(flash_greedy(fl, Kmax = 0), "Kmax")
  expect_arg_error(flash_greedy(fl, Kmax = "2"), "Kmax")
  expect_arg_error(flash_greedy(fl, maxiter = 0), "maxiter")
  expect_arg_error(flash_greedy(fl, maxiter = NA), "maxiter")
  expect_arg_error(flash_greedy(fl, tol = -1), "tol")
  expect_arg_error(flash_greedy(fl, tol = NA), "tol")
  expect_arg_error(flash_greedy(fl, tol = Inf), "tol")
  expect_arg_error(flash_greedy(fl, extrapolate = NA), "extrapolate")
  expect_arg_error(flash_greedy(fl, warmstart = "no"), "warmstart")
  expect_arg_error(flash_greedy(fl, verbose = 9), "verbose")
  expect_arg_error(flash_greedy(fl, init_fn = function(...) NULL), "init_fn")
  expect_sound_fit(flash_greedy(fl, maxiter = 1e12, verbose = 0), 30, 12)
})

test_that("34. flash_greedy() with an EBNM function that errs or lies", {
  fl <- flash_set_verbose(flash_init(rank1), 0)
  boom <- function(x, s, g_init, fix_g, output) stop("boom")
  expect_arg_error(flash_greedy(fl, ebnm_fn = boom), "ebnm function", "boom")
  nan_fn <- function(x, s, g_init, fix_g, output) {
    res <- ebnm_point_normal(x, s, g_init = g_init, fix_g = fix_g,
                             output = output)
    res$posterior$mean[] <- NaN
    res
  }
  expect_arg_error(flash_greedy(fl, ebnm_fn = nan_fn), "ebnm function",
                   "non-finite")
  garbage <- function(x, s, g_init, fix_g, output) 42
  expect_arg_error(flash_greedy(fl, ebnm_fn = garbage), "ebnm function",
                   "not a list")
  # The session (and the object) survive.
  expect_sound_fit(flash_greedy(fl, Kmax = 1), 30, 12)
})

test_that("35. flash_backfit() with bad kset, maxiter, tol and objects", {
  fl <- flash(rank1, greedy_Kmax = 2, verbose = 0)
  k <- fl$n_factors
  for (bad in list(k + 1, 0, -1, "1", 1.5, c(1, 1), NA)) {
    expect_arg_error(flash_backfit(fl, kset = bad), "kset")
  }
  expect_arg_error(flash_backfit(fl, maxiter = -1), "maxiter")
  expect_arg_error(flash_backfit(fl, tol = "a"), "tol")
  expect_arg_error(flash_backfit(fl, extrapolate = NA), "extrapolate")
  expect_arg_error(flash_backfit(list()), "flash")
  expect_arg_error(flash_backfit(NULL), "flash")
})

test_that("36. flash_backfit() with no factors, and of extreme data", {
  fl <- flash_set_verbose(flash_init(rank1), 0)
  expect_sound_fit(flash_backfit(fl), 30, 12, k_max = 0)
  big <- flash(rank1 * 1e150, greedy_Kmax = 2, verbose = 0)
  expect_sound_fit(flash_backfit(big, verbose = 0), 30, 12, k_min = 1)
  tiny <- flash(rank1 * 1e-150, greedy_Kmax = 2, verbose = 0)
  expect_sound_fit(flash_backfit(tiny, verbose = 0), 30, 12)
})

test_that("37. flash_nullcheck() with bad arguments and objects", {
  fl <- flash(rank1, greedy_Kmax = 1, verbose = 0)
  expect_arg_error(flash_nullcheck(fl, remove = NA), "remove")
  expect_arg_error(flash_nullcheck(fl, tol = -1), "tol")
  expect_arg_error(flash_nullcheck(fl, kset = 2), "kset")
  expect_arg_error(flash_nullcheck(fl, kset = c(1, 1)), "kset")
  expect_arg_error(flash_nullcheck(fl, kset = "1"), "kset")
  expect_arg_error(flash_nullcheck(NULL), "flash")
  expect_arg_error(flash_nullcheck(42), "flash")
  expect_sound_fit(flash_nullcheck(flash_set_verbose(flash_init(rank1), 0)),
                   30, 12, k_max = 0)
})

# ---------------------------------------------------------------------------
# The ebnm_* solvers.

test_that("38. ebnm_*: x of the wrong type, empty, NA, NaN or Inf", {
  expect_arg_error(ebnm_point_normal("a"), "x")
  expect_arg_error(ebnm_point_normal(numeric(0)), "x")
  expect_arg_error(ebnm_point_normal(NULL), "x")
  expect_arg_error(ebnm_point_normal(c(TRUE, FALSE)), "x")
  expect_arg_error(ebnm_point_normal(c(1, NA)), "x")
  expect_arg_error(ebnm_point_laplace(c(1, Inf)), "x")
  expect_arg_error(ebnm_normal(c(1, NaN)), "x")
  expect_arg_error(ebnm_unimodal(c(-Inf, 1)), "x")
})

test_that("39. ebnm_*: s of the wrong type, length or value", {
  x <- c(-1, 0.5, 2, 3, -0.2)
  for (bad in list(0, -1, Inf, NA_real_, NaN, c(1, NA, 1, 1, 1))) {
    expect_arg_error(ebnm_point_normal(x, s = bad), "s", "positive, finite")
  }
  expect_arg_error(ebnm_npmle(x, s = c(1, 2)), "s", "same length")
  expect_arg_error(ebnm_point_normal(x, s = "1"), "s")
  expect_arg_error(ebnm_point_normal(x, s = NULL), "s")
})

test_that("40. ebnm_*: fix_g, g_init and output of the wrong type", {
  x <- c(-1, 0.5, 2, 3, -0.2)
  expect_arg_error(ebnm_point_normal(x, fix_g = NA), "fix_g")
  expect_arg_error(ebnm_point_normal(x, fix_g = TRUE), "g_init")
  expect_arg_error(ebnm_point_normal(x, output = "bogus"), "output")
  expect_arg_error(ebnm_point_normal(x, g_init = list(pi = 1)), "g_init")
  expect_arg_error(
    ebnm_point_laplace(x, g_init = ebnm_point_normal(x)$fitted_g), "g_init")
  # A string is not a fitted prior; the message should say which argument.
  expect_arg_error(ebnm_point_normal(x, g_init = "bad"), "g_init")
})

test_that("41. ebnm_*: mode and scale of the wrong type or value", {
  x <- c(-1, 0.5, 2, 3, -0.2)
  expect_arg_error(ebnm_point_normal(x, mode = "foo"), "mode")
  expect_arg_error(ebnm_point_normal(x, mode = NA), "mode")
  expect_arg_error(ebnm_point_laplace(x, mode = c(1, 2)), "mode")
  expect_arg_error(ebnm_point_normal(x, scale = -1), "scale")
  expect_arg_error(ebnm_point_normal(x, scale = "foo"), "scale")
  expect_arg_error(ebnm_unimodal(x, scale = NA), "scale")
  expect_arg_error(ebnm_point_normal(x, scale = c(1, 2)), "scale")
})

test_that("42. ebnm_*: refusals name what is wrong", {
  # ebnm's message speaks of "standard errors", i.e. s.
  expect_arg_error(ebnm_horseshoe(rnorm(5), s = 1:5), "standard errors",
                   "homoskedastic")
  expect_error(ebnm_horseshoe(1), "observation|'x'")
})

test_that("43. ebnm_*: one observation, every family", {
  for (fam in setdiff(flashierrs:::ebnm_families, "horseshoe")) {
    res <- get(paste0("ebnm_", fam))(3, output = ebnm_output_all())
    if (fam != "flat") {
      expect_true(is.finite(res$log_likelihood), label = fam)
    }
    expect_true(all(is.finite(res$posterior$mean)), label = fam)
    expect_true(all(is.finite(res$posterior$sd)), label = fam)
  }
})

test_that("44. ebnm_*: integer and matrix x are fit as numbers", {
  expect_equal(ebnm_point_normal(1:10)$log_likelihood,
               ebnm_point_normal(as.double(1:10))$log_likelihood)
  m <- matrix(c(-1, 2, 0.5, 3), 2)
  expect_true(is.finite(ebnm_point_normal(m)$log_likelihood))
})

test_that("45. ebnm_*: denormal s (1e-310) gives finite answers or an error", {
  set.seed(45)
  x <- rnorm(5)
  for (fam in c("point_normal", "normal", "unimodal")) {
    res <- tryCatch(get(paste0("ebnm_", fam))(x, s = 1e-310),
                    error = function(e) e)
    if (inherits(res, "error")) {
      expect_match(conditionMessage(res), "'s'")
    } else {
      expect_true(is.finite(res$log_likelihood),
                  label = sprintf("%s: finite log-likelihood (%s)", fam,
                                  format(res$log_likelihood)))
      expect_true(all(is.finite(res$posterior$mean)),
                  label = sprintf("%s: finite posterior means", fam))
    }
  }
})

test_that("46. ebnm_*: huge x (1e200, 1e300) gives finite answers or an error", {
  for (x in list(c(1e200, -1e200, 0), c(1e300, -1e300, 0))) {
    res <- tryCatch(ebnm_point_normal(x), error = function(e) e)
    if (inherits(res, "error")) {
      expect_match(conditionMessage(res), "'x'")
    } else {
      expect_true(is.finite(res$log_likelihood),
                  label = sprintf("finite log-likelihood (%s) for |x| = %g",
                                  format(res$log_likelihood), x[1]))
      expect_true(all(is.finite(res$posterior$mean)))
    }
  }
})

test_that("47. ebnm_horseshoe: an observation 1e11 standard errors out", {
  # Beyond the horseshoe's numerical range: a clear error naming 'x'.
  expect_error(ebnm_horseshoe(c(0, 1e11)), "'x' has observations more than")
  # Far but within range: finite answers.
  res <- ebnm_horseshoe(c(0, 1e5, -3))
  expect_true(is.finite(res$log_likelihood))
  expect_false(any(is.nan(res$posterior$mean)))
})

# ---------------------------------------------------------------------------
# ldf() and plot().

test_that("48. ldf() with a bad type", {
  fit <- flash(rank1, greedy_Kmax = 1, verbose = 0)
  expect_arg_error(ldf(fit, type = "q"), "type")
  expect_arg_error(ldf(fit, type = 2), "type")
  expect_arg_error(ldf(fit, type = NA_character_), "type")
  expect_arg_error(ldf(fit, type = c("f", "o")), "type")
})

test_that("49. ldf() of a fit without factors, and of extreme fits", {
  expect_arg_error(ldf(flash_init(rank1)), "object", "no factors")
  d <- ldf(flash(rank1 * 1e150, greedy_Kmax = 1, verbose = 0))$D
  expect_true(all(is.finite(d)) && all(d > 0))
  d <- ldf(flash(matrix(5, 20, 10), verbose = 0))$D
  expect_true(all(is.finite(d)))
})

test_that("50. ldf() of something that is not a flash object", {
  # "object" alone would match R's "no applicable method ... applied to an
  # object of class": ask for the argument by its quoted name.
  expect_arg_error(ldf("x"), "'object'")
  expect_arg_error(ldf(NULL), "'object'")
})

test_that("51. plot() with bad settings", {
  fit <- flash(rank1, greedy_Kmax = 1, verbose = 0)
  expect_arg_error(plot(fit, plot_type = "pie"), "plot_type")
  expect_arg_error(plot(fit, include_scree = NA), "include_scree")
  expect_arg_error(plot(fit, include_scree = FALSE, include_pm = FALSE),
                   "include_pm")
  expect_arg_error(plot(fit, kset = 5), "kset")
  expect_arg_error(plot(fit, pm_which = "bogus"), "pm_which")
  expect_arg_error(plot(fit, order_by_pve = NA), "order_by_pve")
  expect_arg_error(plot(fit, pm_subset = 1000), "pm_subset")
  expect_arg_error(plot(fit, pm_groups = 1:3), "pm_groups")
  expect_arg_error(plot(fit, pm_colors = 42), "pm_colors")
})

test_that("52. plot() of fits without factors and of extreme fits", {
  expect_arg_error(plot(flash(matrix(0, 20, 10), verbose = 0)), "x",
                   "no factors")
  expect_arg_error(plot(flash_init(rank1)), "x", "no factors")
  p <- plot(flash(rank1 * 1e150, greedy_Kmax = 1, verbose = 0),
            include_scree = FALSE)
  expect_s3_class(p, "ggplot")
  p <- plot(flash(matrix(5, 20, 10), verbose = 0), include_scree = FALSE)
  expect_s3_class(p, "ggplot")
})

test_that("53. the session still works after all of the above", {
  fit <- flash(gtex[1:100, 1:10], greedy_Kmax = 2, verbose = 0)
  expect_sound_fit(fit, 100, 10, k_min = 1)
})
