package io.legate.upstream;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions;
import io.envoyproxy.envoy.extensions.clusters.dns.v3.DnsCluster;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.legate.upstream.health.HealthCheckConfig;
import io.legate.upstream.outlier.OutlierConfig;
import io.legate.tls.ClientTlsContext;
import io.legate.tls.TransportSockets;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The immutable settings of one cluster, built once from its {@link Cluster} proto: connection
 * settings, the upstream HTTP protocol and its options, discovery settings, the load-balancer
 * factory and the stats. Anything Legate does not support is refused with a {@link ConfigException}
 * naming the field.
 */
public final class ClusterInfo {
  /** The key of the upstream HTTP options in {@code typed_extension_protocol_options}. */
  public static final String HTTP_PROTOCOL_OPTIONS =
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

  private static final String DNS_CLUSTER_TYPE =
      "type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster";

  private static final String HTTP_PROTOCOL_OPTIONS_TYPE =
      "type.googleapis.com/" + HTTP_PROTOCOL_OPTIONS;

  /** Discovery types Legate implements. */
  public enum DiscoveryType {
    STATIC,
    STRICT_DNS,
    LOGICAL_DNS,
    EDS
  }

  private final Cluster proto;
  private final String name;
  private final String path;
  private final DiscoveryType type;
  private final long connectTimeoutMs;
  private final int perConnectionBufferLimitBytes;
  private final UpstreamProtocol protocol;
  private final boolean autoHttp;
  private final long idleTimeoutMs;
  private final long maxConnectionDurationMs;
  private final int maxResponseHeadersCount;
  private final int maxResponseHeadersBytes;
  private final long maxRequestsPerConnection;
  private final int http2MaxConcurrentStreams;
  private final int http2InitialStreamWindowSize;
  private final int http2InitialConnectionWindowSize;
  private final long dnsRefreshRateMs;
  private final long dnsJitterMs;
  private final long dnsFailureRefreshBaseMs;
  private final long dnsFailureRefreshMaxMs;
  private final boolean respectDnsTtl;
  private final DnsLookupFamily dnsLookupFamily;
  private final List<InetSocketAddress> dnsResolvers;
  private final boolean waitForWarmOnInit;
  private final String edsServiceName;
  private final ClusterStats stats;
  private final LbFactory lbFactory;
  private final HealthCheckConfig healthCheck;
  private final OutlierConfig outlierDetection;
  private final ClientTlsContext tls;
  private final boolean autoSni;
  private final CircuitBreakers circuitBreakers;

  @SuppressWarnings("deprecation") // the deprecated cluster fields are still Envoy config
  private ClusterInfo(Cluster proto, String path, StatsStore store, io.legate.tls.SecretManager secrets) {
    this.proto = proto;
    this.path = path;
    if (proto.getName().isEmpty()) {
      throw new ConfigException(path + ".name", "value length must be at least 1 runes");
    }
    this.name = proto.getName();
    String statName = proto.getAltStatName().isEmpty() ? name : proto.getAltStatName();
    this.tls =
        proto.hasTransportSocket()
            ? TransportSockets.upstream(
                proto.getTransportSocket(), path + ".transport_socket", store.scope("cluster." + statName + "."), secrets)
            : null;
    boolean autoSni0 = proto.getUpstreamHttpProtocolOptions().getAutoSni();
    boolean autoSan0 = proto.getUpstreamHttpProtocolOptions().getAutoSanValidation();
    String autoPath = path + ".upstream_http_protocol_options";
    if (proto.getTransportSocketMatchesCount() > 0) {
      throw new ConfigException(path + ".transport_socket_matches", "transport socket matches are not supported yet");
    }
    this.type = discoveryType(proto, path);
    this.edsServiceName =
        proto.getEdsClusterConfig().getServiceName().isEmpty()
            ? name
            : proto.getEdsClusterConfig().getServiceName();

    if (proto.hasConnectTimeout()) {
      long ms = positiveMs(proto.getConnectTimeout(), path + ".connect_timeout", 0);
      this.connectTimeoutMs = ms;
    } else {
      this.connectTimeoutMs = 5000;
    }
    this.perConnectionBufferLimitBytes =
        proto.hasPerConnectionBufferLimitBytes()
            ? proto.getPerConnectionBufferLimitBytes().getValue()
            : 1024 * 1024;

    // Protocol: the typed HttpProtocolOptions win over the deprecated cluster fields.
    UpstreamProtocol proto0 =
        proto.getProtocolSelection() == Cluster.ClusterProtocolSelection.USE_DOWNSTREAM_PROTOCOL
            ? UpstreamProtocol.USE_DOWNSTREAM
            : proto.hasHttp2ProtocolOptions() ? UpstreamProtocol.HTTP2 : UpstreamProtocol.HTTP1;
    boolean auto = false;
    Http2ProtocolOptions h2 = proto.getHttp2ProtocolOptions();
    HttpProtocolOptions common = proto.getCommonHttpProtocolOptions();
    String commonPath = path + ".common_http_protocol_options";
    long maxRequests =
        proto.hasMaxRequestsPerConnection() ? proto.getMaxRequestsPerConnection().getValue() : 0;
    for (Map.Entry<String, Any> e : proto.getTypedExtensionProtocolOptionsMap().entrySet()) {
      String optPath = path + ".typed_extension_protocol_options[\"" + e.getKey() + "\"]";
      if (!e.getKey().equals(HTTP_PROTOCOL_OPTIONS)
          && !e.getValue().getTypeUrl().equals(HTTP_PROTOCOL_OPTIONS_TYPE)) {
        throw new ConfigException(
            optPath,
            "Didn't find a registered network or http filter or protocol options implementation"
                + " for name: '"
                + e.getKey()
                + "'");
      }
      if (!e.getValue().getTypeUrl().equals(HTTP_PROTOCOL_OPTIONS_TYPE)) {
        throw new ConfigException(
            optPath,
            "unexpected type "
                + e.getValue().getTypeUrl()
                + ", expected "
                + HTTP_PROTOCOL_OPTIONS_TYPE);
      }
      io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions opts;
      try {
        opts =
            e.getValue()
                .unpack(io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.class);
      } catch (InvalidProtocolBufferException ex) {
        throw new ConfigException(optPath, "invalid HttpProtocolOptions: " + ex.getMessage());
      }
      if (opts.hasUpstreamHttpProtocolOptions()) {
        autoSni0 = opts.getUpstreamHttpProtocolOptions().getAutoSni();
        autoSan0 = opts.getUpstreamHttpProtocolOptions().getAutoSanValidation();
        autoPath = optPath + ".upstream_http_protocol_options";
        if (!opts.getUpstreamHttpProtocolOptions().getOverrideAutoSniHeader().isEmpty()) {
          throw new ConfigException(autoPath + ".override_auto_sni_header", "override_auto_sni_header is not supported yet");
        }
      }
      if (opts.hasCommonHttpProtocolOptions()) {
        common = opts.getCommonHttpProtocolOptions();
        commonPath = optPath + ".common_http_protocol_options";
        if (common.hasMaxRequestsPerConnection()) {
          maxRequests = common.getMaxRequestsPerConnection().getValue();
        }
      }
      switch (opts.getUpstreamProtocolOptionsCase()) {
        case EXPLICIT_HTTP_CONFIG -> {
          ExplicitHttpConfig ex = opts.getExplicitHttpConfig();
          switch (ex.getProtocolConfigCase()) {
            case HTTP2_PROTOCOL_OPTIONS -> {
              proto0 = UpstreamProtocol.HTTP2;
              h2 = ex.getHttp2ProtocolOptions();
            }
            case HTTP3_PROTOCOL_OPTIONS -> throw new ConfigException(
                optPath + ".explicit_http_config.http3_protocol_options",
                "HTTP/3 upstreams are not supported");
            default -> proto0 = UpstreamProtocol.HTTP1;
          }
        }
        case USE_DOWNSTREAM_PROTOCOL_CONFIG -> {
          proto0 = UpstreamProtocol.USE_DOWNSTREAM;
          h2 = opts.getUseDownstreamProtocolConfig().getHttp2ProtocolOptions();
        }
        case AUTO_CONFIG -> {
          if (opts.getAutoConfig().hasHttp3ProtocolOptions()) {
            throw new ConfigException(
                optPath + ".auto_config.http3_protocol_options",
                "HTTP/3 upstreams are not supported");
          }
          proto0 = UpstreamProtocol.HTTP1;
          auto = true;
          h2 = opts.getAutoConfig().getHttp2ProtocolOptions();
        }
        default -> {
          // Envoy requires one of the three; an empty message keeps HTTP/1.1.
        }
      }
    }
    this.protocol = proto0;
    this.autoHttp = auto;
    if (autoSan0 && !autoSni0) {
      throw new ConfigException(autoPath + ".auto_san_validation", "auto_san_validation needs auto_sni");
    }
    this.autoSni = autoSni0 && tls != null;
    if (autoSan0 && tls != null) {
      tls.enableAutoSanValidation();
    }
    this.idleTimeoutMs =
        common.hasIdleTimeout() ? durationMs(common.getIdleTimeout()) : 3_600_000L;
    this.maxConnectionDurationMs =
        common.hasMaxConnectionDuration() ? durationMs(common.getMaxConnectionDuration()) : 0;
    int headersCount = common.hasMaxHeadersCount() ? common.getMaxHeadersCount().getValue() : 100;
    if (headersCount < 1) {
      throw new ConfigException(commonPath + ".max_headers_count", "value must be greater than or equal to 1");
    }
    this.maxResponseHeadersCount = headersCount;
    // Envoy's defaults: 80 KiB for HTTP/1.1 response heads, 60 KiB otherwise.
    int headersKb = common.hasMaxResponseHeadersKb() ? common.getMaxResponseHeadersKb().getValue() : proto0 == UpstreamProtocol.HTTP1 ? 80 : 60;
    if (headersKb < 1 || headersKb > 8192) {
      throw new ConfigException(commonPath + ".max_response_headers_kb", "value must be in [1, 8192]");
    }
    this.maxResponseHeadersBytes = headersKb * 1024;
    this.maxRequestsPerConnection = maxRequests;
    this.http2MaxConcurrentStreams =
        h2.hasMaxConcurrentStreams() ? h2.getMaxConcurrentStreams().getValue() : 2147483647;
    this.http2InitialStreamWindowSize =
        h2.hasInitialStreamWindowSize() ? h2.getInitialStreamWindowSize().getValue() : 268435456;
    this.http2InitialConnectionWindowSize =
        h2.hasInitialConnectionWindowSize()
            ? h2.getInitialConnectionWindowSize().getValue()
            : 268435456;

    // DNS: the DnsCluster extension (cluster_type) or the deprecated cluster fields.
    DnsCluster dnsCluster = dnsCluster(proto, path);
    String dnsPath = dnsCluster != null ? path + ".cluster_type.typed_config" : path;
    Duration refreshRate =
        dnsCluster != null
            ? (dnsCluster.hasDnsRefreshRate() ? dnsCluster.getDnsRefreshRate() : null)
            : (proto.hasDnsRefreshRate() ? proto.getDnsRefreshRate() : null);
    this.dnsRefreshRateMs =
        refreshRate != null ? positiveMs(refreshRate, dnsPath + ".dns_refresh_rate", 1) : 5000;
    Duration jitter =
        dnsCluster != null
            ? (dnsCluster.hasDnsJitter() ? dnsCluster.getDnsJitter() : null)
            : (proto.hasDnsJitter() ? proto.getDnsJitter() : null);
    this.dnsJitterMs = jitter != null ? durationMs(jitter) : 0;
    boolean hasFailureRate;
    Duration failureBase = null;
    Duration failureMax = null;
    if (dnsCluster != null) {
      hasFailureRate = dnsCluster.hasDnsFailureRefreshRate();
      if (hasFailureRate) {
        DnsCluster.RefreshRate rr = dnsCluster.getDnsFailureRefreshRate();
        failureBase = rr.hasBaseInterval() ? rr.getBaseInterval() : null;
        failureMax = rr.hasMaxInterval() ? rr.getMaxInterval() : null;
      }
    } else {
      hasFailureRate = proto.hasDnsFailureRefreshRate();
      if (hasFailureRate) {
        Cluster.RefreshRate rr = proto.getDnsFailureRefreshRate();
        failureBase = rr.hasBaseInterval() ? rr.getBaseInterval() : null;
        failureMax = rr.hasMaxInterval() ? rr.getMaxInterval() : null;
      }
    }
    if (hasFailureRate) {
      String rrPath = dnsPath + ".dns_failure_refresh_rate";
      if (failureBase == null) {
        throw new ConfigException(rrPath + ".base_interval", "value is required");
      }
      long base = positiveMs(failureBase, rrPath + ".base_interval", 1);
      long max = failureMax != null ? durationMs(failureMax) : base * 10;
      if (max < base) {
        throw new ConfigException(
            rrPath,
            "dns_failure_refresh_rate must have max_interval greater than or equal to the"
                + " base_interval");
      }
      this.dnsFailureRefreshBaseMs = base;
      this.dnsFailureRefreshMaxMs = max;
    } else {
      this.dnsFailureRefreshBaseMs = -1;
      this.dnsFailureRefreshMaxMs = -1;
    }
    this.respectDnsTtl =
        dnsCluster != null ? dnsCluster.getRespectDnsTtl() : proto.getRespectDnsTtl();
    this.dnsLookupFamily =
        dnsCluster != null
            ? switch (dnsCluster.getDnsLookupFamily()) {
              case V4_ONLY -> DnsLookupFamily.V4_ONLY;
              case V6_ONLY -> DnsLookupFamily.V6_ONLY;
              case V4_PREFERRED -> DnsLookupFamily.V4_PREFERRED;
              case ALL -> DnsLookupFamily.ALL;
              default -> DnsLookupFamily.AUTO;
            }
            : switch (proto.getDnsLookupFamily()) {
              case V4_ONLY -> DnsLookupFamily.V4_ONLY;
              case V6_ONLY -> DnsLookupFamily.V6_ONLY;
              case V4_PREFERRED -> DnsLookupFamily.V4_PREFERRED;
              case ALL -> DnsLookupFamily.ALL;
              default -> DnsLookupFamily.AUTO;
            };
    if (dnsCluster != null && dnsCluster.hasTypedDnsResolverConfig()) {
      throw new ConfigException(dnsPath + ".typed_dns_resolver_config", "unsupported");
    }
    List<Address> resolvers =
        proto.getDnsResolversCount() > 0
            ? proto.getDnsResolversList()
            : proto.getDnsResolutionConfig().getResolversList();
    List<InetSocketAddress> dns = new ArrayList<>();
    for (int i = 0; i < resolvers.size(); i++) {
      String rPath =
          path
              + (proto.getDnsResolversCount() > 0
                  ? ".dns_resolvers[" + i + "]"
                  : ".dns_resolution_config.resolvers[" + i + "]");
      dns.add(Endpoints.ipAddress(resolvers.get(i), rPath + ".socket_address", 53));
    }
    this.dnsResolvers = List.copyOf(dns);
    if (proto.hasTypedDnsResolverConfig()) {
      throw new ConfigException(path + ".typed_dns_resolver_config", "unsupported");
    }
    this.waitForWarmOnInit =
        !proto.hasWaitForWarmOnInit() || proto.getWaitForWarmOnInit().getValue();

    this.stats =
        new ClusterStats(store, proto.getAltStatName().isEmpty() ? name : proto.getAltStatName());
    this.lbFactory = LbFactory.build(proto, path, stats);
    this.healthCheck =
        HealthCheckConfig.fromCluster(
            proto,
            path,
            protocol == UpstreamProtocol.HTTP2 || protocol == UpstreamProtocol.USE_DOWNSTREAM);
    this.outlierDetection =
        proto.hasOutlierDetection()
            ? OutlierConfig.parse(proto.getOutlierDetection(), path + ".outlier_detection")
            : null;
    this.circuitBreakers = CircuitBreakers.build(proto, path, stats.scope());
  }

  /**
   * Returns the settings of cluster {@code proto}.
   *
   * @param path the cluster's field path for error messages, e.g. {@code static_resources.clusters[2]}
   * @throws ConfigException when the cluster uses something Legate does not support
   */
  public static ClusterInfo build(Cluster proto, String path, StatsStore stats) {
    return new ClusterInfo(proto, path, stats, new io.legate.tls.SecretManager());
  }

  /** Builds the cluster's info, its TLS context taking secrets by name from {@code secrets}. */
  public static ClusterInfo build(Cluster proto, String path, StatsStore stats, io.legate.tls.SecretManager secrets) {
    return new ClusterInfo(proto, path, stats, secrets);
  }

  private static DnsCluster dnsCluster(Cluster proto, String path) {
    if (!proto.hasClusterType()
        || !proto.getClusterType().getTypedConfig().getTypeUrl().equals(DNS_CLUSTER_TYPE)) {
      return null;
    }
    try {
      return proto.getClusterType().getTypedConfig().unpack(DnsCluster.class);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(
          path + ".cluster_type.typed_config", "invalid DnsCluster: " + e.getMessage());
    }
  }

  private static DiscoveryType discoveryType(Cluster proto, String path) {
    DnsCluster dns = dnsCluster(proto, path);
    if (dns != null) {
      return dns.getAllAddressesInSingleEndpoint()
          ? DiscoveryType.LOGICAL_DNS
          : DiscoveryType.STRICT_DNS;
    }
    if (proto.hasClusterType()) {
      throw new ConfigException(
          path + ".cluster_type",
          "unsupported cluster type " + proto.getClusterType().getName());
    }
    return switch (proto.getType()) {
      case STATIC -> DiscoveryType.STATIC;
      case STRICT_DNS -> DiscoveryType.STRICT_DNS;
      case LOGICAL_DNS -> DiscoveryType.LOGICAL_DNS;
      case EDS -> DiscoveryType.EDS;
      default -> throw new ConfigException(
          path + ".type", "unsupported cluster type " + proto.getType());
    };
  }

  static long durationMs(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }

  private static long positiveMs(Duration d, String path, long minExclusiveMs) {
    long ms = durationMs(d);
    boolean ok =
        minExclusiveMs == 0
            ? d.getSeconds() > 0 || (d.getSeconds() == 0 && d.getNanos() > 0)
            : d.getSeconds() * 1_000_000_000L + d.getNanos() > minExclusiveMs * 1_000_000L;
    if (!ok) {
      throw new ConfigException(
          path, "value must be greater than " + (minExclusiveMs == 0 ? "0s" : minExclusiveMs + "ms"));
    }
    return ms;
  }

  /** Returns the cluster name. */
  public String name() {
    return name;
  }

  /** Returns the field path the cluster was configured at. */
  public String path() {
    return path;
  }

  /** Returns how the cluster finds its hosts. */
  public DiscoveryType type() {
    return type;
  }

  /** Returns {@code connect_timeout} in ms (default 5000). */
  public long connectTimeoutMs() {
    return connectTimeoutMs;
  }

  /** Returns {@code per_connection_buffer_limit_bytes} (default 1 MiB). */
  public int perConnectionBufferLimitBytes() {
    return perConnectionBufferLimitBytes;
  }

  /**
   * Returns whether TLS connections send the request's host as SNI ({@code auto_sni}); pools are
   * then kept per SNI.
   */
  public boolean autoSni() {
    return autoSni;
  }

  /** Returns the cluster's TLS transport socket, or null for plaintext. */
  public ClientTlsContext tls() {
    return tls;
  }

  /** Returns the HTTP protocol spoken to the hosts. */
  public UpstreamProtocol protocol() {
    return protocol;
  }

  /**
   * Returns whether {@code auto_config} was given: the protocol is chosen by ALPN on TLS
   * connections (h2 preferred) and is HTTP/1.1 otherwise, which {@link #protocol()} reports.
   */
  public boolean autoHttp() {
    return autoHttp;
  }

  /** Returns {@code common_http_protocol_options.idle_timeout} in ms (default 1 h; 0 disables). */
  public long idleTimeoutMs() {
    return idleTimeoutMs;
  }

  /** Returns {@code common_http_protocol_options.max_headers_count} for responses (default 100). */
  public int maxResponseHeadersCount() {
    return maxResponseHeadersCount;
  }

  /** Returns {@code common_http_protocol_options.max_response_headers_kb} in bytes. */
  public int maxResponseHeadersBytes() {
    return maxResponseHeadersBytes;
  }

  /** Returns {@code common_http_protocol_options.max_connection_duration} in ms (0 = none). */
  public long maxConnectionDurationMs() {
    return maxConnectionDurationMs;
  }

  /** Returns the maximum requests per connection (0 = unlimited). */
  public long maxRequestsPerConnection() {
    return maxRequestsPerConnection;
  }

  /** Returns the HTTP/2 {@code max_concurrent_streams} (default 2147483647). */
  public int http2MaxConcurrentStreams() {
    return http2MaxConcurrentStreams;
  }

  /** Returns the HTTP/2 {@code initial_stream_window_size} (default 268435456). */
  public int http2InitialStreamWindowSize() {
    return http2InitialStreamWindowSize;
  }

  /** Returns the HTTP/2 {@code initial_connection_window_size} (default 268435456). */
  public int http2InitialConnectionWindowSize() {
    return http2InitialConnectionWindowSize;
  }

  /** Returns {@code dns_refresh_rate} in ms (default 5000). */
  public long dnsRefreshRateMs() {
    return dnsRefreshRateMs;
  }

  /** Returns {@code dns_jitter} in ms (0 = none). */
  public long dnsJitterMs() {
    return dnsJitterMs;
  }

  /** Returns {@code dns_failure_refresh_rate.base_interval} in ms, or -1 when not configured. */
  public long dnsFailureRefreshBaseMs() {
    return dnsFailureRefreshBaseMs;
  }

  /** Returns {@code dns_failure_refresh_rate.max_interval} in ms, or -1 when not configured. */
  public long dnsFailureRefreshMaxMs() {
    return dnsFailureRefreshMaxMs;
  }

  /** Returns {@code respect_dns_ttl}. */
  public boolean respectDnsTtl() {
    return respectDnsTtl;
  }

  /** Returns {@code dns_lookup_family}. */
  public DnsLookupFamily dnsLookupFamily() {
    return dnsLookupFamily;
  }

  /** Returns the cluster's own name servers ({@code dns_resolvers}); empty for the default ones. */
  public List<InetSocketAddress> dnsResolvers() {
    return dnsResolvers;
  }

  /** Returns {@code wait_for_warm_on_init} (default true). */
  public boolean waitForWarmOnInit() {
    return waitForWarmOnInit;
  }

  /** Returns the EDS resource name: {@code eds_cluster_config.service_name}, else the name. */
  public String edsServiceName() {
    return edsServiceName;
  }

  /** Returns the cluster's stats. */
  public ClusterStats stats() {
    return stats;
  }

  /** Returns the factory of per-worker load balancers. */
  public LoadBalancer.Factory lbFactory() {
    return lbFactory;
  }

  /** Returns the active health check ({@code health_checks[0]}), or null when there is none. */
  public HealthCheckConfig healthCheck() {
    return healthCheck;
  }

  /** Returns the outlier detection settings, or null when {@code outlier_detection} is unset. */
  public OutlierConfig outlierDetection() {
    return outlierDetection;
  }

  /** Returns the cluster's circuit breakers ({@code circuit_breakers}, Envoy's defaults if unset). */
  public CircuitBreakers circuitBreakers() {
    return circuitBreakers;
  }

  /** Returns the proto the cluster was built from (for config_dump only). */
  public Cluster proto() {
    return proto;
  }
}
