# plot.flash() (flashier 1.0.7) and the flash_plot_*() family (1.0.60).
# Every plot is rendered to a PNG file and checked through its ggplot object.

data("gtex", "gtex_colors", package = "flashierrs", envir = environment())
fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
scaled <- ldf(fit, type = "m")
organ <- sub("_.*", "", colnames(gtex))
sign_grp <- ifelse(rowMeans(gtex) > 0, "pos", "neg")

# Renders p to a PNG in tempdir() and checks that the file was written.
expect_renders <- function(p, width = 6, height = 4) {
  path <- tempfile(fileext = ".png")
  on.exit(unlink(path))
  ggplot2::ggsave(path, p, width = width, height = height, dpi = 60)
  expect_true(file.exists(path) && file.size(path) > 1000)
  invisible(p)
}

geoms <- function(p) {
  vapply(p$layers, function(l) class(l$geom)[1], character(1))
}

n_panels <- function(p) nrow(ggplot2::ggplot_build(p)$layout$layout)

# ---------------------------------------------------------------------------
# plot.flash()

test_that("plot.flash() bars: one ggplot, scaled posterior means, colours", {
  p <- plot(fit, include_scree = FALSE, pm_colors = gtex_colors)
  expect_s3_class(p, "ggplot")
  expect_renders(p)
  expect_true("GeomCol" %in% geoms(p))
  expect_equal(nrow(p$data), 44 * 3)
  expect_equal(n_panels(p), 3)
  # Panels ordered by PVE (the fit's order here), values max-abs scaled.
  expect_identical(levels(p$data$k), paste0("k", order(-fit$pve)))
  k1 <- p$data[p$data$k == "k1", ]
  expect_equal(k1$val, unname(scaled$F[, 1]))
  expect_identical(as.character(k1$name), colnames(gtex))
  # Each bar has its tissue's colour.
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_setequal(unique(built$fill), unname(gtex_colors))
  expect_identical(k1$color, unname(gtex_colors))
})

test_that("the intro vignette's error bars can be added to plot(kset = 3)", {
  f3 <- scaled$F[, 3]
  sd3 <- fit$F_psd[, 3] / max(abs(fit$F_pm[, 3]))
  factor3_ci <- rbind(f3 - 2 * sd3, f3 + 2 * sd3)
  p <- plot(fit, kset = 3, pm_colors = gtex_colors, include_scree = FALSE) +
    ggplot2::geom_errorbar(ggplot2::aes(ymin = factor3_ci[1, ],
                                        ymax = factor3_ci[2, ]))
  expect_renders(p)
  expect_equal(nrow(p$data), 44)
  expect_equal(p$data$val, unname(f3))
  expect_identical(geoms(p)[length(p$layers)], "GeomErrorbar")
  built <- ggplot2::ggplot_build(p)$data[[length(p$layers)]]
  expect_equal(built$ymin, unname(factor3_ci[1, ]))
  expect_equal(n_panels(p), 1)
})

test_that("plot.flash() scree plot: PVE on a log scale, ordered by PVE", {
  p <- plot(fit, include_pm = FALSE, kset = c(3, 1))
  expect_renders(p)
  expect_identical(geoms(p), c("GeomLine", "GeomPoint"))
  expect_equal(nrow(p$data), 2)
  expect_equal(p$data$pve, fit$pve[c(3, 1)])
  expect_equal(p$data$k.order, rank(-fit$pve[c(3, 1)]))
  expect_identical(p$scales$get_scales("y")$trans$name, "log-10")
  p2 <- plot(fit, include_pm = FALSE, order_by_pve = FALSE, kset = c(3, 1))
  expect_equal(p2$data$k.order, c(3, 1))
})

test_that("plot.flash() with both figures prints them and returns a list", {
  path <- tempfile(fileext = ".png")
  grDevices::png(path)
  res <- withVisible(plot(fit, pm_colors = gtex_colors))
  grDevices::dev.off()
  expect_false(res$visible)
  expect_s3_class(res$value, "flash_plots")
  expect_named(res$value, c("scree", "pm"))
  expect_true(file.exists(path) && file.size(path) > 1000)
  unlink(path)
})

test_that("plot.flash() with pm_groups draws histograms by group", {
  p <- plot(fit, include_scree = FALSE, pm_which = "loadings",
            pm_groups = sign_grp)
  expect_renders(p)
  expect_s3_class(p$layers[[1]]$stat, "StatBin")
  expect_equal(nrow(p$data), 1000 * 3)
  expect_identical(levels(p$data$group), c("neg", "pos"))
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_setequal(unique(built$fill), c("#E41A1C", "#377EB8"))
  expect_equal(n_panels(p), 3)
})

test_that("plot.flash() subsets by index or by name, in the given order", {
  keep <- c("Whole_Blood", "Liver", "Testis")
  p <- plot(fit, include_scree = FALSE, pm_subset = keep,
            pm_colors = gtex_colors, kset = 2)
  expect_renders(p)
  expect_identical(levels(p$data$name), keep)
  expect_identical(p$data$color, unname(gtex_colors[keep]))
  p2 <- plot(fit, include_scree = FALSE, pm_subset = match(keep, colnames(gtex)),
             kset = 2)
  expect_equal(p2$data$val, p$data$val)
})

test_that("plot.flash() warns that 1000 bars are hard to read", {
  expect_warning(p <- plot(fit, include_scree = FALSE, pm_which = "loadings"),
                 "pm_groups")
  expect_equal(nrow(p$data), 3000)
})

test_that("plot.flash() errors name the argument", {
  expect_error(plot(fit, kset = 4), "Argument 'kset'")
  expect_error(plot(fit, kset = 0), "Argument 'kset'")
  expect_error(plot(fit, kset = 1.5), "Argument 'kset'")
  expect_error(plot(fit, kset = c(1, 1)), "Argument 'kset'")
  expect_error(plot(fit, include_scree = FALSE, pm_subset = 45),
               "Argument 'pm_subset'")
  expect_error(plot(fit, include_scree = FALSE, pm_subset = "Kidney"),
               "Argument 'pm_subset'")
  expect_error(plot(fit, include_scree = FALSE, pm_colors = c("red", "blue")),
               "Argument 'pm_colors'")
  expect_error(plot(fit, include_scree = FALSE,
                    pm_colors = rep("notacolour", 44)),
               "Argument 'pm_colors'")
  expect_error(plot(fit, include_scree = FALSE, pm_groups = c("a", "b")),
               "Argument 'pm_groups'")
  expect_error(plot(fit, pm_which = "rows"), "Argument 'pm_which'")
  expect_error(plot(fit, include_scree = FALSE, include_pm = FALSE),
               "include_scree")
  expect_error(plot(flash_init(gtex)), "Argument 'x'.*no factors")
  expect_error(plot(fit, plot_type = "pie"), "Argument 'plot_type'")
})

test_that("plot.flash() reaches the 1.0.60 plots through plot_type", {
  p <- plot(fit, plot_type = "heatmap")
  expect_true("GeomTile" %in% geoms(p))
  expect_identical(levels(p$data$topic), c("k1", "k2", "k3"))
  p <- plot(fit, plot_type = "bar", kset = 2, labels = TRUE)
  expect_true("GeomCol" %in% geoms(p))
  expect_equal(nrow(p$data), 44)
  p <- plot(fit, plot_type = "scree")
  expect_identical(as.character(p$data$k), c("k1", "k2", "k3"))
})

# ---------------------------------------------------------------------------
# The flash_plot_*() family.

test_that("flash_plot_scree() plots the PVE, with optional labels", {
  p <- flash_plot_scree(fit)
  expect_renders(p, 4, 3)
  expect_identical(geoms(p), c("GeomLine", "GeomPoint"))
  expect_equal(p$data$pve, fit$pve)
  expect_equal(p$data$k_numeric, 1:3)
  expect_identical(p$labels$title, "Scree plot")

  p <- flash_plot_scree(fit, order_by_pve = TRUE, kset = c(2, 3, 1),
                        labels = TRUE)
  expect_renders(p, 4, 3)
  expect_identical(geoms(p), c("GeomLine", "GeomPoint", "GeomText"))
  expect_true(all(diff(p$data$pve) <= 0))
  expect_identical(as.character(p$data$k), paste0("k", order(-fit$pve)))
  expect_error(flash_plot_scree(fit, labels = "yes"), "Argument 'labels'")
})

test_that("flash_plot_bar() draws one bar per column, faceted by factor", {
  p <- flash_plot_bar(fit, pm_colors = gtex_colors)
  expect_renders(p)
  expect_identical(geoms(p), c("GeomCol", "GeomHline"))
  expect_equal(nrow(p$data), 44 * 3)
  expect_equal(n_panels(p), 3)
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_identical(built$fill[built$PANEL == 1], unname(gtex_colors))
  # Bars follow the column order of the data.
  expect_identical(levels(p$data$name), colnames(gtex))

  # One factor: a single panel, no facets; labels on the x-axis.
  p <- flash_plot_bar(fit, kset = 2, labels = TRUE)
  expect_renders(p)
  expect_s3_class(p$facet, "FacetNull")
  expect_equal(p$theme$axis.text.x$angle, 80)
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_true(all(built$fill == "dodgerblue"))

  # Groups colour the bars and get a legend.
  p <- flash_plot_bar(fit, kset = 1:2, pm_groups = organ, ncol = 1)
  expect_renders(p)
  expect_equal(ggplot2::ggplot_build(p)$layout$facet$params$ncol, 1)
  expect_identical(levels(p$data$group), sort(unique(organ)))
  built <- ggplot2::ggplot_build(p)$data[[1]]
  # 26 organs: Kelly's 21 colours, recycled.
  expect_equal(length(unique(built$fill)), 21)
})

test_that("flash_plot_histogram() bins the scaled posterior means", {
  p <- flash_plot_histogram(fit, pm_which = "loadings", bins = 25)
  expect_renders(p)
  expect_s3_class(p$layers[[1]]$stat, "StatBin")
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_equal(sum(built$PANEL == 1), 25)
  expect_true(all(built$fill == "dodgerblue"))
  expect_equal(range(p$data$val[p$data$k == "k1"]),
               range(scaled$L[, 1]))

  cols <- c(neg = "darkorange", pos = "purple")
  p <- flash_plot_histogram(fit, kset = 1, pm_which = "loadings",
                            pm_groups = sign_grp, pm_colors = cols,
                            alpha = 0.4)
  expect_renders(p)
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_setequal(unique(built$fill), c("darkorange", "purple"))
  expect_true(all(built$alpha == 0.4))
  expect_error(flash_plot_histogram(fit, alpha = 2), "Argument 'alpha'")
  expect_error(flash_plot_histogram(fit, pm_groups = organ,
                                    pm_colors = "red"),
               "Argument 'pm_colors'")
})

test_that("flash_plot_scatter() plots against column means or a covariate", {
  p <- flash_plot_scatter(fit, pm_colors = gtex_colors)
  expect_renders(p)
  expect_identical(geoms(p), "GeomPoint")
  k1 <- p$data[p$data$k == "k1", ]
  expect_equal(k1$covariate, unname(colMeans(gtex)))
  expect_identical(k1$color, unname(gtex_colors))
  expect_identical(p$labels$y, "data column mean")
  expect_identical(p$labels$x, "factor posterior mean")

  expect_message(p <- flash_plot_scatter(fit, kset = 2:3, labels = TRUE),
                 "10")
  expect_renders(p)
  expect_identical(geoms(p), c("GeomPoint", "GeomText"))
  expect_equal(as.vector(table(p$data$k[p$data$label != ""])), c(10, 10))

  p <- flash_plot_scatter(fit, kset = 2, n_labels = 3, covariate = 1:44)
  expect_renders(p)
  expect_identical(geoms(p), "GeomPoint")
  expect_equal(sum(p$data$color == "dodgerblue"), 3)
  top3 <- colnames(gtex)[order(-abs(scaled$F[, 2]))[1:3]]
  expect_setequal(p$data$label[p$data$label != ""], top3)
  expect_identical(p$labels$y, "covariate")

  p <- flash_plot_scatter(fit, pm_which = "loadings", pm_groups = sign_grp,
                          kset = 1)
  expect_renders(p)
  expect_equal(p$data$covariate, unname(rowMeans(gtex)))
  expect_error(flash_plot_scatter(fit, covariate = 1:3),
               "Argument 'covariate'")
})

test_that("flash_plot_structure() stacks the factors, grouped and ordered", {
  keep <- organ %in% c("Artery", "Brain", "Heart")
  p <- flash_plot_structure(fit, kset = 1, pm_subset = which(keep),
                            pm_groups = organ[keep], gap = 2)
  expect_renders(p)
  expect_true("GeomCol" %in% geoms(p))
  expect_equal(nrow(p$data), sum(keep))
  # Groups are contiguous and separated by the gap.
  pos <- split(p$data$sample, p$data$group)
  expect_equal(unname(lengths(pos)), as.vector(table(organ[keep])))
  expect_equal(min(pos$Brain) - max(pos$Artery), 3)
  expect_identical(ggplot2::ggplot_build(p)$layout$panel_params[[1]]$x$
                     get_labels(), c("Artery", "Brain", "Heart"))

  expect_warning(p <- flash_plot_structure(fit), "heatmap")
  expect_renders(p, 8, 5)
  expect_equal(nrow(p$data), 44 * 3)
  expect_identical(levels(p$data$topic), c("k3", "k2", "k1"))
  built <- ggplot2::ggplot_build(p)$data[[1]]
  expect_setequal(unique(built$fill), c("#e41a1c", "#377eb8", "#4daf4a"))

  # A given order of the bars.
  p <- suppressWarnings(flash_plot_structure(fit, kset = 1:2,
                                             loadings_order = 44:1))
  expect_identical(p$data$name[p$data$sample == 1][1], "Whole_Blood")
  expect_error(flash_plot_structure(fit, pm_colors = c("red", "blue")),
               "Argument 'pm_colors'")
  expect_error(flash_plot_structure(fit, loadings_order = 50),
               "Argument 'loadings_order'")
})

test_that("flash_plot_heatmap() tiles the factors on a diverging scale", {
  p <- flash_plot_heatmap(fit)
  expect_renders(p, 6, 7)
  expect_identical(geoms(p), "GeomTile")
  expect_equal(nrow(p$data), 44 * 3)
  expect_setequal(p$data$name, colnames(gtex))
  built <- ggplot2::ggplot_build(p)
  # One label per tissue on the y-axis (44 rows).
  expect_length(built$layout$panel_params[[1]]$y$get_labels(), 44)
  # -1 (the scale's low end) is dark blue, +1 dark red, 0 white.
  d <- built$data[[1]]
  expect_true(any(p$data$prop == -1) && any(p$data$prop == 1))
  expect_true(all(d$fill[p$data$prop == -1] == "#00008B"))
  expect_true(all(d$fill[p$data$prop == 1] == "#8B0000"))
  expect_true(all(d$fill[p$data$prop == 0] == "#FFFFFF"))

  p <- flash_plot_heatmap(fit, pm_which = "loadings", pm_groups = sign_grp,
                          gap = 20, pm_colors = c("green", "purple"))
  expect_renders(p, 5, 6)
  expect_equal(nrow(p$data), 3000)
  expect_identical(ggplot2::ggplot_build(p)$layout$panel_params[[1]]$y$
                     get_labels(), c("neg", "pos"))
  expect_error(flash_plot_heatmap(fit, pm_colors = c("a", "b", "c", "d")),
               "Argument 'pm_colors'")
})

test_that("the family's errors name the argument", {
  fl0 <- flash_init(gtex)
  for (fn in list(flash_plot_scree, flash_plot_bar, flash_plot_histogram,
                  flash_plot_scatter, flash_plot_structure,
                  flash_plot_heatmap)) {
    expect_error(fn(fl0), "Argument 'fl'.*no factors")
    expect_error(fn(fit, kset = 5), "Argument 'kset'")
    expect_error(fn(fit$flash_fit), "Argument 'fl'")
  }
  expect_error(flash_plot_bar(fit, pm_subset = 0), "Argument 'pm_subset'")
  expect_error(flash_plot_bar(fit, pm_colors = gtex_colors[1:10]),
               "Argument 'pm_colors'")
  expect_error(flash_plot_bar(fit, pm_groups = organ[1:5]),
               "Argument 'pm_groups'")
})
