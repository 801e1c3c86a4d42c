package io.legate.router;

import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.ClusterStats;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.random.RandomGenerator;

/**
 * The retry state of one request (Envoy's {@code RetryStateImpl}): the merged {@code retry_on}
 * conditions of the route's policy and the request's {@code x-envoy-retry-on}, {@code
 * x-envoy-retry-grpc-on}, {@code x-envoy-max-retries}, {@code x-envoy-retriable-status-codes} and
 * {@code x-envoy-retriable-header-names} headers; the retries left; the jittered exponential
 * back-off; and the retry circuit breaker held while a retry is under way. Confined to the
 * request's worker.
 */
public final class RetryState {
  public static final int RETRY_ON_5XX = 1;
  public static final int RETRY_ON_GATEWAY_ERROR = 1 << 1;
  public static final int RETRY_ON_CONNECT_FAILURE = 1 << 2;
  public static final int RETRY_ON_RETRIABLE_4XX = 1 << 3;
  public static final int RETRY_ON_REFUSED_STREAM = 1 << 4;
  public static final int RETRY_ON_RETRIABLE_STATUS_CODES = 1 << 5;
  public static final int RETRY_ON_RETRIABLE_HEADERS = 1 << 6;
  public static final int RETRY_ON_RESET = 1 << 7;
  public static final int RETRY_ON_ENVOY_RATE_LIMITED = 1 << 8;
  public static final int RETRY_ON_GRPC_CANCELLED = 1 << 9;
  public static final int RETRY_ON_GRPC_DEADLINE_EXCEEDED = 1 << 10;
  public static final int RETRY_ON_GRPC_RESOURCE_EXHAUSTED = 1 << 11;
  public static final int RETRY_ON_GRPC_UNAVAILABLE = 1 << 12;
  public static final int RETRY_ON_GRPC_INTERNAL = 1 << 13;

  private static final int GRPC_MASK =
      RETRY_ON_GRPC_CANCELLED | RETRY_ON_GRPC_DEADLINE_EXCEEDED | RETRY_ON_GRPC_RESOURCE_EXHAUSTED
          | RETRY_ON_GRPC_UNAVAILABLE | RETRY_ON_GRPC_INTERNAL;

  public static final AsciiString X_ENVOY_RETRY_ON = AsciiString.cached("x-envoy-retry-on");
  public static final AsciiString X_ENVOY_RETRY_GRPC_ON = AsciiString.cached("x-envoy-retry-grpc-on");
  public static final AsciiString X_ENVOY_MAX_RETRIES = AsciiString.cached("x-envoy-max-retries");
  public static final AsciiString X_ENVOY_RETRIABLE_STATUS_CODES =
      AsciiString.cached("x-envoy-retriable-status-codes");
  public static final AsciiString X_ENVOY_RETRIABLE_HEADER_NAMES =
      AsciiString.cached("x-envoy-retriable-header-names");
  public static final AsciiString X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT =
      AsciiString.cached("x-envoy-hedge-on-per-try-timeout");
  public static final AsciiString X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS =
      AsciiString.cached("x-envoy-upstream-rq-per-try-timeout-ms");
  public static final AsciiString X_ENVOY_ATTEMPT_COUNT = AsciiString.cached("x-envoy-attempt-count");
  public static final AsciiString X_ENVOY_RATELIMITED = AsciiString.cached("x-envoy-ratelimited");
  public static final AsciiString X_ENVOY_OVERLOADED = AsciiString.cached("x-envoy-overloaded");
  private static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");

  /** Why an attempt ended without a response (Envoy's stream reset reasons, as retries see them). */
  public enum ResetKind {
    /** The connection could not be made (or timed out connecting). */
    CONNECT_FAILURE,
    /** A circuit breaker refused the stream: never retried. */
    OVERFLOW,
    /** The upstream refused the HTTP/2 stream (REFUSED_STREAM). */
    REMOTE_REFUSED_STREAM,
    /** The upstream reset the stream or closed the connection. */
    REMOTE_RESET,
    /** The proxy reset the attempt (per-try timeout). */
    LOCAL_RESET
  }

  /** The answer to {@link #shouldRetry}. */
  public enum Status {
    /** A retry is scheduled: call the attempt again after {@link #backOffMs()}. */
    YES,
    /** The failure is not retriable. */
    NO,
    /** Retriable, but the retry circuit breaker is open (flag UO). */
    NO_OVERFLOW,
    /** Retriable, but no retries are left (flag URX). */
    NO_RETRY_LIMIT_EXCEEDED
  }

  private final int retryOn;
  private final List<Integer> retriableStatusCodes;
  private final List<Predicate<Http2Headers>> retriableHeaders;
  private final boolean previousHosts;
  private final long hostSelectionMaxAttempts;
  private final long maxIntervalMs;
  private long retriesRemaining;
  private long nextIntervalMs;
  private CircuitBreakers.Resource heldRetry;
  private long lastBackOffMs;
  private final List<ForwardAction.ResetHeader> resetHeaders;
  private final long resetMaxIntervalMs;
  private long rateLimitedIntervalMs = -1;
  private final PreviousPriorities retryPriority;

  private RetryState(
      int retryOn,
      long retries,
      List<Integer> codes,
      List<Predicate<Http2Headers>> headers,
      ForwardAction.RetryPolicy policy) {
    this.retryOn = retryOn;
    this.retriesRemaining = retries;
    this.retriableStatusCodes = codes;
    this.retriableHeaders = headers;
    this.previousHosts = policy.previousHosts();
    this.hostSelectionMaxAttempts = policy.hostSelectionRetryMaxAttempts();
    this.nextIntervalMs = Math.max(1, policy.backOffBaseIntervalMs());
    this.maxIntervalMs = Math.max(nextIntervalMs, policy.backOffMaxIntervalMs());
    this.resetHeaders = policy.resetHeaders();
    this.resetMaxIntervalMs = policy.resetMaxIntervalMs();
    this.retryPriority = policy.retryPriorityUpdateFrequency() > 0
        ? new PreviousPriorities(policy.retryPriorityUpdateFrequency()) : null;
  }

  /**
   * Returns the retry state of a request, or null when it can never be retried. The retry headers
   * are consumed (removed from {@code request}) either way, as Envoy does.
   *
   * @param policy the route's retry policy, or null when it has none
   */
  public static RetryState create(ForwardAction.RetryPolicy policy, Http2Headers request) {
    CharSequence on = request.get(X_ENVOY_RETRY_ON);
    CharSequence grpcOn = request.get(X_ENVOY_RETRY_GRPC_ON);
    RetryState state = null;
    if (on != null || grpcOn != null || (policy != null && policy.retryOnMask() != 0)) {
      ForwardAction.RetryPolicy p = policy != null ? policy : ForwardAction.RetryPolicy.DEFAULT;
      int mask = p.retryOnMask();
      if (on != null) {
        mask |= parseRetryOn(on.toString());
      }
      if (grpcOn != null) {
        mask |= parseRetryGrpcOn(grpcOn.toString());
      }
      if (!p.retriableRequestHeaders().isEmpty()) {
        boolean match = false;
        for (Predicate<Http2Headers> m : p.retriableRequestHeaders()) {
          if (m.test(request)) {
            match = true;
            break;
          }
        }
        if (!match) {
          mask = 0;
        }
      }
      long retries = p.numRetries() & 0xffffffffL;
      CharSequence max = request.get(X_ENVOY_MAX_RETRIES);
      if (mask != 0 && max != null) {
        long v = parseUnsigned(max);
        if (v >= 0) {
          retries = v;
        }
      }
      List<Integer> codes = p.retriableStatusCodes();
      CharSequence extraCodes = request.get(X_ENVOY_RETRIABLE_STATUS_CODES);
      if (extraCodes != null) {
        codes = new ArrayList<>(codes);
        for (String c : extraCodes.toString().split(",")) {
          long v = parseUnsigned(c.trim());
          if (v >= 0 && v <= Integer.MAX_VALUE) {
            codes.add((int) v);
          }
        }
      }
      List<Predicate<Http2Headers>> headers = p.retriableHeaders();
      CharSequence names = request.get(X_ENVOY_RETRIABLE_HEADER_NAMES);
      if (names != null) {
        headers = new ArrayList<>(headers);
        for (String n : names.toString().split(",")) {
          String name = n.trim().toLowerCase(java.util.Locale.ROOT);
          if (!name.isEmpty()) {
            AsciiString key = AsciiString.of(name);
            headers.add(h -> h.contains(key));
          }
        }
      }
      if (mask != 0) {
        state = new RetryState(mask, retries, codes, headers, p);
      }
    }
    request.remove(X_ENVOY_RETRY_ON);
    request.remove(X_ENVOY_RETRY_GRPC_ON);
    request.remove(X_ENVOY_MAX_RETRIES);
    request.remove(X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT);
    request.remove(X_ENVOY_RETRIABLE_HEADER_NAMES);
    request.remove(X_ENVOY_RETRIABLE_STATUS_CODES);
    request.remove(X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
    return state;
  }

  private static long parseUnsigned(CharSequence s) {
    if (s.length() == 0 || s.length() > 10) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v > 0xffffffffL ? -1 : v;
  }

  /** Returns the bits of the HTTP conditions in a comma-separated {@code retry_on}; others are ignored. */
  public static int parseRetryOn(String config) {
    int ret = 0;
    for (String token : config.split(",")) {
      ret |=
          switch (token.trim()) {
            case "5xx" -> RETRY_ON_5XX;
            case "gateway-error" -> RETRY_ON_GATEWAY_ERROR;
            case "connect-failure" -> RETRY_ON_CONNECT_FAILURE;
            case "envoy-ratelimited" -> RETRY_ON_ENVOY_RATE_LIMITED;
            case "retriable-4xx" -> RETRY_ON_RETRIABLE_4XX;
            case "refused-stream" -> RETRY_ON_REFUSED_STREAM;
            case "retriable-status-codes" -> RETRY_ON_RETRIABLE_STATUS_CODES;
            case "retriable-headers" -> RETRY_ON_RETRIABLE_HEADERS;
            case "reset" -> RETRY_ON_RESET;
            default -> 0;
          };
    }
    return ret;
  }

  /** Returns the bits of the gRPC conditions in a comma-separated list; others are ignored. */
  public static int parseRetryGrpcOn(String config) {
    int ret = 0;
    for (String token : config.split(",")) {
      ret |=
          switch (token.trim()) {
            case "cancelled" -> RETRY_ON_GRPC_CANCELLED;
            case "deadline-exceeded" -> RETRY_ON_GRPC_DEADLINE_EXCEEDED;
            case "resource-exhausted" -> RETRY_ON_GRPC_RESOURCE_EXHAUSTED;
            case "unavailable" -> RETRY_ON_GRPC_UNAVAILABLE;
            case "internal" -> RETRY_ON_GRPC_INTERNAL;
            default -> 0;
          };
    }
    return ret;
  }

  /** Returns the merged retry_on bits. */
  public int retryOn() {
    return retryOn;
  }

  /** Returns the retries left. */
  public long retriesRemaining() {
    return retriesRemaining;
  }

  /** Returns whether the previous_hosts predicate asks for hosts not tried yet. */
  public boolean previousHosts() {
    return previousHosts;
  }

  /** Returns how many extra host picks the predicate may cost ({@code host_selection_retry_max_attempts}). */
  public long hostSelectionMaxAttempts() {
    return hostSelectionMaxAttempts;
  }

  /** Returns true if an upstream response with these headers should be retried. */
  public boolean wouldRetryFromHeaders(Http2Headers response, int status) {
    // A response from an upstream Envoy that rate limited it is retried only on envoy-ratelimited.
    if (response.contains(X_ENVOY_RATELIMITED)) {
      return (retryOn & RETRY_ON_ENVOY_RATE_LIMITED) != 0;
    }
    if ((retryOn & RETRY_ON_5XX) != 0 && status >= 500 && status < 600) {
      return true;
    }
    if ((retryOn & RETRY_ON_GATEWAY_ERROR) != 0 && status >= 502 && status <= 504) {
      return true;
    }
    if ((retryOn & RETRY_ON_RETRIABLE_4XX) != 0 && status == 409) {
      return true;
    }
    if ((retryOn & RETRY_ON_RETRIABLE_STATUS_CODES) != 0) {
      for (int i = 0; i < retriableStatusCodes.size(); i++) {
        if (retriableStatusCodes.get(i) == status) {
          return true;
        }
      }
    }
    if ((retryOn & RETRY_ON_RETRIABLE_HEADERS) != 0) {
      for (int i = 0; i < retriableHeaders.size(); i++) {
        if (retriableHeaders.get(i).test(response)) {
          return true;
        }
      }
    }
    if ((retryOn & GRPC_MASK) != 0) {
      CharSequence g = response.get(GRPC_STATUS);
      long code = g == null ? -1 : parseUnsigned(g);
      return (code == 1 && (retryOn & RETRY_ON_GRPC_CANCELLED) != 0)
          || (code == 4 && (retryOn & RETRY_ON_GRPC_DEADLINE_EXCEEDED) != 0)
          || (code == 8 && (retryOn & RETRY_ON_GRPC_RESOURCE_EXHAUSTED) != 0)
          || (code == 14 && (retryOn & RETRY_ON_GRPC_UNAVAILABLE) != 0)
          || (code == 13 && (retryOn & RETRY_ON_GRPC_INTERNAL) != 0);
    }
    return false;
  }

  /**
   * Reads the rate-limited back-off of a response about to be retried, as Envoy's {@code
   * shouldRetryHeaders}: the first {@code reset_headers} entry that parses to an interval no longer
   * than {@code max_interval} sets the next back-off to a jittered {@code [interval, 1.5 ×
   * interval)} (intervals of 1 ms or less are ignored); without one, the exponential back-off is
   * used.
   */
  public void parseResetInterval(Http2Headers response, long nowEpochMs) {
    rateLimitedIntervalMs = -1;
    for (int i = 0; i < resetHeaders.size(); i++) {
      long interval = resetHeaders.get(i).parseIntervalMs(response, nowEpochMs);
      if (interval >= 0 && interval <= resetMaxIntervalMs) {
        if (interval > 1) {
          rateLimitedIntervalMs = interval;
        }
        return;
      }
    }
  }

  /** Returns the request's {@code retry_priority} state, or null when the policy has none. */
  public PreviousPriorities retryPriority() {
    return retryPriority;
  }

  /** Returns true if an attempt that ended for {@code reason} without a response should be retried. */
  public boolean wouldRetryFromReset(ResetKind reason) {
    if (reason == ResetKind.OVERFLOW) {
      return false;
    }
    if ((retryOn & (RETRY_ON_RESET | RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR)) != 0) {
      return true;
    }
    if ((retryOn & RETRY_ON_REFUSED_STREAM) != 0 && reason == ResetKind.REMOTE_REFUSED_STREAM) {
      return true;
    }
    return (retryOn & RETRY_ON_CONNECT_FAILURE) != 0 && reason == ResetKind.CONNECT_FAILURE;
  }

  /**
   * Decides on a retry as Envoy's {@code shouldRetry}: a retry armed before and not needed now
   * counts {@code upstream_rq_retry_success}; the retry circuit breaker taken for the previous
   * retry is given back; then no retries left gives {@link Status#NO_RETRY_LIMIT_EXCEEDED} ({@code
   * upstream_rq_retry_limit_exceeded}), an open breaker {@link Status#NO_OVERFLOW} ({@code
   * upstream_rq_retry_overflow}), and otherwise the breaker is taken, {@code upstream_rq_retry}
   * and {@code upstream_rq_retry_backoff_exponential} (or {@code
   * upstream_rq_retry_backoff_ratelimited} after {@link #parseResetInterval}) counted and the next
   * back-off drawn.
   */
  public Status shouldRetry(
      boolean wouldRetry, CircuitBreakers.Resource retries, ClusterStats stats, RandomGenerator random) {
    if (heldRetry != null && !wouldRetry) {
      stats.upstreamRqRetrySuccess.inc();
    }
    release();
    long rateLimited = rateLimitedIntervalMs;
    rateLimitedIntervalMs = -1;
    if (!wouldRetry) {
      return Status.NO;
    }
    if (retriesRemaining == 0) {
      stats.upstreamRqRetryLimitExceeded.inc();
      return Status.NO_RETRY_LIMIT_EXCEEDED;
    }
    retriesRemaining--;
    if (!retries.tryAcquire()) {
      stats.upstreamRqRetryOverflow.inc();
      return Status.NO_OVERFLOW;
    }
    heldRetry = retries;
    stats.upstreamRqRetry.inc();
    if (rateLimited > 1) {
      stats.upstreamRqRetryBackoffRatelimited.inc();
      long spread = rateLimited * 3 / 2 - rateLimited;
      lastBackOffMs = rateLimited + (spread > 0 ? random.nextLong(spread) : 0);
    } else {
      stats.upstreamRqRetryBackoffExponential.inc();
      lastBackOffMs = nextBackOffMs(random);
    }
    return Status.YES;
  }

  /** Returns the back-off drawn by the last {@link Status#YES}. */
  public long backOffMs() {
    return lastBackOffMs;
  }

  /**
   * Returns the next fully jittered exponential back-off (Envoy's {@code
   * JitteredExponentialBackOffStrategy}): uniform in [0, interval), the interval doubling from the
   * base up to the maximum.
   */
  long nextBackOffMs(RandomGenerator random) {
    long backoff = nextIntervalMs;
    nextIntervalMs = nextIntervalMs > maxIntervalMs / 2 ? maxIntervalMs : nextIntervalMs * 2;
    return Math.min(random.nextLong(backoff), maxIntervalMs);
  }

  /** Gives back the retry circuit breaker if a retry holds it. Idempotent. */
  public void release() {
    if (heldRetry != null) {
      heldRetry.release();
      heldRetry = null;
    }
  }
}
