package io.legate.http.filters.localratelimit;

import io.envoyproxy.envoy.extensions.common.ratelimit.v3.XRateLimitHeadersRFCVersion;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.legate.config.ConfigException;
import io.legate.config.Fraction;
import io.legate.router.HeaderMutations;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.VhRateLimitsOptions;
import io.legate.router.RateLimitPolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * One LocalRateLimit config, parsed once (the filter's own or a route's): its default token bucket
 * and its {@code descriptors}' buckets, shared by all workers, its stats ({@code
 * <stat_prefix>.http_local_rate_limit.*}) and what to do with a limited request. Immutable apart
 * from the buckets' atomic state.
 */
final class LocalRateLimitConfig {
  /** gRPC RESOURCE_EXHAUSTED. */
  static final int RESOURCE_EXHAUSTED = 8;

  final int status;
  final int grpcStatus;
  /** An absent filter_enabled / filter_enforced is 0 % (Envoy's default for both). */
  private static final Fraction NOT_SET = new Fraction(0, 100);

  final Fraction filterEnabled;
  final Fraction filterEnforced;
  final HeaderMutations responseHeaders;
  final HeaderMutations requestHeadersWhenNotEnforced;
  final boolean perConnection;
  final boolean xRateLimitHeaders;
  final long maxTokens;
  final long tokensPerFill;
  final long fillIntervalNanos;
  /** The shared bucket; null when no token_bucket is configured (nothing is limited). */
  final TokenBucket bucket;
  final LongSupplier clock;
  final LongSupplier random;
  final Counter enabled;
  final Counter enforced;
  final Counter rateLimited;
  final Counter ok;
  /** {@code descriptors}: the configured descriptors' buckets, keyed by their entries. */
  final Map<List<RateLimitPolicy.DescriptorEntry>, DescriptorLimit> descriptors;
  final int stage;
  final VhRateLimitsOptions vhRateLimits;
  final boolean alwaysConsumeDefaultTokenBucket;
  /** The local service cluster, for the {@code source_cluster} action. */
  final String localCluster;

  /**
   * One {@code descriptors} entry's token bucket; {@code bucket} is the shared one (null when
   * limits are per connection). Requests matching several are charged the slowest-filling first.
   */
  final class DescriptorLimit {
    final long maxTokens;
    final long tokensPerFill;
    final long fillIntervalNanos;
    final double fillRate;
    final TokenBucket bucket;

    DescriptorLimit(long[] params) {
      this.maxTokens = params[0];
      this.tokensPerFill = params[1];
      this.fillIntervalNanos = params[2];
      this.fillRate = tokensPerFill / (double) fillIntervalNanos;
      this.bucket = perConnection ? null : newBucket();
    }

    TokenBucket newBucket() {
      return new TokenBucket(maxTokens, tokensPerFill, fillIntervalNanos, clock);
    }
  }

  /**
   * Parses a LocalRateLimit.
   *
   * @param path the field path of the LocalRateLimit message, for errors
   * @param perRoute whether it is a per-route config (which must have a token bucket)
   */
  LocalRateLimitConfig(LocalRateLimit c, String path, StatsStore stats, boolean perRoute,
      LongSupplier clock, LongSupplier random) {
    this(c, path, stats, perRoute, clock, random, "");
  }

  /**
   * Parses a LocalRateLimit.
   *
   * @param localCluster the local service cluster ({@code --service-cluster}), for {@code
   *     source_cluster} rate limit actions
   */
  LocalRateLimitConfig(LocalRateLimit c, String path, StatsStore stats, boolean perRoute,
      LongSupplier clock, LongSupplier random, String localCluster) {
    if (c.getStatPrefix().isEmpty()) {
      throw new ConfigException(path + ".stat_prefix", "value length must be at least 1 characters");
    }
    if (c.hasMaxDynamicDescriptors()) {
      throw new ConfigException(path + ".max_dynamic_descriptors", "dynamic descriptors are not supported yet");
    }
    if (c.getStage() > 10) {
      throw new ConfigException(path + ".stage", "value must be less than or equal to 10");
    }
    if (c.getRateLimitsCount() > 0) {
      throw new ConfigException(path + ".rate_limits", "rate_limits are not supported yet");
    }
    if (c.hasLocalClusterRateLimit()) {
      throw new ConfigException(path + ".local_cluster_rate_limit", "local_cluster_rate_limit is not supported yet");
    }
    if (perRoute && !c.hasTokenBucket()) {
      throw new ConfigException(path + ".token_bucket",
          "local rate limit token bucket must be set for per filter configs");
    }
    int code = c.getStatus().getCodeValue();
    this.status = code >= 400 ? code : 429;
    this.grpcStatus = c.getRateLimitedAsResourceExhausted() ? RESOURCE_EXHAUSTED : -1;
    this.filterEnabled =
        Fraction.ofRuntime(c.hasFilterEnabled() ? c.getFilterEnabled() : null, NOT_SET, path + ".filter_enabled");
    this.filterEnforced =
        Fraction.ofRuntime(c.hasFilterEnforced() ? c.getFilterEnforced() : null, NOT_SET, path + ".filter_enforced");
    this.responseHeaders = HeaderMutations.ofAdditions(
        c.getResponseHeadersToAddList(), path + ".response_headers_to_add", true);
    this.requestHeadersWhenNotEnforced = HeaderMutations.ofAdditions(
        c.getRequestHeadersToAddWhenNotEnforcedList(),
        path + ".request_headers_to_add_when_not_enforced", false);
    this.perConnection = c.getLocalRateLimitPerDownstreamConnection();
    this.xRateLimitHeaders =
        c.getEnableXRatelimitHeaders() == XRateLimitHeadersRFCVersion.DRAFT_VERSION_03;
    this.clock = clock;
    this.random = random;
    this.stage = c.getStage();
    this.vhRateLimits = c.getVhRateLimits();
    if (vhRateLimits == VhRateLimitsOptions.UNRECOGNIZED) {
      throw new ConfigException(path + ".vh_rate_limits", "unknown value " + c.getVhRateLimitsValue());
    }
    this.alwaysConsumeDefaultTokenBucket =
        !c.hasAlwaysConsumeDefaultTokenBucket() || c.getAlwaysConsumeDefaultTokenBucket().getValue();
    this.localCluster = localCluster;
    Map<List<RateLimitPolicy.DescriptorEntry>, DescriptorLimit> ds = new LinkedHashMap<>();
    for (int i = 0; i < c.getDescriptorsCount(); i++) {
      var d = c.getDescriptors(i);
      String dp = path + ".descriptors[" + i + "]";
      if (d.getEntriesCount() == 0) {
        throw new ConfigException(dp + ".entries", "value must contain at least 1 item(s)");
      }
      List<RateLimitPolicy.DescriptorEntry> entries = new ArrayList<>();
      for (int k = 0; k < d.getEntriesCount(); k++) {
        var e = d.getEntries(k);
        String ep = dp + ".entries[" + k + "]";
        if (e.getKey().isEmpty()) {
          throw new ConfigException(ep + ".key", "value length must be at least 1 characters");
        }
        if (e.getValue().isEmpty()) {
          throw new ConfigException(ep + ".value", "wildcard (empty) values are not supported yet");
        }
        entries.add(new RateLimitPolicy.DescriptorEntry(e.getKey(), e.getValue()));
      }
      if (!d.hasTokenBucket()) {
        throw new ConfigException(dp + ".token_bucket", "value is required");
      }
      List<RateLimitPolicy.DescriptorEntry> key = List.copyOf(entries);
      if (ds.containsKey(key)) {
        throw new ConfigException(dp, "duplicate descriptor in the local rate descriptor: " + describe(key));
      }
      ds.put(key, new DescriptorLimit(bucketParams(d.getTokenBucket(), dp + ".token_bucket")));
    }
    this.descriptors = Map.copyOf(ds);
    if (c.hasTokenBucket()) {
      long[] params = bucketParams(c.getTokenBucket(), path + ".token_bucket");
      this.maxTokens = params[0];
      this.tokensPerFill = params[1];
      this.fillIntervalNanos = params[2];
      this.bucket = perConnection ? null : newBucket();
    } else {
      this.maxTokens = 0;
      this.tokensPerFill = 0;
      this.fillIntervalNanos = 0;
      this.bucket = null;
    }
    StatsStore.Scope s = stats.scope(c.getStatPrefix() + ".http_local_rate_limit.");
    this.enabled = s.counter("enabled");
    this.enforced = s.counter("enforced");
    this.rateLimited = s.counter("rate_limited");
    this.ok = s.counter("ok");
  }

  /** Returns {max_tokens, tokens_per_fill, fill_interval in ns} of a token bucket, validated. */
  private static long[] bucketParams(io.envoyproxy.envoy.type.v3.TokenBucket tb, String tp) {
    if (tb.getMaxTokens() == 0) {
      throw new ConfigException(tp + ".max_tokens", "value must be greater than 0");
    }
    long interval = tb.getFillInterval().getSeconds() * 1_000_000_000L + tb.getFillInterval().getNanos();
    if (interval <= 0) {
      throw new ConfigException(tp + ".fill_interval", "value must be greater than 0s");
    }
    if (tb.hasTokensPerFill() && tb.getTokensPerFill().getValue() == 0) {
      throw new ConfigException(tp + ".tokens_per_fill", "value must be greater than 0");
    }
    return new long[] {
      Integer.toUnsignedLong(tb.getMaxTokens()),
      tb.hasTokensPerFill() ? Integer.toUnsignedLong(tb.getTokensPerFill().getValue()) : 1,
      interval
    };
  }

  private static String describe(List<RateLimitPolicy.DescriptorEntry> entries) {
    StringBuilder sb = new StringBuilder();
    for (RateLimitPolicy.DescriptorEntry e : entries) {
      if (sb.length() > 0) {
        sb.append(", ");
      }
      sb.append(e.key()).append('=').append(e.value());
    }
    return sb.toString();
  }

  /** Returns whether a token bucket is configured. */
  boolean hasBucket() {
    return maxTokens > 0;
  }

  /** Returns a new full bucket with this config's parameters (per connection, or the shared one). */
  TokenBucket newBucket() {
    return new TokenBucket(maxTokens, tokensPerFill, fillIntervalNanos, clock);
  }

  boolean enabled() {
    return filterEnabled.enabled(random.getAsLong());
  }

  boolean enforced() {
    return filterEnforced.enabled(random.getAsLong());
  }

}
