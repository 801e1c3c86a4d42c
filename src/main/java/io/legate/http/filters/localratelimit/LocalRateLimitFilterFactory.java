package io.legate.http.filters.localratelimit;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;
import java.util.concurrent.ThreadLocalRandom;

/**
 * {@code envoy.filters.http.local_ratelimit}: a token bucket shared by all workers (or one per
 * downstream connection), with Envoy's stats, headers and per-route overrides (LocalRateLimit in
 * {@code typed_per_filter_config}, each with its own bucket), and {@code descriptors} matched
 * against those the route's {@code rate_limits} actions produce, each with its own bucket.
 */
public final class LocalRateLimitFilterFactory extends HttpFilterConfigFactory<LocalRateLimit> {
  public LocalRateLimitFilterFactory() {
    super("envoy.filters.http.local_ratelimit", LocalRateLimit.class, LocalRateLimit.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(
      LocalRateLimit config, FactoryContext context, String path) {
    LocalRateLimitConfig c =
        new LocalRateLimitConfig(config, path + ".typed_config", context.stats(), false,
            System::nanoTime, () -> ThreadLocalRandom.current().nextLong(), context.localClusterName());
    String name = context.filterConfigName();
    return () -> new LocalRateLimitFilter(c, name);
  }

  @Override
  protected Object createRouteSpecificConfig(Message config, FactoryContext context, String path) {
    return new LocalRateLimitConfig((LocalRateLimit) config, path, context.stats(), true,
        System::nanoTime, () -> ThreadLocalRandom.current().nextLong(), context.localClusterName());
  }
}
