package io.legate.network.localratelimit;

import io.envoyproxy.envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.extension.NetworkFilterConfigFactory;
import io.legate.http.filters.localratelimit.TokenBucket;
import io.legate.stats.Counter;

/**
 * {@code envoy.filters.network.local_ratelimit}: a token bucket per filter chain, shared by all
 * workers; each new connection takes a token, and a connection that finds none is closed at once and
 * counted in {@code local_rate_limit.<stat_prefix>.rate_limited}.
 */
public final class NetworkLocalRateLimitFactory extends NetworkFilterConfigFactory<LocalRateLimit> {
  public NetworkLocalRateLimitFactory() {
    super("envoy.filters.network.local_ratelimit", LocalRateLimit.class, LocalRateLimit.getDefaultInstance());
  }

  @Override
  protected Factory createFilterFactory(LocalRateLimit config, FactoryContext context, String path) {
    if (config.getStatPrefix().isEmpty()) {
      throw new ConfigException(path + ".stat_prefix", "must not be empty");
    }
    if (!config.hasTokenBucket()) {
      throw new ConfigException(path + ".token_bucket", "must be set");
    }
    if (!config.getShareKey().isEmpty()) {
      throw new ConfigException(path + ".share_key", "buckets shared between listeners are not supported");
    }
    var tb = config.getTokenBucket();
    if (tb.getMaxTokens() == 0) {
      throw new ConfigException(path + ".token_bucket.max_tokens", "must be greater than 0");
    }
    long tokensPerFill = tb.hasTokensPerFill() ? tb.getTokensPerFill().getValue() : 1;
    if (tokensPerFill == 0) {
      throw new ConfigException(path + ".token_bucket.tokens_per_fill", "must be greater than 0");
    }
    long fillNanos = tb.getFillInterval().getSeconds() * 1_000_000_000L + tb.getFillInterval().getNanos();
    if (fillNanos < 50_000_000L) {
      throw new ConfigException(path + ".token_bucket.fill_interval", "local rate limit token bucket fill timer must be >= 50ms");
    }
    boolean enabled = !config.hasRuntimeEnabled() || config.getRuntimeEnabled().getDefaultValue().getValue();
    TokenBucket bucket = new TokenBucket(tb.getMaxTokens(), tokensPerFill, fillNanos, System::nanoTime);
    Counter rateLimited = context.stats().counter("local_rate_limit." + config.getStatPrefix() + ".rate_limited");
    return () -> new NetworkLocalRateLimitHandler(enabled, bucket, rateLimited);
  }
}
