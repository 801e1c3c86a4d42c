package io.legate.http.filters.rbac;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC;
import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBACPerRoute;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import io.legate.rbac.RbacStats;

/**
 * {@code envoy.filters.http.rbac}: allows or denies each request with Envoy's RBAC policies (403
 * "RBAC: access denied"), with shadow rules that are only counted, and {@code RBACPerRoute} in
 * {@code typed_per_filter_config} (an empty one turns the filter off for the route).
 */
public final class RbacFilterFactory extends HttpFilterConfigFactory<RBAC> {
  public RbacFilterFactory() {
    super("envoy.filters.http.rbac", RBAC.class, RBAC.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(RBAC config, FactoryContext context, String path) {
    RbacConfig c = RbacConfig.build(config, path + ".typed_config");
    RbacStats stats =
        new RbacStats(
            context.stats(), context.scope().prefix(), config.getRulesStatPrefix(), config.getShadowRulesStatPrefix());
    String name = context.filterConfigName();
    return () -> new RbacFilter(c, stats, name);
  }

  @Override
  protected Message routeConfigPrototype() {
    return RBACPerRoute.getDefaultInstance();
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    RBACPerRoute p = (RBACPerRoute) config;
    return p.hasRbac() ? RbacConfig.build(p.getRbac(), path + ".rbac") : RbacConfig.NONE;
  }
}
