package io.legate.http.filters.healthcheck;

import io.envoyproxy.envoy.extensions.filters.http.health_check.v3.HealthCheck;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import io.legate.router.HeaderMatch;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** {@code envoy.filters.http.health_check}: answers or marks health checks (Envoy's HealthCheck). */
public final class HealthCheckFilterFactory extends HttpFilterConfigFactory<HealthCheck> {
  public HealthCheckFilterFactory() {
    super("envoy.filters.http.health_check", HealthCheck.class, HealthCheck.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(HealthCheck config, FactoryContext context, String path) {
    String p = path + ".typed_config";
    if (!config.hasPassThroughMode()) {
      throw new ConfigException(p + ".pass_through_mode", "value is required");
    }
    boolean passThrough = config.getPassThroughMode().getValue();
    long cacheMs =
        config.hasCacheTime()
            ? config.getCacheTime().getSeconds() * 1000 + config.getCacheTime().getNanos() / 1_000_000
            : 0;
    if (cacheMs < 0) {
      throw new ConfigException(p + ".cache_time", "value must not be negative");
    }
    if (!passThrough && cacheMs > 0) {
      throw new ConfigException(
          p + ".cache_time", "cache_time_ms must not be set when path_through_mode is disabled");
    }
    List<HeaderMatch> headers = new ArrayList<>();
    for (int i = 0; i < config.getHeadersCount(); i++) {
      headers.add(HeaderMatch.build(config.getHeaders(i), p + ".headers[" + i + "]"));
    }
    Map<String, Double> minHealthy = new TreeMap<>();
    if (!passThrough) {
      config.getClusterMinHealthyPercentagesMap().forEach((k, v) -> minHealthy.put(k, v.getValue()));
    }
    HealthCheckCache cache = cacheMs > 0 ? new HealthCheckCache(cacheMs * 1_000_000L, System::nanoTime) : null;
    HealthCheckFilter.Config c =
        new HealthCheckFilter.Config(
            passThrough,
            List.copyOf(headers),
            cache,
            Map.copyOf(minHealthy),
            context.clusterManager(),
            context.serverHealthCheckFailed(),
            AsciiString.of(context.localClusterName()));
    return () -> new HealthCheckFilter(c);
  }
}
