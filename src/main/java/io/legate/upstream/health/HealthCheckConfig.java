package io.legate.upstream.health;

import com.google.protobuf.ByteString;
import com.google.protobuf.Duration;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.HealthCheck;
import io.envoyproxy.envoy.config.core.v3.RequestMethod;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.v3.Int64Range;
import io.legate.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The immutable settings of a cluster's active health check, built once from Envoy's {@link
 * HealthCheck} ({@code Cluster.health_checks[0]}). Envoy's defaults apply: {@code
 * no_traffic_interval} 60 s, {@code unhealthy_interval} = {@code interval}, {@code
 * unhealthy_edge_interval} = {@code unhealthy_interval}, {@code healthy_edge_interval} = {@code
 * interval}, {@code reuse_connection} true, expected HTTP statuses {@code [200, 201)}.
 *
 * @param type which checker runs
 * @param timeoutMs {@code timeout}
 * @param intervalMs {@code interval}
 * @param initialJitterMs {@code initial_jitter} (0 = the first check runs at once)
 * @param intervalJitterMs {@code interval_jitter}
 * @param intervalJitterPercent {@code interval_jitter_percent}
 * @param unhealthyThreshold {@code unhealthy_threshold}
 * @param healthyThreshold {@code healthy_threshold}
 * @param altPort {@code alt_port}, or 0 to check the host's own port
 * @param reuseConnection {@code reuse_connection}
 * @param noTrafficIntervalMs {@code no_traffic_interval}
 * @param noTrafficHealthyIntervalMs {@code no_traffic_healthy_interval}
 * @param unhealthyIntervalMs {@code unhealthy_interval}
 * @param unhealthyEdgeIntervalMs {@code unhealthy_edge_interval}
 * @param healthyEdgeIntervalMs {@code healthy_edge_interval}
 * @param eventLogPath {@code event_log_path}, or empty
 * @param alwaysLogFailures {@code always_log_health_check_failures}
 * @param alwaysLogSuccess {@code always_log_health_check_success}
 * @param http the HTTP settings when {@code type} is HTTP, else null
 * @param tcp the TCP settings when {@code type} is TCP, else null
 * @param grpc the gRPC settings when {@code type} is GRPC, else null
 */
public record HealthCheckConfig(
    Type type,
    long timeoutMs,
    long intervalMs,
    long initialJitterMs,
    long intervalJitterMs,
    int intervalJitterPercent,
    int unhealthyThreshold,
    int healthyThreshold,
    int altPort,
    boolean reuseConnection,
    long noTrafficIntervalMs,
    long noTrafficHealthyIntervalMs,
    long unhealthyIntervalMs,
    long unhealthyEdgeIntervalMs,
    long healthyEdgeIntervalMs,
    String eventLogPath,
    boolean alwaysLogFailures,
    boolean alwaysLogSuccess,
    Http http,
    Tcp tcp,
    Grpc grpc) {

  /** The kinds of checker, named as Envoy's {@code HealthCheckerType}. */
  public enum Type {
    HTTP,
    TCP,
    GRPC
  }

  /**
   * HTTP check settings.
   *
   * @param host the {@code :authority}; empty means the cluster name (or the endpoint's
   *     hostname, when it has one)
   * @param path the request path
   * @param method the request method name
   * @param http2 whether {@code codec_client_type} is HTTP2
   * @param expected half-open {@code [start, end)} ranges of passing statuses
   * @param retriable half-open ranges of statuses that count toward {@code unhealthy_threshold}
   * @param headersToAdd name/value pairs added to each request (literal values)
   * @param headersToRemove header names removed from each request
   * @param send the request body, or empty
   * @param receive byte segments the body must contain, in order (empty = not checked)
   * @param serviceNameMatcher checks {@code x-envoy-upstream-healthchecked-cluster}, or null
   */
  public record Http(
      String host,
      String path,
      String method,
      boolean http2,
      List<long[]> expected,
      List<long[]> retriable,
      List<String[]> headersToAdd,
      List<String> headersToRemove,
      byte[] send,
      List<byte[]> receive,
      NameMatcher serviceNameMatcher) {

    /** Returns whether {@code status} is in one of the expected ranges. */
    public boolean expected(int status) {
      return inRanges(status, expected);
    }

    /** Returns whether {@code status} is in one of the retriable ranges. */
    public boolean retriable(int status) {
      return inRanges(status, retriable);
    }

    private static boolean inRanges(int status, List<long[]> ranges) {
      for (long[] r : ranges) {
        if (status >= r[0] && status < r[1]) {
          return true;
        }
      }
      return false;
    }
  }

  /**
   * TCP check settings.
   *
   * @param send bytes written after connecting, or empty for a connect-only check
   * @param receive byte segments the reply must contain in order (empty = connect-only)
   */
  public record Tcp(byte[] send, List<byte[]> receive) {}

  /**
   * gRPC check settings ({@code grpc.health.v1.Health/Check}).
   *
   * @param serviceName the {@code service} of the request; empty checks the whole server
   * @param authority the {@code :authority}; empty means as for HTTP
   * @param initialMetadata name/value pairs sent as request headers
   */
  public record Grpc(String serviceName, String authority, List<String[]> initialMetadata) {}

  /** A string matcher for {@code service_name_matcher}: exact, prefix, suffix or contains. */
  public record NameMatcher(String kind, String value, boolean ignoreCase) {
    /** Returns whether {@code s} matches. */
    public boolean matches(String s) {
      String v = ignoreCase ? s.toLowerCase(Locale.ROOT) : s;
      return switch (kind) {
        case "exact" -> v.equals(value);
        case "prefix" -> v.startsWith(value);
        case "suffix" -> v.endsWith(value);
        default -> v.contains(value);
      };
    }
  }

  /**
   * Returns the health check of {@code cluster}, or null when it has none.
   *
   * @param path the cluster's field path, e.g. {@code static_resources.clusters[0]}
   * @param http2Cluster whether the cluster speaks HTTP/2 to its hosts (gRPC checks require it)
   * @throws ConfigException naming the field of what is invalid or unsupported
   */
  public static HealthCheckConfig fromCluster(Cluster cluster, String path, boolean http2Cluster) {
    if (cluster.getHealthChecksCount() == 0) {
      return null;
    }
    if (cluster.getHealthChecksCount() > 1) {
      throw new ConfigException(path + ".health_checks", "Multiple health checks not supported");
    }
    checkEndpoints(cluster, path);
    return parse(
        cluster.getHealthChecks(0), path + ".health_checks[0]", cluster.getName(), http2Cluster);
  }

  /** Refuses the per-endpoint health check settings Legate does not apply. */
  private static void checkEndpoints(Cluster cluster, String path) {
    var cla = cluster.getLoadAssignment();
    for (int l = 0; l < cla.getEndpointsCount(); l++) {
      var eps = cla.getEndpoints(l).getLbEndpointsList();
      for (int e = 0; e < eps.size(); e++) {
        var ep = eps.get(e).getEndpoint();
        if (!ep.hasHealthCheckConfig()) {
          continue;
        }
        var hcc = ep.getHealthCheckConfig();
        String p = path + ".load_assignment.endpoints[" + l + "].lb_endpoints[" + e
            + "].endpoint.health_check_config";
        int port = ep.getAddress().getSocketAddress().getPortValue();
        if (hcc.getPortValue() != 0 && hcc.getPortValue() != port) {
          throw new ConfigException(p + ".port_value",
              "a health check port other than the endpoint's is not supported; use alt_port");
        }
        if (hcc.hasAddress()) {
          throw new ConfigException(p + ".address", "unsupported");
        }
        if (!hcc.getHostname().isEmpty()) {
          throw new ConfigException(p + ".hostname", "unsupported; use http_health_check.host");
        }
        if (hcc.getDisableActiveHealthCheck()) {
          throw new ConfigException(p + ".disable_active_health_check", "unsupported");
        }
      }
    }
  }

  /**
   * Returns the settings of {@code hc}.
   *
   * @param path the field path of {@code hc}
   * @param clusterName the cluster's name (for the gRPC HTTP/2 message)
   * @param http2Cluster whether the cluster speaks HTTP/2 to its hosts
   */
  @SuppressWarnings("deprecation") // event_log_path is deprecated but still Envoy config
  public static HealthCheckConfig parse(
      HealthCheck hc, String path, String clusterName, boolean http2Cluster) {
    long timeout = requiredPositive(hc.hasTimeout(), hc.getTimeout(), path + ".timeout");
    long interval = requiredPositive(hc.hasInterval(), hc.getInterval(), path + ".interval");
    if (!hc.hasUnhealthyThreshold()) {
      throw new ConfigException(path + ".unhealthy_threshold", "value is required");
    }
    if (!hc.hasHealthyThreshold()) {
      throw new ConfigException(path + ".healthy_threshold", "value is required");
    }
    long noTraffic = optionalPositive(hc.hasNoTrafficInterval(), hc.getNoTrafficInterval(),
        path + ".no_traffic_interval", 60_000);
    long noTrafficHealthy = optionalPositive(hc.hasNoTrafficHealthyInterval(),
        hc.getNoTrafficHealthyInterval(), path + ".no_traffic_healthy_interval", noTraffic);
    long unhealthy = optionalPositive(hc.hasUnhealthyInterval(), hc.getUnhealthyInterval(),
        path + ".unhealthy_interval", interval);
    long unhealthyEdge = optionalPositive(hc.hasUnhealthyEdgeInterval(),
        hc.getUnhealthyEdgeInterval(), path + ".unhealthy_edge_interval", unhealthy);
    long healthyEdge = optionalPositive(hc.hasHealthyEdgeInterval(), hc.getHealthyEdgeInterval(),
        path + ".healthy_edge_interval", interval);
    if (hc.getEventLoggerCount() > 0) {
      throw new ConfigException(path + ".event_logger", "unsupported; use event_log_path");
    }
    if (hc.hasEventService()) {
      throw new ConfigException(path + ".event_service", "unsupported");
    }
    if (hc.hasTlsOptions()) {
      throw new ConfigException(path + ".tls_options", "unsupported (no upstream TLS)");
    }
    if (hc.hasTransportSocketMatchCriteria()) {
      throw new ConfigException(path + ".transport_socket_match_criteria", "unsupported");
    }
    int altPort = hc.hasAltPort() ? hc.getAltPort().getValue() : 0;
    if (altPort > 65535) {
      throw new ConfigException(path + ".alt_port.value", "value must be less than or equal to 65535");
    }
    Http http = null;
    Tcp tcp = null;
    Grpc grpc = null;
    Type type;
    switch (hc.getHealthCheckerCase()) {
      case HTTP_HEALTH_CHECK -> {
        type = Type.HTTP;
        http = http(hc.getHttpHealthCheck(), path + ".http_health_check");
      }
      case TCP_HEALTH_CHECK -> {
        type = Type.TCP;
        String tPath = path + ".tcp_health_check";
        HealthCheck.TcpHealthCheck t = hc.getTcpHealthCheck();
        if (t.hasProxyProtocolConfig()) {
          throw new ConfigException(tPath + ".proxy_protocol_config", "unsupported");
        }
        byte[] send = t.hasSend() ? payload(t.getSend(), tPath + ".send") : new byte[0];
        tcp = new Tcp(send, payloads(t.getReceiveList(), tPath + ".receive"));
      }
      case GRPC_HEALTH_CHECK -> {
        type = Type.GRPC;
        String gPath = path + ".grpc_health_check";
        if (!http2Cluster) {
          throw new ConfigException(
              gPath, clusterName + " cluster must support HTTP/2 for gRPC healthchecking");
        }
        HealthCheck.GrpcHealthCheck g = hc.getGrpcHealthCheck();
        grpc = new Grpc(g.getServiceName(), g.getAuthority(),
            headers(g.getInitialMetadataList(), gPath + ".initial_metadata"));
      }
      case CUSTOM_HEALTH_CHECK -> throw new ConfigException(
          path + ".custom_health_check",
          "unsupported health checker '" + hc.getCustomHealthCheck().getName() + "'");
      default -> throw new ConfigException(path + ".health_checker", "value is required");
    }
    return new HealthCheckConfig(
        type,
        timeout,
        interval,
        hc.hasInitialJitter() ? ms(hc.getInitialJitter()) : 0,
        hc.hasIntervalJitter() ? ms(hc.getIntervalJitter()) : 0,
        hc.getIntervalJitterPercent(),
        hc.getUnhealthyThreshold().getValue(),
        hc.getHealthyThreshold().getValue(),
        altPort,
        !hc.hasReuseConnection() || hc.getReuseConnection().getValue(),
        noTraffic,
        noTrafficHealthy,
        unhealthy,
        unhealthyEdge,
        healthyEdge,
        hc.getEventLogPath(),
        hc.getAlwaysLogHealthCheckFailures(),
        hc.getAlwaysLogHealthCheckSuccess(),
        http,
        tcp,
        grpc);
  }

  private static Http http(HealthCheck.HttpHealthCheck h, String path) {
    if (h.getPath().isEmpty()) {
      throw new ConfigException(path + ".path", "value length must be at least 1 characters");
    }
    switch (h.getCodecClientType()) {
      case HTTP1, HTTP2 -> {}
      default -> throw new ConfigException(
          path + ".codec_client_type", "unsupported codec " + h.getCodecClientType());
    }
    RequestMethod m = h.getMethod() == RequestMethod.METHOD_UNSPECIFIED ? RequestMethod.GET : h.getMethod();
    if (m == RequestMethod.CONNECT || m == RequestMethod.UNRECOGNIZED) {
      throw new ConfigException(path + ".method", "value must not be in list [CONNECT]");
    }
    byte[] send = new byte[0];
    if (h.hasSend()) {
      if (m == RequestMethod.GET || m == RequestMethod.HEAD || m == RequestMethod.DELETE
          || m == RequestMethod.TRACE) {
        throw new ConfigException(path + ".send",
            "HTTP health check cannot specify a request payload with method '" + m.name()
                + "'. Only methods that support a request body (POST, PUT, PATCH, OPTIONS) can be"
                + " used with payload.");
      }
      send = payload(h.getSend(), path + ".send");
    }
    List<byte[]> receive = payloads(h.getReceiveList(), path + ".receive");
    long bufferSize = h.hasResponseBufferSize() ? h.getResponseBufferSize().getValue() : 1024;
    long total = 0;
    for (byte[] b : receive) {
      total += b.length;
    }
    if (bufferSize != 0 && total > bufferSize) {
      throw new ConfigException(path + ".receive", "The expected response length '" + total
          + "' is over than http health response buffer size '" + bufferSize + "'");
    }
    List<long[]> expected = ranges(h.getExpectedStatusesList(), path + ".expected_statuses", "expected");
    if (expected.isEmpty()) {
      expected = List.of(new long[] {200, 201});
    }
    List<long[]> retriable =
        ranges(h.getRetriableStatusesList(), path + ".retriable_statuses", "retriable");
    NameMatcher matcher = null;
    if (h.hasServiceNameMatcher()) {
      matcher = nameMatcher(h.getServiceNameMatcher(), path + ".service_name_matcher");
    }
    return new Http(
        h.getHost(),
        h.getPath(),
        m.name(),
        h.getCodecClientType() == io.envoyproxy.envoy.type.v3.CodecClientType.HTTP2,
        expected,
        retriable,
        headers(h.getRequestHeadersToAddList(), path + ".request_headers_to_add"),
        List.copyOf(h.getRequestHeadersToRemoveList()),
        send,
        receive,
        matcher);
  }

  private static NameMatcher nameMatcher(StringMatcher m, String path) {
    boolean ic = m.getIgnoreCase();
    return switch (m.getMatchPatternCase()) {
      case EXACT -> new NameMatcher("exact", lower(m.getExact(), ic), ic);
      case PREFIX -> new NameMatcher("prefix", lower(m.getPrefix(), ic), ic);
      case SUFFIX -> new NameMatcher("suffix", lower(m.getSuffix(), ic), ic);
      case CONTAINS -> new NameMatcher("contains", lower(m.getContains(), ic), ic);
      default -> throw new ConfigException(
          path, "unsupported matcher " + m.getMatchPatternCase().name().toLowerCase(Locale.ROOT)
              + "; use exact, prefix, suffix or contains");
    };
  }

  private static String lower(String s, boolean ic) {
    return ic ? s.toLowerCase(Locale.ROOT) : s;
  }

  private static List<long[]> ranges(List<Int64Range> list, String path, String kind) {
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      long start = list.get(i).getStart();
      long end = list.get(i).getEnd();
      String p = path + "[" + i + "]";
      if (start >= end) {
        throw new ConfigException(p, "Invalid http " + kind
            + " status range: expecting start < end, but found start=" + start + " and end=" + end);
      }
      if (start < 100) {
        throw new ConfigException(p, "Invalid http " + kind
            + " status range: expecting start >= 100, but found start=" + start);
      }
      if (end > 600) {
        throw new ConfigException(p, "Invalid http " + kind
            + " status range: expecting end <= 600, but found end=" + end);
      }
      out.add(new long[] {start, end});
    }
    return List.copyOf(out);
  }

  private static List<String[]> headers(List<HeaderValueOption> list, String path) {
    List<String[]> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      HeaderValueOption o = list.get(i);
      String key = o.getHeader().getKey();
      String value = o.getHeader().getRawValue().isEmpty()
          ? o.getHeader().getValue()
          : o.getHeader().getRawValue().toStringUtf8();
      if (key.isEmpty()) {
        throw new ConfigException(path + "[" + i + "].header.key", "value length must be at least 1 characters");
      }
      if (value.indexOf('%') >= 0) {
        throw new ConfigException(path + "[" + i + "].header.value",
            "format specifiers are not supported in health check headers");
      }
      out.add(new String[] {key.toLowerCase(Locale.ROOT), value});
    }
    return List.copyOf(out);
  }

  private static List<byte[]> payloads(List<HealthCheck.Payload> list, String path) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      byte[] b = payload(list.get(i), path + "[" + i + "]");
      if (b.length > 0) {
        out.add(b);
      }
    }
    return List.copyOf(out);
  }

  /** Returns the bytes of a payload: {@code text} is hex, {@code binary} is raw. */
  static byte[] payload(HealthCheck.Payload p, String path) {
    if (p.getPayloadCase() == HealthCheck.Payload.PayloadCase.TEXT) {
      byte[] b = hex(p.getText());
      if (b == null) {
        throw new ConfigException(path + ".text", "invalid hex string '" + p.getText() + "'");
      }
      return b;
    }
    ByteString bin = p.getBinary();
    return bin.toByteArray();
  }

  private static byte[] hex(String s) {
    if (s.isEmpty() || s.length() % 2 != 0) {
      return null;
    }
    byte[] out = new byte[s.length() / 2];
    for (int i = 0; i < out.length; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) {
        return null;
      }
      out[i] = (byte) ((hi << 4) | lo);
    }
    return out;
  }

  private static long requiredPositive(boolean has, Duration d, String path) {
    if (!has) {
      throw new ConfigException(path, "value is required");
    }
    return positive(d, path);
  }

  private static long optionalPositive(boolean has, Duration d, String path, long dflt) {
    return has ? positive(d, path) : dflt;
  }

  private static long positive(Duration d, String path) {
    if (d.getSeconds() < 0 || (d.getSeconds() == 0 && d.getNanos() <= 0)) {
      throw new ConfigException(path, "value must be greater than 0s");
    }
    return Math.max(1, ms(d));
  }

  private static long ms(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }
}
