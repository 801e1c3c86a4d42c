package io.legate.http.filters.ratelimit;

import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.extensions.common.ratelimit.v3.RateLimitDescriptor;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitRequest;
import io.envoyproxy.envoy.service.ratelimit.v3.RateLimitResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.legate.http.ResponseFlag;
import io.legate.http.codec.HeaderUtil;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ClusterSelection;
import io.legate.router.ForwardAction;
import io.legate.router.RateLimitPolicy;
import io.legate.router.Route;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's global rate limit filter on one stream: builds the descriptors of the route's (and
 * virtual host's) {@code rate_limits} for the configured stage, asks the rate limit service, and
 * resumes, answers 429 (over limit) or, on an error with {@code failure_mode_deny}, answers the
 * error status. The service's answer arrives on a gRPC thread and is handled on the stream's worker.
 */
final class RateLimitFilter implements HttpFilter {
  static final AsciiString X_ENVOY_RATELIMITED = AsciiString.cached("x-envoy-ratelimited");
  static final AsciiString X_ENVOY_INTERNAL = AsciiString.cached("x-envoy-internal");
  static final AsciiString X_RATELIMIT_LIMIT = AsciiString.cached("x-ratelimit-limit");
  static final AsciiString X_RATELIMIT_REMAINING = AsciiString.cached("x-ratelimit-remaining");
  static final AsciiString X_RATELIMIT_RESET = AsciiString.cached("x-ratelimit-reset");
  static final AsciiString TRUE = AsciiString.cached("true");
  static final int GRPC_RESOURCE_EXHAUSTED = 8;

  private final RateLimitConfig config;
  private DecoderCallbacks callbacks;
  private Http2Headers request;
  private RateLimitConfig.ClusterRateLimitStats stats;
  private ClientCallStreamObserver<RateLimitRequest> call;
  private Http2Headers responseHeadersToAdd;
  private boolean calling;
  private boolean destroyed;

  RateLimitFilter(RateLimitConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    Route route = callbacks.route();
    if (route == null || !(route.action() instanceof ForwardAction action)) {
      return Status.CONTINUE;
    }
    if (config.requestType != RateLimitConfig.RequestType.BOTH) {
      CharSequence internal = headers.get(X_ENVOY_INTERNAL);
      boolean isInternal = internal != null && TRUE.contentEquals(internal);
      if (isInternal != (config.requestType == RateLimitConfig.RequestType.INTERNAL)) {
        return Status.CONTINUE;
      }
    }
    String cluster = action.clusterName();
    if (cluster == null) {
      ClusterSelection s = action.selectCluster(headers, ThreadLocalRandom.current().nextLong());
      cluster = s.clusterName();
      if (cluster == null) {
        return Status.CONTINUE;
      }
    }
    RateLimitPolicy.RequestContext rc = new RateLimitPolicy.RequestContext(
        headers, callbacks.streamInfo().downstreamClientAddress(), config.localCluster, cluster);
    List<List<RateLimitPolicy.DescriptorEntry>> descriptors = new ArrayList<>(2);
    route.rateLimitPolicy().populateDescriptors(config.stage, rc, descriptors);
    if (route.includeVirtualHostRateLimits() || route.rateLimitPolicy().isEmpty()) {
      route.virtualHostRateLimitPolicy().populateDescriptors(config.stage, rc, descriptors);
    }
    if (descriptors.isEmpty()) {
      return Status.CONTINUE;
    }
    stats = config.stats(cluster);
    request = headers;
    RateLimitRequest.Builder b = RateLimitRequest.newBuilder().setDomain(config.domain);
    for (List<RateLimitPolicy.DescriptorEntry> d : descriptors) {
      RateLimitDescriptor.Builder db = RateLimitDescriptor.newBuilder();
      for (RateLimitPolicy.DescriptorEntry e : d) {
        db.addEntries(RateLimitDescriptor.Entry.newBuilder().setKey(e.key()).setValue(e.value()));
      }
      b.addDescriptors(db);
    }
    calling = true;
    var loop = callbacks.eventLoop();
    try {
      config.stub()
          .withDeadlineAfter(config.timeoutMs, TimeUnit.MILLISECONDS)
          .shouldRateLimit(b.build(), new ClientResponseObserver<RateLimitRequest, RateLimitResponse>() {
            private RateLimitResponse response;

            @Override
            public void beforeStart(ClientCallStreamObserver<RateLimitRequest> requestStream) {
              call = requestStream;
            }

            @Override
            public void onNext(RateLimitResponse value) {
              response = value;
            }

            @Override
            public void onError(Throwable t) {
              loop.execute(() -> complete(null));
            }

            @Override
            public void onCompleted() {
              RateLimitResponse r = response;
              loop.execute(() -> complete(r));
            }
          });
    } catch (RuntimeException e) {
      // The channel could not be had (shut down): an error like any other.
      calling = false;
      return onError() ? Status.CONTINUE : Status.STOP_ITERATION;
    }
    return calling ? Status.STOP_ITERATION : Status.CONTINUE;
  }

  /** Handles the service's answer (null: the call failed or timed out), on the stream's worker. */
  private void complete(RateLimitResponse r) {
    assert callbacks.eventLoop().inEventLoop();
    if (destroyed || !calling) {
      return;
    }
    calling = false;
    call = null;
    if (r == null) {
      if (onError()) {
        callbacks.continueDecoding();
      }
      return;
    }
    if (r.getOverallCode() == RateLimitResponse.Code.OVER_LIMIT) {
      stats.overLimit().inc();
      callbacks.streamInfo().addResponseFlag(ResponseFlag.RATE_LIMITED);
      Http2Headers extra = new DefaultHttp2Headers(false);
      addServiceResponseHeaders(r, extra);
      config.responseHeadersToAdd.apply(extra, callbacks.streamInfo());
      if (config.xEnvoyRateLimitedHeader) {
        extra.set(X_ENVOY_RATELIMITED, TRUE);
      }
      String body = r.getRawBody().isEmpty() ? "" : r.getRawBody().toStringUtf8();
      callbacks.sendLocalReply(config.rateLimitedStatus, body, extra,
          config.rateLimitedAsResourceExhausted ? GRPC_RESOURCE_EXHAUSTED : -1, "request_rate_limited");
      return;
    }
    stats.ok().inc();
    for (HeaderValue h : r.getRequestHeadersToAddList()) {
      if (writable(h)) {
        request.set(AsciiString.of(h.getKey().toLowerCase(java.util.Locale.ROOT)), h.getValue());
      }
    }
    Http2Headers extra = new DefaultHttp2Headers(false);
    addServiceResponseHeaders(r, extra);
    if (!extra.isEmpty()) {
      responseHeadersToAdd = extra;
    }
    callbacks.continueDecoding();
  }

  /** Counts an error; answers the error status and returns false with failure_mode_deny. */
  private boolean onError() {
    stats.error().inc();
    if (config.failureModeDeny) {
      callbacks.streamInfo().addResponseFlag(ResponseFlag.RATELIMIT_SERVICE_ERROR);
      callbacks.sendLocalReply(config.statusOnError, "", null, "rate_limiter_error");
      return false;
    }
    stats.failureModeAllowed().inc();
    return true;
  }

  private void addServiceResponseHeaders(RateLimitResponse r, Http2Headers out) {
    for (HeaderValue h : r.getResponseHeadersToAddList()) {
      if (writable(h)) {
        out.set(AsciiString.of(h.getKey().toLowerCase(java.util.Locale.ROOT)), h.getValue());
      }
    }
    if (config.xRateLimitHeaders) {
      XRateLimitHeaders.add(r.getStatusesList(), out);
    }
  }

  /**
   * Whether a header the service asked for can be carried at all (a token name; no CR, LF or other
   * control in the value): one that cannot is left out, as Envoy's codecs would refuse it.
   */
  private static boolean writable(HeaderValue h) {
    return HeaderUtil.isValidHeader(h.getKey(), h.getValue());
  }

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    if (responseHeadersToAdd != null) {
      for (var e : responseHeadersToAdd) {
        headers.set(e.getKey(), e.getValue());
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public void onDestroy() {
    destroyed = true;
    if (calling && call != null) {
      call.cancel("stream destroyed", null);
    }
    calling = false;
    call = null;
  }
}
