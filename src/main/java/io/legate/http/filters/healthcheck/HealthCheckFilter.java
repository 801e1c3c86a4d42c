package io.legate.http.filters.healthcheck;

import io.legate.http.ResponseFlag;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.HeaderMatch;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Envoy's health check filter on one stream: a request matching {@code headers} is a health check.
 * Without pass-through it is answered here (200, or 503 when the server is failing health checks or
 * a cluster is below its minimum healthy percentage); with pass-through it goes upstream unless the
 * server is failing or a cached answer applies. Every other response gets {@code
 * x-envoy-immediate-health-check-fail: true} while the server is failing.
 */
final class HealthCheckFilter implements HttpFilter {
  static final AsciiString X_ENVOY_IMMEDIATE_HEALTH_CHECK_FAIL =
      AsciiString.cached("x-envoy-immediate-health-check-fail");
  static final AsciiString X_ENVOY_UPSTREAM_HEALTHCHECKED_CLUSTER =
      AsciiString.cached("x-envoy-upstream-healthchecked-cluster");
  static final AsciiString X_ENVOY_DEGRADED = AsciiString.cached("x-envoy-degraded");
  static final AsciiString TRUE = AsciiString.cached("true");

  /** The filter's immutable config. minHealthy maps cluster names to percentages (0..100). */
  record Config(
      boolean passThrough,
      List<HeaderMatch> headers,
      HealthCheckCache cache,
      Map<String, Double> minHealthy,
      ClusterManager clusters,
      BooleanSupplier failing,
      AsciiString localCluster) {}

  private final Config config;
  private DecoderCallbacks decoder;
  private boolean healthCheckRequest;

  HealthCheckFilter(Config config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    for (HeaderMatch m : config.headers()) {
      if (!m.matches(headers)) {
        return Status.CONTINUE;
      }
    }
    healthCheckRequest = true;
    decoder.streamInfo().setHealthCheck(true);
    boolean handling =
        !config.passThrough()
            || config.failing().getAsBoolean()
            || (config.cache() != null && config.cache().useCachedResponse());
    if (!handling) {
      return Status.CONTINUE;
    }
    // Answered at once, without waiting for a request body.
    respond();
    return Status.STOP_ITERATION;
  }

  private void respond() {
    int status = 200;
    boolean degraded = false;
    if (config.failing().getAsBoolean()) {
      decoder.streamInfo().addResponseFlag(ResponseFlag.FAILED_LOCAL_HEALTH_CHECK);
      status = 503;
    } else {
      if (config.cache() != null) {
        status = config.cache().cachedStatus();
        degraded = config.cache().cachedDegraded();
      } else if (!config.minHealthy().isEmpty()) {
        status = clustersHealthy() ? 200 : 503;
      }
      if (status < 200 || status >= 300) {
        decoder.streamInfo().addResponseFlag(ResponseFlag.FAILED_LOCAL_HEALTH_CHECK);
      }
    }
    Http2Headers extra = null;
    if (degraded) {
      extra = new DefaultHttp2Headers(false);
      extra.set(X_ENVOY_DEGRADED, AsciiString.EMPTY_STRING);
    }
    decoder.sendLocalReply(status, "", extra, "");
  }

  /** Returns whether every listed cluster has at least its minimum percentage of healthy hosts. */
  private boolean clustersHealthy() {
    for (Map.Entry<String, Double> e : config.minHealthy().entrySet()) {
      Cluster c = config.clusters() == null ? null : config.clusters().get(e.getKey());
      if (c == null) {
        return false;
      }
      long total = c.info().stats().membershipTotal.value();
      double min = e.getValue();
      if (total == 0) {
        if (min == 0.0) {
          continue;
        }
        return false;
      }
      if (c.info().stats().membershipHealthy.value() < total * min / 100.0) {
        return false;
      }
    }
    return true;
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (healthCheckRequest) {
      if (config.cache() != null) {
        CharSequence s = headers.status();
        int code = s == null ? 0 : AsciiString.of(s).parseInt();
        config.cache().setCachedResponse(code, headers.contains(X_ENVOY_DEGRADED));
      }
      headers.set(X_ENVOY_UPSTREAM_HEALTHCHECKED_CLUSTER, config.localCluster());
    } else if (config.failing().getAsBoolean()) {
      headers.set(X_ENVOY_IMMEDIATE_HEALTH_CHECK_FAIL, TRUE);
    }
    return Status.CONTINUE;
  }
}
