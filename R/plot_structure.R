#' Structure plot of the factors or loadings of a flash fit
#'
#' A "structure plot": a stacked bar plot with one bar per row (loadings) or
#' column (factors) of the data, each bar stacking the posterior means of
#' the factor/loadings pairs in `kset`, one colour per pair. The posterior
#' means are scaled so that the largest absolute value of each factor or
#' loadings vector is 1 (see [ldf()] with `type = "m"`). Structure plots are
#' made for nonnegative loadings or "memberships" (e.g. fits with
#' point-exponential priors); for posterior means of both signs a
#' heatmap ([flash_plot_heatmap()]) is usually clearer, and a warning says
#' so.
#'
#' The bars are grouped by `pm_groups` (with a gap between groups, labelled
#' on the \eqn{x}-axis) and, by default, arranged within each group by a
#' one-dimensional embedding of their posterior means, so that similar bars
#' sit together; this is what makes a structure plot readable. flashier
#' uses fastTopics' t-SNE embedding; flashierrs uses the first principal
#' component, with ggplot2 only. Without groups and with at most 60 bars,
#' each bar is labelled with its name.
#'
#' @inheritParams flash_plot_bar
#' @param pm_colors The colours of the factor/loadings pairs, one for each
#'   pair in `kset` in plotting order (named by `"k1"`, `"k2"`, ...
#'   optionally). By default, fastTopics' nine colours, or Kelly's colours
#'   for more than nine pairs.
#' @param gap The space between groups, in bars. Used only with
#'   `pm_groups`.
#' @param ... `loadings_order`: `"embed"` (the default; see Details), or
#'   the order of the bars as indices or names of the plotted rows or
#'   columns (bars left out are not shown).
#'
#' @return A ggplot object. Its data have one row per bar and factor:
#'   `sample` (the position of the bar), `topic` (the factor, e.g. `"k2"`),
#'   `prop` (the scaled posterior mean), `name` and `group`.
#'
#' @seealso [plot.flash()], [flash_plot_scree()], [flash_plot_bar()],
#'   [flash_plot_heatmap()], [flash_plot_histogram()],
#'   [flash_plot_scatter()].
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' # Tissues grouped by organ; the first factor has a single sign:
#' organ <- sub("_.*", "", colnames(gtex))
#' keep <- organ %in% c("Artery", "Brain", "Esophagus", "Heart", "Skin")
#' flash_plot_structure(fit, kset = 1, pm_subset = which(keep),
#'                      pm_groups = organ[keep])
#'
#' # Factors of both signs: the plot warns that a heatmap reads better.
#' suppressWarnings(flash_plot_structure(fit, kset = 2:4))
#' @export
flash_plot_structure <- function(fl, order_by_pve = FALSE, kset = NULL,
                                 pm_which = c("factors", "loadings"),
                                 pm_subset = NULL, pm_groups = NULL,
                                 pm_colors = NULL, gap = 1, ...) {
  layout <- structure_layout(fl, order_by_pve, kset, pm_which, pm_subset,
                             pm_groups, gap, list(...))
  dat <- layout$dat
  comps <- levels(layout$spec$k)
  cols <- component_colors(pm_colors, comps)
  # Stack the first component at the bottom, list it last in the legend:
  # the legend reads top to bottom like the bars.
  dat$topic <- factor(dat$topic, levels = rev(comps))
  if (any(dat$prop < 0) && any(dat$prop > 0)) {
    warning("Structure plots are made for nonnegative memberships or ",
            "loadings; with negative values they are hard to read, and a ",
            "heatmap (flash_plot_heatmap()) is usually better.",
            call. = FALSE)
  }
  ticks <- layout$ticks
  p <- ggplot2::ggplot(dat, ggplot2::aes(x = .data$sample, y = .data$prop,
                                         colour = .data$topic,
                                         fill = .data$topic)) +
    ggplot2::geom_col(width = 0.9) +
    ggplot2::geom_hline(yintercept = 0, colour = "grey40", linewidth = 0.3) +
    ggplot2::scale_x_continuous(limits = c(0, max(dat$sample) + 1),
                                breaks = unname(ticks), labels = names(ticks),
                                expand = c(0, 0)) +
    ggplot2::scale_colour_manual(values = cols) +
    ggplot2::scale_fill_manual(values = cols) +
    ggplot2::labs(x = NULL, y = "posterior mean", colour = "component",
                  fill = "component") +
    theme_flash() +
    ggplot2::theme(axis.line.x = ggplot2::element_blank(),
                   axis.ticks.x = ggplot2::element_blank(),
                   axis.text.x = if (layout$per_bar) {
                     ggplot2::element_text(angle = 90, hjust = 1,
                                           vjust = 0.5, size = 7)
                   } else {
                     ggplot2::element_text(angle = 45, hjust = 1, vjust = 1)
                   })
  p
}

#' Heatmap of the factors or loadings of a flash fit
#'
#' A heatmap of the posterior means \eqn{f_{jk}} (factors) or
#' \eqn{\ell_{ik}} (loadings): one column of tiles per factor/loadings pair
#' in `kset` and one row per row or column of the data, scaled so that the
#' largest absolute value of each factor or loadings vector is 1 (see
#' [ldf()] with `type = "m"`); the colour scale is centred at zero.
#'
#' The rows of the heatmap are grouped by `pm_groups` (labelled on the
#' \eqn{y}-axis) and arranged within groups as in [flash_plot_structure()]:
#' by a one-dimensional embedding, unless `loadings_order` is given in
#' `...`. Without groups and with at most 60 rows, each row is labelled with
#' its name.
#'
#' @inheritParams flash_plot_structure
#' @param pm_colors The diverging colour gradient: one, two or three
#'   colours. Three are "low" (negative posterior means), "mid" (zero) and
#'   "high" (positive); two are "low" and "high", with white for "mid"; one
#'   is used for both "low" and "high", with white for "mid". The default is
#'   dark blue, white and dark red.
#' @param ... `loadings_order`, as in [flash_plot_structure()].
#'
#' @return A ggplot object. Its data have the columns described in
#'   [flash_plot_structure()].
#'
#' @seealso [plot.flash()], [flash_plot_scree()], [flash_plot_bar()],
#'   [flash_plot_histogram()], [flash_plot_scatter()],
#'   [flash_plot_structure()].
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' flash_plot_heatmap(fit)
#'
#' # Loadings of 1000 rows, grouped:
#' grp <- ifelse(rowMeans(gtex) > 0, "positive mean", "negative mean")
#' flash_plot_heatmap(fit, pm_which = "loadings", pm_groups = grp, gap = 20,
#'                    pm_colors = c("darkgreen", "white", "purple"))
#' @export
flash_plot_heatmap <- function(fl, order_by_pve = FALSE, kset = NULL,
                               pm_which = c("factors", "loadings"),
                               pm_subset = NULL, pm_groups = NULL,
                               pm_colors = NULL, gap = 1, ...) {
  if (is.null(pm_colors)) {
    grad <- c("darkblue", "white", "darkred")
  } else {
    if (!is_colour_vector(pm_colors) || !(length(pm_colors) %in% 1:3)) {
      abort_arg("pm_colors", "must be NULL or a character vector of 1, 2 or ",
                "3 valid colours (low, mid, high).")
    }
    pm_colors <- unname(as.character(pm_colors))
    grad <- switch(length(pm_colors),
                   c(pm_colors, "white", pm_colors),
                   c(pm_colors[1], "white", pm_colors[2]),
                   pm_colors)
  }
  layout <- structure_layout(fl, order_by_pve, kset, pm_which, pm_subset,
                             pm_groups, gap, list(...))
  dat <- layout$dat
  dat$topic <- factor(dat$topic, levels = levels(layout$spec$k))
  ticks <- layout$ticks
  ggplot2::ggplot(dat, ggplot2::aes(x = .data$topic, y = .data$sample,
                                    fill = .data$prop)) +
    ggplot2::geom_tile(width = 0.9, height = 1) +
    ggplot2::scale_fill_gradient2(low = grad[1], mid = grad[2],
                                  high = grad[3], midpoint = 0,
                                  limits = c(-1, 1)) +
    ggplot2::scale_y_reverse(breaks = unname(ticks), labels = names(ticks),
                             expand = c(0, 0.5)) +
    ggplot2::labs(x = "component", y = NULL, fill = "posterior\nmean") +
    theme_flash() +
    ggplot2::theme(axis.line = ggplot2::element_blank(),
                   axis.ticks.y = ggplot2::element_blank(),
                   axis.text.y = ggplot2::element_text(
                     size = if (layout$per_bar) 7 else 9),
                   plot.margin = ggplot2::margin(5.5, 12, 5.5, 5.5))
}

# Positions of the bars (structure plot) or rows (heatmap): grouped, with
# `gap` empty positions between groups, and ordered within groups.
structure_layout <- function(fl, order_by_pve, kset, pm_which, pm_subset,
                             pm_groups, gap, dots) {
  check_number(gap, "gap", lower = 0, allow_null = FALSE)
  unknown <- setdiff(names(dots), "loadings_order")
  if (length(dots) > 0 && (is.null(names(dots)) || length(unknown) > 0 ||
                           any(names(dots) == ""))) {
    abort_arg("...", "takes only 'loadings_order'; got ",
              paste(if (is.null(names(dots))) "an unnamed argument" else
                unknown, collapse = ", "), ".")
  }
  df <- family_data(fl, order_by_pve, kset, pm_which, pm_subset, pm_groups,
                    NULL)
  spec <- attr(df, "spec")
  items <- attr(df, "items")
  n <- length(items)
  comps <- levels(spec$k)
  vals <- matrix(df$val, nrow = n, ncol = length(comps),
                 dimnames = list(items, comps))
  grouped <- !is.null(df$group)
  groups <- if (grouped) df$group[seq_len(n)] else factor(rep("", n))

  lo <- dots$loadings_order
  if (is.null(lo) || identical(lo, "embed")) {
    ord <- integer(0)
    for (g in levels(groups)) {
      i <- which(groups == g)
      ord <- c(ord, i[order(embed_1d(vals[i, , drop = FALSE]))])
    }
  } else {
    ord <- if (is.character(lo)) match(lo, items) else lo
    if (!is.numeric(ord) || length(ord) == 0 || anyNA(ord) ||
        any(ord != round(ord)) || any(ord < 1) || any(ord > n) ||
        anyDuplicated(ord)) {
      abort_arg("loadings_order", "must be \"embed\" or distinct indices ",
                "(1 to ", n, ") or names of the plotted ", spec$which_dim,
                "s.")
    }
    ord <- as.integer(ord)
    # Keep the groups together, in the given order within each group.
    ord <- ord[order(as.integer(groups[ord]))]
  }

  pos <- integer(length(ord))
  ticks <- numeric(0)
  m <- 0
  for (g in levels(groups)) {
    sel <- which(groups[ord] == g)
    if (length(sel) == 0) next
    pos[sel] <- m + seq_along(sel)
    ticks[g] <- m + (length(sel) + 1) / 2
    m <- m + length(sel) + gap
  }
  per_bar <- !grouped && length(ord) <= 60
  if (per_bar) {
    ticks <- stats::setNames(pos, items[ord])
  } else if (!grouped) {
    ticks <- numeric(0)
  }
  dat <- data.frame(
    sample = rep(pos, times = length(comps)),
    topic = rep(comps, each = length(ord)),
    prop = as.vector(vals[ord, , drop = FALSE]),
    name = rep(items[ord], times = length(comps)),
    group = rep(groups[ord], times = length(comps)),
    stringsAsFactors = FALSE
  )
  list(dat = dat, ticks = ticks, spec = spec, per_bar = per_bar)
}

# A 1-d embedding of the rows of M: their scores on the first principal
# component, signed so that larger scores go with larger values.
embed_1d <- function(M) {
  if (nrow(M) < 3) {
    return(seq_len(nrow(M)))
  }
  centred <- sweep(M, 2, colMeans(M))
  if (all(abs(centred) < 1e-12)) {
    return(seq_len(nrow(M)))
  }
  s <- svd(centred, nu = 1, nv = 1)
  v <- s$v[, 1]
  if (sum(v) < 0) v <- -v
  drop(centred %*% v)
}

# Colours of the components of a structure plot, named by component.
component_colors <- function(pm_colors, comps) {
  k <- length(comps)
  if (is.null(pm_colors)) {
    base <- c("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00",
              "#ffff33", "#a65628", "#f781bf", "#999999")
    cols <- if (k <= length(base)) base[seq_len(k)] else
      rep(palette_kelly, length.out = k)
    return(stats::setNames(cols, comps))
  }
  if (!is_colour_vector(pm_colors)) {
    abort_arg("pm_colors", "must be a character vector of valid colours.")
  }
  nm <- names(pm_colors)
  if (!is.null(nm) && all(comps %in% nm)) {
    return(stats::setNames(as.character(pm_colors[comps]), comps))
  }
  if (length(pm_colors) < k) {
    abort_arg("pm_colors", "must hold one colour for each plotted ",
              "factor/loadings pair (", k, "); got ", length(pm_colors), ".")
  }
  stats::setNames(as.character(pm_colors[seq_len(k)]), comps)
}
