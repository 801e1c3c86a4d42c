package io.legate.upstream.outlier;

import io.legate.upstream.Host;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The outlier-detection recorder of one host, as Envoy's {@code DetectorHostMonitorImpl}. Workers
 * report results with {@link #putHttpResponseCode} and {@link #putResult}: a few atomic updates,
 * no locks; when a consecutive-failure count reaches its threshold the detector is told on the main
 * loop. The detector reads the success-rate buckets on its interval timer.
 */
public final class HostMonitor {
  /** The recorder of hosts whose cluster has no outlier detection: it ignores everything. */
  public static final HostMonitor NONE = new HostMonitor(null, null);

  private final OutlierDetector detector;
  private final Host host;
  private final AtomicInteger consecutive5xx = new AtomicInteger();
  private final AtomicInteger consecutiveGatewayFailure = new AtomicInteger();
  private final AtomicInteger consecutiveLocalOriginFailure = new AtomicInteger();
  final SuccessRateMonitor external = new SuccessRateMonitor();
  final SuccessRateMonitor localOrigin = new SuccessRateMonitor();

  // Main loop only.
  int numEjections;
  long lastEjectionNanos;
  long lastUnejectionNanos = -1;
  int ejectTimeBackoff;
  long jitterMs;

  HostMonitor(OutlierDetector detector, Host host) {
    this.detector = detector;
    this.host = host;
  }

  /**
   * Records an HTTP response status from the host. A 5xx counts toward {@code consecutive_5xx} (and
   * 502/503/504 toward {@code consecutive_gateway_failure}); anything else resets both.
   */
  public void putHttpResponseCode(int code) {
    if (detector == null) {
      return;
    }
    external.total.incrementAndGet();
    if (code >= 500 && code < 600) {
      OutlierConfig c = detector.config();
      if (code == 502 || code == 503 || code == 504) {
        if (consecutiveGatewayFailure.incrementAndGet() == c.consecutiveGatewayFailure()) {
          detector.onConsecutiveError(host, EjectionType.CONSECUTIVE_GATEWAY_FAILURE);
        }
      } else {
        consecutiveGatewayFailure.set(0);
      }
      if (consecutive5xx.incrementAndGet() == c.consecutive5xx()) {
        detector.onConsecutiveError(host, EjectionType.CONSECUTIVE_5XX);
      }
    } else {
      external.success.incrementAndGet();
      consecutive5xx.set(0);
      consecutiveGatewayFailure.set(0);
    }
  }

  /**
   * Records a non-HTTP outcome. Unless {@code split_external_local_origin_errors} is set, local
   * failures count as HTTP statuses (connect failure 503, timeout 504, success 200; a bare connect
   * success is not counted); with it they have their own counters.
   */
  public void putResult(Result result) {
    if (detector == null) {
      return;
    }
    if (!detector.config().splitExternalLocalOriginErrors()) {
      switch (result) {
        case EXT_ORIGIN_REQUEST_SUCCESS, LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL -> putHttpResponseCode(200);
        case LOCAL_ORIGIN_TIMEOUT -> putHttpResponseCode(504);
        case LOCAL_ORIGIN_CONNECT_FAILED -> putHttpResponseCode(503);
        case EXT_ORIGIN_REQUEST_FAILED -> putHttpResponseCode(500);
        case LOCAL_ORIGIN_CONNECT_SUCCESS -> {}
      }
      return;
    }
    switch (result) {
      case LOCAL_ORIGIN_CONNECT_SUCCESS, LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL -> localOriginNoFailure();
      case LOCAL_ORIGIN_TIMEOUT, LOCAL_ORIGIN_CONNECT_FAILED -> localOriginFailure();
      case EXT_ORIGIN_REQUEST_FAILED -> putHttpResponseCode(503);
      case EXT_ORIGIN_REQUEST_SUCCESS -> {
        putHttpResponseCode(200);
        localOriginNoFailure();
      }
    }
  }

  private void localOriginFailure() {
    localOrigin.total.incrementAndGet();
    if (consecutiveLocalOriginFailure.incrementAndGet() == detector.config().consecutiveLocalOriginFailure()) {
      detector.onConsecutiveError(host, EjectionType.CONSECUTIVE_LOCAL_ORIGIN_FAILURE);
    }
  }

  private void localOriginNoFailure() {
    localOrigin.total.incrementAndGet();
    localOrigin.success.incrementAndGet();
    consecutiveLocalOriginFailure.set(0);
  }

  void resetConsecutive(EjectionType type) {
    switch (type) {
      case CONSECUTIVE_5XX -> consecutive5xx.set(0);
      case CONSECUTIVE_GATEWAY_FAILURE -> consecutiveGatewayFailure.set(0);
      case CONSECUTIVE_LOCAL_ORIGIN_FAILURE -> consecutiveLocalOriginFailure.set(0);
      default -> {}
    }
  }

  void resetAllConsecutive() {
    consecutive5xx.set(0);
    consecutiveGatewayFailure.set(0);
    consecutiveLocalOriginFailure.set(0);
  }

  /** Returns the host's success rate over the last interval in percent, or -1 when unknown. */
  public double successRate() {
    return external.successRate;
  }

  /** Returns the host's local-origin success rate over the last interval, or -1 when unknown. */
  public double localOriginSuccessRate() {
    return localOrigin.successRate;
  }

  /** Returns how many times the host has been ejected. */
  public int numEjections() {
    return numEjections;
  }

  /** Envoy's ejection types. */
  enum EjectionType {
    CONSECUTIVE_5XX,
    CONSECUTIVE_GATEWAY_FAILURE,
    CONSECUTIVE_LOCAL_ORIGIN_FAILURE,
    SUCCESS_RATE,
    SUCCESS_RATE_LOCAL_ORIGIN,
    FAILURE_PERCENTAGE,
    FAILURE_PERCENTAGE_LOCAL_ORIGIN
  }

  /**
   * Two buckets of request counts: workers write the current one, the detector swaps them on each
   * interval and reads the one just filled.
   */
  static final class SuccessRateMonitor {
    static final class Bucket {
      final AtomicLong success = new AtomicLong();
      final AtomicLong total = new AtomicLong();
    }

    private volatile Bucket current = new Bucket();
    private Bucket backup = new Bucket();
    volatile double successRate = -1;
    final AtomicLongView success = new AtomicLongView(true);
    final AtomicLongView total = new AtomicLongView(false);

    /** Swaps the buckets (main loop). */
    void swap() {
      Bucket b = backup;
      b.success.set(0);
      b.total.set(0);
      backup = current;
      current = b;
    }

    /** Returns {success rate %, volume} of the last full bucket, or null when it saw nothing. */
    double[] rateAndVolume() {
      long total0 = backup.total.get();
      if (total0 == 0) {
        return null;
      }
      return new double[] {backup.success.get() * 100.0 / total0, total0};
    }

    /** Increments a counter of the bucket being written. */
    final class AtomicLongView {
      private final boolean isSuccess;

      AtomicLongView(boolean isSuccess) {
        this.isSuccess = isSuccess;
      }

      void incrementAndGet() {
        Bucket b = current;
        (isSuccess ? b.success : b.total).incrementAndGet();
      }
    }
  }
}
