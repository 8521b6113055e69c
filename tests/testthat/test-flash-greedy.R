# Greedy fits of the gtex data against flashier 1.0.7's ELBOs.

data("gtex", package = "flashierrs", envir = environment())

test_that("flash() on gtex reproduces flashier's greedy ELBOs", {
  fit <- flash(gtex, greedy_Kmax = 5, verbose = 0)
  expect_s3_class(fit, "flash")
  expect_equal(fit$n_factors, 5)
  expect_near(fit$elbo, -83131.69, 0.5)

  fit2 <- flash(gtex, greedy_Kmax = 5, var_type = 2, verbose = 0)
  expect_near(fit2$elbo, -80490.27, 0.5)
  expect_length(fit2$residuals_sd, ncol(gtex))

  fit1 <- flash(gtex, greedy_Kmax = 5, var_type = 1, verbose = 0)
  expect_near(fit1$elbo, -80329.12, 0.5)
  expect_length(fit1$residuals_sd, nrow(gtex))
})

test_that("missing entries drop out of the fit", {
  fit <- flash(gtex_with_missing(), greedy_Kmax = 5, verbose = 0)
  expect_near(fit$elbo, -74938.09, 0.5)
})

test_that("the flash object has flashier's elements and the data's names", {
  fit <- flash(gtex, greedy_Kmax = 2, verbose = 0)
  expect_true(all(c("n_factors", "pve", "elbo", "residuals_sd", "L_pm",
                    "F_pm", "L_psd", "F_psd", "L_lfsr", "F_lfsr", "L_ghat",
                    "F_ghat", "flash_fit") %in% names(fit)))
  expect_equal(dim(fit$L_pm), c(1000L, 2L))
  expect_equal(dim(fit$F_pm), c(44L, 2L))
  expect_identical(rownames(fit$L_pm), rownames(gtex))
  expect_identical(rownames(fit$F_pm), colnames(gtex))
  expect_s3_class(fit$L_ghat[[1]], "normalmix")
  expect_true(all(fit$L_lfsr >= 0 & fit$L_lfsr <= 1))
  expect_true(all(fit$L_psd >= 0))
  expect_s3_class(fit$flash_fit, "flash_fit")
  # PVE by its definition: S_k / (sum_k S_k + sum_ij 1 / tau_ij), with
  # S_k = sum_i E[l_ik^2] sum_j E[f_jk^2].
  ff <- fit$flash_fit
  S <- colSums(ff$L2) * colSums(ff$F2)
  expect_equal(fit$pve, S / (sum(S) + length(gtex) / ff$tau))
})

test_that("verbose = 1 prints flashier's progress lines, verbose = 0 nothing", {
  out <- capture.output(invisible(flash(gtex, greedy_Kmax = 2, verbose = 1)))
  expect_identical(out, c("Adding factor 1 to flash object...",
                          "Adding factor 2 to flash object...",
                          "Wrapping up...", "Done.",
                          "Nullchecking 2 factors...", "Done."))
  expect_silent(flash(gtex, greedy_Kmax = 2, verbose = 0))
})

test_that("flash finds the three factors of simulated rank-3 data", {
  set.seed(42)
  n <- 200
  p <- 100
  L <- matrix(rnorm(n * 3), n, 3) * rbinom(n * 3, 1, 0.5)
  F <- matrix(rnorm(p * 3), p, 3)
  truth <- L %*% t(F)
  Y <- truth + matrix(rnorm(n * p), n, p)
  fit <- flash(Y, verbose = 0)
  expect_equal(fit$n_factors, 3)
  fitted <- fit$L_pm %*% t(fit$F_pm)
  expect_gt(cor(as.vector(fitted), as.vector(truth)), 0.95)
})

test_that("the greedy fit stops at the first factor that does not help", {
  set.seed(7)
  Y <- matrix(rnorm(50 * 40), 50, 40)
  fit <- flash(Y, verbose = 0)
  expect_equal(fit$n_factors, 0)
  # With no factors the ELBO is the log-likelihood of a constant variance.
  tau <- length(Y) / sum(Y^2)
  expect_equal(fit$elbo, -0.5 * length(Y) * (log(2 * pi) - log(tau) + 1))
})

test_that("flash() leaves the user's random number stream alone", {
  set.seed(123)
  a <- runif(1)
  set.seed(123)
  invisible(flash(gtex, greedy_Kmax = 1, verbose = 0))
  expect_identical(runif(1), a)
})

test_that("backfitting reproduces flashier's ELBOs and never lowers the ELBO", {
  fit <- flash(gtex, greedy_Kmax = 5, var_type = 2,
               ebnm_fn = c(ebnm_point_normal, ebnm_point_exponential),
               backfit = TRUE, verbose = 0)
  expect_near(fit$elbo, -80893.79, 1.0)
  expect_true(all(fit$F_pm >= 0))
  greedy <- flash(gtex, greedy_Kmax = 5, var_type = 2,
                  ebnm_fn = c(ebnm_point_normal, ebnm_point_exponential),
                  verbose = 0)
  expect_gt(fit$elbo, greedy$elbo)
  # flashier 1.0.7 reaches -74686.38 with 10% missing; a higher ELBO is a
  # better optimum.
  fit_na <- flash(gtex_with_missing(), greedy_Kmax = 5, backfit = TRUE,
                  verbose = 0)
  expect_gt(fit_na$elbo, -74686.38 - 1.0)
  # The sequential (unaccelerated) backfit reaches the same optimum.
  seq_fit <- flash_backfit(greedy, extrapolate = FALSE, verbose = 0)
  expect_near(seq_fit$elbo, fit$elbo, 0.1)
})

test_that("the backfit's varimax rotation unmixes sparse factors; an option turns it off", {
  # Sparse, overlapping loadings: the greedy factors are mixtures of the
  # true ones, which a backfit unmixes slowly by itself.
  set.seed(3)
  n <- 600
  p <- 200
  k <- 5
  L <- matrix(rnorm(n * k) * rbinom(n * k, 1, 0.3), n, k)
  F <- matrix(rnorm(p * k), p, k)
  Y <- L %*% t(F) + matrix(rnorm(n * p), n, p)
  greedy <- flash(Y, greedy_Kmax = 8, verbose = 0)
  expect_equal(greedy$n_factors, k)
  sweeps <- function(out) sum(grepl("^ +[0-9]+ +all", out))
  out <- capture.output(rot <- flash_backfit(greedy, verbose = 3))
  expect_true(any(grepl("varimax rotation of the factors was kept", out)))
  old <- options(flashierrs.rotate = FALSE)
  on.exit(options(old))
  plain_out <- capture.output(plain <- flash_backfit(greedy, verbose = 3))
  expect_false(any(grepl("varimax", plain_out)))
  # On this fit: 12 sweeps and an ELBO 487 higher with the rotation, 74
  # sweeps without.
  expect_gt(rot$elbo, plain$elbo - 1e-8 * n * p)
  expect_lt(3 * sweeps(out), sweeps(plain_out))
  # The fitted values do not depend on which of the two got there first
  # more than the optima differ.
  expect_lt(max(abs(fitted(rot) - fitted(plain))), 2)
  options(flashierrs.rotate = "yes")
  expect_error(flash_backfit(greedy, verbose = 0),
               "Option 'flashierrs.rotate' must be TRUE or FALSE")
})

test_that("flash_backfit checks kset", {
  fl <- flash(gtex[1:100, ], greedy_Kmax = 2, verbose = 0)
  expect_error(flash_backfit(fl, kset = 5), "'kset'")
  expect_error(flash_backfit(fl, kset = 0), "'kset'")
  expect_error(flash_backfit(fl, maxiter = 0), "'maxiter'")
})

test_that("a timeout stops the fit between updates and keeps the work done", {
  set.seed(11)
  # The full greedy fit takes about 0.2 s here; the limit is a tenth of it.
  Y <- matrix(rnorm(1000 * 400), 1000, 400) +
    matrix(rnorm(1000 * 8), 1000, 8) %*% matrix(rnorm(8 * 400), 8, 400)
  fl <- flash_set_timeout(flash_init(Y), 0.02, units = "secs")
  expect_warning(out <- flash_greedy(fl, Kmax = 8, verbose = 0),
                 "timed out")
  expect_s3_class(out, "flash")
  expect_lt(out$n_factors, 8)
  expect_true(is.finite(out$elbo))
  # A limit that has already passed stops the backfit at once.
  full <- flash_greedy(flash_init(Y), Kmax = 3, verbose = 0)
  timed <- flash_set_timeout(full, 1e-6, units = "secs")
  Sys.sleep(0.01)
  expect_warning(bf <- flash_backfit(timed, verbose = 0), "timed out")
  expect_equal(bf$elbo, full$elbo)
  cleared <- flash_clear_timeout(timed)
  expect_silent(flash_backfit(cleared, verbose = 0))
})

test_that("an interrupt (R's time limit) stops a long fit; R carries on", {
  set.seed(12)
  # The full fit takes about 3 s, ten times R's time limit.
  Y <- matrix(rnorm(4000 * 1000), 4000, 1000) +
    matrix(rnorm(4000 * 10), 4000, 10) %*% matrix(rnorm(10 * 1000), 10, 1000)
  setTimeLimit(elapsed = 0.3, transient = TRUE)
  res <- tryCatch(
    withCallingHandlers(flash(Y, greedy_Kmax = 10, verbose = 0),
                        warning = function(w) {
                          if (grepl("interrupted", conditionMessage(w))) {
                            invokeRestart("muffleWarning")
                          }
                        }),
    error = function(e) e
  )
  setTimeLimit(elapsed = Inf)
  # Either the fit stopped early and returned what it had, or R's time
  # limit fired in R code; both leave a working session.
  if (inherits(res, "flash")) {
    expect_lt(res$n_factors, 10)
  } else {
    expect_match(conditionMessage(res), "time limit")
  }
  expect_true(is.finite(flash(Y[1:100, 1:50], greedy_Kmax = 1,
                              verbose = 0)$elbo))
})

test_that("greedy extrapolation reaches flashier's optimum or a better one", {
  for (case in list(list(0, -83131.69), list(1, -80329.12), list(2, -80490.27))) {
    fit <- flash_greedy(flash_init(gtex, var_type = case[[1]]), Kmax = 5,
                        extrapolate = TRUE, verbose = 0)
    expect_equal(fit$n_factors, 5)
    expect_gt(fit$elbo, case[[2]] - 0.01)
    # The extrapolated path (bolder steps than flashier's) ends 0.01-0.97
    # higher on these fits; far more would point to a wrong ELBO.
    expect_lt(fit$elbo, case[[2]] + 1.5)
  }
})

test_that("sparse dgCMatrix data give the dense fit without being made dense", {
  set.seed(21)
  n <- 300
  p <- 120
  Y <- matrix(0, n, p)
  nz <- sample(n * p, 0.05 * n * p)
  Y[nz] <- rnorm(length(nz), 2)
  Y[1:60, 1:30] <- Y[1:60, 1:30] + 3
  Ys <- Matrix::Matrix(Y, sparse = TRUE)
  expect_s4_class(Ys, "dgCMatrix")
  for (vt in list(0, 2, c(1, 2))) {
    dense <- flash(Y, greedy_Kmax = 3, var_type = vt, verbose = 0)
    sparse <- flash(Ys, greedy_Kmax = 3, var_type = vt, verbose = 0)
    expect_equal(sparse$n_factors, dense$n_factors)
    expect_equal(sparse$elbo, dense$elbo, tolerance = 1e-8)
    expect_equal(unname(sparse$L_pm), unname(dense$L_pm), tolerance = 1e-6)
  }
  bf_dense <- flash(Y, greedy_Kmax = 3, backfit = TRUE, verbose = 0)
  bf_sparse <- flash(Ys, greedy_Kmax = 3, backfit = TRUE, verbose = 0)
  expect_equal(bf_sparse$elbo, bf_dense$elbo, tolerance = 1e-8)
  Ys_na <- Ys
  Ys_na@x[1] <- NA
  expect_error(flash(Ys_na, verbose = 0), "'data' is a sparse matrix with NA")
  expect_error(flash(Matrix::Matrix(Y > 1, sparse = TRUE), verbose = 0),
               "'data' is a sparse matrix of class")
})

test_that("greedy extrapolation is the default from 10^6 entries on", {
  set.seed(11)
  n <- 1000
  p <- 1000
  y <- outer(rnorm(n), rnorm(p)) + outer(rnorm(n) * (runif(n) < 0.3),
                                         rnorm(p)) + matrix(rnorm(n * p), n, p)
  init <- flash_set_verbose(flash_init(y), 0)
  auto <- flash_greedy(init, Kmax = 3)
  on <- flash_greedy(init, Kmax = 3, extrapolate = TRUE)
  off <- flash_greedy(init, Kmax = 3, extrapolate = FALSE)
  expect_identical(auto$elbo, on$elbo)
  expect_equal(auto$n_factors, off$n_factors)
  # The same fixed point, to about the convergence tolerance (here the
  # extrapolated path ends 0.2 higher).
  expect_equal(auto$elbo, off$elbo, tolerance = 1e-6)
  expect_gte(auto$elbo, off$elbo)
  expect_gt(abs(cor(auto$L_pm[, 1], off$L_pm[, 1])), 0.9999)
  # Below 10^6 entries the default is flashier's path.
  data(gtex, package = "flashierrs")
  g0 <- flash_set_verbose(flash_init(gtex), 0)
  expect_identical(flash_greedy(g0, Kmax = 2)$elbo,
                   flash_greedy(g0, Kmax = 2, extrapolate = FALSE)$elbo)
})

test_that("summaries computed with the nullcheck equal a separate wrapup's", {
  # flash() and flash_nullcheck() get the lfsr and pve from the nullcheck's
  # Rust call; a fit wrapped up on its own computes them in a call of its
  # own. A factor removed by the nullcheck must drop out of both. (flash()
  # runs the nullcheck in the greedy step's call, on the residuals as that
  # step left them rather than rebuilt from the data: equal to rounding.)
  ns <- asNamespace("flashierrs")
  fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
  again <- ns$wrapup_flash(fl$flash_fit)
  expect_equal(fl$L_lfsr, again$L_lfsr, tolerance = 1e-12)
  expect_equal(fl$F_lfsr, again$F_lfsr, tolerance = 1e-12)
  expect_equal(fl$pve, again$pve, tolerance = 1e-12)
  expect_null(attr(fl$flash_fit, "summaries"))
  # A fixed all-zero factor fails the nullcheck and is removed.
  g <- flash_factors_init(flash_greedy(flash_init(gtex), Kmax = 2,
                                       verbose = 0),
                          list(matrix(0, nrow(gtex), 1),
                               matrix(0, ncol(gtex), 1)), ebnm_point_laplace)
  nc <- flash_nullcheck(g, verbose = 0)
  expect_equal(nc$n_factors, 2)
  separate <- ns$wrapup_flash(ns$nullcheck_fit(g, NULL, TRUE, NULL, 0))
  expect_identical(nc$L_lfsr, separate$L_lfsr)
  expect_identical(nc$F_lfsr, separate$F_lfsr)
  expect_identical(nc$pve, separate$pve)
  expect_equal(dim(nc$L_lfsr), c(nrow(gtex), 2))
})
