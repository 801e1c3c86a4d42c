package io.legate.http.filters.fault;

import io.legate.config.Fraction;
import io.envoyproxy.envoy.extensions.filters.common.fault.v3.FaultDelay;
import io.envoyproxy.envoy.extensions.filters.common.fault.v3.FaultRateLimit;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.FaultAbort;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.legate.config.ConfigException;
import io.legate.router.HeaderMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * One HTTPFault config, parsed once: the filter's own, or a route's (typed_per_filter_config).
 * Immutable.
 *
 * @param abort null when no abort is configured
 * @param delay null when no delay is configured
 * @param rateLimit null when no response rate limit is configured
 * @param upstreamCluster "" for any
 * @param maxActiveFaults -1 for no limit
 */
record FaultSettings(
    Abort abort,
    Delay delay,
    RateLimit rateLimit,
    String upstreamCluster,
    Set<String> downstreamNodes,
    List<HeaderMatch> headers,
    long maxActiveFaults,
    boolean disableDownstreamClusterStats) {

  /** How an abort's status is chosen. */
  enum AbortKind {
    HTTP,
    GRPC,
    HEADER
  }

  /** FaultAbort: a fixed HTTP or gRPC status, or one taken from request headers. */
  record Abort(AbortKind kind, int httpStatus, int grpcStatus, Fraction percentage) {}

  /** FaultDelay: a fixed delay, or one from x-envoy-fault-delay-request (fixedMs -1). */
  record Delay(long fixedMs, Fraction percentage) {}

  /** FaultRateLimit: a fixed limit, or one from x-envoy-fault-throughput-response (fixedKbps -1). */
  record RateLimit(long fixedKbps, Fraction percentage) {}

  /**
   * Parses an HTTPFault.
   *
   * @param path the field path of the HTTPFault message, for errors
   */
  static FaultSettings parse(HTTPFault f, String path) {
    Abort abort = null;
    if (f.hasAbort()) {
      FaultAbort a = f.getAbort();
      String ap = path + ".abort";
      Fraction pct = Fraction.of(a.getPercentage(), ap + ".percentage");
      abort =
          switch (a.getErrorTypeCase()) {
            case HTTP_STATUS -> {
              int s = a.getHttpStatus();
              if (s < 200 || s >= 600) {
                throw new ConfigException(ap + ".http_status", "value must be inside range [200, 600), got " + s);
              }
              yield new Abort(AbortKind.HTTP, s, -1, pct);
            }
            case GRPC_STATUS -> new Abort(AbortKind.GRPC, 200, a.getGrpcStatus(), pct);
            case HEADER_ABORT -> new Abort(AbortKind.HEADER, -1, -1, pct);
            default -> throw new ConfigException(
                ap, "one of http_status, grpc_status, header_abort must be set");
          };
    }
    Delay delay = null;
    if (f.hasDelay()) {
      FaultDelay d = f.getDelay();
      String dp = path + ".delay";
      Fraction pct = Fraction.of(d.getPercentage(), dp + ".percentage");
      delay =
          switch (d.getFaultDelaySecifierCase()) {
            case FIXED_DELAY -> {
              long ms = d.getFixedDelay().getSeconds() * 1000 + d.getFixedDelay().getNanos() / 1_000_000;
              if (d.getFixedDelay().getSeconds() < 0
                  || (d.getFixedDelay().getSeconds() == 0 && d.getFixedDelay().getNanos() <= 0)) {
                throw new ConfigException(dp + ".fixed_delay", "value must be greater than 0s");
              }
              yield new Delay(ms, pct);
            }
            case HEADER_DELAY -> new Delay(-1, pct);
            default -> throw new ConfigException(dp, "one of fixed_delay, header_delay must be set");
          };
    }
    RateLimit rl = null;
    if (f.hasResponseRateLimit()) {
      FaultRateLimit r = f.getResponseRateLimit();
      String rp = path + ".response_rate_limit";
      Fraction pct = Fraction.of(r.getPercentage(), rp + ".percentage");
      rl =
          switch (r.getLimitTypeCase()) {
            case FIXED_LIMIT -> {
              long kbps = r.getFixedLimit().getLimitKbps();
              if (kbps < 1) {
                throw new ConfigException(rp + ".fixed_limit.limit_kbps", "value must be greater than or equal to 1");
              }
              yield new RateLimit(kbps, pct);
            }
            case HEADER_LIMIT -> new RateLimit(-1, pct);
            default -> throw new ConfigException(rp, "one of fixed_limit, header_limit must be set");
          };
    }
    List<HeaderMatch> headers = new ArrayList<>();
    for (int i = 0; i < f.getHeadersCount(); i++) {
      headers.add(HeaderMatch.build(f.getHeaders(i), path + ".headers[" + i + "]"));
    }
    return new FaultSettings(
        abort,
        delay,
        rl,
        f.getUpstreamCluster(),
        Set.copyOf(f.getDownstreamNodesList()),
        List.copyOf(headers),
        f.hasMaxActiveFaults() ? Integer.toUnsignedLong(f.getMaxActiveFaults().getValue()) : -1,
        f.getDisableDownstreamClusterStats());
  }
}
