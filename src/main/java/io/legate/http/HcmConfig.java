package io.legate.http;

import com.google.protobuf.Duration;
import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.PathWithEscapedSlashesAction;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.ServerHeaderTransformation;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.legate.config.ConfigException;
import io.legate.extension.ExtensionRegistry;
import io.legate.extension.FactoryContext;
import io.legate.extension.HttpFilterConfigFactory;
import io.legate.http.filter.HttpFilter.Factory;
import io.legate.router.RouteTable;
import io.legate.server.ServerState;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * The HTTP connection manager's immutable runtime config, built once from its proto. Every stream
 * of every connection of the listener reads it; none of it changes afterwards.
 */
public final class HcmConfig {
  public enum Codec {
    AUTO,
    HTTP1,
    HTTP2
  }

  public final String statPrefix;
  public final HcmStats stats;
  public final Codec codec;
  private final RouteConfigProvider routes;
  public final List<Factory> filterFactories;
  /** The filters' names in {@code http_filters}, parallel to {@link #filterFactories}. */
  public final List<String> filterNames;
  /** Whether each filter is disabled unless a route enables it ({@code disabled: true}). */
  public final List<Boolean> filterDisabledByDefault;
  /**
   * Whether each stream's filter chain depends on its route (a filter disabled by default, or a
   * route-level {@code FilterConfig} that enables or disables one).
   */
  public final boolean routeBasedFilterChain;
  public final boolean useRemoteAddress;
  public final int xffNumTrustedHops;
  public final boolean skipXffAppend;
  public final boolean generateRequestId;
  public final boolean preserveExternalRequestId;
  public final AsciiString serverName;
  public final ServerHeaderTransformation serverHeaderTransformation;
  public final long idleTimeoutMs;
  public final int maxHeadersCount;
  public final long maxStreamDurationMs;
  public final HeadersWithUnderscoresAction headersWithUnderscoresAction;
  public final int maxRequestHeadersBytes;
  public final long streamIdleTimeoutMs;
  public final long requestTimeoutMs;
  public final long requestHeadersTimeoutMs;
  public final long drainTimeoutMs;
  public final long h2MaxConcurrentStreams;
  public final int h2InitialStreamWindowSize;
  public final int h2InitialConnectionWindowSize;
  /** {@code http2_protocol_options.max_outbound_control_frames} (Envoy's default 1000). */
  public final int h2MaxOutboundControlFrames;
  /** {@code http2_protocol_options.max_consecutive_inbound_frames_with_empty_payload} (default 1). */
  public final int h2MaxConsecutiveEmptyFrames;
  /** {@code http2_protocol_options.max_outbound_frames} (Envoy's default 10000). */
  public final int h2MaxOutboundFrames;
  /** {@code http2_protocol_options.max_inbound_priority_frames_per_stream} (default 100). */
  public final long h2MaxInboundPriorityFramesPerStream;
  /** {@code http2_protocol_options.max_inbound_window_update_frames_per_data_frame_sent} (default 10). */
  public final long h2MaxInboundWindowUpdateFramesPerDataFrameSent;
  /** {@code common_http_protocol_options.max_requests_per_connection}; 0 = unlimited. */
  public final long maxRequestsPerConnection;
  /** {@code common_http_protocol_options.max_connection_duration} in ms; 0 = unlimited. */
  public final long maxConnectionDurationMs;
  /** The server's overload manager (stop_accepting_requests, disable_http_keepalive). */
  public final io.legate.server.OverloadManager overload;
  /** The process-wide HTTP/2 codec stats ({@code http2.*}). */
  public final io.legate.http.codec.Http2CodecStats h2Stats;
  public final boolean normalizePath;
  public final boolean mergeSlashes;
  public final PathWithEscapedSlashesAction escapedSlashesAction;
  public final boolean acceptHttp10;
  public final String defaultHostForHttp10;
  public final boolean stripAnyHostPort;
  public final boolean stripMatchingHostPort;
  public final boolean proxy100Continue;
  public final String via;
  /**
   * {@code upgrade_configs}: upgrade type (lowercase, "connect" for CONNECT) to whether it is
   * enabled. A type absent here is refused unless its route enables it.
   */
  public final java.util.Map<String, Boolean> upgrades;
  /**
   * {@code http2_protocol_options.allow_connect}: HTTP/2 clients may use extended CONNECT (RFC
   * 8441), which the proxy handles as the HTTP/1.1 upgrade its {@code :protocol} names.
   */
  public final boolean h2AllowConnect;
  public final List<io.legate.accesslog.AccessLog> accessLogs;
  /** The connection manager's {@code tracing}, or null when it has none. */
  public final io.legate.tracing.HttpTracer tracer;

  private static java.util.Map<String, Boolean> upgrades(HttpConnectionManager proto, String path) {
    java.util.Map<String, Boolean> m = new java.util.HashMap<>();
    for (int i = 0; i < proto.getUpgradeConfigsCount(); i++) {
      var u = proto.getUpgradeConfigs(i);
      String up = path + ".upgrade_configs[" + i + "]";
      if (u.getUpgradeType().isEmpty()) {
        throw new ConfigException(up + ".upgrade_type", "value length must be at least 1 characters");
      }
      if (u.getFiltersCount() > 0) {
        throw new ConfigException(up + ".filters", "upgrade-specific filter chains are not supported yet");
      }
      String type = u.getUpgradeType().toLowerCase(java.util.Locale.ROOT);
      if (m.containsKey(type)) {
        throw new ConfigException(up + ".upgrade_type",
            "Error: multiple upgrade configs with the same name: '" + u.getUpgradeType() + "'");
      }
      m.put(type, !u.hasEnabled() || u.getEnabled().getValue());
    }
    return java.util.Map.copyOf(m);
  }

  /**
   * Builds the config.
   *
   * @param path the field path of the HCM config, for errors
   */
  public HcmConfig(
      HttpConnectionManager proto,
      String path,
      StatsStore stats,
      ClusterManager clusters) {
    this(proto, path, stats, clusters, new ServerState(), null);
  }

  /** Builds the config with the server's state and no RDS. */
  public HcmConfig(
      HttpConnectionManager proto,
      String path,
      StatsStore stats,
      ClusterManager clusters,
      ServerState server) {
    this(proto, path, stats, clusters, server, null);
  }

  /**
   * Builds the config.
   *
   * @param path the field path of the HCM config, for errors
   * @param server the server's state that filters may read (health-check failing, local cluster)
   * @param rds the route discovery for {@code rds}, or null when RDS is not available
   */
  public HcmConfig(
      HttpConnectionManager proto,
      String path,
      StatsStore stats,
      ClusterManager clusters,
      ServerState server,
      RouteConfigProvider.Factory rds) {
    if (proto.getStatPrefix().isEmpty()) {
      throw new ConfigException(path + ".stat_prefix", "value length must be at least 1 characters");
    }
    this.statPrefix = proto.getStatPrefix();
    StatsStore.Scope scope = stats.scope("http." + statPrefix + ".");
    this.stats = new HcmStats(scope);
    FactoryContext ctx = context(stats, scope, clusters, server);
    this.codec =
        switch (proto.getCodecType()) {
          case AUTO -> Codec.AUTO;
          case HTTP1 -> Codec.HTTP1;
          case HTTP2 -> Codec.HTTP2;
          default -> throw new ConfigException(
              path + ".codec_type", "unsupported codec_type " + proto.getCodecType() + " (supported: AUTO, HTTP1, HTTP2)");
        };
    if (proto.getCodecType() == CodecType.HTTP3) {
      throw new ConfigException(path + ".codec_type", "unsupported codec_type HTTP3");
    }
    switch (proto.getRouteSpecifierCase()) {
      case ROUTE_CONFIG -> {
        boolean validate =
            !proto.getRouteConfig().hasValidateClusters()
                || proto.getRouteConfig().getValidateClusters().getValue();
        this.routes =
            RouteConfigProvider.of(
                RouteTable.build(
                    proto.getRouteConfig(), path + ".route_config", validate ? clusters::exists : null, ctx));
      }
      case RDS -> {
        if (rds == null) {
          throw new ConfigException(
              path + ".rds", "RDS is not supported yet: give the routes inline in route_config");
        }
        this.routes = rds.subscribe(proto.getRds(), proto.getStatPrefix(), path + ".rds");
      }
      case SCOPED_ROUTES -> throw new ConfigException(
          path + ".scoped_routes", "scoped routes are not supported");
      default -> throw new ConfigException(path, "one of route_config or rds is required");
    }
    this.useRemoteAddress = proto.getUseRemoteAddress().getValue();
    this.xffNumTrustedHops = proto.getXffNumTrustedHops();
    this.skipXffAppend = proto.getSkipXffAppend();
    this.generateRequestId = !proto.hasGenerateRequestId() || proto.getGenerateRequestId().getValue();
    this.preserveExternalRequestId = proto.getPreserveExternalRequestId();
    this.serverName = AsciiString.cached(proto.getServerName().isEmpty() ? "envoy" : proto.getServerName());
    this.serverHeaderTransformation = proto.getServerHeaderTransformation();
    var common = proto.getCommonHttpProtocolOptions();
    this.idleTimeoutMs = common.hasIdleTimeout() ? millis(common.getIdleTimeout()) : 3_600_000L;
    this.maxHeadersCount = common.hasMaxHeadersCount() ? common.getMaxHeadersCount().getValue() : 100;
    this.maxStreamDurationMs = common.hasMaxStreamDuration() ? millis(common.getMaxStreamDuration()) : 0;
    this.maxRequestsPerConnection =
        common.hasMaxRequestsPerConnection() ? common.getMaxRequestsPerConnection().getValue() : 0;
    this.maxConnectionDurationMs =
        common.hasMaxConnectionDuration() ? millis(common.getMaxConnectionDuration()) : 0;
    this.headersWithUnderscoresAction = common.getHeadersWithUnderscoresAction();
    int kb = proto.hasMaxRequestHeadersKb() ? proto.getMaxRequestHeadersKb().getValue() : 60;
    if (kb < 1 || kb > 8192) {
      throw new ConfigException(path + ".max_request_headers_kb", "value must be inside range (0, 8192]");
    }
    this.maxRequestHeadersBytes = kb * 1024;
    this.streamIdleTimeoutMs =
        proto.hasStreamIdleTimeout() ? millis(proto.getStreamIdleTimeout()) : 300_000L;
    this.requestTimeoutMs = proto.hasRequestTimeout() ? millis(proto.getRequestTimeout()) : 0;
    this.requestHeadersTimeoutMs =
        proto.hasRequestHeadersTimeout() ? millis(proto.getRequestHeadersTimeout()) : 0;
    this.drainTimeoutMs = proto.hasDrainTimeout() ? millis(proto.getDrainTimeout()) : 5000;
    var h2 = proto.getHttp2ProtocolOptions();
    this.h2MaxConcurrentStreams =
        h2.hasMaxConcurrentStreams() ? h2.getMaxConcurrentStreams().getValue() : 2147483647L;
    this.h2InitialStreamWindowSize =
        h2.hasInitialStreamWindowSize() ? h2.getInitialStreamWindowSize().getValue() : 268435456;
    this.h2InitialConnectionWindowSize =
        h2.hasInitialConnectionWindowSize() ? h2.getInitialConnectionWindowSize().getValue() : 268435456;
    this.h2MaxOutboundControlFrames =
        h2.hasMaxOutboundControlFrames() ? h2.getMaxOutboundControlFrames().getValue() : 1000;
    this.h2MaxConsecutiveEmptyFrames =
        h2.hasMaxConsecutiveInboundFramesWithEmptyPayload()
            ? h2.getMaxConsecutiveInboundFramesWithEmptyPayload().getValue()
            : 1;
    this.h2MaxOutboundFrames = h2.hasMaxOutboundFrames() ? positive(h2.getMaxOutboundFrames().getValue(), path + ".http2_protocol_options.max_outbound_frames") : 10000;
    this.h2MaxInboundPriorityFramesPerStream =
        h2.hasMaxInboundPriorityFramesPerStream() ? h2.getMaxInboundPriorityFramesPerStream().getValue() : 100;
    this.h2MaxInboundWindowUpdateFramesPerDataFrameSent =
        h2.hasMaxInboundWindowUpdateFramesPerDataFrameSent()
            ? positive(
                h2.getMaxInboundWindowUpdateFramesPerDataFrameSent().getValue(),
                path + ".http2_protocol_options.max_inbound_window_update_frames_per_data_frame_sent")
            : 10;
    this.h2Stats = io.legate.http.codec.Http2CodecStats.of(stats);
    this.overload = server.overload();
    this.normalizePath = proto.hasNormalizePath() && proto.getNormalizePath().getValue();
    this.mergeSlashes = proto.getMergeSlashes();
    this.escapedSlashesAction = proto.getPathWithEscapedSlashesAction();
    this.acceptHttp10 = proto.getHttpProtocolOptions().getAcceptHttp10();
    this.defaultHostForHttp10 = proto.getHttpProtocolOptions().getDefaultHostForHttp10();
    this.stripAnyHostPort = proto.getStripAnyHostPort();
    this.stripMatchingHostPort = proto.getStripMatchingHostPort();
    this.proxy100Continue = proto.getProxy100Continue();
    this.via = proto.getVia();
    this.upgrades = upgrades(proto, path);
    this.h2AllowConnect = proto.getHttp2ProtocolOptions().getAllowConnect();
    this.accessLogs = io.legate.accesslog.AccessLogs.build(proto.getAccessLogList(), path + ".access_log", clusters);
    this.tracer =
        proto.hasTracing()
            ? io.legate.tracing.HttpTracer.build(proto.getTracing(), path + ".tracing", ctx, server.nodeId())
            : null;
    List<HttpFilter> filters = proto.getHttpFiltersList();
    if (filters.isEmpty()) {
      throw new ConfigException(
          path + ".http_filters", "at least one HTTP filter is required, and the last must be the router (envoy.filters.http.router)");
    }
    List<Factory> factories = new ArrayList<>();
    List<String> names = new ArrayList<>();
    List<Boolean> disabled = new ArrayList<>();
    for (int i = 0; i < filters.size(); i++) {
      HttpFilter f = filters.get(i);
      String fp = path + ".http_filters[" + i + "]";
      if (f.getConfigTypeCase() == HttpFilter.ConfigTypeCase.CONFIG_DISCOVERY) {
        throw new ConfigException(fp + ".config_discovery", "filter config discovery (ECDS) is not supported yet");
      }
      String typeUrl = f.hasTypedConfig() ? f.getTypedConfig().getTypeUrl() : "";
      HttpFilterConfigFactory<?> factory;
      try {
        factory = ExtensionRegistry.get().httpFilter(f.getName(), typeUrl, fp);
      } catch (ConfigException e) {
        if (f.getIsOptional()) {
          continue;
        }
        throw e;
      }
      boolean isRouter = factory.name().equals("envoy.filters.http.router");
      if (isRouter != (i == filters.size() - 1)) {
        throw new ConfigException(
            fp,
            isRouter
                ? "the router filter must be the last HTTP filter"
                : "the last HTTP filter must be the router (envoy.filters.http.router), found '" + f.getName() + "'");
      }
      if (isRouter && f.getDisabled()) {
        throw new ConfigException(fp + ".disabled", "the router filter cannot be disabled");
      }
      factories.add(factory.create(f.hasTypedConfig() ? f.getTypedConfig() : null,
          ctx.withFilterConfigName(f.getName()), fp));
      names.add(f.getName());
      disabled.add(f.getDisabled());
    }
    this.filterFactories = List.copyOf(factories);
    this.filterNames = List.copyOf(names);
    this.filterDisabledByDefault = List.copyOf(disabled);
    // With RDS the table can change, so every stream asks its route which filters to skip.
    this.routeBasedFilterChain =
        disabled.contains(Boolean.TRUE)
            || proto.getRouteSpecifierCase() == HttpConnectionManager.RouteSpecifierCase.RDS
            || routes.routeTable().hasFilterDisabling();
  }

  /**
   * Returns the current route table. A stream reads it once when it starts and keeps that table
   * (Envoy's snapped route config), so an RDS update never changes an in-flight request's routes.
   */
  public RouteTable routeTable() {
    return routes.routeTable();
  }

  /** Returns the provider of the route table (inline or RDS). */
  public RouteConfigProvider routeConfigProvider() {
    return routes;
  }

  private static int positive(int v, String path) {
    if (v < 1) {
      throw new ConfigException(path, "value must be greater than or equal to 1");
    }
    return v;
  }

  private static FactoryContext context(
      StatsStore stats, StatsStore.Scope scope, ClusterManager clusters, ServerState server) {
    java.util.function.BooleanSupplier failed = server::healthCheckFailed;
    return
        new FactoryContext() {
          @Override
          public StatsStore stats() {
            return stats;
          }

          @Override
          public StatsStore.Scope scope() {
            return scope;
          }

          @Override
          public ClusterManager clusterManager() {
            return clusters;
          }

          @Override
          public java.util.function.BooleanSupplier serverHealthCheckFailed() {
            return failed;
          }

          @Override
          public String localClusterName() {
            return server.localClusterName();
          }
        };
  }

  static long millis(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }
}
