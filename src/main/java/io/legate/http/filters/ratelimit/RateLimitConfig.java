package io.legate.http.filters.ratelimit;

import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.extensions.filters.http.ratelimit.v3.RateLimit;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitServiceGrpc;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.grpc.GrpcChannels;
import io.legate.router.HeaderMutations;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import io.grpc.ManagedChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** The global rate limit filter's config, parsed once, with its per-cluster stats. */
final class RateLimitConfig {
  /** {@code request_type}: which requests the filter applies to. */
  enum RequestType {
    BOTH,
    INTERNAL,
    EXTERNAL
  }

  /** Envoy's {@code cluster.<route target cluster>.ratelimit.*} counters of one cluster. */
  record ClusterRateLimitStats(Counter ok, Counter overLimit, Counter error, Counter failureModeAllowed) {}

  final String domain;
  final int stage;
  final RequestType requestType;
  final long timeoutMs;
  final boolean failureModeDeny;
  final boolean rateLimitedAsResourceExhausted;
  final boolean xRateLimitHeaders;
  final boolean xEnvoyRateLimitedHeader;
  final int rateLimitedStatus;
  final int statusOnError;
  final HeaderMutations responseHeadersToAdd;
  final String localCluster;
  private final String statPrefix;
  private final StatsStore stats;
  private final Supplier<RateLimitServiceGrpc.RateLimitServiceStub> stub;
  private final Map<String, ClusterRateLimitStats> clusterStats = new ConcurrentHashMap<>();

  private RateLimitConfig(RateLimit c, String path, FactoryContext context,
      Supplier<RateLimitServiceGrpc.RateLimitServiceStub> stub) {
    if (c.getDomain().isEmpty()) {
      throw new ConfigException(path + ".domain", "must not be empty");
    }
    if (c.getStage() > 10) {
      throw new ConfigException(path + ".stage", "must be at most 10, got " + c.getStage());
    }
    this.domain = c.getDomain();
    this.stage = c.getStage();
    this.requestType = switch (c.getRequestType()) {
      case "", "both" -> RequestType.BOTH;
      case "internal" -> RequestType.INTERNAL;
      case "external" -> RequestType.EXTERNAL;
      default -> throw new ConfigException(path + ".request_type",
          "must be one of internal, external, both; got '" + c.getRequestType() + "'");
    };
    this.timeoutMs = c.hasTimeout()
        ? c.getTimeout().getSeconds() * 1000 + c.getTimeout().getNanos() / 1_000_000
        : 20;
    this.failureModeDeny = c.getFailureModeDeny();
    this.rateLimitedAsResourceExhausted = c.getRateLimitedAsResourceExhausted();
    this.xRateLimitHeaders =
        c.getEnableXRatelimitHeaders() == RateLimit.XRateLimitHeadersRFCVersion.DRAFT_VERSION_03;
    this.xEnvoyRateLimitedHeader = !c.getDisableXEnvoyRatelimitedHeader();
    int limited = c.hasRateLimitedStatus() ? c.getRateLimitedStatus().getCodeValue() : 429;
    this.rateLimitedStatus = limited < 400 ? 429 : limited;
    this.statusOnError = c.hasStatusOnError() && c.getStatusOnError().getCodeValue() > 0
        ? c.getStatusOnError().getCodeValue() : 500;
    this.responseHeadersToAdd = HeaderMutations.ofAdditions(
        c.getResponseHeadersToAddList(), path + ".response_headers_to_add", true);
    if (c.hasFilterEnabled()) {
      throw new ConfigException(path + ".filter_enabled", "not supported");
    }
    if (c.hasFilterEnforced()) {
      throw new ConfigException(path + ".filter_enforced", "not supported");
    }
    this.statPrefix = c.getStatPrefix().isEmpty() ? "ratelimit." : "ratelimit." + c.getStatPrefix() + ".";
    this.stats = context.stats();
    this.localCluster = context.localClusterName();
    this.stub = stub;
  }

  /** Validates the config and binds it to the service's shared channel (built on first use). */
  static RateLimitConfig build(RateLimit c, String path, FactoryContext context) {
    if (!c.hasRateLimitService()) {
      throw new ConfigException(path + ".rate_limit_service", "is required");
    }
    var rls = c.getRateLimitService();
    if (rls.getTransportApiVersion() == ApiVersion.V2) {
      throw new ConfigException(path + ".rate_limit_service.transport_api_version",
          "only V3 is supported");
    }
    if (!rls.hasGrpcService()) {
      throw new ConfigException(path + ".rate_limit_service.grpc_service", "is required");
    }
    var service = rls.getGrpcService();
    GrpcChannels.validate(service, path + ".rate_limit_service.grpc_service", context.clusterManager());
    GrpcChannels channels = context.clusterManager() == null ? null : context.clusterManager().grpcChannels();
    Supplier<RateLimitServiceGrpc.RateLimitServiceStub> stub = new Supplier<>() {
      private volatile RateLimitServiceGrpc.RateLimitServiceStub s;

      @Override
      public RateLimitServiceGrpc.RateLimitServiceStub get() {
        RateLimitServiceGrpc.RateLimitServiceStub x = s;
        if (x == null) {
          ManagedChannel ch = channels.channel(service);
          x = RateLimitServiceGrpc.newStub(ch);
          s = x;
        }
        return x;
      }
    };
    return new RateLimitConfig(c, path, context, stub);
  }

  /** Returns the stub of the rate limit service. */
  RateLimitServiceGrpc.RateLimitServiceStub stub() {
    return stub.get();
  }

  /** Returns the counters of the route's target cluster, created on first use of that cluster. */
  ClusterRateLimitStats stats(String cluster) {
    ClusterRateLimitStats s = clusterStats.get(cluster);
    if (s == null) {
      s = clusterStats.computeIfAbsent(cluster, n -> {
        String p = "cluster." + n + "." + statPrefix;
        return new ClusterRateLimitStats(stats.counter(p + "ok"), stats.counter(p + "over_limit"),
            stats.counter(p + "error"), stats.counter(p + "failure_mode_allowed"));
      });
    }
    return s;
  }
}
