package io.legate.http.filters.jwtauthn;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication;
import io.envoyproxy.envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.jwt_authn}: verifies JWTs against providers' keys (local, or a remote
 * JWKS fetched through a cluster and cached) following rules or per-route requirements (Envoy's
 * JwtAuthentication and PerRouteConfig).
 */
public final class JwtAuthnFilterFactory extends HttpFilterConfigFactory<JwtAuthentication> {
  /** Creates the factory (found by {@link java.util.ServiceLoader}). */
  public JwtAuthnFilterFactory() {
    super("envoy.filters.http.jwt_authn", JwtAuthentication.class, JwtAuthentication.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(JwtAuthentication config, FactoryContext context, String path) {
    JwtAuthnConfig c =
        JwtAuthnConfig.parse(
            config, path + ".typed_config", context.filterConfigName(), context.scope(), context.clusterManager(),
            () -> System.currentTimeMillis() / 1000, System::nanoTime);
    return () -> new JwtAuthnFilter(c);
  }

  @Override
  protected Message routeConfigPrototype() {
    return PerRouteConfig.getDefaultInstance();
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    PerRouteConfig c = (PerRouteConfig) config;
    return switch (c.getRequirementSpecifierCase()) {
      case DISABLED -> new JwtAuthnPerRoute(c.getDisabled(), "");
      case REQUIREMENT_NAME -> {
        if (c.getRequirementName().isEmpty()) {
          throw new ConfigException(path + ".requirement_name", "must not be empty");
        }
        yield new JwtAuthnPerRoute(false, c.getRequirementName());
      }
      default -> throw new ConfigException(path, "one of disabled or requirement_name must be set");
    };
  }
}
