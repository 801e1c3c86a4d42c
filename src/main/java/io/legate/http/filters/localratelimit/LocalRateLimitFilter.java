package io.legate.http.filters.localratelimit;

import io.legate.http.ResponseFlag;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.VhRateLimitsOptions;
import io.legate.router.ForwardAction;
import io.legate.router.RateLimitPolicy;
import io.legate.router.Route;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Envoy's local rate limit filter on one stream: takes a token from the most specific config's
 * buckets (route, virtual host, route configuration, else the filter's: its matching descriptors'
 * and its default bucket), and when one has none left either
 * answers with a local reply (enforced) or only counts and marks the request (not enforced).
 */
final class LocalRateLimitFilter implements HttpFilter {
  static final String BODY = "local_rate_limited";
  static final String DETAILS = "local_rate_limited";
  static final AsciiString X_RATELIMIT_LIMIT = AsciiString.cached("x-ratelimit-limit");
  static final AsciiString X_RATELIMIT_REMAINING = AsciiString.cached("x-ratelimit-remaining");
  static final AsciiString X_RATELIMIT_RESET = AsciiString.cached("x-ratelimit-reset");

  /** Per-connection buckets, one per config, kept on the downstream connection. */
  static final AttributeKey<Map<Object, TokenBucket>> PER_CONNECTION =
      AttributeKey.valueOf(LocalRateLimitFilter.class, "per_connection_local_rate_limiter");

  private final String filterName;
  private DecoderCallbacks decoder;
  private LocalRateLimitConfig used;
  private TokenBucket usedBucket;

  LocalRateLimitFilter(LocalRateLimitConfig config, String filterName) {
    this.filterName = filterName;
    this.used = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    Route route = decoder.route();
    if (route != null && route.perFilterConfig(filterName) instanceof LocalRateLimitConfig c) {
      used = c;
    }
    if (!used.enabled()) {
      return Status.CONTINUE;
    }
    used.enabled.inc();
    if (requestAllowed(headers)) {
      used.ok.inc();
      return Status.CONTINUE;
    }
    used.rateLimited.inc();
    if (!used.enforced()) {
      used.requestHeadersWhenNotEnforced.apply(headers, decoder.streamInfo());
      return Status.CONTINUE;
    }
    used.enforced.inc();
    Http2Headers extra = null;
    if (!used.responseHeaders.isEmpty()) {
      extra = new DefaultHttp2Headers(false);
      used.responseHeaders.apply(extra, decoder.streamInfo());
    }
    decoder.streamInfo().addResponseFlag(ResponseFlag.RATE_LIMITED);
    decoder.sendLocalReply(used.status, BODY, extra, used.grpcStatus, DETAILS);
    return Status.STOP_ITERATION;
  }

  /**
   * Charges the request as Envoy's {@code LocalRateLimiterImpl::requestAllowed}: the configured
   * descriptors equal to one the route's actions produced are charged slowest-filling first, and
   * the first without a token refuses; then the default bucket is charged when nothing matched or
   * {@code always_consume_default_token_bucket}. Sets the bucket the {@code x-ratelimit-*} headers
   * describe: the refusing one, else the first matched descriptor's, else the default.
   */
  private boolean requestAllowed(Http2Headers headers) {
    List<LocalRateLimitConfig.DescriptorLimit> matched = List.of();
    if (!used.descriptors.isEmpty()) {
      List<List<RateLimitPolicy.DescriptorEntry>> produced = populateDescriptors(headers);
      for (List<RateLimitPolicy.DescriptorEntry> d : produced) {
        LocalRateLimitConfig.DescriptorLimit l = used.descriptors.get(d);
        if (l != null) {
          if (matched.isEmpty()) {
            matched = new ArrayList<>(2);
          }
          matched.add(l);
        }
      }
      if (matched.size() > 1) {
        matched.sort(Comparator.comparingDouble(l -> l.fillRate));
      }
      for (LocalRateLimitConfig.DescriptorLimit l : matched) {
        TokenBucket b = used.perConnection ? connectionBucket(l, l::newBucket) : l.bucket;
        if (!b.tryConsume()) {
          usedBucket = b;
          return false;
        }
      }
    }
    TokenBucket first = matched.isEmpty() ? null
        : used.perConnection ? connectionBucket(matched.get(0), matched.get(0)::newBucket) : matched.get(0).bucket;
    if ((matched.isEmpty() || used.alwaysConsumeDefaultTokenBucket) && used.hasBucket()) {
      TokenBucket b = used.perConnection ? connectionBucket(used, used::newBucket) : used.bucket;
      if (!b.tryConsume()) {
        usedBucket = b;
        return false;
      }
      usedBucket = first != null ? first : b;
      return true;
    }
    usedBucket = first;
    return true;
  }

  /**
   * Returns the descriptors of the route's {@code rate_limits} for this filter's stage, with the
   * virtual host's per {@code vh_rate_limits} (the route's {@code include_vh_rate_limits} means
   * INCLUDE), as Envoy's local rate limit filter.
   */
  private List<List<RateLimitPolicy.DescriptorEntry>> populateDescriptors(Http2Headers headers) {
    Route route = decoder.route();
    if (route == null || !(route.action() instanceof ForwardAction action)) {
      return List.of();
    }
    String cluster = action.clusterName();
    if (cluster == null) {
      cluster = action.selectCluster(headers, ThreadLocalRandom.current().nextLong()).clusterName();
    }
    RateLimitPolicy.RequestContext rc = new RateLimitPolicy.RequestContext(
        headers, decoder.streamInfo().downstreamClientAddress(), used.localCluster, cluster);
    List<List<RateLimitPolicy.DescriptorEntry>> out = new ArrayList<>(2);
    route.rateLimitPolicy().populateDescriptors(used.stage, rc, out);
    VhRateLimitsOptions vh = route.includeVirtualHostRateLimits() ? VhRateLimitsOptions.INCLUDE : used.vhRateLimits;
    if (vh == VhRateLimitsOptions.INCLUDE
        || (vh == VhRateLimitsOptions.OVERRIDE && route.rateLimitPolicy().isEmpty())) {
      route.virtualHostRateLimitPolicy().populateDescriptors(used.stage, rc, out);
    }
    return out;
  }

  /** Returns this connection's bucket for {@code owner} (a config or one of its descriptors). */
  private TokenBucket connectionBucket(Object owner, java.util.function.Supplier<TokenBucket> create) {
    Attribute<Map<Object, TokenBucket>> a = decoder.connectionAttributes().attr(PER_CONNECTION);
    Map<Object, TokenBucket> m = a.get();
    if (m == null) {
      m = new IdentityHashMap<>(2);
      a.set(m);
    }
    TokenBucket b = m.get(owner);
    if (b == null) {
      b = create.get();
      m.put(owner, b);
    }
    return b;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (used.xRateLimitHeaders && usedBucket != null) {
      headers.add(X_RATELIMIT_LIMIT, Long.toString(usedBucket.maxTokens()));
      headers.add(X_RATELIMIT_REMAINING, Long.toString(usedBucket.remainingTokens()));
      headers.add(X_RATELIMIT_RESET, Long.toString(usedBucket.resetSeconds()));
    }
    return Status.CONTINUE;
  }
}
