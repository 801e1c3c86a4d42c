package io.legate.http.filters.router;

import io.legate.http.HttpHeaderNames;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ClusterSelection;
import io.legate.router.DirectResponseAction;
import io.legate.router.ForwardAction;
import io.legate.router.RedirectAction;
import io.legate.router.Route;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.legate.upstream.LoadBalancer;
import io.legate.upstream.UpstreamProtocol;
import io.legate.upstream.outlier.Result;
import io.legate.upstream.pool.ConnPool;
import io.legate.upstream.pool.UpstreamCallbacks;
import io.legate.upstream.pool.UpstreamStream;
import io.legate.upstream.pool.WorkerClusters;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The router filter: picks the route's cluster and host, forwards the request over a pooled
 * upstream connection, and streams the response back, with Envoy's timeouts, local replies and
 * response flags. One instance per stream.
 *
 * <p>As the last decoder filter it consumes what it is given: it returns {@link Status#CONTINUE}
 * (nothing comes after it) and retains the bytes it forwards or buffers.
 */
final class RouterFilter implements HttpFilter, UpstreamCallbacks {
  private static final String RESET_BEFORE_HEADERS =
      "upstream connect error or disconnect/reset before headers. reset reason: ";

  private final RouterFilterFactory.RouterConfig config;
  private DecoderCallbacks callbacks;
  private Route route;
  private ClusterSelection selection;
  private boolean responseFinalized;
  private ClusterInfo cluster;
  private ClusterStats clusterStats;
  private Host host;
  private ConnPool.Cancellable pending;
  private UpstreamStream upstream;
  private Http2Headers requestHeaders;
  private boolean requestEnded;
  private CompositeByteBuf buffered;
  private Http2Headers bufferedTrailers;
  private boolean bufferedEnd;
  private boolean upstreamReadDisabledByUs;
  private boolean downstreamReadDisabled;
  private boolean responseStarted;
  private boolean finished;
  private long timeoutMs;
  private ScheduledFuture<?> timer;
  private long upstreamStartNanos;

  RouterFilter(RouterFilterFactory.RouterConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  // ---------------------------------------------------------------- request

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    config.stats().rqTotal.inc();
    StreamInfo info = callbacks.streamInfo();
    route = callbacks.route();
    if (route == null) {
      config.stats().noRoute.inc();
      info.addResponseFlag(ResponseFlag.NO_ROUTE_FOUND);
      callbacks.sendLocalReply(404, "", null, "route_not_found");
      return Status.CONTINUE;
    }
    if (route.action() instanceof DirectResponseAction direct) {
      config.stats().rqDirectResponse.inc();
      byte[] body = direct.body();
      callbacks.sendLocalReply(
          direct.status(),
          body == null ? "" : new String(body, java.nio.charset.StandardCharsets.UTF_8),
          null,
          "direct_response");
      return Status.CONTINUE;
    }
    if (route.action() instanceof RedirectAction redirect) {
      config.stats().rqRedirect.inc();
      Http2Headers extra = new DefaultHttp2Headers(false);
      extra.set(HttpHeaderNames.LOCATION, redirect.location(headers, callbacks.downstreamTls()));
      callbacks.sendLocalReply(redirect.status(), "", extra, "redirect");
      return Status.CONTINUE;
    }
    ForwardAction action = (ForwardAction) route.action();
    selection = action.selectCluster(headers, ThreadLocalRandom.current().nextLong());
    Cluster c = selection.clusterName() == null ? null : config.clusters().get(selection.clusterName());
    if (c == null) {
      config.stats().noCluster.inc();
      info.addResponseFlag(ResponseFlag.NO_CLUSTER_FOUND);
      callbacks.sendLocalReply(action.clusterNotFoundResponseCode(), "", null, "cluster_not_found");
      return Status.CONTINUE;
    }
    cluster = c.info();
    clusterStats = cluster.stats();
    info.setUpstreamCluster(cluster.name());

    timeoutMs = action.timeoutMs();
    CharSequence override =
        config.respectExpectedRqTimeout()
            ? headers.get(HttpHeaderNames.X_ENVOY_EXPECTED_RQ_TIMEOUT_MS)
            : headers.get(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
    if (override == null && config.respectExpectedRqTimeout()) {
      override = headers.get(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
    }
    if (override != null) {
      try {
        timeoutMs = Long.parseLong(override.toString().trim());
      } catch (NumberFormatException ignored) {
        // Envoy ignores a malformed override.
      }
    }
    headers.remove(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
    headers.remove(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);

    WorkerClusters.Entry worker = WorkerClusters.current().get(c, callbacks.eventLoop());
    host = worker.chooseHost(LoadBalancer.LbContext.NONE);
    if (host == null) {
      clusterStats.upstreamCxNoneHealthy.inc();
      info.addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
      callbacks.sendLocalReply(503, "no healthy upstream", null, "no_healthy_upstream");
      return Status.CONTINUE;
    }
    info.setUpstreamHost(host.addressString());

    route.finalizeRequestHeaders(headers, info, selection, !config.suppressEnvoyHeaders());
    if (action.autoHostRewrite() && !host.hostname().isEmpty()) {
      headers.authority(host.hostname());
    }
    if (!config.suppressEnvoyHeaders()) {
      if (timeoutMs > 0) {
        headers.set(HttpHeaderNames.X_ENVOY_EXPECTED_RQ_TIMEOUT_MS, Long.toString(timeoutMs));
      }
    }
    requestHeaders = headers;
    requestEnded = endStream;

    boolean h2 =
        switch (cluster.protocol()) {
          case HTTP2 -> true;
          case USE_DOWNSTREAM -> "HTTP/2".equals(info.protocol());
          default -> false;
        };
    clusterStats.upstreamRqTotal.inc();
    clusterStats.upstreamRqActive.inc();
    clusterStats.upstreamRqPendingTotal.inc();
    clusterStats.upstreamRqPendingActive.inc();
    host.rqTotal.increment();
    host.activeRequests.incrementAndGet();
    upstreamStartNanos = System.nanoTime();
    if (endStream) {
      startTimer();
    }
    pending = worker.pool(host, h2).newStream(this);
    return Status.CONTINUE;
  }

  @Override
  public Status decodeData(ByteBuf data, boolean endStream) {
    if (finished) {
      return Status.CONTINUE;
    }
    if (endStream) {
      requestEnded = true;
      startTimer();
    }
    if (upstream != null) {
      upstream.writeData(data.retain(), endStream);
      if (!upstream.isWritable()) {
        disableDownstream(true);
      }
    } else {
      if (buffered == null) {
        buffered = data.alloc().compositeBuffer(64);
      }
      buffered.addComponent(true, data.retain());
      bufferedEnd = endStream;
      if (buffered.readableBytes() > callbacks.bufferLimit()) {
        disableDownstream(true);
      }
    }
    return Status.CONTINUE;
  }

  @Override
  public Status decodeTrailers(Http2Headers trailers) {
    if (finished) {
      return Status.CONTINUE;
    }
    requestEnded = true;
    startTimer();
    if (upstream != null) {
      upstream.writeTrailers(trailers);
    } else {
      bufferedTrailers = trailers;
    }
    return Status.CONTINUE;
  }

  private void disableDownstream(boolean disable) {
    if (downstreamReadDisabled != disable) {
      downstreamReadDisabled = disable;
      callbacks.readDisable(disable);
    }
  }

  private void startTimer() {
    if (timer == null && timeoutMs > 0 && !finished && cluster != null) {
      timer = callbacks.eventLoop().schedule(this::onTimeout, timeoutMs, TimeUnit.MILLISECONDS);
    }
  }

  // ---------------------------------------------------------------- upstream events

  @Override
  public void onReady(UpstreamStream stream, Host h) {
    pending = null;
    if (finished) {
      stream.reset();
      return;
    }
    clusterStats.upstreamRqPendingActive.dec();
    host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_SUCCESS);
    upstream = stream;
    boolean headersOnly = requestEnded && buffered == null && bufferedTrailers == null;
    stream.writeHeaders(requestHeaders, headersOnly);
    if (buffered != null) {
      CompositeByteBuf b = buffered;
      buffered = null;
      stream.writeData(b, bufferedEnd && bufferedTrailers == null);
    }
    if (bufferedTrailers != null) {
      stream.writeTrailers(bufferedTrailers);
      bufferedTrailers = null;
    }
    if (downstreamReadDisabled && stream.isWritable()) {
      disableDownstream(false);
    }
  }

  @Override
  public void onPoolFailure(Reason reason, String details, Host h) {
    pending = null;
    if (finished) {
      return;
    }
    clusterStats.upstreamRqPendingActive.dec();
    StreamInfo info = callbacks.streamInfo();
    if (reason == Reason.OVERFLOW) {
      info.addResponseFlag(ResponseFlag.UPSTREAM_OVERFLOW);
      clusterStats.upstreamRqPendingOverflow.inc();
    } else {
      info.addResponseFlag(ResponseFlag.UPSTREAM_CONNECTION_FAILURE);
      clusterStats.upstreamRqPendingFailureEject.inc();
      host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_FAILED);
    }
    String body = RESET_BEFORE_HEADERS + reason.text();
    if (details != null && reason != Reason.OVERFLOW) {
      body += ", transport failure reason: " + details;
    }
    finishUpstream(false);
    callbacks.sendLocalReply(503, body, null, "upstream_reset_before_response_started{" + reason.text() + "}");
  }

  @Override
  public void onHeaders(Http2Headers headers, boolean endStream) {
    if (finished) {
      return;
    }
    responseStarted = true;
    long serviceMs = (System.nanoTime() - upstreamStartNanos) / 1_000_000;
    CharSequence status = headers.status();
    int code = status == null ? 0 : AsciiString.of(status).parseInt();
    clusterStats.recordResponse(code);
    host.outlier().putHttpResponseCode(code);
    if (code >= 500) {
      host.rqError.increment();
    } else {
      host.rqSuccess.increment();
    }
    if (!config.suppressEnvoyHeaders()) {
      headers.set(HttpHeaderNames.X_ENVOY_UPSTREAM_SERVICE_TIME, Long.toString(serviceMs));
    }
    StreamInfo info = callbacks.streamInfo();
    info.setResponseHeaders(headers);
    info.setResponseCode(code);
    if (endStream) {
      finishUpstream(true);
    }
    callbacks.encodeHeaders(headers, endStream);
  }

  @Override
  public void onData(ByteBuf data, boolean endStream) {
    if (finished) {
      data.release();
      return;
    }
    if (endStream) {
      finishUpstream(true);
    }
    callbacks.encodeData(data, endStream);
  }

  @Override
  public void onTrailers(Http2Headers trailers) {
    if (finished) {
      return;
    }
    finishUpstream(true);
    callbacks.encodeTrailers(trailers);
  }

  @Override
  public void onReset(Reason reason) {
    upstream = null;
    if (finished) {
      return;
    }
    StreamInfo info = callbacks.streamInfo();
    if (reason == Reason.REMOTE_RESET) {
      info.addResponseFlag(ResponseFlag.UPSTREAM_REMOTE_RESET);
      clusterStats.upstreamRqRxReset.inc();
    } else {
      info.addResponseFlag(ResponseFlag.UPSTREAM_CONNECTION_TERMINATION);
    }
    host.rqError.increment();
    host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_FAILED);
    boolean started = responseStarted;
    finishUpstream(false);
    if (started) {
      config.stats().rqResetAfterDownstreamResponseStarted.inc();
      callbacks.resetStream();
    } else {
      callbacks.sendLocalReply(503, RESET_BEFORE_HEADERS + reason.text(), null, "upstream_reset_before_response_started{" + reason.text() + "}");
    }
  }

  @Override
  public void onWritabilityChanged(boolean writable) {
    disableDownstream(!writable);
  }

  private void onTimeout() {
    timer = null;
    if (finished) {
      return;
    }
    StreamInfo info = callbacks.streamInfo();
    info.addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
    clusterStats.upstreamRqTimeout.inc();
    host.rqTimeout.increment();
    boolean started = responseStarted;
    if (!started) {
      host.outlier().putResult(Result.LOCAL_ORIGIN_TIMEOUT);
    }
    if (pending != null) {
      pending.cancel();
      pending = null;
      clusterStats.upstreamRqPendingActive.dec();
    }
    if (upstream != null) {
      upstream.reset();
      upstream = null;
    }
    finishUpstream(false);
    if (started) {
      callbacks.resetStream();
    } else {
      callbacks.sendLocalReply(504, "upstream request timeout", null, "upstream_response_timeout");
    }
  }

  /** Ends the upstream side: stats, timer, host accounting. Idempotent. */
  private void finishUpstream(boolean success) {
    if (finished) {
      return;
    }
    finished = true;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
    if (cluster != null) {
      clusterStats.upstreamRqActive.dec();
      if (success) {
        clusterStats.upstreamRqCompleted.inc();
        clusterStats.upstreamRqTime.record((System.nanoTime() - upstreamStartNanos) / 1_000_000);
      }
      host.activeRequests.decrementAndGet();
    }
    if (buffered != null) {
      buffered.release();
      buffered = null;
    }
    if (downstreamReadDisabled) {
      disableDownstream(false);
    }
  }

  // ---------------------------------------------------------------- response direction

  @Override
  public Status encodeHeaders(Http2Headers headers, boolean endStream) {
    // Every response, proxied or local (direct response, redirect, error), gets the route's
    // response header mutations once; the router is the first encoder to see it.
    if (!responseFinalized && route != null) {
      responseFinalized = true;
      route.finalizeResponseHeaders(headers, callbacks.streamInfo(), selection);
    }
    return Status.CONTINUE;
  }

  @Override
  public void onAboveWriteBufferHighWatermark() {
    if (upstream != null && !upstreamReadDisabledByUs) {
      upstreamReadDisabledByUs = true;
      upstream.readDisable(true);
    }
  }

  @Override
  public void onBelowWriteBufferLowWatermark() {
    if (upstream != null && upstreamReadDisabledByUs) {
      upstreamReadDisabledByUs = false;
      upstream.readDisable(false);
    }
  }

  @Override
  public void onDestroy() {
    if (!finished) {
      // Downstream went away (or was reset) before the upstream finished.
      if (pending != null) {
        pending.cancel();
        pending = null;
        if (cluster != null) {
          clusterStats.upstreamRqPendingActive.dec();
          clusterStats.upstreamRqCancelled.inc();
        }
      }
      if (upstream != null) {
        clusterStats.upstreamRqTxReset.inc();
        upstream.reset();
        upstream = null;
      }
      finishUpstream(false);
    }
    if (buffered != null) {
      buffered.release();
      buffered = null;
    }
  }
}
