package io.legate.router;

import java.util.Arrays;

/**
 * Envoy's {@code envoy.retry_priorities.previous_priorities} for one request: once {@code
 * update_frequency} attempts have been made (and again after every further {@code
 * update_frequency}), the priority levels of the hosts attempted so far are excluded and the load
 * is spread over the others by their health, as Envoy's {@code PreviousPrioritiesRetryPriority}.
 * When every level has been excluded the exclusions start over; when no level has any health the
 * balancer's own load is used. Confined to the request's worker.
 */
public final class PreviousPriorities {
  private final int updateFrequency;
  private int[] attemptedPriorities = new int[4];
  private int attempted;
  private boolean[] excluded = new boolean[0];
  private int[] load;

  /** Creates the state of one request; {@code updateFrequency} is at least 1. */
  public PreviousPriorities(int updateFrequency) {
    this.updateFrequency = updateFrequency;
  }

  /** Records that an attempt went to a host of priority {@code priority}. */
  public void onHostAttempted(int priority) {
    if (attempted == attemptedPriorities.length) {
      attemptedPriorities = Arrays.copyOf(attemptedPriorities, attempted * 2);
    }
    attemptedPriorities[attempted++] = priority;
  }

  /** Returns the load per priority for the next pick (see {@link io.legate.upstream.LoadBalancer.LbContext}). */
  public int[] determinePriorityLoad(int[] original, int[] health) {
    if (attempted < updateFrequency) {
      return original;
    }
    if (attempted % updateFrequency == 0) {
      if (excluded.length < health.length) {
        excluded = Arrays.copyOf(excluded, health.length);
      }
      for (int i = 0; i < attempted; i++) {
        int p = attemptedPriorities[i];
        if (p < excluded.length) {
          excluded[p] = true;
        }
      }
      load = adjust(original, health);
    }
    return load == null ? original : load;
  }

  private int[] adjust(int[] original, int[] health) {
    int[] adjusted = new int[health.length];
    int total = adjustedAvailability(health, adjusted);
    if (total == 0) {
      Arrays.fill(excluded, false);
      attempted = 0;
      total = adjustedAvailability(health, adjusted);
    }
    if (total == 0) {
      return null;
    }
    int[] out = new int[Math.max(original.length, health.length)];
    int remaining = 100;
    while (remaining != 0) {
      for (int i = 0; i < adjusted.length; i++) {
        int delta = Math.min(remaining, adjusted[i] * 100 / total);
        out[i] += delta;
        remaining -= delta;
      }
      if (remaining != 0) {
        // Rounding left a little over: it goes to the first available level, as Envoy's loop ends.
        for (int i = 0; i < adjusted.length; i++) {
          if (adjusted[i] > 0) {
            out[i] += remaining;
            remaining = 0;
            break;
          }
        }
      }
    }
    return out;
  }

  private int adjustedAvailability(int[] health, int[] adjusted) {
    int total = 0;
    for (int i = 0; i < health.length; i++) {
      adjusted[i] = i < excluded.length && excluded[i] ? 0 : health[i];
      total += adjusted[i];
    }
    return Math.min(total, 100);
  }
}
