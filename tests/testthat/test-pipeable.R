# The pipeable helpers of flashier: flash_factors_*, flash_set_conv_crit,
# flash_set_timeout, the conv-crit / verbose functions, the flash_fit
# accessors, flash_greedy_init_default, flash_update_data,
# flash_add_intercept and the re-exported pipe.

data("gtex", package = "flashierrs", envir = environment())

fl4 <- flash(gtex, greedy_Kmax = 4, verbose = 0)
K4 <- fl4$n_factors

# A fit rebuilt by hand from some factors of `fl`, then refreshed by the
# Rust core: an independent route to the ELBO of a fit without the others.
refreshed_subset <- function(fl, keep) {
  fit <- fl$flash_fit
  fit$L <- fit$L[, keep, drop = FALSE]
  fit$F <- fit$F[, keep, drop = FALSE]
  fit$L2 <- fit$L2[, keep, drop = FALSE]
  fit$F2 <- fit$F2[, keep, drop = FALSE]
  fit$KL <- as.vector(matrix(fit$KL, nrow = 2)[, keep])
  fit$g_l <- fit$g_l[keep]
  fit$g_f <- fit$g_f[keep]
  fit$ebnm <- fit$ebnm[keep]
  flashierrs:::run_rust(fit, "refresh")
}

test_that("%>% pipelines match flash() and R's native pipe works too", {
  expect_identical(`%>%`, magrittr::`%>%`)
  piped <- flash_init(gtex) %>%
    flash_set_verbose(0) %>%
    flash_greedy(Kmax = 5) %>%
    flash_backfit() %>%
    flash_nullcheck()
  one_call <- flash(gtex, greedy_Kmax = 5, backfit = TRUE, verbose = 0)
  expect_equal(piped$n_factors, one_call$n_factors)
  expect_lt(abs(piped$elbo - one_call$elbo), 1e-6)
  native <- flash_init(gtex) |>
    flash_set_verbose(0) |>
    flash_greedy(Kmax = 5) |>
    flash_backfit() |>
    flash_nullcheck()
  expect_lt(abs(native$elbo - one_call$elbo), 1e-6)
  expect_equal(native$L_pm, one_call$L_pm, tolerance = 1e-8)
})

test_that("flash() nullchecks in the step's own Rust call, as the steps would", {
  # flash() runs its nullcheck and summaries in the same Rust call as the
  # greedy (or backfit) step; the separate steps must give the same fit.
  steps <- flash_init(gtex) %>%
    flash_greedy(Kmax = 4, verbose = 0) %>%
    flash_nullcheck(verbose = 0)
  # (The summaries come from the residuals as the greedy step left them,
  # not rebuilt from the data: the same up to rounding.)
  expect_identical(fl4$elbo, steps$elbo)
  expect_identical(fl4$L_pm, steps$L_pm)
  expect_equal(fl4$F_lfsr, steps$F_lfsr, tolerance = 1e-12)
  expect_equal(fl4$L_lfsr, steps$L_lfsr, tolerance = 1e-12)
  expect_equal(fl4$pve, steps$pve, tolerance = 1e-12)
  expect_identical(fl4$flash_fit$ebnm, steps$flash_fit$ebnm)
  expect_length(fl4$flash_fit$ebnm, K4)
  # No bookkeeping attribute leaks into the returned fit.
  expect_null(attr(fl4$flash_fit, "nullchecked"))
  expect_null(attr(fl4$flash_fit, "summaries"))
  # The messages come in the order of the separate steps.
  out <- capture.output(flash(gtex, greedy_Kmax = 2, verbose = 1))
  wrap <- grep("^Wrapping up", out)
  check <- grep("^Nullchecking", out)
  expect_length(wrap, 1)
  expect_length(check, 1)
  expect_lt(wrap, check)
  expect_lt(max(grep("^Adding factor", out)), wrap)
  # Two prior families: each factor keeps the pair the greedy step gave it.
  pair <- c(ebnm_point_normal, ebnm_point_exponential)
  both <- flash(gtex, greedy_Kmax = 3, ebnm_fn = pair, var_type = 2,
                verbose = 0)
  both_steps <- flash_init(gtex, var_type = 2) %>%
    flash_greedy(Kmax = 3, ebnm_fn = pair, verbose = 0) %>%
    flash_nullcheck(verbose = 0)
  expect_identical(both$elbo, both_steps$elbo)
  expect_equal(both$F_lfsr, both_steps$F_lfsr, tolerance = 1e-12)
  expect_true(all(both$F_pm >= 0))
})

test_that("flash_factors_remove() drops factors and refreshes the ELBO", {
  expect_gte(K4, 3)
  fl <- flash_factors_remove(fl4, kset = 2)
  expect_s3_class(fl, "flash")
  expect_equal(fl$n_factors, K4 - 1)
  keep <- setdiff(seq_len(K4), 2)
  expect_equal(fl$L_pm, fl4$L_pm[, keep], tolerance = 1e-12)
  expect_equal(fl$F_pm, fl4$F_pm[, keep], tolerance = 1e-12)
  expect_equal(flash_fit_get_KL(fl, 1), flash_fit_get_KL(fl4, 1)[keep])
  expect_equal(fl$L_ghat, fl4$L_ghat[keep])
  expect_length(fl$flash_fit$ebnm, K4 - 1)
  ref <- refreshed_subset(fl4, keep)
  expect_lt(abs(fl$elbo - ref$elbo), 1e-8)
  expect_lt(fl$elbo, fl4$elbo)
  # Removing several at once; removing all gives the empty fit's ELBO.
  fl13 <- flash_factors_remove(fl4, kset = c(1, 3))
  expect_lt(abs(fl13$elbo - refreshed_subset(fl4, setdiff(seq_len(K4),
                                                          c(1, 3)))$elbo),
            1e-8)
  none <- flash_factors_remove(fl4, kset = seq_len(K4))
  expect_equal(none$n_factors, 0)
  expect_lt(abs(none$elbo - flash_init(gtex)$elbo), 1e-8)
  # The pipeline can carry on.
  more <- flash_greedy(none, Kmax = 1, verbose = 0)
  expect_equal(more$n_factors, 1)
})

test_that("flash_factors_reorder() permutes the factors, not the ELBO", {
  ord <- rev(seq_len(K4))
  fl <- flash_factors_reorder(fl4, kset = ord)
  expect_equal(fl$L_pm, fl4$L_pm[, ord], tolerance = 1e-12)
  expect_equal(fl$F_pm, fl4$F_pm[, ord], tolerance = 1e-12)
  expect_equal(fl$L_psd, fl4$L_psd[, ord], tolerance = 1e-12)
  expect_equal(fl$pve, fl4$pve[ord], tolerance = 1e-10)
  expect_equal(flash_fit_get_KL(fl, 2), flash_fit_get_KL(fl4, 2)[ord])
  expect_equal(fl$F_ghat, fl4$F_ghat[ord])
  expect_lt(abs(fl$elbo - fl4$elbo), 1e-6)
  back <- flash_factors_reorder(fl, kset = order(ord))
  expect_equal(back$L_pm, fl4$L_pm, tolerance = 1e-12)
  expect_error(flash_factors_reorder(fl4, kset = 1:2), "'kset'.*all")
  expect_error(flash_factors_reorder(fl4, kset = c(1, 1, 2, 3)), "'kset'")
})

test_that("flash_factors_set_to_zero() zeroes a factor; nullcheck drops it", {
  fl <- flash_factors_set_to_zero(fl4, kset = 2)
  expect_equal(fl$n_factors, K4)
  expect_true(all(fl$L_pm[, 2] == 0))
  expect_true(all(fl$F_pm[, 2] == 0))
  expect_true(all(fl$flash_fit$L2[, 2] == 0))
  expect_equal(flash_fit_get_KL(fl, 1)[2], 0)
  expect_equal(flash_fit_get_KL(fl, 2)[2], 0)
  expect_null(flash_fit_get_g(fl, 1)[[2]])
  expect_equal(fl$L_pm[, -2], fl4$L_pm[, -2], tolerance = 1e-12)
  removed <- flash_factors_remove(fl4, kset = 2)
  expect_lt(abs(fl$elbo - removed$elbo), 1e-8)
  nc <- flash_nullcheck(fl, verbose = 0)
  expect_equal(nc$n_factors, K4 - 1)
  expect_equal(nc$L_pm, removed$L_pm, tolerance = 1e-12)
  expect_lt(abs(nc$elbo - removed$elbo), 1e-8)
})

test_that("flash_factors_init() sets moments; backfitting reaches the same ELBO", {
  fl <- flash_init(gtex) |>
    flash_set_verbose(0) |>
    flash_factors_init(list(fl4$L_pm, fl4$F_pm))
  expect_equal(fl$n_factors, K4)
  expect_equal(unname(fl$L_pm), unname(fl4$L_pm), tolerance = 1e-12)
  expect_equal(unname(fl$flash_fit$L2), unname(fl4$L_pm^2),
               tolerance = 1e-12)
  expect_equal(unname(fl$flash_fit$F2), unname(fl4$F_pm^2),
               tolerance = 1e-12)
  expect_equal(fl$flash_fit$KL, rep(0, 2 * K4))
  expect_true(all(vapply(flash_fit_get_g(fl, 1), is.null, logical(1))))
  expect_length(fl$flash_fit$ebnm, K4)
  expect_true(is.finite(fl$elbo))
  bf_init <- flash_backfit(fl)
  bf_orig <- flash_backfit(fl4, verbose = 0)
  expect_lt(abs(bf_init$elbo - bf_orig$elbo), 1)
  # Sequential backfits get there too.
  bf_seq <- flash_backfit(fl, extrapolate = FALSE)
  expect_lt(abs(bf_seq$elbo - bf_orig$elbo), 1)
  # A flash object as init copies the second moments as well.
  fl_fit <- flash_factors_init(flash_init(gtex), fl4)
  expect_equal(unname(fl_fit$flash_fit$L2), unname(fl4$flash_fit$L2),
               tolerance = 1e-12)
  expect_lt(abs(flash_backfit(fl_fit, verbose = 0)$elbo - bf_orig$elbo), 1)
})

test_that("flash_factors_init() takes SVD-like lists, vectors and appends", {
  s <- svd(gtex, nu = 3, nv = 3)
  fl <- flash_factors_init(flash_init(gtex), s)
  expect_equal(fl$n_factors, 3)
  expect_equal(unname(fl$L_pm), s$u %*% diag(sqrt(s$d[1:3])),
               tolerance = 1e-10)
  expect_equal(unname(fl$F_pm), s$v %*% diag(sqrt(s$d[1:3])),
               tolerance = 1e-10)
  bf <- flash_backfit(fl, verbose = 0)
  expect_gt(bf$elbo, flash(gtex, greedy_Kmax = 1, verbose = 0)$elbo)
  one <- flash_factors_init(flash_init(gtex),
                            list(rowMeans(gtex), rep(1, ncol(gtex))))
  expect_equal(one$n_factors, 1)
  both <- flash_factors_init(fl4, list(rowMeans(gtex), rep(1, ncol(gtex))),
                             ebnm_fn = ebnm_normal)
  expect_equal(both$n_factors, K4 + 1)
  expect_equal(both$L_pm[, seq_len(K4)], fl4$L_pm, tolerance = 1e-12)
  expect_equal(both$flash_fit$KL[seq_len(2 * K4)], fl4$flash_fit$KL)
  expect_equal(both$flash_fit$ebnm[[K4 + 1]][[1]]$family, "normal")
  expect_equal(both$flash_fit$ebnm[[1]][[1]]$family, "point_normal")
})

test_that("flash_factors_init() rejects bad init with errors naming 'init'", {
  fl0 <- flash_init(gtex)
  n <- nrow(gtex)
  p <- ncol(gtex)
  expect_error(flash_factors_init(fl0), "'init'.*missing")
  expect_error(flash_factors_init(fl0, "svd"), "'init'")
  expect_error(flash_factors_init(fl0, list(matrix(1, n - 1, 1),
                                            matrix(1, p, 1))),
               "'init'.*1000 rows")
  expect_error(flash_factors_init(fl0, list(matrix(1, n, 2),
                                            matrix(1, p, 1))),
               "'init'.*agree")
  expect_error(flash_factors_init(fl0, list(matrix(1, p, 1),
                                            matrix(1, n, 1))), "'init'")
  bad <- matrix(1, n, 1)
  bad[3] <- NA
  expect_error(flash_factors_init(fl0, list(bad, matrix(1, p, 1))),
               "'init'.*missing")
  bad[3] <- Inf
  expect_error(flash_factors_init(fl0, list(bad, matrix(1, p, 1))),
               "'init'.*infinite")
  expect_error(flash_factors_init(fl0, list(letters, matrix(1, p, 1))),
               "'init'")
  s <- svd(gtex, nu = 2, nv = 3)
  expect_error(flash_factors_init(fl0, s), "'init'.*columns")
  expect_error(flash_factors_init(fl0, flash_init(gtex[1:10, ])), "'init'")
  expect_error(flash_factors_init(fl0, list(matrix(1, n, 1),
                                            matrix(1, p, 1)),
                                  ebnm_fn = "normal"), "'ebnm_fn'")
  expect_error(flash_factors_init(list(), list(1, 2)), "'flash'")
})

test_that("kset is validated with errors naming 'kset'", {
  for (f in list(flash_factors_remove, flash_factors_reorder,
                 flash_factors_set_to_zero, flash_factors_unfix)) {
    expect_error(f(fl4), "'kset'")
    expect_error(f(fl4, kset = 0), "'kset'")
    expect_error(f(fl4, kset = K4 + 1), "'kset'")
    expect_error(f(fl4, kset = 1.5), "'kset'")
    expect_error(f(fl4, kset = NA), "'kset'")
    expect_error(f(fl4, kset = "1"), "'kset'")
    expect_error(f(fl4, kset = integer(0)), "'kset'")
    expect_error(f(flash_init(gtex), kset = 1), "'kset'.*no factors")
    expect_error(f("not a flash", kset = 1), "'flash'")
  }
  expect_error(flash_factors_remove(fl4, kset = c(1, 1)), "'kset'")
  expect_error(flash_factors_fix(fl4, kset = K4 + 1), "'kset'")
})

test_that("the input flash object is never modified", {
  copy <- fl4
  out <- flash_factors_remove(fl4, kset = 1)
  out <- flash_factors_set_to_zero(fl4, kset = 2)
  out <- flash_set_conv_crit(fl4, tol = 1)
  out <- flash_factors_fix(fl4, kset = 1)
  expect_identical(fl4, copy)
})

test_that("conv crit functions return the documented quantities", {
  prev <- flash_fit(fl4)
  curr <- flash_fit(flash_backfit(fl4, verbose = 0))
  expect_equal(flash_conv_crit_elbo_diff(curr, prev, NULL),
               curr$elbo - prev$elbo)
  expect_gt(flash_conv_crit_elbo_diff(curr, prev, NULL), 0)
  no_elbo <- prev
  no_elbo$elbo <- NA
  expect_equal(flash_conv_crit_elbo_diff(curr, no_elbo, NULL), Inf)

  unit <- function(m) sweep(m, 2, sqrt(colSums(m^2)), `/`)
  chg_L <- max(abs(unit(curr$L) - unit(prev$L)))
  chg_F <- max(abs(unit(curr$F) - unit(prev$F)))
  expect_equal(flash_conv_crit_max_chg_L(curr, prev, NULL), chg_L)
  expect_equal(flash_conv_crit_max_chg_F(curr, prev, NULL), chg_F)
  expect_equal(flash_conv_crit_max_chg(curr, prev, NULL), max(chg_L, chg_F))
  chg_L2 <- max(abs(unit(curr$L[, 2, drop = FALSE]) -
                      unit(prev$L[, 2, drop = FALSE])))
  expect_equal(flash_conv_crit_max_chg_L(curr, prev, 2), chg_L2)
  expect_equal(flash_conv_crit_max_chg(curr, curr, NULL), 0)
  # Scaling a factor does not count as a change.
  scaled <- prev
  scaled$L[, 1] <- 3 * scaled$L[, 1]
  expect_equal(flash_conv_crit_max_chg_L(scaled, prev, NULL), 0,
               tolerance = 1e-12)
  expect_error(flash_conv_crit_max_chg(curr, flash_fit(flash_init(gtex)),
                                       NULL), "'prev'")
  expect_error(flash_conv_crit_max_chg(curr, prev, K4 + 1), "'k'")
  expect_error(flash_conv_crit_elbo_diff(1, prev, NULL), "'curr'")
})

test_that("verbose functions format and locate the changes", {
  prev <- flash_fit(fl4)
  curr <- flash_fit(flash_backfit(fl4, verbose = 0))
  expect_identical(flash_verbose_elbo(curr, prev, NULL),
                   formatC(curr$elbo, format = "f", digits = 2))
  no_elbo <- curr
  no_elbo$elbo <- NULL
  expect_identical(flash_verbose_elbo(no_elbo, prev, NULL), "NA")
  expect_equal(flash_verbose_elbo_diff(curr, prev, NULL),
               curr$elbo - prev$elbo)
  expect_true(is.na(flash_verbose_elbo_diff(no_elbo, prev, NULL)))
  expect_equal(flash_verbose_max_chg(curr, prev, NULL),
               flash_conv_crit_max_chg(curr, prev, NULL))
  expect_equal(flash_verbose_max_chg_L(curr, prev, 1),
               flash_conv_crit_max_chg_L(curr, prev, 1))
  expect_equal(flash_verbose_max_chg_F(curr, prev, NULL),
               flash_conv_crit_max_chg_F(curr, prev, NULL))
  unit <- function(m) sweep(m, 2, sqrt(colSums(m^2)), `/`)
  dL <- abs(unit(curr$L) - unit(prev$L))
  dF <- abs(unit(curr$F) - unit(prev$F))
  iL <- flash_verbose_find_max_chg_L(curr, prev, NULL)
  iF <- flash_verbose_find_max_chg_F(curr, prev, NULL)
  expect_equal(max(dL[iL, ]), max(dL))
  expect_equal(max(dF[iF, ]), max(dF))
  i <- flash_verbose_find_max_chg(curr, prev, NULL)
  expect_equal(max(rbind(dL, dF)[i, ]), max(dL, dF))
})

test_that("flash_set_conv_crit() stores fn and tol; greedy/backfit use tol", {
  fl <- flash_set_conv_crit(flash_init(gtex), tol = 0.5)
  expect_equal(fl$flash_fit$tol, 0.5)
  expect_identical(fl$flash_fit$conv_crit_fn, flash_conv_crit_elbo_diff)
  g_set <- flash_greedy(flash_set_verbose(fl, 0), Kmax = 3)
  g_arg <- flash_greedy(flash_init(gtex), Kmax = 3, tol = 0.5, verbose = 0)
  expect_equal(g_set$elbo, g_arg$elbo)
  expect_equal(g_set$flash_fit$tol, 0.5)
  b_set <- flash_backfit(g_set)
  b_arg <- flash_backfit(g_arg, tol = 0.5, verbose = 0)
  expect_equal(b_set$elbo, b_arg$elbo)
  # A loose tolerance stops the backfit earlier than the default.
  loose <- flash_set_conv_crit(fl4, tol = 1e4)
  expect_lt(flash_backfit(loose, verbose = 0)$elbo,
            flash_backfit(fl4, verbose = 0)$elbo)
  # The nullcheck ignores it, as in flashier.
  expect_equal(flash_nullcheck(loose, verbose = 0)$elbo,
               flash_nullcheck(fl4, verbose = 0)$elbo)
  # fn = NULL keeps the criterion; a custom criterion is stored with a
  # warning that the core uses the ELBO instead.
  expect_silent(mc <- flash_set_conv_crit(fl4, flash_conv_crit_max_chg,
                                          tol = 1e-3))
  expect_identical(mc$flash_fit$conv_crit_fn, flash_conv_crit_max_chg)
  expect_silent(mc2 <- flash_set_conv_crit(mc, tol = 1e-2))
  custom <- function(curr, prev, k) 1
  expect_warning(cu <- flash_set_conv_crit(fl4, custom, tol = 1), "ELBO")
  expect_warning(flash_set_conv_crit(cu, tol = 2), "ELBO")
  expect_identical(mc2$flash_fit$conv_crit_fn, flash_conv_crit_max_chg)
  expect_equal(mc2$flash_fit$tol, 1e-2)
  expect_error(flash_set_conv_crit(fl4), "'tol'")
  expect_error(flash_set_conv_crit(fl4, tol = -1), "'tol'")
  expect_error(flash_set_conv_crit(fl4, tol = "a"), "'tol'")
  expect_error(flash_set_conv_crit(fl4, fn = "elbo", tol = 1), "'fn'")
  expect_error(flash_set_conv_crit(fl4, fn = function(x) x, tol = 1), "'fn'")
})

test_that("flash_set_timeout() and flash_clear_timeout() store the limit", {
  before <- Sys.time()
  fl <- flash_set_timeout(flash_init(gtex), 2, "mins")
  to <- fl$flash_fit$timeout
  expect_equal(as.numeric(to$limit, units = "secs"), 120)
  expect_s3_class(to$set_time, "POSIXct")
  expect_true(to$set_time >= before)
  expect_equal(as.numeric(flash_set_timeout(fl, 1)$flash_fit$timeout$limit,
                          units = "hours"), 1)
  fl <- flash_greedy(flash_set_verbose(fl, 0), Kmax = 2)
  expect_false(is.null(fl$flash_fit$timeout))
  cleared <- flash_clear_timeout(fl)
  expect_null(cleared$flash_fit$timeout)
  expect_equal(cleared$elbo, fl$elbo)
  expect_error(flash_set_timeout(fl), "'tim'")
  expect_error(flash_set_timeout(fl, -1), "'tim'")
  expect_error(flash_set_timeout(fl, "1"), "'tim'")
  expect_error(flash_set_timeout(fl, 1, "years"), "'units'")
  expect_error(flash_clear_timeout(NULL), "'flash'")
})

test_that("flash_fit() and its accessors return the right shapes", {
  ff <- flash_fit(fl4)
  expect_identical(ff, fl4$flash_fit)
  expect_identical(flash_fit(ff), ff)
  expect_s3_class(ff, "flash_fit")
  n <- nrow(gtex)
  p <- ncol(gtex)
  expect_equal(dim(flash_fit_get_pm(ff, 1)), c(n, K4))
  expect_equal(dim(flash_fit_get_pm(ff, 2)), c(p, K4))
  expect_equal(dim(flash_fit_get_p2m(ff, 1)), c(n, K4))
  expect_equal(dim(flash_fit_get_p2m(ff, 2)), c(p, K4))
  expect_equal(unname(flash_fit_get_pm(ff, 1)), unname(fl4$L_pm))
  expect_true(all(flash_fit_get_p2m(ff, 2) >= flash_fit_get_pm(ff, 2)^2 -
                    1e-10))
  expect_length(flash_fit_get_tau(ff), 1)
  expect_equal(flash_fit_get_tau(ff), 1 / fl4$residuals_sd^2)
  expect_equal(flash_fit_get_est_tau(ff), flash_fit_get_tau(ff))
  expect_null(flash_fit_get_fixed_tau(ff))
  expect_equal(flash_fit_get_elbo(ff), fl4$elbo)
  kl1 <- flash_fit_get_KL(ff, 1)
  kl2 <- flash_fit_get_KL(ff, 2)
  expect_length(kl1, K4)
  expect_length(kl2, K4)
  expect_equal(sum(kl1) + sum(kl2), sum(ff$KL))
  expect_equal(kl1[2], ff$KL[3])
  expect_length(flash_fit_get_g(ff, 1), K4)
  expect_s3_class(flash_fit_get_g(ff, 2)[[1]], "normalmix")
  expect_equal(flash_fit_get_g(fl4, 2), fl4$F_ghat)
  # By-row and by-column precisions have one value per row / column.
  by_row <- flash(gtex, var_type = 1, greedy_Kmax = 1, verbose = 0)
  expect_length(flash_fit_get_tau(by_row), n)
  by_col <- flash(gtex, var_type = 2, greedy_Kmax = 1, verbose = 0)
  expect_length(flash_fit_get_est_tau(by_col), p)
  empty <- flash_fit(flash_init(gtex))
  expect_equal(dim(flash_fit_get_pm(empty, 1)), c(n, 0))
  expect_length(flash_fit_get_KL(empty, 2), 0)
  expect_length(flash_fit_get_g(empty, 1), 0)
  expect_error(flash_fit_get_pm(ff, 3), "'n'")
  expect_error(flash_fit_get_KL(ff, "1"), "'n'")
  expect_error(flash_fit_get_g(ff), "'n'")
  expect_error(flash_fit_get_elbo(list()), "'f'")
  expect_error(flash_fit(gtex), "'flash'")
})

test_that("flash_greedy_init_default() finds the leading rank-one fit", {
  s <- svd(gtex, nu = 1, nv = 1)
  set.seed(123)
  before <- runif(1)
  set.seed(123)
  init <- flash_greedy_init_default(flash_init(gtex))
  expect_equal(runif(1), before)
  expect_length(init, 2)
  expect_length(init[[1]], nrow(gtex))
  expect_length(init[[2]], ncol(gtex))
  expect_gt(abs(cor(init[[1]], s$u[, 1])), 0.999)
  expect_gt(abs(cor(init[[2]], s$v[, 1])), 0.999)
  expect_equal(sqrt(sum(init[[1]]^2)), sqrt(sum(init[[2]]^2)))
  expect_equal(sum(init[[1]]^2), s$d[1], tolerance = 1e-3)
  expect_identical(flash_greedy_init_default(flash_init(gtex)), init)
  # On the residuals of a fit, and with sign constraints.
  res_init <- flash_greedy_init_default(fl4$flash_fit)
  resid_svd <- svd(residuals(fl4), nu = 1, nv = 0)
  expect_gt(abs(cor(res_init[[1]], resid_svd$u[, 1])), 0.99)
  nn <- flash_greedy_init_default(flash_init(gtex), sign_constraints = c(1, 0))
  expect_true(all(nn[[1]] >= 0))
  np <- flash_greedy_init_default(flash_init(gtex), sign_constraints = c(0, -1))
  expect_true(all(np[[2]] <= 0))
  # Missing data drop out.
  y <- gtex_with_missing()
  miss <- flash_greedy_init_default(flash_init(y))
  expect_true(all(is.finite(unlist(miss))))
  expect_gt(abs(cor(miss[[1]], s$u[, 1])), 0.99)
  expect_error(flash_greedy_init_default(flash_init(gtex),
                                         sign_constraints = 1), "'sign_const")
  expect_error(flash_greedy_init_default(flash_init(gtex),
                                         sign_constraints = c(2, 0)),
               "'sign_constraints'")
  expect_error(flash_greedy_init_default(flash_init(gtex), maxiter = 0),
               "'maxiter'")
  expect_error(flash_greedy_init_default(flash_init(gtex), tol = -1), "'tol'")
  expect_error(flash_greedy_init_default(flash_init(gtex), seed = 1.5),
               "'seed'")
  expect_error(flash_greedy_init_default(gtex), "'flash'")
})

test_that("flash_update_data() replaces the data and refreshes", {
  set.seed(2)
  noisy <- gtex + matrix(rnorm(length(gtex), sd = 0.5), nrow(gtex))
  fl <- flash_update_data(fl4, noisy)
  expect_equal(fl$flash_fit$Y, noisy)
  expect_equal(fl$L_pm, fl4$L_pm)
  expect_false(isTRUE(all.equal(fl$elbo, fl4$elbo)))
  expect_gt(fl$residuals_sd, fl4$residuals_sd)
  # Back to the original data: the original ELBO.
  back <- flash_update_data(fl, gtex)
  expect_lt(abs(back$elbo - fl4$elbo), 1e-6)
  # Missing values and data frames are accepted.
  y <- gtex_with_missing()
  fl_na <- flash_update_data(fl4, y)
  expect_true(is.finite(fl_na$elbo))
  expect_equal(flash_update_data(fl4, as.data.frame(gtex))$elbo, back$elbo,
               tolerance = 1e-8)
  expect_error(flash_update_data(fl4), "'newdata'")
  expect_error(flash_update_data(fl4, gtex[-1, ]), "'newdata'.*dimensions")
  expect_error(flash_update_data(fl4, t(gtex)), "'newdata'")
  expect_error(flash_update_data(fl4, "a"), "'newdata'")
  bad <- gtex
  bad[1, 1] <- Inf
  expect_error(flash_update_data(fl4, bad), "'newdata' contains infinite")
  expect_error(flash_update_data(fl4, gtex, Y2_diff = "a"), "'Y2_diff'")
})

test_that("flash_add_intercept() adds a fixed all-ones vector", {
  fl <- flash_add_intercept(flash_set_verbose(flash_init(gtex), 0))
  expect_equal(fl$n_factors, 1)
  expect_true(all(fl$L_pm[, 1] == 1))
  # Backfit from the column means: the fitted factor stays close to them.
  expect_gt(cor(fl$F_pm[, 1], colMeans(gtex)), 0.999)
  expect_s3_class(fl$F_ghat[[1]], "normalmix")
  expect_equal(fl$flash_fit$fixed[[1]],
               list(dim = 1L, idx = seq_len(nrow(gtex))))
  col <- flash_add_intercept(fl4, rowwise = FALSE, ebnm_fn = ebnm_normal)
  expect_equal(col$n_factors, K4 + 1)
  expect_true(all(col$F_pm[, K4 + 1] == 1))
  expect_gt(cor(col$L_pm[, K4 + 1], rowMeans(residuals(fl4))), 0.99)
  expect_equal(col$flash_fit$fixed[[K4 + 1]]$dim, 2L)
  expect_null(col$flash_fit$fixed[[1]])
  expect_equal(col$flash_fit$ebnm[[K4 + 1]][[1]]$family, "normal")
  # Equivalent to initialising the pair and fixing it by hand.
  init <- list(matrix(rowMeans(gtex), ncol = 1), matrix(1, nrow = ncol(gtex)))
  by_hand <- flash_init(gtex) |>
    flash_factors_init(init) |>
    flash_factors_fix(kset = 1, which_dim = "factors") |>
    flash_backfit(kset = 1, verbose = 0)
  expect_equal(flash_add_intercept(flash_init(gtex), rowwise = FALSE)$elbo,
               by_hand$elbo)
  # Missing data: the means leave out missing entries.
  y <- gtex_with_missing()
  fl_na <- flash_add_intercept(flash_set_verbose(flash_init(y), 0))
  expect_gt(cor(fl_na$F_pm[, 1], colMeans(y, na.rm = TRUE)), 0.999)
  # Greedy fits carry on; backfitting keeps the intercept's loadings at 1
  # and fits its factor values, and raises the ELBO.
  more <- flash_greedy(flash_set_verbose(fl, 0), Kmax = 3)
  expect_gt(more$n_factors, 1)
  expect_true(all(more$L_pm[, 1] == 1))
  bf <- flash_backfit(more)
  expect_true(all(bf$L_pm[, 1] == 1))
  expect_gt(bf$elbo, more$elbo)
  expect_s3_class(bf$F_ghat[[1]], "normalmix")
  # (The intercept starts with no prior, so the first ELBO after fitting
  # one is the first proper one; from there backfits never lower it.)
  bf1 <- flash_backfit(more, kset = 1)
  expect_true(all(bf1$L_pm[, 1] == 1))
  expect_gte(flash_backfit(bf1, kset = 1)$elbo, bf1$elbo - 1e-6)
  others <- flash_backfit(more, kset = 2:more$n_factors)
  expect_true(all(others$L_pm[, 1] == 1))
  expect_gte(others$elbo, more$elbo)
  unfixed <- flash_factors_unfix(more, kset = 1)
  refit <- flash_backfit(unfixed)
  expect_false(all(refit$L_pm[, 1] == 1))
  expect_true(is.finite(refit$elbo))
  expect_error(flash_add_intercept(fl4, rowwise = NA), "'rowwise'")
  expect_error(flash_add_intercept(fl4, ebnm_fn = 1), "'ebnm_fn'")
  expect_error(flash_add_intercept(3), "'flash'")
})

test_that("flash_factors_fix() and _unfix() maintain fit$fixed", {
  fl <- flash_factors_fix(fl4, kset = c(1, 3), which_dim = "loadings")
  fixed <- fl$flash_fit$fixed
  expect_length(fixed, K4)
  expect_equal(fixed[[1]], list(dim = 1L, idx = seq_len(nrow(gtex))))
  expect_equal(fixed[[3]]$dim, 1L)
  expect_null(fixed[[2]])
  expect_equal(fl$elbo, fl4$elbo)
  # The default dimension is the factors, as in flashier.
  expect_equal(flash_factors_fix(fl4, kset = 2)$flash_fit$fixed[[2]]$dim, 2L)
  # A subset of entries.
  idx <- rep(c(TRUE, FALSE), length.out = ncol(gtex))
  sub <- flash_factors_fix(fl4, kset = 2, fixed_idx = idx)
  expect_equal(sub$flash_fit$fixed[[2]]$idx, which(idx))
  m <- cbind(idx, !idx)
  sub2 <- flash_factors_fix(fl4, kset = 1:2, fixed_idx = m)
  expect_equal(sub2$flash_fit$fixed[[2]]$idx, which(!idx))
  expect_null(flash_factors_fix(fl4, kset = 1,
                                fixed_idx = FALSE)$flash_fit$fixed[[1]])
  expect_true(flash_factors_fix(fl4, kset = 1,
                                use_fixed_in_ebnm = TRUE)$flash_fit$use_fixed_in_ebnm)
  # Both dimensions of one factor cannot be fixed.
  expect_error(flash_factors_fix(fl, kset = 1, which_dim = "factors"),
               "'which_dim'.*already fixed")
  # Remove, reorder and nullcheck keep the records aligned with the factors.
  expect_equal(flash_factors_remove(fl, kset = 1)$flash_fit$fixed[[2]]$dim, 1L)
  expect_null(flash_factors_remove(fl, kset = 1)$flash_fit$fixed[[1]])
  ro <- flash_factors_reorder(fl, kset = rev(seq_len(K4)))
  expect_equal(ro$flash_fit$fixed[[K4]]$dim, 1L)
  expect_null(ro$flash_fit$fixed[[K4 - 1]])
  nc <- flash_nullcheck(flash_factors_set_to_zero(fl, kset = 2), verbose = 0)
  expect_equal(nc$n_factors, K4 - 1)
  expect_length(nc$flash_fit$fixed, K4 - 1)
  expect_equal(nc$flash_fit$fixed[[1]]$dim, 1L)
  expect_equal(nc$flash_fit$fixed[[2]]$dim, 1L)
  expect_null(nc$flash_fit$fixed[[3]])
  # Unfix.
  un <- flash_factors_unfix(fl, kset = 1)
  expect_null(un$flash_fit$fixed[[1]])
  expect_equal(un$flash_fit$fixed[[3]]$dim, 1L)
  # Fully fixed loadings stay as they are through a backfit.
  un_bf <- flash_backfit(un, verbose = 0)
  expect_equal(un_bf$L_pm[, 3], un$L_pm[, 3])
  # Fixing only some loadings: those stay, the others are backfit.
  part <- flash_factors_fix(fl4, kset = 1, which_dim = "loadings",
                            fixed_idx = c(TRUE, rep(FALSE, nrow(gtex) - 1)))
  part_bf <- flash_backfit(part, verbose = 0)
  expect_equal(part_bf$L_pm[1, 1], fl4$L_pm[1, 1])
  expect_true(is.na(part_bf$L_lfsr[1, 1]))
  expect_s3_class(flash_backfit(flash_factors_unfix(un, kset = 3),
                                verbose = 0), "flash")
  expect_error(flash_factors_fix(fl4, kset = 1, which_dim = "rows"),
               "'which_dim'")
  expect_error(flash_factors_fix(fl4, kset = 1, fixed_idx = c(TRUE, FALSE)),
               "'fixed_idx'")
  expect_error(flash_factors_fix(fl4, kset = 1:2,
                                 fixed_idx = matrix(TRUE, 3, 2)),
               "'fixed_idx'")
  expect_error(flash_factors_fix(fl4, kset = 1, use_fixed_in_ebnm = "yes"),
               "'use_fixed_in_ebnm'")
})

test_that("partly fixed loadings are held while the others are backfit", {
  fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
  held <- seq_len(nrow(gtex)) <= 100
  part <- flash_factors_fix(fl, kset = 2, which_dim = "loadings",
                            fixed_idx = held)
  bf <- flash_backfit(part, verbose = 0, tol = 1e-6)
  expect_equal(bf$L_pm[held, 2], fl$L_pm[held, 2])
  expect_true(all(bf$L_psd[held, 2] == 0))
  expect_gt(max(abs(bf$L_pm[!held, 2] - fl$L_pm[!held, 2])), 1e-6)
  # The free loadings are the EBNM posterior of their normal-means problem
  # (formed from the residuals with factor 2 added back), and the prior is
  # fit to the free loadings alone.
  ff <- bf$flash_fit
  tau <- 1 / bf$residuals_sd^2
  r_k <- gtex - fitted(bf) + outer(ff$L[, 2], ff$F[, 2])
  s2 <- 1 / (tau * sum(ff$F2[, 2]))
  x <- drop(s2 * tau * (r_k %*% ff$F[, 2]))
  post <- ebnm_point_normal(x[!held], sqrt(s2), g_init = bf$L_ghat[[2]],
                            fix_g = TRUE)
  expect_equal(post$posterior$mean, unname(bf$L_pm[!held, 2]),
               tolerance = 1e-4)
  refit <- ebnm_point_normal(x[!held], sqrt(s2))
  expect_equal(refit$fitted_g$pi, bf$L_ghat[[2]]$pi, tolerance = 1e-3)
  expect_equal(refit$fitted_g$sd, bf$L_ghat[[2]]$sd, tolerance = 1e-3)
  # With use_fixed_in_ebnm = TRUE the held values count for the prior.
  part2 <- flash_factors_fix(fl, kset = 2, which_dim = "loadings",
                             fixed_idx = held, use_fixed_in_ebnm = TRUE)
  bf2 <- flash_backfit(part2, verbose = 0, tol = 1e-6)
  expect_equal(bf2$L_pm[held, 2], fl$L_pm[held, 2])
  expect_false(isTRUE(all.equal(bf2$L_ghat[[2]]$pi, bf$L_ghat[[2]]$pi)))
  # The sampler draws the free values and repeats the held ones.
  draws <- bf$sampler(3)
  expect_equal(draws[[1]][[1]][held, 2], unname(fl$L_pm[held, 2]),
               ignore_attr = TRUE)
  expect_gt(sd(draws[[1]][[1]][!held, 2] - bf$L_pm[!held, 2]), 0)
})

test_that("init_fn: flashier's default in R, a custom SVD start, bad answers", {
  ref <- flash_greedy(flash_init(gtex), Kmax = 5, verbose = 0)
  via_r <- flash_greedy(flash_init(gtex), Kmax = 5, verbose = 0,
                        init_fn = function(f) flash_greedy_init_default(f))
  expect_equal(via_r$n_factors, 5)
  expect_equal(via_r$elbo, ref$elbo, tolerance = 1e-6)
  calls <- 0
  svd_init <- function(f) {
    calls <<- calls + 1
    s <- svd(residuals(f), nu = 1, nv = 1)
    list(s$u * s$d[1], s$v)
  }
  fl <- flash_greedy(flash_init(gtex), Kmax = 3, init_fn = svd_init,
                     verbose = 0)
  expect_equal(calls, 3)
  expect_equal(fl$n_factors, 3)
  ref3 <- flash_greedy(flash_init(gtex), Kmax = 3, verbose = 0)
  expect_equal(fl$elbo, ref3$elbo, tolerance = 1e-4)
  # Semi-nonnegative pairs keep their family with a custom start.
  nn <- flash_greedy(flash_init(gtex), Kmax = 2, verbose = 0,
                     ebnm_fn = c(ebnm_point_normal, ebnm_point_exponential),
                     init_fn = function(f) flash_greedy_init_default(
                       f, sign_constraints = c(0, 1)))
  expect_true(all(nn$F_pm >= 0))
  expect_equal(length(nn$flash_fit$ebnm), nn$n_factors)
  expect_error(flash_greedy(flash_init(gtex), init_fn = function(f) 1),
               "'init_fn' must return a list of two")
  expect_error(flash_greedy(flash_init(gtex),
                            init_fn = function(f) list(1:3, 1:44)),
               "lengths 1000 \\(loadings\\) and 44")
  expect_error(flash_greedy(flash_init(gtex), init_fn = "svd"),
               "'init_fn' must be NULL or a function")
})

test_that("flash_nullcheck() checks a subset and can keep zeroed factors", {
  default_tol_gtex <- prod(dim(gtex)) * sqrt(.Machine$double.eps)
  fl <- flash(gtex, greedy_Kmax = 3, verbose = 0)
  # A factor set to zero by hand fails the check; another stays.
  z <- flash_factors_set_to_zero(fl, kset = 2)
  only1 <- flash_nullcheck(z, kset = 1, verbose = 0)
  expect_equal(only1$n_factors, 3)
  expect_true(all(only1$L_pm[, 2] == 0))
  both <- flash_nullcheck(z, kset = 1:2, verbose = 0)
  expect_equal(both$n_factors, 2)
  expect_equal(both$L_pm[, 2], fl$L_pm[, 3])
  # A tiny extra pair, whose removal changes the ELBO by less than tol.
  extra <- flash_factors_init(fl, list(matrix(1e-3, nrow(gtex), 1),
                                       matrix(1e-3, ncol(gtex), 1)))
  kept <- flash_nullcheck(extra, remove = FALSE, verbose = 0)
  expect_equal(kept$n_factors, 4)
  expect_true(all(kept$L_pm[, 4] == 0))
  expect_gte(kept$elbo, extra$elbo - default_tol_gtex)
  removed <- flash_nullcheck(extra, verbose = 0)
  expect_equal(removed$n_factors, 3)
  expect_equal(removed$elbo, kept$elbo, tolerance = 1e-8)
  out <- capture.output(res <- flash_nullcheck(extra, kset = 4, verbose = 1))
  expect_equal(out[1], "Nullchecking 1 factors...")
  expect_match(out[2], "^Factor 4 set to zero")
})
