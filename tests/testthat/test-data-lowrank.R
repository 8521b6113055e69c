# Low-rank data, list(u, d, v) as flashier takes it: never made dense, with
# the fit of the equivalent dense matrix.

data(gtex, package = "flashierrs")

rank10 <- function() {
  s <- svd(gtex, nu = 10, nv = 10)
  list(lr = list(u = s$u, d = s$d[1:10], v = s$v),
       dense = s$u %*% diag(s$d[1:10]) %*% t(s$v))
}

test_that("low-rank and dense data give the same fit for every var_type", {
  x <- rank10()
  for (vt in list(0, 1, 2, c(1, 2))) {
    a <- flash(x$dense, greedy_Kmax = 3, var_type = vt, backfit = TRUE,
               verbose = 0)
    b <- flash(x$lr, greedy_Kmax = 3, var_type = vt, backfit = TRUE,
               verbose = 0)
    expect_equal(b$n_factors, a$n_factors)
    expect_equal(b$elbo, a$elbo, tolerance = 1e-8)
    expect_equal(fitted(b), fitted(a), tolerance = 1e-6)
  }
})

test_that("low-rank, sparse and dense versions of one matrix agree", {
  x <- rank10()
  sparse_dense <- x$dense * (abs(x$dense) > 1)
  sp <- Matrix::Matrix(sparse_dense, sparse = TRUE)
  s <- svd(sparse_dense)
  lr <- list(u = s$u, d = s$d, v = s$v)
  a <- flash(sparse_dense, greedy_Kmax = 3, verbose = 0)
  b <- flash(sp, greedy_Kmax = 3, verbose = 0)
  c <- flash(lr, greedy_Kmax = 3, verbose = 0)
  # Sparse and low-rank data start each greedy factor with flashier's
  # alternating least squares; they take the same path.
  expect_equal(c$elbo, b$elbo, tolerance = 1e-8)
  expect_equal(c$F_pm, b$F_pm, tolerance = 1e-6)
  # Small dense data start from power iterations on the Gram matrix, which
  # stop elsewhere within the same tolerance: the fits agree to the level
  # at which the greedy fit stops (here its ELBOs differ by 0.004 in 68171).
  expect_equal(b$elbo, a$elbo, tolerance = 1e-6)
  expect_equal(b$F_pm, a$F_pm, tolerance = 1e-3)
})

test_that("svd() output is taken as it is, and methods see the dense data", {
  s <- svd(gtex, nu = 5, nv = 5)
  fl <- flash(s, greedy_Kmax = 2, verbose = 0)
  dense <- s$u %*% diag(s$d[1:5]) %*% t(s$v)
  expect_equal(fl$elbo, flash(dense, greedy_Kmax = 2, verbose = 0)$elbo,
               tolerance = 1e-8)
  expect_equal(residuals(fl), dense - fitted(fl), ignore_attr = TRUE)
  expect_equal(dim(fl$flash_fit$Y), dim(gtex))
  # Names on u and v name the loadings and factors.
  lr <- list(u = s$u, d = s$d[1:5], v = s$v)
  rownames(lr$u) <- rownames(gtex)
  rownames(lr$v) <- colnames(gtex)
  fl2 <- flash(lr, greedy_Kmax = 1, verbose = 0)
  expect_equal(rownames(fl2$L_pm), rownames(gtex))
  expect_equal(rownames(fl2$F_pm), colnames(gtex))
  # Pipeable steps and an S that varies over entries (made dense).
  fl3 <- flash_init(lr, S = 0.2, var_type = 2) |>
    flash_greedy(Kmax = 2, verbose = 0) |>
    flash_backfit(verbose = 0) |>
    flash_nullcheck(verbose = 0)
  expect_equal(fl3$n_factors, 2)
  expect_true(all(fl3$residuals_sd >= 0.2 - 1e-12))
})

test_that("malformed low-rank data are named", {
  s <- svd(gtex, nu = 3, nv = 3)
  expect_error(flash(list(u = s$u, v = s$v), verbose = 0),
               "'data' is a list; a list is taken as low-rank data only")
  expect_error(flash(list(u = s$u, d = s$d[1:2], v = s$v[, 1:2]),
                     verbose = 0),
               "'data' is low-rank data whose u \\(3 columns\\)")
  bad <- s$u
  bad[1, 1] <- NA
  expect_error(flash(list(u = bad, d = s$d[1:3], v = s$v), verbose = 0),
               "'u' has NA")
  expect_error(flash(list(u = letters, d = 1, v = 1:3), verbose = 0),
               "'u' is not a numeric matrix")
  expect_error(flash(list(u = s$u, d = c(1, NA, 2), v = s$v), verbose = 0),
               "'d' is not a finite numeric vector")
})
