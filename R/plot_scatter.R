#' Scatter plots of the factors or loadings of a flash fit against a
#' covariate
#'
#' One scatter plot for each factor/loadings pair in `kset`: the posterior
#' means \eqn{f_{jk}} (factors) or \eqn{\ell_{ik}} (loadings) on the
#' \eqn{x}-axis, scaled so that the largest absolute value of each factor or
#' loadings vector is 1 (see [ldf()] with `type = "m"`), against a covariate
#' on the \eqn{y}-axis. Without a covariate, the means of the data's columns
#' (factors), \eqn{\frac{1}{n} \sum_i y_{ij}}, or rows (loadings),
#' \eqn{\frac{1}{p} \sum_j y_{ij}}, are used (missing entries left out).
#'
#' @inheritParams flash_plot_bar
#' @inheritParams flash_plot_scree
#' @param pm_colors Without `pm_groups`, a colour for each plotted row or
#'   column; with `pm_groups`, a colour for each group (in the order of the
#'   sorted groups, or named by group). Gives the colour of the points
#'   (black by default).
#' @param covariate A numeric vector with one value for each plotted row or
#'   column (or for each row or column of the data), shown on the
#'   \eqn{y}-axis.
#' @param shape The shape of the points (see [ggplot2::geom_point()]); 1,
#'   the default, is an open circle.
#' @param labels Whether to label the `n_labels` points with the largest
#'   absolute posterior means in each panel with their names.
#' @param n_labels The number of points to highlight in each panel: the
#'   `n_labels` with the largest absolute posterior means are drawn in blue
#'   and the others in light grey. With `labels = TRUE` they are also
#'   labelled; `labels = TRUE` without `n_labels` labels 10 points (with a
#'   message). With `labels = FALSE` and `n_labels > 0`, the points are
#'   highlighted only, and the plot data have a `label` column to label them
#'   as one likes (see the examples).
#' @param ... Further arguments to [ggplot2::facet_wrap()], such as `nrow`
#'   or `ncol`.
#'
#' @return A ggplot object. Its data have the columns described in
#'   [flash_plot_bar()], and `covariate`, `color` and `label` (the name of a
#'   highlighted point, otherwise `""`).
#'
#' @seealso [plot.flash()], [flash_plot_scree()], [flash_plot_bar()],
#'   [flash_plot_heatmap()], [flash_plot_histogram()],
#'   [flash_plot_structure()].
#'
#' @examples
#' data(gtex, gtex_colors)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' flash_plot_scatter(fit, pm_colors = gtex_colors, shape = 19)
#'
#' # Label the three tissues with the largest values of each factor:
#' library(ggplot2)
#' flash_plot_scatter(fit, kset = 2:3, labels = TRUE, n_labels = 3) +
#'   labs(y = "mean z-score across all SNPs")
#'
#' # Highlight only, then label with a layer of one's own:
#' flash_plot_scatter(fit, kset = 2, n_labels = 3) +
#'   geom_text(aes(label = label), size = 2.5, hjust = -0.1)
#' @export
flash_plot_scatter <- function(fl, order_by_pve = FALSE, kset = NULL,
                               pm_which = c("factors", "loadings"),
                               pm_subset = NULL, pm_groups = NULL,
                               pm_colors = NULL, covariate = NULL,
                               shape = 1, labels = FALSE, n_labels = 0,
                               label_size = 3, max_overlaps = Inf, ...) {
  check_label_args(labels, label_size, max_overlaps)
  check_whole_number(n_labels, "n_labels", lower = 0)
  if (labels && missing(n_labels)) {
    n_labels <- 10
    message("The number of labels has been set to 10. To change this ",
            "setting and suppress this message, set argument 'n_labels'.")
  }
  df <- family_data(fl, order_by_pve, kset, pm_which, pm_subset, pm_groups,
                    pm_colors)
  spec <- attr(df, "spec")
  group_colors <- attr(df, "group_colors")
  index <- attr(df, "index")
  n_total <- attr(df, "n_total")
  n_k <- nlevels(df$k)
  n_items <- length(index)
  df <- plain_df(df)

  if (!is.null(covariate)) {
    if (!is.numeric(covariate) ||
        !(length(covariate) %in% c(n_items, n_total))) {
      abort_arg("covariate", "must be a numeric vector with one value for ",
                "each plotted ", spec$which_dim, " (", n_items, ").")
    }
    if (length(covariate) != n_items) {
      covariate <- covariate[index]
    }
    ylab <- "covariate"
  } else {
    Y <- dense_data(fl$flash_fit$Y)
    means <- if (spec$pm_which == "factors") {
      colMeans(Y, na.rm = TRUE)
    } else {
      rowMeans(Y, na.rm = TRUE)
    }
    covariate <- unname(means[index])
    ylab <- paste("data", spec$which_dim, "mean")
  }
  df$covariate <- rep(covariate, times = n_k)

  if (is.null(df$color)) {
    df$color <- "black"
  }
  df$label <- ""
  if (n_labels > 0) {
    for (kk in levels(df$k)) {
      rows <- which(df$k == kk)
      top <- rows[rank(-abs(df$val[rows]), ties.method = "first") <= n_labels]
      df$label[top] <- as.character(df$name[top])
    }
    df$color <- ifelse(df$label != "", "dodgerblue", "gray80")
    # Draw the highlighted points on top.
    df <- df[order(df$label != ""), , drop = FALSE]
  }

  p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$val, y = .data$covariate,
                                        colour = .data$color,
                                        label = .data$label)) +
    ggplot2::geom_point(shape = shape) +
    ggplot2::labs(x = paste(sub("s$", "", spec$pm_which), "posterior mean"),
                  y = ylab) +
    theme_flash()
  if (n_k > 1) {
    p <- p + ggplot2::facet_wrap(~k, ...)
  }
  if (!is.null(group_colors) && n_labels == 0) {
    p <- p + ggplot2::scale_colour_identity(
      guide = "legend", name = NULL, labels = names(group_colors),
      breaks = unname(group_colors))
  } else {
    p <- p + ggplot2::scale_colour_identity()
  }
  if (labels && n_labels > 0) {
    p <- p +
      label_layer(label_size, max_overlaps,
                  data = function(d) d[d$label != "", , drop = FALSE],
                  hjust = "inward", vjust = -0.6, colour = "black")
  }
  p
}
