package io.legate.http.filters.ratelimit;

import io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter;

/**
 * {@code envoy.filters.http.ratelimit}: asks a rate limit service ({@code
 * envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit}) about the descriptors built from the
 * route's and virtual host's {@code rate_limits}, and answers 429 when it says over limit.
 */
public final class RateLimitFilterFactory extends HttpFilterConfigFactory<RateLimit> {
  /** Creates the factory (found by {@link java.util.ServiceLoader}). */
  public RateLimitFilterFactory() {
    super("envoy.filters.http.ratelimit", RateLimit.class, RateLimit.getDefaultInstance());
  }

  @Override
  protected HttpFilter.Factory createFilterFactory(
      RateLimit config, FactoryContext context, String path) {
    RateLimitConfig c = RateLimitConfig.build(config, path + ".typed_config", context);
    return () -> new RateLimitFilter(c);
  }
}
