#' Histograms of the factors or loadings of a flash fit
#'
#' One histogram of the posterior means \eqn{f_{jk}} (factors) or
#' \eqn{\ell_{ik}} (loadings) for each factor/loadings pair in `kset`,
#' scaled so that the largest absolute value of each factor or loadings
#' vector is 1 (see [ldf()] with `type = "m"`). With `pm_groups`, the
#' histograms of the groups overlap, semi-transparent, in one panel per
#' factor/loadings pair: this reads best with few groups, or groups that
#' are well separated.
#'
#' @inheritParams flash_plot_bar
#' @param pm_colors With `pm_groups`, a colour for each group (in the order
#'   of the sorted groups, or named by group): the fill of the histograms.
#'   Ignored without `pm_groups`.
#' @param binwidth The width of the bins. By default, `bins` bins cover the
#'   range of the data.
#' @param bins The number of bins (30 by default); overridden by `binwidth`.
#' @param alpha The opacity of the grouped histograms, from 0 (transparent)
#'   to 1 (opaque).
#' @param ... Further arguments to [ggplot2::facet_wrap()], such as `nrow`
#'   or `ncol`.
#'
#' @return A ggplot object whose data have the columns described in
#'   [flash_plot_bar()].
#'
#' @seealso [plot.flash()], [flash_plot_scree()], [flash_plot_bar()],
#'   [flash_plot_heatmap()], [flash_plot_scatter()], [flash_plot_structure()].
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' flash_plot_histogram(fit, pm_which = "loadings")
#'
#' # Overlapping histograms, one per group of rows:
#' grp <- ifelse(rowMeans(gtex) > 0, "positive mean", "negative mean")
#' flash_plot_histogram(fit, pm_which = "loadings", pm_groups = grp,
#'                      bins = 40)
#' @export
flash_plot_histogram <- function(fl, order_by_pve = FALSE, kset = NULL,
                                 pm_which = c("factors", "loadings"),
                                 pm_subset = NULL, pm_groups = NULL,
                                 pm_colors = NULL, binwidth = NULL,
                                 bins = NULL, alpha = 0.5, ...) {
  check_number(binwidth, "binwidth", lower = 0)
  if (!is.null(bins)) {
    check_whole_number(bins, "bins", lower = 1)
  }
  check_number(alpha, "alpha", lower = 0, allow_null = FALSE)
  if (alpha > 1) {
    abort_arg("alpha", "must be between 0 and 1.")
  }
  if (is.null(bins) && is.null(binwidth)) {
    bins <- 30
  }
  df <- family_data(fl, order_by_pve, kset, pm_which, pm_subset, pm_groups,
                    if (is.null(pm_groups)) NULL else pm_colors)
  spec <- attr(df, "spec")
  group_colors <- attr(df, "group_colors")
  df <- plain_df(df)
  if (is.null(df$group)) {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$val,
                                          y = ggplot2::after_stat(density))) +
      ggplot2::geom_histogram(position = "identity", bins = bins,
                              binwidth = binwidth, fill = "dodgerblue",
                              colour = "white", linewidth = 0.2)
  } else {
    p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$val,
                                          y = ggplot2::after_stat(density),
                                          fill = .data$group)) +
      ggplot2::geom_histogram(position = "identity", bins = bins,
                              binwidth = binwidth, alpha = alpha,
                              colour = "white", linewidth = 0.2) +
      ggplot2::scale_fill_manual(values = group_colors)
  }
  p <- p +
    theme_flash() +
    ggplot2::theme(axis.text.y = ggplot2::element_blank(),
                   axis.ticks.y = ggplot2::element_blank()) +
    ggplot2::labs(title = paste0("Posterior means (", spec$pm_which, ")"),
                  x = NULL, y = NULL, fill = "Group")
  if (nlevels(df$k) > 1) {
    p <- p + ggplot2::facet_wrap(~k, scales = "free_y", ...)
  }
  p
}
