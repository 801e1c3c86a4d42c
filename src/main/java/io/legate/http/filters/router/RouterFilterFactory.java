package io.legate.http.filters.router;

import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/** {@code envoy.filters.http.router}: forwards requests to the route's cluster. */
public final class RouterFilterFactory extends HttpFilterConfigFactory<Router> {
  public RouterFilterFactory() {
    super("envoy.filters.http.router", Router.class, Router.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(Router config, FactoryContext context, String path) {
    if (config.getUpstreamHttpFiltersCount() > 0) {
      throw new ConfigException(path + ".typed_config.upstream_http_filters", "upstream HTTP filters are not supported yet");
    }
    RouterConfig rc =
        new RouterConfig(
            context.clusterManager(),
            new io.legate.http.HcmStats(context.scope()),
            config.getSuppressEnvoyHeaders(),
            config.getRespectExpectedRqTimeout());
    return () -> new RouterFilter(rc);
  }

  /** The router's immutable config. */
  record RouterConfig(
      io.legate.upstream.ClusterManager clusters,
      io.legate.http.HcmStats stats,
      boolean suppressEnvoyHeaders,
      boolean respectExpectedRqTimeout) {}
}
