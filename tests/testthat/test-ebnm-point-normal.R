# ebnm_point_normal against ebnm 1.1-2's answers, and closed forms.

ref <- ebnm_reference()
pn <- ref[ref$family == "ebnm_point_normal", ]

test_that("ebnm_point_normal matches ebnm 1.1-2 on every reference case", {
  cases <- unique(pn$case)
  expect_length(cases, 7)
  for (cs in cases) {
    d <- pn[pn$case == cs, ]
    res <- ebnm_point_normal(d$x, d$s, output = ebnm_output_all())
    expect_equal(as.numeric(res$log_likelihood), d$loglik[1],
                 tolerance = 1e-6, label = paste("loglik", cs))
    expect_equal(res$posterior$mean, d$mean, tolerance = 1e-5,
                 label = paste("mean", cs))
    expect_equal(res$posterior$sd, d$sd, tolerance = 1e-5,
                 label = paste("sd", cs))
    expect_equal(res$posterior$second_moment, d$second_moment,
                 tolerance = 1e-5, label = paste("second moment", cs))
  }
})

test_that("ebnm_point_normal returns ebnm's result shape", {
  res <- ebnm_point_normal(c(-2, 0.1, 3, 0.5), s = 1)
  expect_s3_class(res, "ebnm")
  expect_named(res, c("data", "posterior", "fitted_g", "log_likelihood"))
  expect_s3_class(res$fitted_g, "normalmix")
  expect_named(res$fitted_g, c("pi", "mean", "sd"))
  expect_equal(sum(res$fitted_g$pi), 1)
  expect_named(res$posterior, c("mean", "sd"))
})

test_that("a fixed normal prior gives the conjugate posterior", {
  g <- structure(list(pi = 1, mean = 0, sd = 2), class = "normalmix")
  x <- c(-1, 0.5, 3)
  res <- ebnm_point_normal(x, s = 1, g_init = g, fix_g = TRUE,
                           output = ebnm_output_all())
  expect_equal(res$posterior$mean, x * 4 / 5)
  expect_equal(res$posterior$sd, rep(sqrt(4 / 5), 3))
  expect_equal(as.numeric(res$log_likelihood),
               sum(dnorm(x, 0, sqrt(5), log = TRUE)))
  expect_true(all(res$posterior$lfsr >= 0 & res$posterior$lfsr <= 1))
})

test_that("ebnm_point_normal rejects bad input with a message naming it", {
  expect_error(ebnm_point_normal(c(1, Inf)), "'x'")
  expect_error(ebnm_point_normal(c(1, NA)), "'x'")
  expect_error(ebnm_point_normal(c(1, 2), s = -1), "'s'")
  expect_error(ebnm_point_normal(c(1, 2), s = c(1, NA)), "'s'")
  expect_error(ebnm_point_normal(c(1, 2, 3), s = c(1, 2)), "'s'")
  expect_error(ebnm_point_normal(c(1, 2), fix_g = TRUE), "'g_init'")
  expect_error(ebnm_point_normal(c(1, 2), output = "nonsense"), "'output'")
})
