package io.legate.network;

import io.legate.server.Log;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Per-request timers of a fixed duration (route timeouts, stream idle and request timeouts), cheap
 * to start and to stop. Every request on a worker arms the same few durations, and timers of one
 * duration expire in the order they were started; so each worker keeps, per duration, a FIFO list
 * ("lane") of its timers and one event-loop task armed for the oldest. Starting appends to the
 * lane and stopping unlinks from it, both O(1) and without touching the event loop's priority
 * queue, which would otherwise take an insert and a removal (O(log n) each, n the number of
 * requests in flight) per timer per request.
 *
 * <p>Timers run on the worker that started them; {@link #schedule} must be called on that worker.
 * A worker keeps at most {@value #MAX_LANES} lanes; further durations fall back to the event
 * loop's own timers.
 */
public final class LoopTimers {
  private static final int MAX_LANES = 16;

  private static final FastThreadLocal<LoopTimers> PER_LOOP =
      new FastThreadLocal<>() {
        @Override
        protected LoopTimers initialValue() {
          return new LoopTimers();
        }
      };

  private final Lane[] lanes = new Lane[MAX_LANES];
  private int laneCount;

  private LoopTimers() {}

  /** A started timer. */
  public interface Timer {
    /** Stops the timer; returns whether it had neither fired nor been stopped before. */
    boolean cancel();
  }

  /**
   * Runs {@code task} on {@code loop} after {@code delayMs} milliseconds unless cancelled first.
   * Called on {@code loop}; from another thread the event loop's own timer is used.
   */
  public static Timer schedule(EventLoop loop, long delayMs, Runnable task) {
    if (!loop.inEventLoop() || delayMs <= 0) {
      return new LoopTimer(loop.schedule(task, Math.max(0, delayMs), TimeUnit.MILLISECONDS));
    }
    Lane lane = PER_LOOP.get().lane(loop, delayMs);
    if (lane == null) {
      return new LoopTimer(loop.schedule(task, delayMs, TimeUnit.MILLISECONDS));
    }
    Entry e = new Entry(lane, task, System.nanoTime() + lane.delayNanos);
    lane.append(e);
    return e;
  }

  /**
   * Runs {@code task} on {@code loop} after {@code delayMs} on the event loop's own timer: for a
   * one-off duration (a re-arm for the time left) that would only take a lane from the fixed ones.
   */
  public static Timer scheduleOnce(EventLoop loop, long delayMs, Runnable task) {
    return new LoopTimer(loop.schedule(task, Math.max(0, delayMs), TimeUnit.MILLISECONDS));
  }

  private Lane lane(EventLoop loop, long delayMs) {
    for (int i = 0; i < laneCount; i++) {
      Lane l = lanes[i];
      if (l.delayMs == delayMs && l.loop == loop) {
        return l;
      }
    }
    if (laneCount == MAX_LANES) {
      return null;
    }
    Lane l = new Lane(loop, delayMs);
    lanes[laneCount++] = l;
    return l;
  }

  /** A timer on the event loop's own scheduler (other threads, more durations than lanes). */
  private record LoopTimer(ScheduledFuture<?> future) implements Timer {
    @Override
    public boolean cancel() {
      return future.cancel(false);
    }
  }

  private static final class Entry implements Timer {
    private Lane lane;
    private final Runnable task;
    private final long deadlineNanos;
    private Entry prev;
    private Entry next;

    Entry(Lane lane, Runnable task, long deadlineNanos) {
      this.lane = lane;
      this.task = task;
      this.deadlineNanos = deadlineNanos;
    }

    @Override
    public boolean cancel() {
      Lane l = lane;
      if (l == null) {
        return false;
      }
      if (!l.loop.inEventLoop()) {
        l.loop.execute(this::cancel);
        return true;
      }
      l.unlink(this);
      return true;
    }
  }

  /** The timers of one duration on one loop, oldest first, and the loop task armed for the oldest. */
  private static final class Lane implements Runnable {
    final EventLoop loop;
    final long delayMs;
    final long delayNanos;
    private Entry head;
    private Entry tail;
    /** Whether a loop task is armed; it re-arms itself for the then-oldest timer when it runs. */
    private boolean armed;

    Lane(EventLoop loop, long delayMs) {
      this.loop = loop;
      this.delayMs = delayMs;
      this.delayNanos = TimeUnit.MILLISECONDS.toNanos(delayMs);
    }

    void append(Entry e) {
      e.prev = tail;
      if (tail == null) {
        head = e;
      } else {
        tail.next = e;
      }
      tail = e;
      if (!armed) {
        arm(e.deadlineNanos);
      }
    }

    void unlink(Entry e) {
      if (e.prev == null) {
        head = e.next;
      } else {
        e.prev.next = e.next;
      }
      if (e.next == null) {
        tail = e.prev;
      } else {
        e.next.prev = e.prev;
      }
      e.prev = null;
      e.next = null;
      e.lane = null;
      // The armed task stays: it finds nothing due (or a later timer) and re-arms or stops.
    }

    private void arm(long deadlineNanos) {
      armed = true;
      loop.schedule(this, Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    @Override
    public void run() {
      armed = false;
      long now = System.nanoTime();
      Entry e;
      while ((e = head) != null && e.deadlineNanos - now <= 0) {
        unlink(e);
        try {
          e.task.run();
        } catch (Throwable t) {
          Log.warn("main", "timer task failed: " + t);
        }
      }
      if (head != null && !armed) {
        arm(head.deadlineNanos);
      }
    }
  }
}
