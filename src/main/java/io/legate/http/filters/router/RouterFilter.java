package io.legate.http.filters.router;

import io.legate.http.HttpHeaderNames;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ClusterSelection;
import io.legate.router.DirectResponseAction;
import io.legate.router.ForwardAction;
import io.legate.router.PreviousPriorities;
import io.legate.router.RedirectAction;
import io.legate.router.RetryState;
import io.legate.router.Route;
import io.legate.upstream.CircuitBreakers;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The router filter: picks the route's cluster and host, forwards the request over a pooled
 * upstream connection, and streams the response back, with Envoy's timeouts, local replies and
 * response flags. One instance per stream.
 *
 * <p>As the last decoder filter it consumes what it is given: it returns {@link Status#CONTINUE}
 * (nothing comes after it) and retains the bytes it forwards or buffers.
 *
 * <p>Retries follow Envoy's router: a failed attempt (connect failure, reset, per-try timeout, or a
 * retriable response whose headers were not yet forwarded) is retried after a jittered back-off
 * while {@link RetryState} allows; the request body is kept for that up to the connection's buffer
 * limit, past which retries are given up ({@code retry_or_shadow_abandoned}).
 */
final class RouterFilter implements HttpFilter, UpstreamCallbacks {
  private static final String RESET_BEFORE_HEADERS =
      "upstream connect error or disconnect/reset before headers. reset reason: ";
  private static final String RETRIED_RESET_BEFORE_HEADERS =
      "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: ";
  private static final AsciiString TRUE = AsciiString.cached("true");
  private static final AsciiString SET_COOKIE = AsciiString.cached("set-cookie");
  private static final AsciiString GRPC_TIMEOUT = AsciiString.cached("grpc-timeout");
  private static final int GRPC_DEADLINE_EXCEEDED = 4;

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
  private boolean upstreamBackedUp; // downstream reading paused because the upstream is not writable
  private boolean responseStarted;
  private boolean finished;
  private long timeoutMs;
  private io.legate.network.LoopTimers.Timer timer;
  private long upstreamStartNanos;
  // Attempts and retries.
  private ForwardAction action;
  private WorkerClusters.Entry worker;
  private boolean h2;
  private CircuitBreakers.Priority priority;
  private CircuitBreakers.ResourceManager resources;
  private RetryState retryState;
  private int attemptCount;
  private boolean attemptActive;
  private List<Host> attemptedHosts;
  private CompositeByteBuf retryBody;
  private Http2Headers requestTrailers;
  private long perTryTimeoutMs;
  private io.legate.network.LoopTimers.Timer perTryTimer;
  // per_try_idle_timeout: the timer is armed once per attempt and re-armed from the time of the
  // attempt's last upstream event when it fires early, so bytes received cost no timer work.
  private long perTryIdleTimeoutNanos;
  private ScheduledFuture<?> perTryIdleTimer;
  private long lastUpstreamEventNanos;
  private ScheduledFuture<?> retryTimer;
  private boolean waitingForPool;
  /** Whether this CONNECT is terminated here: its payload goes over plain TCP to the host. */
  private boolean tcpTunnel;
  private List<String> setCookies;
  private ScheduledFuture<?> durationTimer;
  // Hedging: the attempt whose events are handled as the request's, and those left running after
  // a per-try timeout started another.
  private boolean hedgeOnPerTryTimeout;
  private Attempt current;
  private List<Attempt> backgrounds;
  private io.legate.tracing.UpstreamSpan upstreamSpan = io.legate.tracing.UpstreamSpan.NOOP;
  private int attemptResponseCode;

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
    action = (ForwardAction) route.action();
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
    startDurationTimer(headers, info);
    ForwardAction.RetryPolicy policy = action.retryPolicy();
    hedgeOnPerTryTimeout = action.resilience().hedgeOnPerTryTimeout();
    CharSequence hedgeHeader = headers.get(HttpHeaderNames.X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT);
    if (hedgeHeader != null && TRUE.contentEqualsIgnoreCase(hedgeHeader)) {
      hedgeOnPerTryTimeout = true;
    }
    perTryTimeoutMs = policy == null ? 0 : policy.perTryTimeoutMs();
    perTryIdleTimeoutNanos = policy == null ? 0 : TimeUnit.MILLISECONDS.toNanos(policy.perTryIdleTimeoutMs());
    CharSequence perTry = headers.get(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
    if (perTry != null) {
      try {
        perTryTimeoutMs = Long.parseLong(perTry.toString().trim());
      } catch (NumberFormatException ignored) {
        // Envoy ignores a malformed override.
      }
    }
    headers.remove(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
    if (timeoutMs > 0 && perTryTimeoutMs >= timeoutMs) {
      perTryTimeoutMs = 0; // a per-try timeout not below the global one is ignored, as in Envoy
    }
    boolean connect = AsciiString.contentEquals(headers.method(), "CONNECT");
    // An upgrade or CONNECT is not retried: its request never ends while the tunnel is open.
    boolean upgrade = connect || headers.contains(HttpHeaderNames.UPGRADE);
    tcpTunnel = connect && action.upgrades().terminateConnect();
    retryState = upgrade ? null : RetryState.create(policy, headers);
    if (retryState != null && retryState.previousHosts()) {
      attemptedHosts = new ArrayList<>(2);
    }
    priority = action.highPriority() ? CircuitBreakers.Priority.HIGH : CircuitBreakers.Priority.DEFAULT;
    resources = cluster.circuitBreakers().forPriority(priority);

    worker = WorkerClusters.current().get(c, callbacks.eventLoop());
    long hash = -1;
    if (!action.hashPolicies().isEmpty()) {
      List<String> cookies = new ArrayList<>(1);
      hash = io.legate.router.RequestHash.compute(action.hashPolicies(), headers,
          info.downstreamRemoteAddress(), info.downstreamLocalAddress(), cookies, info.filterStateIfPresent());
      if (!cookies.isEmpty()) {
        setCookies = cookies;
      }
    }
    PreviousPriorities retryPriority = retryState == null ? null : retryState.retryPriority();
    if (hash != -1 || retryPriority != null) {
      lbContext = new RequestLbContext(hash, retryPriority);
    }
    Host chosen = chooseHost();
    if (chosen == null) {
      clusterStats.upstreamCxNoneHealthy.inc();
      info.addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
      releaseRetryState();
      replyForUpstream(503, "no healthy upstream", null, "no_healthy_upstream");
      return Status.CONTINUE;
    }

    route.finalizeRequestHeaders(headers, info, selection, !config.suppressEnvoyHeaders());
    if (!config.suppressEnvoyHeaders()) {
      long expected = perTryTimeoutMs > 0 ? perTryTimeoutMs : timeoutMs;
      if (expected > 0) {
        headers.set(HttpHeaderNames.X_ENVOY_EXPECTED_RQ_TIMEOUT_MS, Long.toString(expected));
      }
    }
    requestHeaders = headers;
    requestEnded = endStream;
    if (retryState != null && !endStream) {
      retryBody = io.netty.buffer.ByteBufAllocator.DEFAULT.compositeBuffer(1024);
    }

    h2 =
        switch (cluster.protocol()) {
          case HTTP2 -> true;
          case USE_DOWNSTREAM -> "HTTP/2".equals(info.protocol());
          default -> false;
        };
    if (endStream) {
      startTimer();
    }
    startAttempt(chosen);
    return Status.CONTINUE;
  }

  /**
   * Starts the route's stream duration timer, as Envoy's connection manager: a gRPC request's
   * {@code grpc-timeout} (less {@code grpc_timeout_header_offset}, capped by {@code
   * grpc_timeout_header_max} unless 0) when the route sets {@code grpc_timeout_header_max}, else
   * the route's {@code max_stream_duration}; counted from the stream's start.
   */
  private void startDurationTimer(Http2Headers headers, StreamInfo info) {
    ForwardAction.Resilience r = action.resilience();
    long limit = action.maxStreamDurationMs();
    if (r.grpcTimeoutHeaderMaxMs() >= 0 && io.legate.http.LocalReplies.isGrpc(headers)) {
      CharSequence h = headers.get(GRPC_TIMEOUT);
      long grpc = h == null ? -1 : io.legate.router.GrpcTimeout.parseMillis(h);
      if (grpc >= 0) {
        if (r.grpcTimeoutHeaderOffsetMs() < grpc) {
          grpc -= r.grpcTimeoutHeaderOffsetMs();
        }
        long max = r.grpcTimeoutHeaderMaxMs();
        limit = max != 0 && (grpc == 0 || grpc > max) ? max : grpc;
      }
    }
    if (limit > 0) {
      long elapsed = (System.nanoTime() - info.startNanos()) / 1_000_000;
      durationTimer = callbacks.eventLoop().schedule(
          this::onMaxStreamDuration, Math.max(0, limit - elapsed), TimeUnit.MILLISECONDS);
    }
  }

  private void onMaxStreamDuration() {
    durationTimer = null;
    if (finished) {
      return;
    }
    config.stats().downstreamRqMaxDurationReached.inc();
    StreamInfo info = callbacks.streamInfo();
    info.addResponseFlag(ResponseFlag.DURATION_TIMEOUT);
    boolean started = responseStarted;
    abandonUpstream();
    if (started) {
      callbacks.resetStream();
    } else {
      callbacks.sendLocalReply(requestEnded ? 504 : 408, "downstream duration timeout", null,
          GRPC_DEADLINE_EXCEEDED, "max_duration_timeout");
    }
  }

  /** The request's hash_policy input for ring hash and Maglev, computed once per request. */
  private LoadBalancer.LbContext lbContext = LoadBalancer.LbContext.NONE;

  /** The request's hash and, with a {@code retry_priority}, the load per priority for its retries. */
  private record RequestLbContext(long hash, PreviousPriorities retryPriority) implements LoadBalancer.LbContext {
    @Override
    public long hashKey() {
      return hash;
    }

    @Override
    public int[] determinePriorityLoad(int[] original, int[] health) {
      return retryPriority == null ? original : retryPriority.determinePriorityLoad(original, health);
    }
  }

  /** Picks a host, avoiding hosts already tried when the previous_hosts predicate asks to. */
  private Host chooseHost() {
    long picks = attemptedHosts == null ? 1 : 1 + Math.max(0, retryState == null ? 0 : retryState.hostSelectionMaxAttempts());
    Host h = null;
    for (long i = 0; i < picks; i++) {
      h = worker.chooseHost(lbContext);
      if (h == null || attemptedHosts == null || !attemptedHosts.contains(h)) {
        break;
      }
    }
    return h;
  }

  /** Starts one attempt on host {@code h}: its stats, then a stream from the host's pool. */
  private void startAttempt(Host h) {
    host = h;
    attemptCount++;
    callbacks.streamInfo().setUpstreamHost(h.addressString());
    if (attemptedHosts != null) {
      attemptedHosts.add(h);
    }
    if (retryState != null && retryState.retryPriority() != null) {
      retryState.retryPriority().onHostAttempted(h.priority());
    }
    if (attemptCount > 1) {
      // The previous attempt's stream may still hold the old headers object.
      requestHeaders = new DefaultHttp2Headers(false).set(requestHeaders);
    }
    if (action.autoHostRewrite() && !h.hostname().isEmpty()) {
      requestHeaders.authority(h.hostname());
    }
    if (action.includeRequestAttemptCount()) {
      requestHeaders.set(RetryState.X_ENVOY_ATTEMPT_COUNT, Integer.toString(attemptCount));
    }
    attemptResponseCode = 0;
    upstreamSpan =
        callbacks.activeSpan().startUpstream(requestHeaders, cluster.name(), h.addressString(), h2, attemptCount);
    clusterStats.upstreamRqTotal.inc();
    clusterStats.upstreamRqActive.inc();
    clusterStats.upstreamRqPendingTotal.inc();
    clusterStats.upstreamRqPendingActive.inc();
    h.rqTotal.increment();
    h.activeRequests.incrementAndGet();
    attemptActive = true;
    upstreamStartNanos = System.nanoTime();
    waitingForPool = true;
    current = new Attempt();
    ConnPool.Cancellable c =
        tcpTunnel
            ? io.legate.upstream.pool.TcpUpstream.open(callbacks.eventLoop(), h, cluster, current)
            : worker.pool(h, h2, priority, cluster.autoSni() ? autoSni(requestHeaders) : null).newStream(current);
    if (waitingForPool) {
      pending = c;
    }
  }

  /** Ends the current attempt's accounting (the request as a whole may go on with a retry). */
  private void endAttempt() {
    upstreamSpan.finish(attemptResponseCode, callbacks.streamInfo());
    upstreamSpan = io.legate.tracing.UpstreamSpan.NOOP;
    if (perTryTimer != null) {
      perTryTimer.cancel();
      perTryTimer = null;
    }
    cancelPerTryIdleTimer();
    if (attemptActive) {
      attemptActive = false;
      clusterStats.upstreamRqActive.dec();
      host.activeRequests.decrementAndGet();
    }
  }

  /**
   * Asks the retry state whether a failed attempt (no response forwarded yet) is retried; if so,
   * schedules the retry and returns true. Sets UO or URX when a retriable failure cannot be.
   */
  private boolean maybeRetryReset(RetryState.ResetKind kind) {
    if (retryState == null || responseStarted) {
      return false;
    }
    return retryDecision(retryState.wouldRetryFromReset(kind));
  }

  private boolean retryDecision(boolean wouldRetry) {
    RetryState.Status st =
        retryState.shouldRetry(wouldRetry, resources.retries(), clusterStats, ThreadLocalRandom.current());
    switch (st) {
      case YES -> {
        retryTimer = callbacks.eventLoop().schedule(this::doRetry, retryState.backOffMs(), TimeUnit.MILLISECONDS);
        return true;
      }
      case NO_OVERFLOW -> callbacks.streamInfo().addResponseFlag(ResponseFlag.UPSTREAM_OVERFLOW);
      case NO_RETRY_LIMIT_EXCEEDED -> callbacks.streamInfo().addResponseFlag(ResponseFlag.UPSTREAM_RETRY_LIMIT_EXCEEDED);
      default -> { }
    }
    return false;
  }

  private void doRetry() {
    retryTimer = null;
    if (finished) {
      return;
    }
    Host h = chooseHost();
    if (h == null) {
      if (promoteBackground()) {
        return;
      }
      clusterStats.upstreamCxNoneHealthy.inc();
      callbacks.streamInfo().addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
      finishUpstream(false);
      replyForUpstream(503, "no healthy upstream", null, "no_healthy_upstream");
      return;
    }
    startAttempt(h);
  }

  /**
   * The request body outgrew the buffer limit: retries are given up (Envoy's
   * retry_or_shadow_abandoned). What was kept goes on to a pending attempt; during a back-off the
   * request fails with 507.
   */
  private void abandonRetries() {
    clusterStats.retryOrShadowAbandoned.inc();
    releaseRetryState();
    CompositeByteBuf kept = retryBody;
    retryBody = null;
    if (upstream != null) {
      kept.release();
    } else if (waitingForPool) {
      buffered = kept;
      bufferedEnd = false;
    } else {
      kept.release();
      finishUpstream(false);
      callbacks.sendLocalReply(
          507,
          "exceeded request buffer limit while retrying upstream",
          null,
          "request_payload_exceeded_retry_buffer_limit");
    }
  }

  private void releaseRetryState() {
    if (retryState != null) {
      retryState.release();
      retryState = null;
    }
  }

  /**
   * Starts the attempt's per-try timers once the whole request is sent and the upstream stream
   * exists, as Envoy: {@code per_try_timeout} (not once the response has begun) and {@code
   * per_try_idle_timeout} (which goes on while the response streams).
   */
  private void startPerTryTimer() {
    if (upstream == null || finished) {
      return;
    }
    if (perTryTimeoutMs > 0 && perTryTimer == null && !responseStarted) {
      perTryTimer = io.legate.network.LoopTimers.schedule(callbacks.eventLoop(), perTryTimeoutMs, this::onPerTryTimeout);
    }
    if (perTryIdleTimeoutNanos > 0 && perTryIdleTimer == null) {
      lastUpstreamEventNanos = System.nanoTime();
      perTryIdleTimer = callbacks.eventLoop().schedule(
          this::onPerTryIdleTimer, perTryIdleTimeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void cancelPerTryIdleTimer() {
    if (perTryIdleTimer != null) {
      perTryIdleTimer.cancel(false);
      perTryIdleTimer = null;
    }
  }

  /** Notes an upstream event of the current attempt: the per-try idle timer counts from here. */
  private void upstreamActivity() {
    if (perTryIdleTimer != null) {
      lastUpstreamEventNanos = System.nanoTime();
    }
  }

  private void onPerTryIdleTimer() {
    perTryIdleTimer = null;
    if (finished || upstream == null) {
      return;
    }
    long left = lastUpstreamEventNanos + perTryIdleTimeoutNanos - System.nanoTime();
    if (left > 0) {
      perTryIdleTimer = callbacks.eventLoop().schedule(this::onPerTryIdleTimer, left, TimeUnit.NANOSECONDS);
      return;
    }
    onPerTryTimeoutCommon(true);
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
    if (retryBody != null) {
      if (retryBody.readableBytes() + (long) data.readableBytes() > callbacks.bufferLimit()) {
        abandonRetries();
        if (finished) {
          return Status.CONTINUE;
        }
      } else {
        retryBody.addComponent(true, data.retain());
        if (upstream != null) {
          upstream.writeData(data.retain(), endStream);
          if (endStream) {
            startPerTryTimer();
          }
          if (upstream != null && !upstream.isWritable()) {
            upstreamBackedUp(true);
          }
        }
        return Status.CONTINUE;
      }
    }
    if (upstream != null) {
      upstream.writeData(data.retain(), endStream);
      if (endStream) {
        startPerTryTimer();
      }
      if (upstream != null && !upstream.isWritable()) {
        upstreamBackedUp(true);
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
    if (retryBody != null) {
      requestTrailers = trailers;
    }
    if (upstream != null) {
      upstream.writeTrailers(trailers);
      startPerTryTimer();
    } else if (retryBody == null) {
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

  /**
   * The upstream stream's write buffer went over its limit (or back under): reading from the
   * downstream pauses (or resumes). Counted as Envoy's {@code upstream_flow_control_backed_up_total}
   * and {@code upstream_flow_control_drained_total}.
   */
  private void upstreamBackedUp(boolean backedUp) {
    if (backedUp != upstreamBackedUp) {
      upstreamBackedUp = backedUp;
      (backedUp
              ? clusterStats.upstreamFlowControlBackedUpTotal
              : clusterStats.upstreamFlowControlDrainedTotal)
          .inc();
    }
    disableDownstream(backedUp);
  }

  private void startTimer() {
    if (timer == null && timeoutMs > 0 && !finished && cluster != null) {
      timer = io.legate.network.LoopTimers.schedule(callbacks.eventLoop(), timeoutMs, this::onTimeout);
    }
  }

  // ---------------------------------------------------------------- upstream events

  @Override
  public void onReady(UpstreamStream stream, Host h) {
    pending = null;
    waitingForPool = false;
    if (finished) {
      stream.reset();
      return;
    }
    clusterStats.upstreamRqPendingActive.dec();
    host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_SUCCESS);
    upstream = stream;
    callbacks.streamInfo().setUpstreamAddresses(stream.localAddress(), stream.remoteAddress());
    if (retryBody != null) {
      // Every attempt is sent the whole request received so far.
      boolean hasBody = retryBody.isReadable();
      stream.writeHeaders(requestHeaders, requestEnded && !hasBody && requestTrailers == null);
      if (hasBody) {
        stream.writeData(retryBody.retainedDuplicate(), requestEnded && requestTrailers == null);
      }
      if (requestTrailers != null) {
        stream.writeTrailers(requestTrailers);
      }
      if (requestEnded) {
        startPerTryTimer();
      }
      if (downstreamReadDisabled && stream.isWritable()) {
        upstreamBackedUp(false);
      }
      return;
    }
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
    if (requestEnded) {
      startPerTryTimer();
    }
    if (downstreamReadDisabled && stream.isWritable()) {
      upstreamBackedUp(false);
    }
  }

  @Override
  public void onPoolFailure(Reason reason, String details, Host h) {
    pending = null;
    waitingForPool = false;
    if (finished) {
      return;
    }
    clusterStats.upstreamRqPendingActive.dec();
    StreamInfo info = callbacks.streamInfo();
    boolean overflow = reason == Reason.OVERFLOW;
    if (!overflow) {
      clusterStats.upstreamRqPendingFailureEject.inc();
      host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_FAILED);
    }
    endAttempt();
    if (maybeRetryReset(overflow ? RetryState.ResetKind.OVERFLOW : RetryState.ResetKind.CONNECT_FAILURE)
        || promoteBackground()) {
      return;
    }
    info.addResponseFlag(overflow ? ResponseFlag.UPSTREAM_OVERFLOW : ResponseFlag.UPSTREAM_CONNECTION_FAILURE);
    if (details != null && !overflow) {
      info.setUpstreamTransportFailureReason(details);
    }
    String body = (attemptCount > 1 ? RETRIED_RESET_BEFORE_HEADERS : RESET_BEFORE_HEADERS) + reason.text();
    if (details != null && !overflow) {
      body += ", transport failure reason: " + details;
    }
    Http2Headers extra = null;
    if (overflow && !config.suppressEnvoyHeaders()) {
      extra = new DefaultHttp2Headers(false);
      extra.set(RetryState.X_ENVOY_OVERLOADED, TRUE);
    }
    finishUpstream(false);
    replyForUpstream(503, body, extra, resetDetails(reason));
  }

  /**
   * Gives up on the upstream side for a timeout of the whole request: the pool request or the
   * stream in progress is dropped and the request's upstream accounting ends.
   */
  private void abandonUpstream() {
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
  }

  @Override
  public void onHeaders(Http2Headers headers, boolean endStream) {
    if (finished) {
      return;
    }
    upstreamActivity();
    CharSequence status0 = headers.status();
    int code0 = status0 == null ? 0 : AsciiString.of(status0).parseInt();
    attemptResponseCode = code0;
    if (retryState != null && !responseStarted) {
      boolean wouldRetry = retryState.wouldRetryFromHeaders(headers, code0);
      if (wouldRetry) {
        retryState.parseResetInterval(headers, System.currentTimeMillis());
      }
      if (retryDecision(wouldRetry)) {
        // This response is not forwarded: the attempt is dropped and retried.
        host.rqError.increment();
        if (!endStream || !requestEnded) {
          upstream.reset();
        }
        upstream = null;
        endAttempt();
        return;
      }
    }
    forwardResponse(headers, endStream, code0);
  }

  private static final String VIA_UPSTREAM = "via_upstream";

  private void forwardResponse(Http2Headers headers, boolean endStream, int code0) {
    responseStarted = true;
    callbacks.streamInfo().onFirstUpstreamRxByte(System.nanoTime());
    // Envoy's response code details for a response that came from the upstream.
    callbacks.streamInfo().setResponseCodeDetails(VIA_UPSTREAM);
    resetBackgrounds();
    if (perTryTimer != null) {
      perTryTimer.cancel();
      perTryTimer = null;
    }
    if (setCookies != null) {
      for (String c : setCookies) {
        headers.add(SET_COOKIE, c);
      }
    }
    if (action != null && action.includeAttemptCountInResponse()) {
      headers.set(RetryState.X_ENVOY_ATTEMPT_COUNT, Integer.toString(attemptCount));
    }
    long serviceMs = (System.nanoTime() - upstreamStartNanos) / 1_000_000;
    int code = code0;
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
    upstreamActivity();
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
    upstreamActivity();
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
    boolean remote = reason == Reason.REMOTE_RESET || reason == Reason.REMOTE_REFUSED_STREAM_RESET;
    if (remote) {
      clusterStats.upstreamRqRxReset.inc();
    }
    host.rqError.increment();
    host.outlier().putResult(Result.LOCAL_ORIGIN_CONNECT_FAILED);
    boolean started = responseStarted;
    if (!started) {
      endAttempt();
      if (maybeRetryReset(
          reason == Reason.CONNECTION_FAILURE || reason == Reason.CONNECTION_TIMEOUT
              ? RetryState.ResetKind.CONNECT_FAILURE
              : reason == Reason.REMOTE_REFUSED_STREAM_RESET
                  ? RetryState.ResetKind.REMOTE_REFUSED_STREAM
                  : RetryState.ResetKind.REMOTE_RESET)
          || promoteBackground()) {
        return;
      }
    }
    info.addResponseFlag(resetFlag(reason));
    finishUpstream(false);
    if (started) {
      config.stats().rqResetAfterDownstreamResponseStarted.inc();
      callbacks.resetStream();
    } else {
      // As Envoy: an upstream that broke the protocol is a bad gateway, any other reset 503.
      replyForUpstream(
          reason == Reason.PROTOCOL_ERROR ? 502 : 503,
          (attemptCount > 1 ? RETRIED_RESET_BEFORE_HEADERS : RESET_BEFORE_HEADERS) + reason.text(),
          null,
          resetDetails(reason));
    }
  }

  /**
   * Answers with a local reply that stands for the upstream's answer (a reset, a timeout, no
   * healthy host), counted in the cluster's {@code upstream_rq_<code>} and {@code
   * upstream_rq_<N>xx} as Envoy's chargeUpstreamAbort does: dashboards alerting on {@code
   * upstream_rq_5xx} see these failures too.
   */
  private void replyForUpstream(int code, String body, Http2Headers extra, String details) {
    if (clusterStats != null) {
      clusterStats.recordResponse(code);
    }
    callbacks.sendLocalReply(code, body, extra, details);
  }

  /** Envoy's response code details for a reset before the response, e.g. {@code ...{connection_failure}}. */
  private static String resetDetails(Reason reason) {
    return "upstream_reset_before_response_started{" + reason.text().replace(' ', '_') + "}";
  }

  /** Envoy's response flag for an upstream stream's reset reason. */
  private static ResponseFlag resetFlag(Reason reason) {
    return switch (reason) {
      case CONNECTION_FAILURE, CONNECTION_TIMEOUT -> ResponseFlag.UPSTREAM_CONNECTION_FAILURE;
      case OVERFLOW -> ResponseFlag.UPSTREAM_OVERFLOW;
      case REMOTE_RESET, REMOTE_REFUSED_STREAM_RESET -> ResponseFlag.UPSTREAM_REMOTE_RESET;
      case PROTOCOL_ERROR -> ResponseFlag.UPSTREAM_PROTOCOL_ERROR;
      case LOCAL_RESET -> ResponseFlag.LOCAL_RESET;
      case CONNECTION_TERMINATION -> ResponseFlag.UPSTREAM_CONNECTION_TERMINATION;
    };
  }

  @Override
  public void onWritabilityChanged(boolean writable) {
    upstreamBackedUp(!writable);
  }

  private void onTimeout() {
    timer = null;
    if (finished) {
      return;
    }
    StreamInfo info = callbacks.streamInfo();
    info.addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
    clusterStats.upstreamRqTimeout.inc();
    if (attemptActive) {
      host.rqTimeout.increment();
    }
    boolean started = responseStarted;
    if (!started) {
      host.outlier().putResult(Result.LOCAL_ORIGIN_TIMEOUT);
    }
    abandonUpstream();
    if (started) {
      callbacks.resetStream();
    } else {
      replyForUpstream(504, "upstream request timeout", null, "upstream_response_timeout");
    }
  }

  private void onPerTryTimeout() {
    perTryTimer = null;
    if (finished || responseStarted) {
      return;
    }
    onPerTryTimeoutCommon(false);
  }

  /**
   * A per-try timeout ({@code upstream_rq_per_try_timeout}) or per-try idle timeout ({@code
   * upstream_rq_per_try_idle_timeout}) of the current attempt, as Envoy's {@code
   * onPerTryTimeoutCommon}: with hedging another attempt starts; otherwise the attempt is reset and
   * retried if allowed, else the request ends with 504 (flag UT), or a reset once the response has
   * begun (only the idle timeout outlives the response headers).
   */
  private void onPerTryTimeoutCommon(boolean idle) {
    (idle ? clusterStats.upstreamRqPerTryIdleTimeout : clusterStats.upstreamRqPerTryTimeout).inc();
    host.rqTimeout.increment();
    if (idle && perTryTimer != null) {
      perTryTimer.cancel();
      perTryTimer = null;
    }
    if (hedgeOnPerTryTimeout && upstream != null && retryState != null && !responseStarted) {
      // Hedging: another attempt starts (a retry, as Envoy counts it) and this one goes on; the
      // first good response wins. Without retries left this attempt simply goes on.
      if (retryDecision(true)) {
        cancelPerTryIdleTimer();
        current.moveToBackground(upstream, host, upstreamStartNanos);
        if (backgrounds == null) {
          backgrounds = new ArrayList<>(2);
        }
        backgrounds.add(current);
        current = null;
        upstream = null;
        attemptActive = false;
      }
      return;
    }
    boolean started = responseStarted;
    if (upstream != null) {
      clusterStats.upstreamRqTxReset.inc();
      upstream.reset();
      upstream = null;
    }
    endAttempt();
    if (!started && (maybeRetryReset(RetryState.ResetKind.LOCAL_RESET) || promoteBackground())) {
      return;
    }
    callbacks.streamInfo().addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
    finishUpstream(false);
    if (started) {
      config.stats().rqResetAfterDownstreamResponseStarted.inc();
      callbacks.resetStream();
    } else {
      replyForUpstream(504, "upstream request timeout", null,
          idle ? "upstream_per_try_idle_timeout" : "upstream_per_try_timeout");
    }
  }

  /** Ends the upstream side: stats, timers, host accounting, kept body. Idempotent. */
  private void finishUpstream(boolean success) {
    if (finished) {
      return;
    }
    finished = true;
    resetBackgrounds();
    if (timer != null) {
      timer.cancel();
      timer = null;
    }
    if (durationTimer != null) {
      durationTimer.cancel(false);
      durationTimer = null;
    }
    if (retryTimer != null) {
      retryTimer.cancel(false);
      retryTimer = null;
    }
    if (cluster != null) {
      endAttempt();
      if (success) {
        clusterStats.upstreamRqCompleted.inc();
        clusterStats.upstreamRqTime.record((System.nanoTime() - upstreamStartNanos) / 1_000_000);
      }
    }
    releaseRetryState();
    if (buffered != null) {
      buffered.release();
      buffered = null;
    }
    if (retryBody != null) {
      retryBody.release();
      retryBody = null;
    }
    if (downstreamReadDisabled) {
      disableDownstream(false);
    }
  }

  // ---------------------------------------------------------------- hedging

  /**
   * Headers from the attempt left running by a hedge: a retriable response only drops it; any
   * other wins, cancelling the current attempt (Envoy's "first good response wins").
   */
  private void onBackgroundHeaders(Attempt bg, Http2Headers headers, boolean endStream) {
    if (finished) {
      return;
    }
    CharSequence st = headers.status();
    int code = st == null ? 0 : AsciiString.of(st).parseInt();
    backgrounds.remove(bg);
    if (retryState != null && retryState.wouldRetryFromHeaders(headers, code)
        && (current != null || retryTimer != null || !backgrounds.isEmpty())) {
      // A bad response while other attempts are in flight: dropped.
      bg.host.rqError.increment();
      if (!endStream) {
        bg.stream.reset();
      }
      endBackground(bg);
      return;
    }
    cancelCurrentAttempt();
    resetBackgrounds();
    promote(bg);
    forwardResponse(headers, endStream, code);
  }

  private void onBackgroundReset(Attempt bg) {
    backgrounds.remove(bg);
    bg.host.rqError.increment();
    endBackground(bg);
    if (!finished && current == null && retryTimer == null && backgrounds.isEmpty()) {
      // Nothing else is in flight (cannot normally happen: a hedge always starts another attempt).
      finishUpstream(false);
      callbacks.streamInfo().addResponseFlag(ResponseFlag.UPSTREAM_REMOTE_RESET);
      replyForUpstream(503, RETRIED_RESET_BEFORE_HEADERS + Reason.REMOTE_RESET.text(), null,
          resetDetails(Reason.REMOTE_RESET));
    }
  }

  private void endBackground(Attempt bg) {
    bg.inBackground = false;
    clusterStats.upstreamRqActive.dec();
    bg.host.activeRequests.decrementAndGet();
  }

  /** Resets the attempts left running by hedges, if any (another attempt won, or the request ended). */
  private void resetBackgrounds() {
    if (backgrounds == null || backgrounds.isEmpty()) {
      return;
    }
    List<Attempt> all = new ArrayList<>(backgrounds);
    backgrounds.clear();
    for (Attempt bg : all) {
      clusterStats.upstreamRqTxReset.inc();
      bg.stream.reset();
      endBackground(bg);
    }
  }

  /** Cancels the current attempt (pending, in flight, or waiting to retry) for a hedged winner. */
  private void cancelCurrentAttempt() {
    if (retryTimer != null) {
      retryTimer.cancel(false);
      retryTimer = null;
    }
    if (pending != null) {
      pending.cancel();
      pending = null;
      waitingForPool = false;
      clusterStats.upstreamRqPendingActive.dec();
    }
    if (upstream != null) {
      clusterStats.upstreamRqTxReset.inc();
      upstream.reset();
      upstream = null;
    }
    endAttempt();
    current = null;
  }

  /** When the current attempt failed for good and a hedged one is still running, waits for that one. */
  private boolean promoteBackground() {
    if (backgrounds == null || backgrounds.isEmpty() || finished) {
      return false;
    }
    Attempt bg = backgrounds.remove(0);
    promote(bg);
    return true;
  }

  private void promote(Attempt bg) {
    bg.inBackground = false;
    current = bg;
    upstream = bg.stream;
    host = bg.host;
    upstreamStartNanos = bg.startNanos;
    attemptActive = true;
    bg.stream = null;
    callbacks.streamInfo().setUpstreamHost(host.addressString());
    if (upstream != null) {
      callbacks.streamInfo().setUpstreamAddresses(upstream.localAddress(), upstream.remoteAddress());
    }
  }

  /**
   * One attempt's upstream callbacks: events of the current attempt are the request's; those of an
   * attempt left running by a hedge are handled apart; those of an abandoned attempt are dropped.
   */
  private final class Attempt implements UpstreamCallbacks {
    private UpstreamStream stream;
    private Host host;
    private long startNanos;
    private boolean inBackground;

    void moveToBackground(UpstreamStream s, Host h, long start) {
      inBackground = true;
      stream = s;
      host = h;
      startNanos = start;
    }

    @Override
    public void onReady(UpstreamStream s, Host h) {
      if (this == current) {
        RouterFilter.this.onReady(s, h);
      } else {
        s.reset();
      }
    }

    @Override
    public void onPoolFailure(Reason reason, String details, Host h) {
      if (this == current) {
        RouterFilter.this.onPoolFailure(reason, details, h);
      }
    }

    @Override
    public void onHeaders(Http2Headers headers, boolean endStream) {
      if (this == current) {
        RouterFilter.this.onHeaders(headers, endStream);
      } else if (inBackground) {
        onBackgroundHeaders(this, headers, endStream);
      }
    }

    @Override
    public void onData(ByteBuf data, boolean endStream) {
      if (this == current) {
        RouterFilter.this.onData(data, endStream);
      } else {
        data.release();
      }
    }

    @Override
    public void onTrailers(Http2Headers trailers) {
      if (this == current) {
        RouterFilter.this.onTrailers(trailers);
      }
    }

    @Override
    public void onReset(Reason reason) {
      if (this == current) {
        RouterFilter.this.onReset(reason);
      } else if (inBackground) {
        onBackgroundReset(this);
      }
    }

    @Override
    public void onWritabilityChanged(boolean writable) {
      if (this == current) {
        RouterFilter.this.onWritabilityChanged(writable);
      }
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
      clusterStats.upstreamFlowControlPausedReadingTotal.inc();
      upstream.readDisable(true);
    }
  }

  @Override
  public void onBelowWriteBufferLowWatermark() {
    if (upstream != null && upstreamReadDisabledByUs) {
      upstreamReadDisabledByUs = false;
      clusterStats.upstreamFlowControlResumedReadingTotal.inc();
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
    if (retryBody != null) {
      retryBody.release();
      retryBody = null;
    }
  }

  /**
   * Returns the SNI auto_sni sends: the host of the upstream request's :authority without its port,
   * or null for an IP literal or no authority (the transport socket's own SNI then applies).
   */
  static String autoSni(Http2Headers headers) {
    CharSequence authority = headers.authority();
    if (authority == null || authority.length() == 0) {
      return null;
    }
    String a = authority.toString();
    if (a.startsWith("[")) {
      return null; // IPv6 literal
    }
    int colon = a.lastIndexOf(':');
    String host = colon >= 0 ? a.substring(0, colon) : a;
    if (host.isEmpty() || io.netty.util.NetUtil.isValidIpV4Address(host)) {
      return null;
    }
    return host.toLowerCase(java.util.Locale.ROOT);
  }

}
