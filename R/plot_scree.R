#' Scree plot of a flash fit
#'
#' A line plot of the proportion of variance explained (PVE) by each
#' factor/loadings pair, on a log scale. Since EBMF does not require the
#' factors or the loadings to be orthogonal, the PVE is to be read loosely:
#' the PVEs need not add up to less than 1.
#'
#' Unlike the scree plot of a PCA, the scree plot of a flash fit need not
#' decrease. With `order_by_pve = TRUE` it does, but then the positions on
#' the \eqn{x}-axis are no longer the indices of the factors in the fit
#' (nor are they when `kset` is given): consider `labels = TRUE` then, which
#' labels each point with its factor (`"k1"`, `"k2"`, ...).
#'
#' @param fl A `flash` object.
#' @param order_by_pve If `TRUE`, the factor/loadings pairs are ordered by
#'   PVE, from highest to lowest. Otherwise they are plotted in the order of
#'   `kset` (or of the fit).
#' @param kset The indices of the factor/loadings pairs to plot (and, when
#'   `order_by_pve = FALSE`, their order); `NULL` plots all of them.
#' @param labels Whether to label each point with its factor/loadings pair
#'   (`"k1"`, `"k2"`, ...).
#' @param label_size The size of the label text, in millimetres.
#' @param max_overlaps With a finite value, labels that would overlap a
#'   label already drawn are left out; with `Inf` (the default) all labels
#'   are drawn. (flashierrs draws labels with [ggplot2::geom_text()] rather
#'   than ggrepel.)
#'
#' @return A ggplot object. Its data have one row per plotted factor:
#'   `k` (the factor, e.g. `"k2"`), `pve` and `k_numeric` (the position on
#'   the \eqn{x}-axis).
#'
#' @seealso [plot.flash()], and the other plots: [flash_plot_bar()],
#'   [flash_plot_heatmap()], [flash_plot_histogram()],
#'   [flash_plot_scatter()], [flash_plot_structure()].
#'
#' @examples
#' data(gtex)
#' fit <- flash(gtex, greedy_Kmax = 4, verbose = 0)
#' flash_plot_scree(fit)
#' flash_plot_scree(fit, order_by_pve = TRUE, labels = TRUE)
#' @export
flash_plot_scree <- function(fl, order_by_pve = FALSE, kset = NULL,
                             labels = FALSE, label_size = 3,
                             max_overlaps = Inf) {
  spec <- plot_spec(fl, order_by_pve, kset, "factors")
  check_label_args(labels, label_size, max_overlaps)
  kord <- spec$kset[spec$ord]
  df <- data.frame(k = factor(paste0("k", kord), levels = levels(spec$k)),
                   pve = spec$pve[spec$ord],
                   k_numeric = seq_along(kord))
  p <- ggplot2::ggplot(df, ggplot2::aes(x = .data$k_numeric, y = .data$pve,
                                        label = .data$k)) +
    ggplot2::geom_line(colour = "grey60") +
    ggplot2::geom_point(colour = "dodgerblue", size = 2) +
    ggplot2::scale_x_continuous(breaks = scree_breaks(df$k_numeric),
                                expand = ggplot2::expansion(add = 0.4)) +
    ggplot2::scale_y_log10(expand = ggplot2::expansion(
      mult = c(0.05, if (labels) 0.15 else 0.05))) +
    ggplot2::labs(title = "Scree plot", x = "k", y = "PVE") +
    theme_flash()
  if (labels) {
    p <- p +
      label_layer(label_size, max_overlaps, vjust = -0.9) +
      ggplot2::theme(axis.text.x = ggplot2::element_blank(),
                     axis.ticks.x = ggplot2::element_blank())
  }
  p
}
