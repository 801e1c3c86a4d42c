package io.legate.http.filters.ratelimit;

import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;

/**
 * The draft-03 {@code x-ratelimit-*} headers built from the service's descriptor statuses, as
 * Envoy: the status with the fewest remaining hits gives limit, remaining and reset; the limit
 * header lists every limit's quota policy ({@code 10, 10;w=60;name="per-ip"}).
 */
final class XRateLimitHeaders {
  private XRateLimitHeaders() {}

  /** Adds the headers when some status has a current limit. */
  static void add(List<RateLimitResponse.DescriptorStatus> statuses, Http2Headers out) {
    RateLimitResponse.DescriptorStatus min = null;
    StringBuilder policy = new StringBuilder();
    for (RateLimitResponse.DescriptorStatus s : statuses) {
      if (!s.hasCurrentLimit()) {
        continue;
      }
      if (min == null || s.getLimitRemaining() < min.getLimitRemaining()) {
        min = s;
      }
      long window = windowSeconds(s.getCurrentLimit().getUnit());
      if (window > 0) {
        policy.append(", ").append(s.getCurrentLimit().getRequestsPerUnit()).append(";w=").append(window);
        if (!s.getCurrentLimit().getName().isEmpty()) {
          policy.append(";name=\"").append(s.getCurrentLimit().getName()).append('"');
        }
      }
    }
    if (min == null) {
      return;
    }
    out.set(RateLimitFilter.X_RATELIMIT_LIMIT, min.getCurrentLimit().getRequestsPerUnit() + policy.toString());
    out.set(RateLimitFilter.X_RATELIMIT_REMAINING, Integer.toUnsignedString(min.getLimitRemaining()));
    out.set(RateLimitFilter.X_RATELIMIT_RESET, Long.toString(min.getDurationUntilReset().getSeconds()));
  }

  static long windowSeconds(RateLimitResponse.RateLimit.Unit unit) {
    return switch (unit) {
      case SECOND -> 1;
      case MINUTE -> 60;
      case HOUR -> 3600;
      case DAY -> 86400;
      case WEEK -> 604800;
      case MONTH -> 2592000;
      case YEAR -> 31536000;
      default -> 0;
    };
  }
}
