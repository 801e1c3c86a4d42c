package io.legate.accesslog;

import io.envoyproxy.envoy.config.accesslog.v3.AccessLogFilter;
import io.envoyproxy.envoy.config.accesslog.v3.ComparisonFilter;
import io.envoyproxy.envoy.config.accesslog.v3.GrpcStatusFilter;
import io.legate.config.ConfigException;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.legate.router.HeaderMatch;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Envoy's access log filters ({@code access_log[].filter}), compiled once into predicates over a
 * finished stream: {@code status_code_filter}, {@code duration_filter}, {@code
 * not_health_check_filter}, {@code response_flag_filter}, {@code header_filter}, {@code
 * runtime_filter} (its default percentage; there is no runtime layer), {@code grpc_status_filter},
 * {@code and_filter} and {@code or_filter}.
 */
final class AccessLogFilters {
  private AccessLogFilters() {}

  /** Whether a finished stream is logged. */
  interface Check {
    boolean test(StreamInfo info, long nowNanos);
  }

  static Check build(AccessLogFilter f, String path) {
    switch (f.getFilterSpecifierCase()) {
      case STATUS_CODE_FILTER -> {
        Comparison c = comparison(f.getStatusCodeFilter().getComparison(), path + ".status_code_filter.comparison");
        return (i, n) -> c.test(i.responseCode());
      }
      case DURATION_FILTER -> {
        Comparison c = comparison(f.getDurationFilter().getComparison(), path + ".duration_filter.comparison");
        return (i, n) -> c.test((n - i.startNanos()) / 1_000_000L);
      }
      case NOT_HEALTH_CHECK_FILTER -> {
        return (i, n) -> !i.healthCheck();
      }
      case RESPONSE_FLAG_FILTER -> {
        List<String> flags = f.getResponseFlagFilter().getFlagsList();
        long mask = 0;
        for (int k = 0; k < flags.size(); k++) {
          ResponseFlag flag = ResponseFlag.byCode(flags.get(k));
          if (flag == null) {
            throw new ConfigException(path + ".response_flag_filter.flags[" + k + "]", "unknown response flag '" + flags.get(k) + "'");
          }
          mask |= 1L << flag.ordinal();
        }
        long m = mask;
        return m == 0 ? (i, n) -> i.responseFlags() != 0 : (i, n) -> (i.responseFlags() & m) != 0;
      }
      case HEADER_FILTER -> {
        HeaderMatch h = HeaderMatch.build(f.getHeaderFilter().getHeader(), path + ".header_filter.header");
        return (i, n) -> i.requestHeaders() != null && h.matches(i.requestHeaders());
      }
      case RUNTIME_FILTER -> {
        var r = f.getRuntimeFilter();
        if (!r.hasPercentSampled()) {
          // Envoy's default when the runtime key is absent: 0 % … unless sampled by the request id;
          // without a runtime layer the key's default is all there is.
          return (i, n) -> false;
        }
        double fraction = fraction(r.getPercentSampled());
        return (i, n) -> ThreadLocalRandom.current().nextDouble() < fraction;
      }
      case GRPC_STATUS_FILTER -> {
        GrpcStatusFilter g = f.getGrpcStatusFilter();
        long mask = 0;
        for (GrpcStatusFilter.Status st : g.getStatusesList()) {
          mask |= 1L << st.getNumber();
        }
        long m = mask;
        boolean exclude = g.getExclude();
        return (i, n) -> {
          int status = grpcStatus(i);
          boolean in = status >= 0 && status < 64 && (m & (1L << status)) != 0;
          return exclude != in;
        };
      }
      case AND_FILTER -> {
        List<Check> all = list(f.getAndFilter().getFiltersList(), path + ".and_filter.filters");
        return (i, n) -> {
          for (Check c : all) {
            if (!c.test(i, n)) {
              return false;
            }
          }
          return true;
        };
      }
      case OR_FILTER -> {
        List<Check> any = list(f.getOrFilter().getFiltersList(), path + ".or_filter.filters");
        return (i, n) -> {
          for (Check c : any) {
            if (c.test(i, n)) {
              return true;
            }
          }
          return false;
        };
      }
      default ->
          throw new ConfigException(
              path,
              "unsupported access log filter " + f.getFilterSpecifierCase().name().toLowerCase()
                  + " (supported: status_code_filter, duration_filter, not_health_check_filter, response_flag_filter,"
                  + " header_filter, runtime_filter, grpc_status_filter, and_filter, or_filter)");
    }
  }

  private static List<Check> list(List<AccessLogFilter> filters, String path) {
    if (filters.size() < 2) {
      throw new ConfigException(path, "value must contain at least 2 item(s)");
    }
    List<Check> out = new ArrayList<>();
    for (int k = 0; k < filters.size(); k++) {
      out.add(build(filters.get(k), path + "[" + k + "]"));
    }
    return List.copyOf(out);
  }

  /** A comparison of a value against the runtime value's default. */
  interface Comparison {
    boolean test(long v);
  }

  private static Comparison comparison(ComparisonFilter c, String path) {
    long target = c.getValue().getDefaultValue();
    return switch (c.getOp()) {
      case EQ -> v -> v == target;
      case GE -> v -> v >= target;
      case LE -> v -> v <= target;
      default -> throw new ConfigException(path + ".op", "unknown comparison " + c.getOp());
    };
  }

  private static double fraction(io.envoyproxy.envoy.type.v3.FractionalPercent p) {
    double denominator =
        switch (p.getDenominator()) {
          case TEN_THOUSAND -> 10_000;
          case MILLION -> 1_000_000;
          default -> 100;
        };
    return p.getNumerator() / denominator;
  }

  /** The gRPC status of the response (trailers or trailers-only headers), or -1 when there is none. */
  private static int grpcStatus(StreamInfo i) {
    var t = i.responseTrailers();
    var h = i.responseHeaders();
    CharSequence s = t != null ? t.get("grpc-status") : null;
    if (s == null && h != null) {
      s = h.get("grpc-status");
    }
    if (s == null) {
      return -1;
    }
    try {
      return Integer.parseInt(s.toString().trim());
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
