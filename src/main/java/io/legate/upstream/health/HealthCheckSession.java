package io.legate.upstream.health;

import io.envoyproxy.envoy.data.core.v3.HealthCheckFailureType;
import io.legate.upstream.Host;
import io.legate.upstream.health.HealthChecker.Transition;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The checks of one host, as Envoy's {@code ActiveHealthCheckSession}: an interval timer starts a
 * check, a timeout timer fails it, and the subclass reports exactly one result per check with
 * {@link #handleSuccess} or {@link #handleFailure}. Confined to the main loop.
 */
abstract class HealthCheckSession {
  protected final HealthChecker parent;
  protected final Host host;
  protected final HealthCheckConfig config;
  /** The address checked: the host's, or its IP with {@code alt_port}. */
  protected final InetSocketAddress address;
  private ScheduledFuture<?> intervalTimer;
  private ScheduledFuture<?> timeoutTimer;
  private int numHealthy;
  private int numUnhealthy;
  private boolean firstCheck = true;
  private boolean inFlight;
  private boolean degraded;
  private boolean stopped;

  HealthCheckSession(HealthChecker parent, Host host) {
    this.parent = parent;
    this.host = host;
    this.config = parent.config();
    this.address =
        config.altPort() == 0
            ? host.address()
            : new InetSocketAddress(host.address().getAddress(), config.altPort());
    if (!failed()) {
      parent.stats().healthy.inc();
    }
  }

  boolean firstCheck() {
    return firstCheck;
  }

  /** Returns whether a check is running (a result is expected). */
  protected final boolean inFlight() {
    return inFlight;
  }

  /** Returns whether the session was stopped (the host left the cluster). */
  protected final boolean stopped() {
    return stopped;
  }

  private boolean failed() {
    return (host.healthFlags() & Host.FAILED_ACTIVE_HC) != 0;
  }

  void start() {
    if (config.initialJitterMs() == 0) {
      parent.loop().execute(this::onIntervalBase);
    } else {
      intervalTimer =
          parent.loop().schedule(this::onIntervalBase,
              parent.withJitter(0, config.initialJitterMs()), TimeUnit.MILLISECONDS);
    }
  }

  void stop() {
    if (stopped) {
      return;
    }
    stopped = true;
    cancelTimers();
    if (!failed()) {
      parent.stats().healthy.dec();
    }
    if (degraded) {
      parent.stats().degraded.dec();
    }
    onStop();
  }

  private void cancelTimers() {
    if (intervalTimer != null) {
      intervalTimer.cancel(false);
      intervalTimer = null;
    }
    if (timeoutTimer != null) {
      timeoutTimer.cancel(false);
      timeoutTimer = null;
    }
  }

  private void onIntervalBase() {
    intervalTimer = null;
    if (stopped) {
      return;
    }
    inFlight = true;
    timeoutTimer =
        parent.loop().schedule(this::onTimeoutBase, config.timeoutMs(), TimeUnit.MILLISECONDS);
    parent.stats().attempt.inc();
    onInterval();
  }

  private void onTimeoutBase() {
    timeoutTimer = null;
    if (stopped || !inFlight) {
      return;
    }
    onTimeout();
    handleFailure(HealthCheckFailureType.NETWORK_TIMEOUT, false);
  }

  /** Starts one check; its result arrives later through handleSuccess/handleFailure. */
  protected abstract void onInterval();

  /** Abandons the running check (its connection is closed and its events ignored). */
  protected abstract void onTimeout();

  /** Releases the connection; no result is reported afterwards. */
  protected abstract void onStop();

  /** Reports a passing check. Ignored when no check is running. */
  protected final void handleSuccess(boolean degradedNow) {
    if (stopped || !inFlight) {
      return;
    }
    inFlight = false;
    numUnhealthy = 0;
    Transition t = Transition.UNCHANGED;
    boolean wasFirst = firstCheck;
    HealthCheckEventLogger log = parent.eventLogger();
    if (failed()) {
      if (firstCheck || ++numHealthy == config.healthyThreshold()) {
        host.clearHealthFlag(Host.FAILED_ACTIVE_HC);
        // Slow start counts from the last passed health check, as Envoy's lastHcPassTime.
        host.restartSlowStart(System.nanoTime());
        parent.stats().healthy.inc();
        t = Transition.CHANGED;
        if (log != null) {
          log.addHealthy(host, firstCheck);
        }
      } else {
        t = Transition.PENDING;
      }
    }
    if (t != Transition.CHANGED && config.alwaysLogSuccess() && log != null) {
      log.successful(host);
    }
    if (degradedNow != degraded) {
      degraded = degradedNow;
      if (degradedNow) {
        parent.stats().degraded.inc();
        if (log != null) {
          log.degraded(host);
        }
      } else {
        parent.stats().degraded.dec();
        if (log != null) {
          log.noLongerDegraded(host);
        }
      }
    }
    parent.stats().success.inc();
    firstCheck = false;
    finish(true, t, wasFirst);
  }

  /** Reports a failed check. Ignored when no check is running. */
  protected final void handleFailure(HealthCheckFailureType type, boolean retriable) {
    if (stopped || !inFlight) {
      return;
    }
    inFlight = false;
    numHealthy = 0;
    Transition t = Transition.UNCHANGED;
    boolean network =
        type == HealthCheckFailureType.NETWORK || type == HealthCheckFailureType.NETWORK_TIMEOUT;
    HealthCheckEventLogger log = parent.eventLogger();
    if (!failed()) {
      if ((!network && !retriable) || ++numUnhealthy == config.unhealthyThreshold()) {
        host.setHealthFlag(Host.FAILED_ACTIVE_HC);
        parent.stats().healthy.dec();
        t = Transition.CHANGED;
        if (log != null) {
          log.ejectUnhealthy(host, type);
        }
      } else {
        t = Transition.PENDING;
      }
    }
    if ((firstCheck || config.alwaysLogFailures()) && log != null) {
      log.unhealthy(host, type, firstCheck);
    }
    parent.stats().failure.inc();
    if (network) {
      parent.stats().networkFailure.inc();
    } else if (type == HealthCheckFailureType.PASSIVE) {
      parent.stats().passiveFailure.inc();
    }
    boolean wasFirst = firstCheck;
    firstCheck = false;
    finish(false, t, wasFirst);
  }

  private void finish(boolean passed, Transition t, boolean wasFirst) {
    if (timeoutTimer != null) {
      timeoutTimer.cancel(false);
      timeoutTimer = null;
    }
    intervalTimer =
        parent.loop().schedule(this::onIntervalBase,
            parent.nextIntervalMs(passed, t), TimeUnit.MILLISECONDS);
    parent.onCheckComplete(host, passed, t == Transition.CHANGED);
    if (wasFirst) {
      parent.firstCheckDone();
    }
  }

  /**
   * Returns whether {@code data} contains each of {@code segments} in order (Envoy's
   * PayloadMatcher).
   */
  static boolean matches(java.util.List<byte[]> segments, byte[] data, int length) {
    int start = 0;
    for (byte[] seg : segments) {
      int at = indexOf(data, length, seg, start);
      if (at < 0) {
        return false;
      }
      start = at + seg.length;
    }
    return true;
  }

  private static int indexOf(byte[] data, int length, byte[] seg, int from) {
    outer:
    for (int i = from; i + seg.length <= length; i++) {
      for (int j = 0; j < seg.length; j++) {
        if (data[i + j] != seg[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
