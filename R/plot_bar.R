#' Bar plots of the factors or loadings of a flash fit
#'
#' One bar plot for each factor/loadings pair in `kset`, with one bar per
#' posterior mean \eqn{f_{jk}} (factors) or \eqn{\ell_{ik}} (loadings). The
#' posterior means are scaled so that the largest absolute value of each
#' factor or loadings vector is 1 (see [ldf()] with `type = "m"`). Bar plots
#' suit factors or loadings with few entries, or entries in a meaningful
#' order (for example along a genome or in space).
#'
#' With more than one factor/loadings pair, the panels are laid out with
#' [ggplot2::facet_wrap()]. Within a panel the bars follow the order of the
#' rows or columns of the data, or that of `pm_subset`.
#'
#' @inheritParams flash_plot_scree
#' @param pm_which Whether to plot the posterior means of the `"factors"`
#'   \eqn{F} or of the `"loadings"` \eqn{L}.
#' @param pm_subset The rows (for loadings) or columns (for factors) of the
#'   data to show, as indices or, if the data have dimnames, names. `NULL`
#'   shows all of them.
#' @param pm_groups `NULL`, or the group of each plotted row or column
#'   (numbers or strings): one value for each row or column of the data or,
#'   with `pm_subset`, for each subsetted row or column.
#' @param pm_colors Without `pm_groups`, a colour for each plotted row or
#'   column; with `pm_groups`, a colour for each group (in the order of the
#'   sorted groups, or named by group). Gives the fill of the bars. A named
#'   vector, such as `gtex_colors`, is matched by name. By default the bars
#'   are blue, or coloured by group with ColorBrewer's "Set1" palette (up to
#'   9 groups) or Kelly's colours.
#' @param labels Whether to label the bars along the \eqn{x}-axis with the
#'   names of the rows or columns. Their look (size, angle) can be changed
#'   with ggplot2's [ggplot2::theme()]: see the examples.
#' @param ... Further arguments to [ggplot2::facet_wrap()], such as `nrow`
#'   or `ncol`.
#'
#' @return A ggplot object. Its data have one row per plotted factor and
#'   row or column: `name`, `k` (the factor, e.g. `"k2"`), `val` (the scaled
#'   posterior mean), `pve`, and `group` and `color` when they are set.
#'
#' @seealso [plot.flash()], [flash_plot_scree()], [flash_plot_heatmap()],
#'   [flash_plot_histogram()], [flash_plot_scatter()],
#'   [flash_plot_structure()].
#'
#' @examples
#' data(gtex, gtex_colors)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' flash_plot_bar(fit, pm_colors = gtex_colors)
#'
#' # The x-axis labels usually need adjusting:
#' library(ggplot2)
#' flash_plot_bar(fit, kset = 2:3, pm_colors = gtex_colors, labels = TRUE,
#'                ncol = 1) +
#'   theme(axis.text.x = element_text(size = 6, angle = 60))
#' @export
flash_plot_bar <- function(fl, order_by_pve = FALSE, kset = NULL,
                           pm_which = c("factors", "loadings"),
                           pm_subset = NULL, pm_groups = NULL,
                           pm_colors = NULL, labels = FALSE, ...) {
  check_flag(labels, "labels")
  df <- family_data(fl, order_by_pve, kset, pm_which, pm_subset, pm_groups,
                    pm_colors)
  spec <- attr(df, "spec")
  group_colors <- attr(df, "group_colors")
  df <- plain_df(df)
  if (!is.null(df$group)) {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$name, y = .data$val,
                                          fill = .data$group)) +
      ggplot2::geom_col() +
      ggplot2::scale_fill_manual(values = group_colors, name = NULL)
  } else if (!is.null(df$color)) {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$name, y = .data$val,
                                          fill = .data$color)) +
      ggplot2::geom_col() +
      ggplot2::scale_fill_identity()
  } else {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$name, y = .data$val)) +
      ggplot2::geom_col(fill = "dodgerblue")
  }
  p <- p +
    ggplot2::geom_hline(yintercept = 0, colour = "grey40", linewidth = 0.3) +
    theme_flash() +
    ggplot2::labs(title = paste0("Posterior means (", spec$pm_which, ")"),
                  x = NULL, y = NULL)
  if (nlevels(df$k) > 1) {
    p <- p + ggplot2::facet_wrap(~k, ...)
  }
  if (labels) {
    p <- p + ggplot2::theme(axis.text.x = ggplot2::element_text(
      angle = 80, hjust = 1, vjust = 1, size = 8))
  } else {
    p <- p + ggplot2::theme(axis.text.x = ggplot2::element_blank(),
                            axis.ticks.x = ggplot2::element_blank())
  }
  p
}
