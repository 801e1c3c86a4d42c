package io.legate.upstream;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import io.legate.config.ConfigException;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A cluster's circuit breakers (Envoy's {@code ResourceManagerImpl}): per routing priority, the
 * counts of connections, pending requests, requests and retries in flight against their maxima.
 * The counts are global across workers; {@link Resource#tryAcquire()} is exact under concurrency
 * (compare-and-set), so a burst never overshoots a limit.
 *
 * <p>Gauges under {@code cluster.<name>.circuit_breakers.<priority>.}: {@code cx_open}, {@code
 * rq_pending_open}, {@code rq_open} and {@code rq_retry_open} (1 while the breaker is at its
 * limit), and with {@code track_remaining} {@code remaining_cx}, {@code remaining_pending}, {@code
 * remaining_rq} and {@code remaining_retries}.
 */
public final class CircuitBreakers {
  /** Envoy's default for max_connections, max_pending_requests and max_requests. */
  public static final long DEFAULT_MAX = 1024;

  /** Envoy's default for max_retries. */
  public static final long DEFAULT_MAX_RETRIES = 3;

  /** A routing priority ({@code RoutingPriority}). */
  public enum Priority {
    DEFAULT("default"),
    HIGH("high");

    private final String statName;

    Priority(String statName) {
      this.statName = statName;
    }

    /** Returns the name used in stats: {@code default} or {@code high}. */
    public String statName() {
      return statName;
    }
  }

  /**
   * The configured thresholds of one priority.
   *
   * @param budgetPercent {@code retry_budget.budget_percent} in percent, or -1 when no retry budget
   *     is configured (then {@code maxRetries} applies)
   * @param minRetryConcurrency {@code retry_budget.min_retry_concurrency} (default 3)
   */
  public record Thresholds(
      long maxConnections,
      long maxPendingRequests,
      long maxRequests,
      long maxRetries,
      double budgetPercent,
      long minRetryConcurrency,
      boolean trackRemaining) {
    /** Envoy's defaults: 1024 connections, pending requests and requests, 3 retries, no budget. */
    public static final Thresholds DEFAULTS =
        new Thresholds(DEFAULT_MAX, DEFAULT_MAX, DEFAULT_MAX, DEFAULT_MAX_RETRIES, -1, 3, false);
  }

  /** A counted resource: a global count against a maximum. Thread-safe. */
  public static class Resource {
    private final long max;
    private final AtomicLong count = new AtomicLong();
    private final Gauge open;
    private final Gauge remaining;

    Resource(long max, Gauge open, Gauge remaining) {
      this.max = max;
      this.open = open;
      this.remaining = remaining;
      update(0);
    }

    /** Returns the current maximum. */
    public long max() {
      return max;
    }

    /** Returns the number in use. */
    public long count() {
      return count.get();
    }

    /** Returns true if one more may be created now (a check only; see {@link #tryAcquire()}). */
    public boolean canCreate() {
      return count.get() < max();
    }

    /** Takes one unit if the count is below the maximum; returns false (taking nothing) if not. */
    public boolean tryAcquire() {
      long m = max();
      while (true) {
        long c = count.get();
        if (c >= m) {
          return false;
        }
        if (count.compareAndSet(c, c + 1)) {
          update(c + 1);
          return true;
        }
      }
    }

    /** Takes one unit whatever the maximum (Envoy opens a first connection even over the limit). */
    public void forceAcquire() {
      update(count.incrementAndGet());
    }

    /** Gives back one unit taken with {@link #tryAcquire()} or {@link #forceAcquire()}. */
    public void release() {
      update(count.decrementAndGet());
    }

    void update(long now) {
      long m = max();
      open.set(now >= m ? 1 : 0);
      if (remaining != null) {
        remaining.set(Math.max(0, m - now));
      }
    }
  }

  /** The retries resource, whose maximum follows the retry budget when one is configured. */
  static final class RetryResource extends Resource {
    private final ResourceManager owner;
    private final double budgetPercent;
    private final long minRetryConcurrency;
    private final long fixedMax;

    RetryResource(ResourceManager owner, Thresholds t, Gauge open, Gauge remaining) {
      super(t.maxRetries(), open, remaining);
      this.owner = owner;
      this.budgetPercent = t.budgetPercent();
      this.minRetryConcurrency = t.minRetryConcurrency();
      this.fixedMax = t.maxRetries();
    }

    @Override
    public long max() {
      if (budgetPercent < 0 || owner == null || owner.requests == null) {
        return fixedMax;
      }
      long active = owner.requests.count() + owner.pendingRequests.count();
      return Math.max((long) (budgetPercent / 100.0 * active), minRetryConcurrency);
    }
  }

  /** The resources of one priority. */
  public static final class ResourceManager {
    private final Thresholds thresholds;
    final Resource connections;
    final Resource pendingRequests;
    final Resource requests;
    final Resource retries;

    ResourceManager(Thresholds t, StatsStore.Scope scope, Priority priority) {
      this.thresholds = t;
      String p = "circuit_breakers." + priority.statName() + ".";
      boolean track = t.trackRemaining();
      this.connections =
          new Resource(t.maxConnections(), scope.gauge(p + "cx_open"), track ? scope.gauge(p + "remaining_cx") : null);
      this.pendingRequests =
          new Resource(
              t.maxPendingRequests(),
              scope.gauge(p + "rq_pending_open"),
              track ? scope.gauge(p + "remaining_pending") : null);
      this.requests =
          new Resource(t.maxRequests(), scope.gauge(p + "rq_open"), track ? scope.gauge(p + "remaining_rq") : null);
      this.retries =
          new RetryResource(
              this, t, scope.gauge(p + "rq_retry_open"), track ? scope.gauge(p + "remaining_retries") : null);
      ((RetryResource) retries).update(0);
    }

    /** Returns the configured thresholds. */
    public Thresholds thresholds() {
      return thresholds;
    }

    /** Returns the connections resource ({@code max_connections}). */
    public Resource connections() {
      return connections;
    }

    /** Returns the pending requests resource ({@code max_pending_requests}). */
    public Resource pendingRequests() {
      return pendingRequests;
    }

    /** Returns the requests resource ({@code max_requests}). */
    public Resource requests() {
      return requests;
    }

    /** Returns the retries resource ({@code max_retries} or the retry budget). */
    public Resource retries() {
      return retries;
    }
  }

  private final ResourceManager defaultPriority;
  private final ResourceManager highPriority;

  private CircuitBreakers(ResourceManager defaultPriority, ResourceManager highPriority) {
    this.defaultPriority = defaultPriority;
    this.highPriority = highPriority;
  }

  /**
   * Returns the circuit breakers of {@code cluster.circuit_breakers}, with their gauges in {@code
   * scope} (the cluster's {@code cluster.<name>.} scope).
   *
   * @throws ConfigException for {@code per_host_thresholds} or {@code max_connection_pools}, which
   *     are not supported
   */
  public static CircuitBreakers build(Cluster proto, String path, StatsStore.Scope scope) {
    Thresholds def = Thresholds.DEFAULTS;
    Thresholds high = Thresholds.DEFAULTS;
    boolean seenDefault = false;
    boolean seenHigh = false;
    if (proto.hasCircuitBreakers()) {
      var cb = proto.getCircuitBreakers();
      String cp = path + ".circuit_breakers";
      if (cb.getPerHostThresholdsCount() > 0) {
        throw new ConfigException(cp + ".per_host_thresholds", "not supported");
      }
      for (int i = 0; i < cb.getThresholdsCount(); i++) {
        var t = cb.getThresholds(i);
        String tp = cp + ".thresholds[" + i + "]";
        if (t.hasMaxConnectionPools()) {
          throw new ConfigException(tp + ".max_connection_pools", "not supported");
        }
        Thresholds parsed = thresholds(t, tp);
        if (t.getPriority() == RoutingPriority.HIGH) {
          if (!seenHigh) {
            high = parsed;
            seenHigh = true;
          }
        } else if (t.getPriority() == RoutingPriority.DEFAULT) {
          if (!seenDefault) {
            def = parsed;
            seenDefault = true;
          }
        } else {
          throw new ConfigException(tp + ".priority", "unknown value " + t.getPriorityValue());
        }
      }
    }
    return new CircuitBreakers(
        new ResourceManager(def, scope, Priority.DEFAULT), new ResourceManager(high, scope, Priority.HIGH));
  }

  private static Thresholds thresholds(
      io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds t, String tp) {
    double budget = -1;
    long minConcurrency = 3;
    if (t.hasRetryBudget()) {
      var b = t.getRetryBudget();
      budget = b.hasBudgetPercent() ? b.getBudgetPercent().getValue() : 20.0;
      if (budget < 0 || budget > 100) {
        throw new ConfigException(
            tp + ".retry_budget.budget_percent.value", "value must be inside range [0, 100]");
      }
      minConcurrency = b.hasMinRetryConcurrency() ? b.getMinRetryConcurrency().getValue() & 0xffffffffL : 3;
    }
    return new Thresholds(
        t.hasMaxConnections() ? t.getMaxConnections().getValue() & 0xffffffffL : DEFAULT_MAX,
        t.hasMaxPendingRequests() ? t.getMaxPendingRequests().getValue() & 0xffffffffL : DEFAULT_MAX,
        t.hasMaxRequests() ? t.getMaxRequests().getValue() & 0xffffffffL : DEFAULT_MAX,
        t.hasMaxRetries() ? t.getMaxRetries().getValue() & 0xffffffffL : DEFAULT_MAX_RETRIES,
        budget,
        minConcurrency,
        t.getTrackRemaining());
  }

  /** Returns the resources of a priority. */
  public ResourceManager forPriority(Priority priority) {
    return priority == Priority.HIGH ? highPriority : defaultPriority;
  }
}
