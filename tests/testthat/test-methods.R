# fitted(), residuals(), ldf() and print() for flash and flash_fit objects.

data("gtex", package = "flashierrs", envir = environment())
fit3 <- flash(gtex, greedy_Kmax = 3, verbose = 0)

test_that("fitted() is the product of the posterior means, with dimnames", {
  fv <- fitted(fit3)
  expect_equal(dim(fv), dim(gtex))
  expect_identical(dimnames(fv), dimnames(gtex))
  expect_equal(fv, fit3$L_pm %*% t(fit3$F_pm), ignore_attr = TRUE)
  expect_identical(fitted(fit3$flash_fit), fv)
})

test_that("fitted() of a fit with no factors is zero, with a warning", {
  fl0 <- flash_init(gtex)
  expect_warning(fv <- fitted(fl0), "no factors")
  expect_equal(dim(fv), dim(gtex))
  expect_true(all(fv == 0))
})

test_that("residuals() are the data less the fitted values", {
  r <- residuals(fit3)
  expect_identical(dimnames(r), dimnames(gtex))
  expect_equal(r, gtex - fit3$L_pm %*% t(fit3$F_pm), ignore_attr = TRUE)
  expect_identical(residuals(fit3$flash_fit), r)
  # With no factors the residuals are the data.
  expect_equal(residuals(flash_init(gtex)), gtex)
})

test_that("residuals() are NA exactly where the data are missing", {
  y <- gtex_with_missing()
  fit <- flash(y, greedy_Kmax = 2, verbose = 0)
  r <- residuals(fit)
  expect_identical(is.na(r), is.na(y))
  expect_equal(sum(is.na(r)), 4400)
  obs <- !is.na(y)
  expect_equal(r[obs], (y - fitted(fit))[obs])
  # fitted() has no NAs: it is defined for every entry.
  expect_false(anyNA(fitted(fit)))
})

test_that("ldf(type = '2') gives unit L2-norm columns and L D F' = fitted", {
  res <- ldf(fit3, type = "2")
  expect_named(res, c("L", "D", "F"))
  expect_equal(dim(res$L), c(1000L, 3L))
  expect_equal(dim(res$F), c(44L, 3L))
  expect_length(res$D, 3)
  expect_equal(unname(colSums(res$L^2)), rep(1, 3))
  expect_equal(unname(colSums(res$F^2)), rep(1, 3))
  expect_true(all(res$D > 0))
  expect_equal(res$L %*% diag(res$D) %*% t(res$F), fitted(fit3),
               ignore_attr = TRUE)
  expect_identical(rownames(res$L), rownames(gtex))
  expect_identical(rownames(res$F), colnames(gtex))
  # "f", "l2" and upper case are the same norm; "f" is the default.
  expect_identical(ldf(fit3, type = "f"), res)
  expect_identical(ldf(fit3, type = "L2"), res)
  expect_identical(ldf(fit3), res)
  expect_identical(ldf(fit3$flash_fit, type = "2"), res)
})

test_that("ldf(type = 'm') scales each column to a maximum |value| of 1", {
  res <- ldf(fit3, type = "m")
  expect_equal(unname(apply(abs(res$L), 2, max)), rep(1, 3))
  expect_equal(unname(apply(abs(res$F), 2, max)), rep(1, 3))
  expect_equal(res$L %*% diag(res$D) %*% t(res$F), fitted(fit3),
               ignore_attr = TRUE)
  expect_identical(ldf(fit3, type = "i"), res)
  # The columns are the posterior means, rescaled.
  expect_equal(res$F[, 2], fit3$F_pm[, 2] / max(abs(fit3$F_pm[, 2])))
})

test_that("ldf(type = '1') scales each column to an L1 norm of 1", {
  res <- ldf(fit3, type = "1")
  expect_equal(unname(colSums(abs(res$L))), rep(1, 3))
  expect_equal(unname(colSums(abs(res$F))), rep(1, 3))
  expect_equal(res$L %*% diag(res$D) %*% t(res$F), fitted(fit3),
               ignore_attr = TRUE)
  expect_identical(ldf(fit3, type = "l1"), res)
  expect_identical(ldf(fit3, type = "o"), res)
})

test_that("ldf() gives a zero factor zero columns and a zero scale", {
  ff <- fit3$flash_fit
  ff$F[, 2] <- 0
  res <- ldf(ff, type = "2")
  expect_equal(res$D[2], 0)
  expect_true(all(res$L[, 2] == 0) && all(res$F[, 2] == 0))
  expect_equal(res$L %*% diag(res$D) %*% t(res$F), fitted(ff),
               ignore_attr = TRUE)
})

test_that("ldf() errors name the argument", {
  expect_error(ldf(fit3, type = "x"), "Argument 'type'")
  expect_error(ldf(fit3, type = c("f", "m")), "Argument 'type'")
  expect_error(ldf(fit3, type = 2), "Argument 'type'")
  expect_error(ldf(flash_init(gtex)), "Argument 'object'.*no factors")
})

test_that("print.flash() reports factors, PVE, ELBO and variance type", {
  out <- capture.output(res <- print(fit3))
  expect_identical(res, fit3)
  expect_identical(out[1], "Flash object with 3 factors.")
  expect_identical(out[2], "  Proportion of variance explained:")
  expect_identical(out[3:5], sprintf("    Factor %d: %.3f", 1:3, fit3$pve))
  expect_identical(out[6], sprintf("  Variational lower bound: %.3f",
                                   fit3$elbo))
  expect_identical(out[7], "  Residual variance: constant")
  expect_length(out, 7)
  capture.output(vis <- withVisible(print(fit3)))
  expect_false(vis$visible)
})

test_that("print.flash() handles zero, one and negligible factors", {
  expect_output(print(flash_init(gtex)), "Flash object with zero factors.")
  fit1 <- flash(gtex, greedy_Kmax = 1, var_type = 2, verbose = 0)
  out <- capture.output(print(fit1))
  expect_identical(out[1], "Flash object with one factor.")
  expect_identical(out[2], sprintf("  Proportion of variance explained: %.3f",
                                   fit1$pve))
  expect_identical(out[4], "  Residual variance: by column")

  tiny <- fit3
  tiny$pve[3] <- 0.0004
  out <- capture.output(print(tiny))
  expect_identical(out[2], "  Proportion of variance explained*:")
  expect_false(any(grepl("Factor 3", out)))
  expect_true(any(grepl("PVE < 0.001 are omitted", out)))
})

test_that("print.flash_fit() summarises the fit", {
  out <- capture.output(res <- print(fit3$flash_fit))
  expect_identical(res, fit3$flash_fit)
  expect_identical(out[1], "Flash fit object for a 1000 x 44 data matrix.")
  expect_identical(out[2], "  Factors: 3")
  expect_identical(out[4], "  Residual variance: constant")
  out_na <- capture.output(print(flash_init(gtex_with_missing())$flash_fit))
  expect_match(out_na[1], "(4400 missing entries)", fixed = TRUE)
})
