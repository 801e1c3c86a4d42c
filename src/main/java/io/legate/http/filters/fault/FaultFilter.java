package io.legate.http.filters.fault;

import io.legate.config.Fraction;
import io.legate.http.HttpHeaderNames;
import io.legate.http.ResponseFlag;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.ForwardAction;
import io.legate.router.HeaderMatch;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's fault filter on one stream: delays the request (a timer on the worker's event loop), then
 * or instead aborts it with a local reply, and may slow the response body down. Which faults apply
 * is decided from the most specific settings (route, virtual host, route configuration, else the
 * filter's own) and the request headers, as in Envoy's {@code FaultFilter}.
 */
final class FaultFilter implements HttpFilter {
  static final AsciiString ABORT_REQUEST = AsciiString.cached("x-envoy-fault-abort-request");
  static final AsciiString ABORT_GRPC_REQUEST = AsciiString.cached("x-envoy-fault-abort-grpc-request");
  static final AsciiString ABORT_REQUEST_PERCENTAGE =
      AsciiString.cached("x-envoy-fault-abort-request-percentage");
  static final AsciiString DELAY_REQUEST = AsciiString.cached("x-envoy-fault-delay-request");
  static final AsciiString DELAY_REQUEST_PERCENTAGE =
      AsciiString.cached("x-envoy-fault-delay-request-percentage");
  static final AsciiString THROUGHPUT_RESPONSE = AsciiString.cached("x-envoy-fault-throughput-response");
  static final AsciiString THROUGHPUT_RESPONSE_PERCENTAGE =
      AsciiString.cached("x-envoy-fault-throughput-response-percentage");
  static final String ABORT_BODY = "fault filter abort";
  static final String ABORT_DETAILS = "fault_filter_abort";

  private final FaultConfig config;
  private DecoderCallbacks decoder;
  private EncoderCallbacks encoder;
  private FaultSettings settings;
  private String downstreamCluster;
  private boolean faultActive;
  private Http2Headers requestHeaders;
  private ScheduledFuture<?> delayTimer;
  private ResponseLimiter limiter;
  private ScheduledFuture<?> limiterTimer;

  FaultFilter(FaultConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderCallbacks(EncoderCallbacks callbacks) {
    this.encoder = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    settings = config.settings;
    Route route = decoder.route();
    if (route != null && route.perFilterConfig(config.filterName) instanceof FaultSettings s) {
      settings = s;
    }
    if (!matchesUpstreamCluster(route) || !matchesDownstreamNodes(headers)) {
      return Status.CONTINUE;
    }
    for (HeaderMatch m : settings.headers()) {
      if (!m.matches(headers)) {
        return Status.CONTINUE;
      }
    }
    CharSequence dc = headers.get(HttpHeaderNames.X_ENVOY_DOWNSTREAM_SERVICE_CLUSTER);
    if (dc != null && dc.length() > 0) {
      downstreamCluster = dc.toString();
    }
    requestHeaders = headers;
    maybeSetupResponseRateLimit(headers);
    if (maybeSetupDelay(headers)) {
      return Status.STOP_ITERATION;
    }
    if (maybeDoAbort(headers)) {
      return Status.STOP_ITERATION;
    }
    return Status.CONTINUE;
  }

  private boolean matchesUpstreamCluster(Route route) {
    if (settings.upstreamCluster().isEmpty()) {
      return true;
    }
    return route != null
        && route.action() instanceof ForwardAction f
        && settings.upstreamCluster().equals(f.clusterName());
  }

  private boolean matchesDownstreamNodes(Http2Headers headers) {
    if (settings.downstreamNodes().isEmpty()) {
      return true;
    }
    CharSequence node = headers.get(HttpHeaderNames.X_ENVOY_DOWNSTREAM_SERVICE_NODE);
    return node != null && settings.downstreamNodes().contains(node.toString());
  }

  // ---------------------------------------------------------------- delay

  private boolean maybeSetupDelay(Http2Headers headers) {
    long ms = delayMs(headers);
    if (ms <= 0 || !tryIncActiveFaults()) {
      return false;
    }
    delayTimer = decoder.eventLoop().schedule(this::postDelay, ms, TimeUnit.MILLISECONDS);
    if (downstreamCluster != null && !settings.disableDownstreamClusterStats()) {
      config.downstreamCluster(downstreamCluster)[1].inc();
    }
    config.delaysInjected.inc();
    decoder.streamInfo().addResponseFlag(ResponseFlag.DELAY_INJECTED);
    return true;
  }

  /** Returns the delay to inject, or 0 for none. */
  long delayMs(Http2Headers headers) {
    FaultSettings.Delay d = settings.delay();
    if (d == null) {
      return 0;
    }
    Fraction pct = d.percentage();
    long ms = d.fixedMs();
    if (ms < 0) {
      pct = headerPercentage(headers, DELAY_REQUEST_PERCENTAGE, pct);
    }
    if (!pct.enabled(config.random.getAsLong())) {
      return 0;
    }
    if (ms < 0) {
      ms = parseUnsigned(headers.get(DELAY_REQUEST));
    }
    return Math.max(ms, 0);
  }

  private void postDelay() {
    delayTimer = null;
    if (maybeDoAbort(requestHeaders)) {
      return;
    }
    // A delay followed by no abort no longer counts as active unless the response is slowed.
    if (settings.rateLimit() == null && faultActive) {
      config.activeFaults.dec();
      faultActive = false;
    }
    decoder.continueDecoding();
  }

  // ---------------------------------------------------------------- abort

  private boolean maybeDoAbort(Http2Headers headers) {
    FaultSettings.Abort a = settings.abort();
    if (a == null) {
      return false;
    }
    Fraction pct = a.percentage();
    if (a.kind() == FaultSettings.AbortKind.HEADER) {
      pct = headerPercentage(headers, ABORT_REQUEST_PERCENTAGE, pct);
    }
    if (!pct.enabled(config.random.getAsLong())) {
      return false;
    }
    int http;
    int grpc = -1;
    switch (a.kind()) {
      case HTTP -> http = a.httpStatus();
      case GRPC -> {
        http = 200;
        grpc = a.grpcStatus();
      }
      default -> {
        long h = parseUnsigned(headers.get(ABORT_REQUEST));
        if (h >= 200 && h < 600) {
          http = (int) h;
        } else {
          long g = parseUnsigned(headers.get(ABORT_GRPC_REQUEST));
          if (g < 0 || g > Integer.MAX_VALUE) {
            return false;
          }
          http = 200;
          grpc = (int) g;
        }
      }
    }
    if (!tryIncActiveFaults()) {
      return false;
    }
    if (downstreamCluster != null && !settings.disableDownstreamClusterStats()) {
      config.downstreamCluster(downstreamCluster)[0].inc();
    }
    config.abortsInjected.inc();
    decoder.streamInfo().addResponseFlag(ResponseFlag.FAULT_INJECTED);
    decoder.sendLocalReply(http, ABORT_BODY, null, grpc, ABORT_DETAILS);
    return true;
  }

  // ---------------------------------------------------------------- response rate limit

  private void maybeSetupResponseRateLimit(Http2Headers headers) {
    FaultSettings.RateLimit rl = settings.rateLimit();
    if (rl == null) {
      return;
    }
    Fraction pct = rl.percentage();
    if (rl.fixedKbps() < 0) {
      pct = headerPercentage(headers, THROUGHPUT_RESPONSE_PERCENTAGE, pct);
    }
    if (!pct.enabled(config.random.getAsLong())) {
      return;
    }
    long kbps = rl.fixedKbps();
    if (kbps < 0) {
      kbps = parseUnsigned(headers.get(THROUGHPUT_RESPONSE));
      if (kbps <= 0) {
        return;
      }
    }
    if (!tryIncActiveFaults()) {
      return;
    }
    config.responseRlInjected.inc();
    limiter = new ResponseLimiter(kbps * 1024, config.nanoTime.getAsLong());
  }

  @Override
  public Status encodeData(ByteBuf data, boolean endStream) {
    if (limiter == null) {
      return Status.CONTINUE;
    }
    long waitNanos = limiter.reserve(data.readableBytes(), config.nanoTime.getAsLong());
    if (waitNanos <= 0) {
      return Status.CONTINUE;
    }
    limiterTimer =
        decoder.eventLoop().schedule(this::onLimiterTimer, waitNanos, TimeUnit.NANOSECONDS);
    return Status.STOP_ITERATION;
  }

  private void onLimiterTimer() {
    limiterTimer = null;
    encoder.continueEncoding();
  }

  // ---------------------------------------------------------------- common

  private boolean tryIncActiveFaults() {
    if (faultActive) {
      return true;
    }
    long max = settings.maxActiveFaults();
    if (max >= 0 && config.activeFaults.value() >= max) {
      config.faultsOverflow.inc();
      return false;
    }
    config.activeFaults.inc();
    faultActive = true;
    return true;
  }

  /**
   * Returns the configured percentage lowered to the header's numerator (same denominator) when the
   * header holds an unsigned integer, as Envoy's HeaderPercentageProvider.
   */
  private static Fraction headerPercentage(Http2Headers headers, AsciiString name, Fraction pct) {
    long v = parseUnsigned(headers.get(name));
    if (v < 0 || v > 0xffffffffL) {
      return pct;
    }
    return pct.capped(v);
  }

  /** Parses an unsigned decimal (surrounding blanks and a leading '+' allowed); -1 if invalid. */
  static long parseUnsigned(CharSequence s) {
    if (s == null) {
      return -1;
    }
    int i = 0;
    int end = s.length();
    while (i < end && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
      i++;
    }
    while (end > i && (s.charAt(end - 1) == ' ' || s.charAt(end - 1) == '\t')) {
      end--;
    }
    if (i < end && s.charAt(i) == '+') {
      i++;
    }
    if (i == end) {
      return -1;
    }
    long v = 0;
    for (; i < end; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
      if (v > 0x7fffffffffffL) {
        return -1;
      }
    }
    return v;
  }

  @Override
  public void onDestroy() {
    if (delayTimer != null) {
      delayTimer.cancel(false);
      delayTimer = null;
    }
    if (limiterTimer != null) {
      limiterTimer.cancel(false);
      limiterTimer = null;
    }
    if (faultActive) {
      config.activeFaults.dec();
      faultActive = false;
    }
  }

  /**
   * Paces response bytes at a fixed rate with a burst of 1/16 s of bytes: each chunk waits until
   * the bytes before it and itself are paid for. Confined to the stream's worker.
   */
  static final class ResponseLimiter {
    private final long bytesPerSecond;
    private final long burstNanos;
    private long paidUntil;

    ResponseLimiter(long bytesPerSecond, long now) {
      this.bytesPerSecond = bytesPerSecond;
      this.burstNanos = TimeUnit.SECONDS.toNanos(1) / 16;
      this.paidUntil = now - burstNanos;
    }

    /** Books {@code bytes} at {@code now}; returns how long to wait before sending them (ns). */
    long reserve(int bytes, long now) {
      paidUntil = Math.max(paidUntil, now - burstNanos);
      paidUntil += bytes * 1_000_000_000L / bytesPerSecond;
      return Math.max(0, paidUntil - burstNanos - now);
    }
  }
}
