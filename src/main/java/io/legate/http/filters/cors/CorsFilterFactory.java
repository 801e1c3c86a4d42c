package io.legate.http.filters.cors;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.Cors;
import io.envoyproxy.envoy.extensions.filters.http.cors.v3.CorsPolicy;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import io.legate.stats.Counter;

/**
 * {@code envoy.filters.http.cors}: answers CORS preflight requests locally and adds the CORS response
 * headers to actual requests, following the {@code CorsPolicy} in the route's (else virtual host's,
 * else route configuration's) {@code typed_per_filter_config}. Without a policy it does nothing.
 */
public final class CorsFilterFactory extends HttpFilterConfigFactory<Cors> {
  public CorsFilterFactory() {
    super("envoy.filters.http.cors", Cors.class, Cors.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(Cors config, FactoryContext context, String path) {
    Counter valid = context.scope().counter("cors.origin_valid");
    Counter invalid = context.scope().counter("cors.origin_invalid");
    String name = context.filterConfigName();
    return () -> new CorsFilter(name, valid, invalid);
  }

  @Override
  protected Message routeConfigPrototype() {
    return CorsPolicy.getDefaultInstance();
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    return CorsPolicyConfig.build((CorsPolicy) config, path);
  }
}
