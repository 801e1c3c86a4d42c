package io.legate.http.codec;

import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The connection manager's {@code idle_timeout} as Envoy defines it: a downstream connection that
 * has had no active request for the timeout is closed (HTTP/2: GOAWAY first). Traffic alone does
 * not keep a connection alive, and a slow request does not make it idle.
 *
 * <p>One event-loop timer per connection, re-armed only when it fires (for the time left): a
 * request costs a counter and, when the last one ends, a clock read. Nothing is added to the
 * write path (an {@code IdleStateHandler} put a listener on every write). Used on the
 * connection's event loop only.
 */
final class ConnectionIdleTimer {
  private final Channel channel;
  private final long timeoutNanos;
  /** Closes the connection; false when it chose not to (the timer starts over). */
  private final BooleanSupplier onIdle;
  private int active;
  private long idleSinceNanos;
  private ScheduledFuture<?> timer;
  private boolean stopped;

  ConnectionIdleTimer(Channel channel, long timeoutMs, BooleanSupplier onIdle) {
    this.channel = channel;
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    this.onIdle = onIdle;
  }

  /** Starts timing: a new connection is idle until its first request. */
  void start() {
    idleSinceNanos = System.nanoTime();
    arm(timeoutNanos);
  }

  void requestStarted() {
    active++;
  }

  void requestEnded() {
    if (active > 0 && --active == 0) {
      idleSinceNanos = System.nanoTime();
    }
  }

  /** The connection closed: no more timeouts. */
  void stop() {
    stopped = true;
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  private void arm(long nanos) {
    timer = channel.eventLoop().schedule(this::fire, nanos, TimeUnit.NANOSECONDS);
  }

  private void fire() {
    timer = null;
    if (stopped || !channel.isActive()) {
      return;
    }
    if (active > 0) {
      arm(timeoutNanos);
      return;
    }
    long left = idleSinceNanos + timeoutNanos - System.nanoTime();
    if (left > 0) {
      arm(left);
      return;
    }
    if (onIdle.getAsBoolean()) {
      stopped = true;
    } else {
      arm(timeoutNanos);
    }
  }
}
