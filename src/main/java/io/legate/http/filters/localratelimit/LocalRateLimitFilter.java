package io.legate.http.filters.localratelimit;

import io.legate.http.ResponseFlag;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.Route;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Envoy's local rate limit filter on one stream: takes a token from the most specific config's
 * bucket (route, virtual host, route configuration, else the filter's), and when none is left either
 * answers with a local reply (enforced) or only counts and marks the request (not enforced).
 */
final class LocalRateLimitFilter implements HttpFilter {
  static final String BODY = "local_rate_limited";
  static final String DETAILS = "local_rate_limited";
  static final AsciiString X_RATELIMIT_LIMIT = AsciiString.cached("x-ratelimit-limit");
  static final AsciiString X_RATELIMIT_REMAINING = AsciiString.cached("x-ratelimit-remaining");
  static final AsciiString X_RATELIMIT_RESET = AsciiString.cached("x-ratelimit-reset");

  /** Per-connection buckets, one per config, kept on the downstream connection. */
  static final AttributeKey<Map<LocalRateLimitConfig, TokenBucket>> PER_CONNECTION =
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
    if (!used.hasBucket()) {
      used.ok.inc();
      return Status.CONTINUE;
    }
    usedBucket = used.perConnection ? connectionBucket() : used.bucket;
    if (usedBucket.tryConsume()) {
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

  private TokenBucket connectionBucket() {
    Attribute<Map<LocalRateLimitConfig, TokenBucket>> a =
        decoder.connectionAttributes().attr(PER_CONNECTION);
    Map<LocalRateLimitConfig, TokenBucket> m = a.get();
    if (m == null) {
      m = new IdentityHashMap<>(2);
      a.set(m);
    }
    TokenBucket b = m.get(used);
    if (b == null) {
      b = used.newBucket();
      m.put(used, b);
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
