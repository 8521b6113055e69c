# Standard errors that vary over entries (flashier's "zero" and "noisy"
# variance types): tau_ij = 1 / (S_ij^2 + sigma^2_ij).

data(gtex, package = "flashierrs")

test_that("a matrix S that varies by row gives the vector-S fit", {
  set.seed(1)
  s_row <- runif(nrow(gtex), 0.2, 0.6)
  s_mat <- matrix(s_row, nrow(gtex), ncol(gtex))
  # Estimated by row: the closed form (variance at least S^2) and the
  # entrywise search must agree.
  by_vec <- flash(gtex, S = s_row, var_type = 1, greedy_Kmax = 3, verbose = 0)
  by_mat <- flash(gtex, S = s_mat, var_type = 1, greedy_Kmax = 3, verbose = 0)
  expect_equal(by_mat$elbo, by_vec$elbo, tolerance = 1e-6)
  expect_equal(by_mat$F_pm, by_vec$F_pm, tolerance = 1e-5)
  expect_equal(dim(by_mat$residuals_sd), dim(gtex))
  expect_equal(by_mat$residuals_sd[, 1], by_vec$residuals_sd,
               tolerance = 1e-6, ignore_attr = TRUE)
  # All variance given.
  fixed_vec <- flash(gtex, S = s_row, var_type = NULL, greedy_Kmax = 3,
                     verbose = 0)
  fixed_mat <- flash(gtex, S = s_mat, var_type = NULL, greedy_Kmax = 3,
                     verbose = 0)
  expect_equal(fixed_mat$elbo, fixed_vec$elbo, tolerance = 1e-8)
  expect_equal(fixed_mat$residuals_sd, s_mat, ignore_attr = TRUE)
})

sim_noisy <- function(n = 150, p = 80, extra_sd = 0) {
  set.seed(7)
  l <- cbind(rnorm(n), rnorm(n) * rbinom(n, 1, 0.5))
  f <- cbind(rnorm(p), rnorm(p) * rbinom(p, 1, 0.5))
  truth <- l %*% t(f)
  s <- matrix(runif(n * p, 0.2, 1), n, p)
  y <- truth + matrix(rnorm(n * p, sd = sqrt(s^2 + extra_sd^2)), n, p)
  list(y = y, s = s, truth = truth)
}

test_that("var_type = NULL with a matrix S recovers the truth", {
  sim <- sim_noisy()
  fl <- flash(sim$y, S = sim$s, var_type = NULL, verbose = 0)
  expect_equal(fl$n_factors, 2)
  expect_gt(cor(as.vector(fitted(fl)), as.vector(sim$truth)), 0.95)
  expect_equal(fl$residuals_sd, sim$s, ignore_attr = TRUE)
  # The ELBO is the expected log-likelihood at tau = 1 / S^2 plus the KL
  # terms: check the likelihood part through the residuals.
  ff <- fl$flash_fit
  r2 <- (sim$y - fitted(fl))^2 +
    (ff$L2 %*% t(ff$F2) - ff$L^2 %*% t(ff$F^2))
  loglik <- -0.5 * sum(log(2 * pi * sim$s^2) + r2 / sim$s^2)
  expect_equal(fl$elbo, loglik + sum(ff$KL), tolerance = 1e-8)
})

test_that("an estimated variance on top of a matrix S is recovered", {
  sim <- sim_noisy(n = 300, p = 200, extra_sd = 0.7)
  fl <- flash(sim$y, S = sim$s, var_type = 0, verbose = 0)
  expect_equal(fl$n_factors, 2)
  est_var <- 1 / flash_fit_get_est_tau(fl)
  expect_length(est_var, 1)
  expect_equal(est_var, 0.49, tolerance = 0.1)
  expect_equal(fl$residuals_sd^2, sim$s^2 + est_var, tolerance = 1e-8,
               ignore_attr = TRUE)
  expect_equal(flash_fit_get_fixed_tau(fl), 1 / sim$s^2)
  # Estimated by column: one component per column, near the truth.
  by_col <- flash(sim$y, S = sim$s, var_type = 2, verbose = 0)
  est_col <- 1 / flash_fit_get_est_tau(by_col)
  expect_length(est_col, ncol(sim$y))
  expect_equal(mean(est_col), 0.49, tolerance = 0.1)
  # Without the extra noise, the estimate is (nearly) zero.
  clean <- sim_noisy(n = 300, p = 200, extra_sd = 0)
  fl0 <- flash(clean$y, S = clean$s, var_type = 0, verbose = 0)
  expect_lt(1 / flash_fit_get_est_tau(fl0), 0.01)
})

test_that("the Kronecker structure takes S, and backfits never lower the ELBO", {
  sim <- sim_noisy(n = 120, p = 60, extra_sd = 0.5)
  fl <- flash(sim$y, S = sim$s, var_type = c(1, 2), greedy_Kmax = 3,
              verbose = 0)
  est <- flash_fit_get_est_tau(fl)
  expect_length(est, 2)
  expect_length(est[[1]], 120)
  expect_length(est[[2]], 60)
  # The total variance is S^2 plus a rank-one component.
  comp <- outer(1 / est[[1]], 1 / est[[2]])
  expect_equal(fl$residuals_sd^2, sim$s^2 + comp, tolerance = 1e-8,
               ignore_attr = TRUE)
  bf <- flash_backfit(fl, verbose = 0)
  expect_gte(bf$elbo, fl$elbo - 1e-6)
  # The same with S given as a scalar.
  fl1 <- flash(gtex, S = 0.3, var_type = c(1, 2), greedy_Kmax = 2,
               verbose = 0)
  expect_true(all(fl1$residuals_sd >= 0.3 - 1e-12))
  expect_gt(fl1$elbo, flash(gtex, S = 0.3, var_type = 0, greedy_Kmax = 2,
                            verbose = 0)$elbo)
})

test_that("missing data drop out of the entrywise variances", {
  sim <- sim_noisy(extra_sd = 0.5)
  y <- sim$y
  set.seed(2)
  y[sample(length(y), 500)] <- NA
  fl <- flash(y, S = sim$s, var_type = 1, greedy_Kmax = 2, backfit = TRUE,
              verbose = 0)
  expect_equal(fl$n_factors, 2)
  expect_true(all(is.infinite(fl$residuals_sd[is.na(y)])))
  expect_true(all(is.finite(fl$residuals_sd[!is.na(y)])))
  expect_gt(cor(fitted(fl)[is.na(y)], sim$truth[is.na(y)]), 0.9)
})

test_that("entrywise S is checked", {
  y <- sim_noisy()$y
  expect_error(flash(y, S = matrix(1e-200, nrow(y), ncol(y)) +
                       diag(1, nrow(y), ncol(y)), verbose = 0),
               "'S' has values whose squares underflow")
  expect_error(flash(y, S = matrix(0.5, 10, 10), verbose = 0),
               "'S' is a 10 x 10 matrix")
})
