# The per-iteration table (verbose = 3 and -1) and the convergence criteria,
# computed in Rust, against flashier's definitions.

data(gtex, package = "flashierrs")

# The rows of a verbose = -1 table as a data frame.
read_table <- function(lines) {
  rows <- grep("^(greedy|backfit)\t", lines, value = TRUE)
  parts <- strsplit(rows, "\t")
  data.frame(
    type = vapply(parts, `[`, "", 1),
    factor = vapply(parts, `[`, "", 2),
    iter = as.integer(vapply(parts, `[`, "", 3)),
    elbo = as.numeric(vapply(parts, `[`, "", 4)),
    diff = as.numeric(vapply(parts, `[`, "", 5)),
    chg = as.numeric(vapply(parts, `[`, "", 6)),
    stringsAsFactors = FALSE
  )
}

test_that("verbose = 3 prints flashier's table", {
  out <- capture.output(
    fl <- flash_init(gtex) |> flash_set_verbose(3) |> flash_greedy(Kmax = 2)
  )
  expect_equal(out[1], "Adding factor 1 to flash object...")
  expect_equal(out[2], "  Optimizing factor...")
  expect_equal(out[3], "    Iteration   ELBO Diff  LF Max Chg")
  expect_match(out[4], "^            1         Inf    [0-9]\\.[0-9]{2}e-[0-9]{2} $")
  rows <- grep("^ +[0-9]+ ", out, value = TRUE)
  expect_true(all(grepl("^ {4,}[0-9]+ +([0-9]\\.[0-9]{2}e[-+][0-9]{2}|Inf|[0-9]+) +[0-9]\\.[0-9]{2}e[-+][0-9]{2} $", rows)))
  expect_true(any(grepl("^  Factor successfully added. Objective: -[0-9]+\\.[0-9]{3} $", out)))
  out_bf <- capture.output(flash_backfit(fl, maxiter = 2))
  expect_equal(out_bf[2], "    Iteration  Factor   ELBO Diff  LF Max Chg")
  expect_match(out_bf[3], "^            1     all    [0-9]\\.[0-9]{2}e[-+][0-9]{2}    [0-9]\\.[0-9]{2}e-[0-9]{2} $")
  expect_true(any(grepl("^  Backfit complete. Objective: ", out_bf)))
  out_seq <- capture.output(flash_backfit(fl, maxiter = 1, extrapolate = FALSE))
  expect_match(out_seq[3], "^            1       1 ")
  expect_match(out_seq[4], "^            1       2 ")
})

test_that("the tab-delimited table's numbers are the fit's", {
  out <- capture.output(
    fl <- flash_init(gtex) |> flash_set_verbose(-1) |> flash_greedy(Kmax = 2)
  )
  expect_equal(out[1], "Type\tFactor\tIter\tELBO\tELBO.diff\tLF.max.chg")
  tab <- read_table(out)
  expect_equal(unique(tab$factor), c("1", "2"))
  # Each ELBO difference is the change in the printed ELBO (2 decimals).
  for (k in c("1", "2")) {
    t <- tab[tab$factor == k, ]
    expect_equal(t$diff[1], Inf)
    expect_lt(max(abs(t$diff[-1] - diff(t$elbo))), 0.011)
  }
  # The last row of factor 2 is the fit's ELBO.
  expect_lt(abs(tail(tab$elbo, 1) - fl$elbo), 0.006)
  # A one-sweep backfit: its max change is flash_conv_crit_max_chg between
  # the fits before and after.
  fl0 <- flash_set_verbose(fl, 0)
  out_bf <- capture.output(
    fl1 <- flash_backfit(fl0, maxiter = 1, verbose = -1)
  )
  row <- read_table(out_bf)
  expect_equal(nrow(row), 1)
  expect_equal(row$chg, flash_conv_crit_max_chg(fl1, fl0, NULL),
               tolerance = 1e-10)
  expect_equal(row$diff, fl1$elbo - fl0$elbo, tolerance = 1e-8)
})

test_that("the max-change criteria stop fits at their tolerance", {
  tol <- 1e-3
  out <- capture.output(
    fl <- flash_init(gtex) |>
      flash_set_conv_crit(flash_conv_crit_max_chg, tol) |>
      flash_set_verbose(-1) |>
      flash_greedy(Kmax = 3)
  )
  tab <- read_table(out)
  for (k in unique(tab$factor)) {
    chg <- tab$chg[tab$factor == k]
    # Iterations go on while the change exceeds tol, and stop below it.
    expect_true(all(head(chg, -1) > tol))
    expect_lt(tail(chg, 1), tol)
  }
  # With the ELBO criterion at a tolerance that ends the same factor
  # sooner or later, the number of iterations differs.
  n_iter_chg <- sum(tab$factor == "2")
  out2 <- capture.output(
    flash_init(gtex) |> flash_set_conv_crit(tol = 1e-3) |>
      flash_set_verbose(-1) |> flash_greedy(Kmax = 2)
  )
  tab2 <- read_table(out2)
  expect_true(all(head(tab2$diff[tab2$factor == "2"], -1) > 1e-3))
  expect_false(n_iter_chg == sum(tab2$factor == "2"))
  # Loadings only, in a backfit: the sweeps end when the loadings settle.
  fl_l <- flash_set_conv_crit(flash_set_verbose(fl, 0),
                              flash_conv_crit_max_chg_L, 1e-4)
  out3 <- capture.output(bf <- flash_backfit(fl_l, verbose = -1))
  t3 <- read_table(out3)
  expect_gt(nrow(t3), 1)
  expect_gte(bf$elbo, fl$elbo)
})

test_that("custom criteria and columns are refused or flagged", {
  fl <- flash_init(gtex)
  expect_warning(flash_set_conv_crit(fl, function(curr, prev, k) 0, 1),
                 "'fn': flashierrs computes the four flash_conv_crit_")
  expect_silent(flash_set_conv_crit(fl, flash_conv_crit_max_chg_F, 1))
  expect_error(flash_set_verbose(fl, 3, fns = c(flash_verbose_elbo)),
               "'fns'.*not supported")
})
