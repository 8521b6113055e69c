# plot.flash() (flashier 1.0.7's interface) and the helpers shared by the
# flash_plot_*() family (flashier 1.0.60's interface), which live in
# plot_*.R.

#' Plot a flash object
#'
#' Produces up to two figures: a scree plot of the proportion of variance
#' explained (PVE) by each factor/loadings pair, and a figure of the
#' posterior means of the factors or of the loadings, one panel per
#' factor/loadings pair. Posterior means are scaled so that the largest
#' absolute value in each column is 1 (see [ldf()] with `type = "m"`).
#' Without `pm_groups` the posterior means are drawn as bars, one bar per
#' row or column of the data; with `pm_groups`, as overlapping histograms,
#' one per group.
#'
#' This is the interface of flashier 1.0.7. The plot functions of later
#' versions, [flash_plot_scree()], [flash_plot_bar()],
#' [flash_plot_heatmap()], [flash_plot_histogram()], [flash_plot_scatter()]
#' and [flash_plot_structure()], are also available, and can be reached from
#' `plot()` with the argument `plot_type` (see `...`).
#'
#' In the bar plot, the rows of the plot data (`$data` of the returned
#' ggplot) follow the plotted factors (in panel order) and, within a factor,
#' the order of the rows or columns of the data (or of `pm_subset`). So
#' with a single factor in `kset`, vectors with one value per plotted row or
#' column can be added as aesthetics, e.g. error bars (see the examples).
#'
#' @param x A `flash` object.
#' @param include_scree Whether to include the scree plot.
#' @param include_pm Whether to include the figure of posterior means.
#' @param order_by_pve If `TRUE`, the factor/loadings pairs are ordered by
#'   PVE, from highest to lowest.
#' @param kset The indices of the factor/loadings pairs to plot; `NULL`
#'   plots all of them.
#' @param pm_which Whether to plot the posterior means of the `"factors"`
#'   \eqn{F} or of the `"loadings"` \eqn{L}.
#' @param pm_subset The rows (for loadings) or columns (for factors) of the
#'   data to show, as indices or, if the data have dimnames, names. `NULL`
#'   shows all of them. The bars follow the order of `pm_subset`.
#' @param pm_groups `NULL`, or the group of each plotted row or column (one
#'   value per row or column of the data or, with `pm_subset`, per subsetted
#'   row or column): the posterior means are then shown as overlapping
#'   histograms, one per group.
#' @param pm_colors Without `pm_groups`, a colour for each plotted row or
#'   column (the fill of the bars); with `pm_groups`, a colour for each
#'   group (in the order of the sorted groups, or named by group). A named
#'   vector, such as `gtex_colors`, is matched to the plotted rows or
#'   columns (or groups) by name.
#' @param ... `plot_type`, to produce instead one of the plots of flashier
#'   1.0.60: `"scree"`, `"bar"`, `"heatmap"`, `"histogram"`, `"scatter"` or
#'   `"structure"` (then `include_scree` and `include_pm` are ignored,
#'   `order_by_pve` defaults to `FALSE`, and the other arguments in `...`
#'   are passed on to the `flash_plot_*()` function). Other arguments are
#'   ignored.
#'
#' @return When only one figure is asked for, a ggplot object (to which
#'   layers can be added). When both are, the two are printed one after the
#'   other (asking before the second in an interactive session), and a list
#'   of the two ggplot objects (`scree`, `pm`) of class `flash_plots` is
#'   returned invisibly.
#'
#' @seealso [flash_plot_scree()], [flash_plot_bar()], [ldf()]
#'
#' @examples
#' library(ggplot2)
#' data(gtex, gtex_colors)
#' fit <- flash(gtex, greedy_Kmax = 3, verbose = 0)
#'
#' # The scree plot and the bar plots of the factors:
#' plot(fit, pm_colors = gtex_colors)
#'
#' # One figure only: a ggplot object that can be added to.
#' plot(fit, include_scree = FALSE, pm_colors = gtex_colors) +
#'   ggtitle("Factors of the gtex data")
#'
#' # Error bars on the bars of factor 3 (here +/- 2 posterior standard
#' # deviations, on the scale of the plot):
#' f3 <- fit$F_pm[, 3] / max(abs(fit$F_pm[, 3]))
#' sd3 <- fit$F_psd[, 3] / max(abs(fit$F_pm[, 3]))
#' plot(fit, kset = 3, include_scree = FALSE, pm_colors = gtex_colors) +
#'   geom_errorbar(aes(ymin = f3 - 2 * sd3, ymax = f3 + 2 * sd3),
#'                 width = 0.4)
#'
#' # Loadings of 1000 rows are better shown as histograms by group:
#' grp <- ifelse(rowMeans(gtex) > 0, "positive mean", "negative mean")
#' plot(fit, include_scree = FALSE, pm_which = "loadings", pm_groups = grp)
#'
#' # A plot of flashier 1.0.60's family:
#' plot(fit, plot_type = "heatmap")
#' @importFrom graphics plot
#' @export
plot.flash <- function(x, include_scree = TRUE, include_pm = TRUE,
                       order_by_pve = TRUE, kset = NULL,
                       pm_which = c("factors", "loadings"), pm_subset = NULL,
                       pm_groups = NULL, pm_colors = NULL, ...) {
  dots <- list(...)
  if (!is.null(dots$plot_type)) {
    if (missing(order_by_pve)) {
      order_by_pve <- FALSE
    }
    return(plot_by_type(x, dots$plot_type, order_by_pve, kset, pm_which,
                        pm_subset, pm_groups, pm_colors,
                        dots[names(dots) != "plot_type"]))
  }
  check_flag(include_scree, "include_scree")
  check_flag(include_pm, "include_pm")
  if (!include_scree && !include_pm) {
    stop("Arguments 'include_scree' and 'include_pm' are both FALSE, so ",
         "there is nothing to plot.", call. = FALSE)
  }
  spec <- plot_spec(x, order_by_pve, kset, pm_which, arg = "x")
  plots <- list()
  if (include_scree) {
    plots$scree <- plot_scree_107(spec)
  }
  if (include_pm) {
    if (is.null(pm_groups)) {
      plots$pm <- plot_bars_107(x, spec, pm_subset, pm_colors)
    } else {
      plots$pm <- plot_hist_107(x, spec, pm_subset, pm_groups, pm_colors)
    }
  }
  if (length(plots) == 1) {
    return(plots[[1]])
  }
  class(plots) <- "flash_plots"
  print(plots)
  invisible(plots)
}

#' @export
print.flash_plots <- function(x, ...) {
  if (length(x) > 1 && interactive()) {
    old <- graphics::par(ask = TRUE)
    on.exit(graphics::par(old))
  }
  for (p in x) print(p)
  invisible(x)
}

plot_by_type <- function(x, plot_type, order_by_pve, kset, pm_which,
                         pm_subset, pm_groups, pm_colors, dots) {
  types <- c("scree", "bar", "heatmap", "histogram", "scatter", "structure")
  if (!is.character(plot_type) || length(plot_type) != 1 ||
      !(plot_type %in% types)) {
    abort_arg("plot_type", "must be one of ",
              paste0("\"", types, "\"", collapse = ", "), ".")
  }
  if (plot_type == "scree") {
    return(do.call(flash_plot_scree,
                   c(list(x, order_by_pve = order_by_pve, kset = kset),
                     dots)))
  }
  fn <- switch(plot_type, bar = flash_plot_bar, heatmap = flash_plot_heatmap,
               histogram = flash_plot_histogram,
               scatter = flash_plot_scatter,
               structure = flash_plot_structure)
  do.call(fn, c(list(x, order_by_pve = order_by_pve, kset = kset,
                     pm_which = pm_which, pm_subset = pm_subset,
                     pm_groups = pm_groups, pm_colors = pm_colors), dots))
}

# ---------------------------------------------------------------------------
# flashier 1.0.7's two figures.

plot_scree_107 <- function(spec) {
  df <- data.frame(k = spec$kset, pve = spec$pve,
                   k_label = factor(paste0("k", spec$kset),
                                    levels = levels(spec$k)))
  # flashier 1.0.7: the x position is the PVE rank when ordering by PVE,
  # otherwise the factor's index.
  df$k.order <- if (spec$order_by_pve) spec$rank else spec$kset
  ggplot2::ggplot(df, ggplot2::aes(x = .data$k.order, y = .data$pve)) +
    ggplot2::geom_line(colour = "grey") +
    ggplot2::geom_point(colour = "dodgerblue", size = 2) +
    ggplot2::scale_x_continuous(breaks = scree_breaks(df$k.order)) +
    ggplot2::scale_y_log10() +
    ggplot2::labs(title = "Proportion of variance explained per factor",
                  x = "k", y = "PVE") +
    ggplot2::theme_minimal()
}

plot_bars_107 <- function(x, spec, pm_subset, pm_colors) {
  df <- pm_data_frame(x, spec, pm_subset)
  n_plotted <- nlevels(df$name)
  if (n_plotted > 100) {
    warning("Consider setting argument 'pm_groups' to produce a more ",
            "readable plot.", call. = FALSE)
  }
  if (is.null(pm_colors)) {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$name, y = .data$val)) +
      ggplot2::geom_col(fill = "dodgerblue")
  } else {
    cols <- resolve_item_colors(pm_colors, attr(df, "items"),
                                attr(df, "n_total"), spec$which_dim,
                                index = attr(df, "index"),
                                allow_longer = TRUE)
    df$color <- rep(cols, times = length(spec$kset))
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$name, y = .data$val,
                                          fill = .data$color)) +
      ggplot2::geom_col() +
      ggplot2::scale_fill_identity()
  }
  p +
    ggplot2::geom_hline(yintercept = 0, colour = "grey60", linewidth = 0.3) +
    ggplot2::facet_wrap(~k) +
    ggplot2::theme_minimal() +
    ggplot2::theme(axis.text.x = ggplot2::element_blank(),
                   panel.grid.major.x = ggplot2::element_blank(),
                   panel.grid.minor = ggplot2::element_blank()) +
    ggplot2::labs(title = paste0("Posterior means for ", spec$pm_which),
                  x = NULL, y = NULL)
}

plot_hist_107 <- function(x, spec, pm_subset, pm_groups, pm_colors) {
  df <- pm_data_frame(x, spec, pm_subset)
  groups <- resolve_groups(pm_groups, attr(df, "items"),
                           attr(df, "n_total"), spec$which_dim,
                           index = attr(df, "index"))
  df$group <- rep(groups, times = length(spec$kset))
  cols <- resolve_group_colors(pm_colors, groups, allow_longer = TRUE)
  ggplot2::ggplot(df, ggplot2::aes(x = .data$val,
                                   y = ggplot2::after_stat(density),
                                   colour = .data$group,
                                   fill = .data$group)) +
    ggplot2::geom_histogram(position = "identity", bins = 20, alpha = 0.5) +
    ggplot2::scale_colour_manual(values = cols, guide = "none") +
    ggplot2::scale_fill_manual(values = cols) +
    ggplot2::geom_vline(xintercept = 0, colour = "darkgrey") +
    ggplot2::facet_wrap(~k, scales = "free_y") +
    ggplot2::theme_minimal() +
    ggplot2::theme(axis.text.y = ggplot2::element_blank(),
                   panel.grid.minor = ggplot2::element_blank()) +
    ggplot2::labs(title = paste0("Posterior means for ", spec$pm_which),
                  x = NULL, y = NULL, fill = "Group")
}

# ---------------------------------------------------------------------------
# Shared helpers.

# Checks the fit and the arguments that choose the factors; returns what
# the plots need: the factor indices, their PVE, their order and labels.
plot_spec <- function(fl, order_by_pve, kset, pm_which, arg = "fl") {
  if (!inherits(fl, "flash")) {
    abort_arg(arg, "must be a flash object (as returned by flash()).")
  }
  k_all <- fl$n_factors
  if (is.null(k_all) || k_all == 0) {
    abort_arg(arg, "has no factors, so there is nothing to plot.")
  }
  check_flag(order_by_pve, "order_by_pve")
  pm_which <- match_pm_which(pm_which)
  kset <- resolve_kset(kset, k_all)
  pve <- fl$pve[kset]
  if (order_by_pve) {
    ord <- order(-pve)
  } else {
    ord <- seq_along(kset)
  }
  rank <- integer(length(kset))
  rank[ord] <- seq_along(kset)
  labels <- paste0("k", kset)
  list(kset = kset, pve = pve, order_by_pve = order_by_pve, rank = rank,
       ord = ord, k = factor(labels, levels = labels[ord]),
       pm_which = pm_which,
       which_dim = if (pm_which == "factors") "column" else "row")
}

match_pm_which <- function(pm_which) {
  choices <- c("factors", "loadings")
  if (identical(pm_which, choices)) {
    return("factors")
  }
  if (is.character(pm_which) && length(pm_which) == 1 && !is.na(pm_which)) {
    i <- pmatch(pm_which, choices)
    if (!is.na(i)) {
      return(choices[i])
    }
  }
  abort_arg("pm_which", "must be \"factors\" or \"loadings\".")
}

resolve_kset <- function(kset, k_all) {
  if (is.null(kset)) {
    return(seq_len(k_all))
  }
  if (!is.numeric(kset) || length(kset) == 0 || anyNA(kset) ||
      any(kset != round(kset)) || any(kset < 1) || any(kset > k_all) ||
      anyDuplicated(kset)) {
    abort_arg("kset", "must hold distinct factor indices between 1 and ",
              k_all, " (the number of factors); got ",
              paste(utils::head(kset, 10), collapse = ", "), ".")
  }
  as.integer(kset)
}

# The plotted rows (loadings) or columns (factors): indices into the data's
# dimension and their names.
resolve_subset <- function(pm_subset, item_names, which_dim) {
  n <- length(item_names)
  if (is.null(pm_subset)) {
    return(seq_len(n))
  }
  idx <- NULL
  if (is.numeric(pm_subset) && length(pm_subset) > 0 && !anyNA(pm_subset) &&
      all(pm_subset == round(pm_subset)) && all(pm_subset >= 1) &&
      all(pm_subset <= n)) {
    idx <- as.integer(pm_subset)
  } else if (is.character(pm_subset) && length(pm_subset) > 0) {
    idx <- match(pm_subset, item_names)
    if (anyNA(idx)) idx <- NULL
  }
  if (is.null(idx)) {
    abort_arg("pm_subset", "must hold ", which_dim, " indices (1 to ", n,
              ") or ", which_dim, " names of the data.")
  }
  if (anyDuplicated(idx)) {
    abort_arg("pm_subset", "must not repeat a ", which_dim, ".")
  }
  idx
}

# Long data frame of scaled posterior means (max abs 1 per column): one row
# per plotted factor (in panel order) and row/column (in subset order).
pm_data_frame <- function(fl, spec, pm_subset) {
  scaled <- ldf(fl, type = "m")
  val <- if (spec$pm_which == "factors") scaled$F else scaled$L
  item_names <- rownames(val)
  if (is.null(item_names)) {
    item_names <- as.character(seq_len(nrow(val)))
  }
  idx <- resolve_subset(pm_subset, item_names, spec$which_dim)
  kord <- spec$kset[spec$ord]
  items <- item_names[idx]
  n <- length(idx)
  df <- data.frame(
    name = factor(rep(items, times = length(kord)), levels = unique(items)),
    k = factor(rep(paste0("k", kord), each = n), levels = levels(spec$k)),
    val = as.vector(val[idx, kord, drop = FALSE]),
    pve = rep(spec$pve[spec$ord], each = n),
    stringsAsFactors = FALSE
  )
  attr(df, "items") <- items
  attr(df, "index") <- idx
  attr(df, "n_total") <- length(item_names)
  attr(df, "all_names") <- item_names
  df
}

is_colour_vector <- function(x) {
  if (is.factor(x)) x <- as.character(x)
  if (!is.character(x) || anyNA(x)) {
    return(FALSE)
  }
  ok <- tryCatch({
    ggplot2::alpha(x, 1)
    TRUE
  }, error = function(e) FALSE)
  ok
}

# One colour per plotted row or column. Accepted: one per plotted item; a
# vector named by the items; one per row/column of the data (subset to the
# plotted ones); with allow_longer (flashier 1.0.7), any longer vector.
resolve_item_colors <- function(pm_colors, items, n_total, which_dim,
                                index = NULL, allow_longer = FALSE) {
  if (!is_colour_vector(pm_colors)) {
    abort_arg("pm_colors", "must be a character vector of valid colours.")
  }
  cols <- as.character(pm_colors)
  nm <- names(pm_colors)
  n <- length(items)
  if (!is.null(nm) && all(items %in% nm)) {
    return(unname(cols[match(items, nm)]))
  }
  if (length(cols) == n) {
    return(unname(cols))
  }
  if (!is.null(index) && length(cols) == n_total) {
    return(unname(cols[index]))
  }
  if (allow_longer && length(cols) > n) {
    return(unname(cols[seq_len(n)]))
  }
  abort_arg("pm_colors", "must hold one colour for each plotted ", which_dim,
            " (", n, "); got ", length(cols), ".")
}

resolve_groups <- function(pm_groups, items, n_total, which_dim,
                           index = NULL) {
  n <- length(items)
  if (is.list(pm_groups) || !is.atomic(pm_groups) || anyNA(pm_groups)) {
    abort_arg("pm_groups", "must be a vector (numeric or character) with ",
              "no NA values.")
  }
  if (length(pm_groups) == n) {
    g <- pm_groups
  } else if (!is.null(index) && length(pm_groups) == n_total) {
    g <- pm_groups[index]
  } else {
    abort_arg("pm_groups", "must hold one group for each plotted ",
              which_dim, " (", n, "); got ", length(pm_groups), ".")
  }
  if (is.factor(g)) droplevels(g) else factor(g)
}

# Set1 of ColorBrewer and Kelly's colours of maximum contrast (without
# white): the default palettes of flashier for groups.
palette_set1 <- c("#E41A1C", "#377EB8", "#4DAF4A", "#984EA3", "#FF7F00",
                  "#FFFF33", "#A65628", "#F781BF", "#999999")
palette_kelly <- c("#222222", "#F3C300", "#875692", "#F38400", "#A1CAF1",
                   "#BE0032", "#C2B280", "#848482", "#008856", "#E68FAC",
                   "#0067A5", "#F99379", "#604E97", "#F6A600", "#B3446C",
                   "#DCD300", "#882D17", "#8DB600", "#654522", "#E25822",
                   "#2B3D26")

default_group_colors <- function(n) {
  if (n < 10) palette_set1[seq_len(n)] else rep(palette_kelly, length.out = n)
}

# One colour per group (levels of the factor `groups`), named by group.
resolve_group_colors <- function(pm_colors, groups, allow_longer = FALSE) {
  lev <- levels(groups)
  n <- length(lev)
  if (is.null(pm_colors)) {
    cols <- default_group_colors(n)
  } else {
    if (!is_colour_vector(pm_colors)) {
      abort_arg("pm_colors", "must be a character vector of valid colours.")
    }
    nm <- names(pm_colors)
    cols <- as.character(pm_colors)
    if (!is.null(nm) && all(lev %in% nm)) {
      cols <- cols[match(lev, nm)]
    } else if (length(cols) == n || (allow_longer && length(cols) > n)) {
      cols <- cols[seq_len(n)]
    } else {
      abort_arg("pm_colors", "must hold one colour for each group in ",
                "'pm_groups' (", n, "); got ", length(cols), ".")
    }
  }
  stats::setNames(cols, lev)
}

# x-axis breaks of a scree plot: every position for fewer than 5 factors,
# otherwise about four ticks a multiple of 2 or 5 apart (as flashier does).
scree_breaks <- function(x) {
  k <- length(x)
  if (k < 5) {
    return(sort(unique(x)))
  }
  step <- if (k < 10) 2 else max(1, floor(k / 20)) * 5
  seq(step, max(x), by = step)
}

# The look of the flash_plot_*() family: a classic theme with 10 pt text,
# close to cowplot::theme_cowplot(font_size = 10).
theme_flash <- function(font_size = 10) {
  ggplot2::theme_classic(base_size = font_size) +
    ggplot2::theme(
      plot.title = ggplot2::element_text(face = "bold", hjust = 0,
                                         size = ggplot2::rel(1.1)),
      strip.background = ggplot2::element_blank(),
      strip.text = ggplot2::element_text(face = "bold",
                                         size = ggplot2::rel(1)),
      axis.text = ggplot2::element_text(colour = "black"),
      panel.spacing = ggplot2::unit(0.8, "lines"),
      legend.key.size = ggplot2::unit(0.9, "lines")
    )
}

#' @importFrom rlang .data
NULL

utils::globalVariables("density")

# The data of the flash_plot_*() family (flashier 1.0.60): the scaled
# posterior means in long form (name, k, val, pve) with, when asked for, the
# group of each row/column (group) and its colour (color).
family_data <- function(fl, order_by_pve, kset, pm_which, pm_subset,
                        pm_groups, pm_colors) {
  spec <- plot_spec(fl, order_by_pve, kset, pm_which)
  df <- pm_data_frame(fl, spec, pm_subset)
  n_k <- length(spec$kset)
  items <- attr(df, "items")
  if (is.null(pm_groups)) {
    if (!is.null(pm_colors)) {
      cols <- resolve_item_colors(pm_colors, items, attr(df, "n_total"),
                                  spec$which_dim, index = attr(df, "index"))
      df$color <- rep(cols, times = n_k)
    }
    group_colors <- NULL
  } else {
    groups <- resolve_groups(pm_groups, items, attr(df, "n_total"),
                             spec$which_dim, index = attr(df, "index"))
    group_colors <- resolve_group_colors(pm_colors, groups)
    df$group <- rep(groups, times = n_k)
    df$color <- unname(group_colors[as.character(df$group)])
  }
  attr(df, "spec") <- spec
  attr(df, "group_colors") <- group_colors
  df
}

# Drop the bookkeeping attributes before the data go into a ggplot.
plain_df <- function(df) {
  keep <- c("names", "row.names", "class")
  attributes(df) <- attributes(df)[intersect(names(attributes(df)), keep)]
  df
}

# Common checks of the family's extra arguments.
check_label_args <- function(labels, label_size, max_overlaps) {
  check_flag(labels, "labels")
  check_number(label_size, "label_size", lower = 0, allow_null = FALSE)
  check_number(max_overlaps, "max_overlaps", lower = 0, allow_null = FALSE,
               allow_infinite = TRUE)
}

# Text labels without ggrepel: with a finite max_overlaps, labels that
# would overlap labels already drawn are dropped.
label_layer <- function(label_size, max_overlaps, ...) {
  ggplot2::geom_text(size = label_size,
                     check_overlap = is.finite(max_overlaps),
                     show.legend = FALSE, ...)
}
