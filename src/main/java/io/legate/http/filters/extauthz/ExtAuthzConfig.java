package io.legate.http.filters.extauthz;

import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.AuthorizationRequest;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.AuthorizationResponse;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.HttpService;
import io.legate.config.ConfigException;
import io.legate.grpc.GrpcChannels;
import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import io.netty.util.AsciiString;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The ext_authz filter's immutable config: the client (gRPC or HTTP), what happens on errors, and
 * the stats {@code http.<stat_prefix>.ext_authz.[<prefix>.]ok}, {@code denied}, {@code error},
 * {@code timeout}, {@code failure_mode_allowed}, {@code invalid}.
 */
final class ExtAuthzConfig {
  static final long DEFAULT_TIMEOUT_MS = 200;

  final String filterName;
  final AuthzClient client;
  final boolean failureModeAllow;
  final boolean failureModeAllowHeaderAdd;
  final int statusOnError;
  /** {@code with_request_body.max_request_bytes}, or -1 when the body is not sent. */
  final int maxRequestBytes;
  final boolean allowPartialMessage;
  /**
   * {@code validate_mutations}: a response asking for a header that cannot be written is refused
   * with a 500 (else that header change alone is ignored).
   */
  final boolean validateMutations;
  final Counter ok;
  final Counter denied;
  final Counter error;
  final Counter timeout;
  final Counter failureModeAllowed;
  final Counter invalid;
  private final StatsStore store;
  private final java.util.concurrent.ConcurrentHashMap<String, ClusterCounters> clusterCounters =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The routed cluster's {@code cluster.<name>.ext_authz.*} counters, as Envoy charges them. */
  record ClusterCounters(
      Counter ok, Counter denied, Counter error, Counter timeout, Counter failureModeAllowed, Counter invalid) {}

  /** Returns the counters of a cluster, created on the first request routed to it. */
  ClusterCounters clusterCounters(String cluster) {
    ClusterCounters c = clusterCounters.get(cluster);
    if (c == null) {
      c = clusterCounters.computeIfAbsent(cluster, n -> {
        String p = "cluster." + n + ".ext_authz.";
        return new ClusterCounters(store.counter(p + "ok"), store.counter(p + "denied"), store.counter(p + "error"),
            store.counter(p + "timeout"), store.counter(p + "failure_mode_allowed"), store.counter(p + "invalid"));
      });
    }
    return c;
  }

  ExtAuthzConfig(String filterName, AuthzClient client, boolean failureModeAllow, boolean failureModeAllowHeaderAdd,
      int statusOnError, int maxRequestBytes, boolean allowPartialMessage, boolean validateMutations,
      StatsStore.Scope scope) {
    this.maxRequestBytes = maxRequestBytes;
    this.validateMutations = validateMutations;
    this.allowPartialMessage = allowPartialMessage;
    this.filterName = filterName;
    this.client = client;
    this.failureModeAllow = failureModeAllow;
    this.failureModeAllowHeaderAdd = failureModeAllowHeaderAdd;
    this.statusOnError = statusOnError;
    this.ok = scope.counter("ok");
    this.denied = scope.counter("denied");
    this.error = scope.counter("error");
    this.timeout = scope.counter("timeout");
    this.failureModeAllowed = scope.counter("failure_mode_allowed");
    this.invalid = scope.counter("invalid");
    this.store = scope.store();
  }

  /** Parses and validates the config; {@code path} is the field path of the ExtAuthz message. */
  static ExtAuthzConfig parse(ExtAuthz c, String path, String filterName, StatsStore.Scope hcmScope,
      ClusterManager clusters) {
    int maxRequestBytes = -1;
    boolean allowPartial = false;
    if (c.hasWithRequestBody()) {
      maxRequestBytes = c.getWithRequestBody().getMaxRequestBytes();
      if (maxRequestBytes <= 0) {
        throw new ConfigException(path + ".with_request_body.max_request_bytes", "must be greater than 0");
      }
      allowPartial = c.getWithRequestBody().getAllowPartialMessage();
    }
    if (c.hasFilterEnabled()) {
      throw new ConfigException(path + ".filter_enabled", "filter_enabled is not supported");
    }
    if (c.hasFilterEnabledMetadata()) {
      throw new ConfigException(path + ".filter_enabled_metadata", "filter_enabled_metadata is not supported");
    }
    NameMatcher allowed = c.hasAllowedHeaders() ? NameMatcher.parse(c.getAllowedHeaders(), path + ".allowed_headers") : null;
    NameMatcher disallowed =
        c.hasDisallowedHeaders() ? NameMatcher.parse(c.getDisallowedHeaders(), path + ".disallowed_headers") : null;
    AuthzClient client;
    switch (c.getServicesCase()) {
      case GRPC_SERVICE -> {
        GrpcChannels.validate(c.getGrpcService(), path + ".grpc_service", clusters);
        long timeoutMs = GrpcChannels.timeoutMillis(c.getGrpcService(), DEFAULT_TIMEOUT_MS);
        client = new GrpcAuthzClient(clusters == null ? null : clusters.grpcChannels(), c.getGrpcService(), timeoutMs,
            allowed, disallowed, c.hasWithRequestBody() && c.getWithRequestBody().getPackAsBytes());
      }
      case HTTP_SERVICE -> client = new HttpAuthzClient(clusters,
          httpSettings(c.getHttpService(), path + ".http_service", clusters, allowed));
      default -> throw new ConfigException(path, "one of grpc_service or http_service must be set");
    }
    int statusOnError = 403;
    if (c.hasStatusOnError() && c.getStatusOnError().getCodeValue() != 0) {
      statusOnError = c.getStatusOnError().getCodeValue();
      if (statusOnError < 200 || statusOnError > 599) {
        throw new ConfigException(path + ".status_on_error.code", "invalid HTTP status " + statusOnError);
      }
    }
    StatsStore.Scope scope =
        hcmScope.scope("ext_authz." + (c.getStatPrefix().isEmpty() ? "" : c.getStatPrefix() + "."));
    return new ExtAuthzConfig(filterName, client, c.getFailureModeAllow(), c.getFailureModeAllowHeaderAdd(),
        statusOnError, maxRequestBytes, allowPartial, c.getValidateMutations(), scope);
  }

  private static HttpAuthzClient.Settings httpSettings(HttpService h, String path, ClusterManager clusters,
      NameMatcher topAllowed) {
    if (!h.hasServerUri()) {
      throw new ConfigException(path + ".server_uri", "is required");
    }
    String cluster = h.getServerUri().getCluster();
    if (cluster.isEmpty()) {
      throw new ConfigException(path + ".server_uri.cluster", "must not be empty");
    }
    if (clusters != null && !clusters.exists(cluster)) {
      throw new ConfigException(path + ".server_uri.cluster", "unknown cluster '" + cluster + "'");
    }
    try {
      new URI(h.getServerUri().getUri());
    } catch (URISyntaxException e) {
      throw new ConfigException(path + ".server_uri.uri", "invalid URI '" + h.getServerUri().getUri() + "'");
    }
    if (!h.getServerUri().hasTimeout()) {
      throw new ConfigException(path + ".server_uri.timeout", "is required");
    }
    long timeoutMs =
        h.getServerUri().getTimeout().getSeconds() * 1000 + h.getServerUri().getTimeout().getNanos() / 1_000_000;
    AuthorizationRequest ar = h.getAuthorizationRequest();
    NameMatcher allowedRequest = topAllowed;
    if (ar.hasAllowedHeaders()) {
      NameMatcher m = NameMatcher.parse(ar.getAllowedHeaders(), path + ".authorization_request.allowed_headers");
      allowedRequest = allowedRequest == null ? m : allowedRequest.plus(m);
    }
    List<Map.Entry<AsciiString, String>> toAdd = new ArrayList<>();
    for (int i = 0; i < ar.getHeadersToAddCount(); i++) {
      HeaderValue hv = ar.getHeadersToAdd(i);
      if (hv.getKey().isEmpty()) {
        throw new ConfigException(path + ".authorization_request.headers_to_add[" + i + "].key", "must not be empty");
      }
      toAdd.add(new AbstractMap.SimpleImmutableEntry<>(AsciiString.of(hv.getKey().toLowerCase(Locale.ROOT)), hv.getValue()));
    }
    AuthorizationResponse r = h.getAuthorizationResponse();
    String rp = path + ".authorization_response";
    return new HttpAuthzClient.Settings(
        cluster,
        h.getPathPrefix(),
        timeoutMs,
        allowedRequest,
        List.copyOf(toAdd),
        r.hasAllowedUpstreamHeaders() ? NameMatcher.parse(r.getAllowedUpstreamHeaders(), rp + ".allowed_upstream_headers") : null,
        r.hasAllowedUpstreamHeadersToAppend()
            ? NameMatcher.parse(r.getAllowedUpstreamHeadersToAppend(), rp + ".allowed_upstream_headers_to_append")
            : null,
        r.hasAllowedClientHeaders() && r.getAllowedClientHeaders().getPatternsCount() > 0
            ? NameMatcher.parse(r.getAllowedClientHeaders(), rp + ".allowed_client_headers")
            : null,
        r.hasAllowedClientHeadersOnSuccess()
            ? NameMatcher.parse(r.getAllowedClientHeadersOnSuccess(), rp + ".allowed_client_headers_on_success")
            : null);
  }
}
