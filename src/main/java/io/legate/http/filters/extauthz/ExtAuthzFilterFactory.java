package io.legate.http.filters.extauthz;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code envoy.filters.http.ext_authz}: asks an external gRPC ({@code envoy.service.auth.v3}) or
 * HTTP authorization service about each request (Envoy's ExtAuthz and ExtAuthzPerRoute).
 */
public final class ExtAuthzFilterFactory extends HttpFilterConfigFactory<ExtAuthz> {
  /** Creates the factory (found by {@link java.util.ServiceLoader}). */
  public ExtAuthzFilterFactory() {
    super("envoy.filters.http.ext_authz", ExtAuthz.class, ExtAuthz.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(ExtAuthz config, FactoryContext context, String path) {
    ExtAuthzConfig c = ExtAuthzConfig.parse(config, path + ".typed_config", context.filterConfigName(), context.scope(),
        context.clusterManager());
    return () -> new ExtAuthzFilter(c);
  }

  @Override
  protected Message routeConfigPrototype() {
    return ExtAuthzPerRoute.getDefaultInstance();
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    ExtAuthzPerRoute c = (ExtAuthzPerRoute) config;
    return switch (c.getOverrideCase()) {
      case DISABLED -> {
        if (!c.getDisabled()) {
          throw new ConfigException(path + ".disabled", "must be true when set");
        }
        yield new ExtAuthzPerRouteSettings(true, Map.of(), false);
      }
      case CHECK_SETTINGS -> {
        if (c.getCheckSettings().hasWithRequestBody()) {
          throw new ConfigException(path + ".check_settings.with_request_body", "sending the request body is not supported");
        }
        yield new ExtAuthzPerRouteSettings(false, Map.copyOf(new TreeMap<>(c.getCheckSettings().getContextExtensionsMap())),
            c.getCheckSettings().getDisableRequestBodyBuffering());
      }
      default -> throw new ConfigException(path, "one of disabled or check_settings must be set");
    };
  }
}
