# flashier re-exports magrittr's pipe so that flash pipelines can be written
# as flash_init(data) %>% flash_greedy() %>% ...; so does flashierrs. R's
# native pipe |> works as well.

#' @importFrom magrittr %>%
#' @export
magrittr::`%>%`
