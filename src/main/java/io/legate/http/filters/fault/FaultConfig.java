package io.legate.http.filters.fault;

import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The fault filter's shared config: its own settings, its stats ({@code http.<stat_prefix>.fault.*})
 * and its sources of randomness and time. Shared by every stream of every worker.
 */
final class FaultConfig {
  final FaultSettings settings;
  final String filterName;
  final Counter abortsInjected;
  final Counter delaysInjected;
  final Counter faultsOverflow;
  final Counter responseRlInjected;
  final Gauge activeFaults;
  final LongSupplier random;
  final LongSupplier nanoTime;
  private final StatsStore.Scope scope;
  private final ConcurrentHashMap<String, Counter[]> perDownstreamCluster = new ConcurrentHashMap<>();

  /**
   * @param scope the {@code http.<stat_prefix>.fault.} scope
   * @param filterName the filter's name in http_filters (the key of its per-route configs)
   */
  FaultConfig(FaultSettings settings, String filterName, StatsStore.Scope scope,
      LongSupplier random, LongSupplier nanoTime) {
    this.settings = settings;
    this.filterName = filterName;
    this.scope = scope;
    this.random = random;
    this.nanoTime = nanoTime;
    this.abortsInjected = scope.counter("aborts_injected");
    this.delaysInjected = scope.counter("delays_injected");
    this.faultsOverflow = scope.counter("faults_overflow");
    this.responseRlInjected = scope.counter("response_rl_injected");
    this.activeFaults = scope.gauge("active_faults");
  }

  /**
   * Returns the counters {aborts_injected, delays_injected} of a downstream cluster
   * ({@code http.<stat_prefix>.fault.<cluster>.*}), created on first use as Envoy does.
   */
  Counter[] downstreamCluster(String cluster) {
    Counter[] c = perDownstreamCluster.get(cluster);
    if (c == null) {
      c = perDownstreamCluster.computeIfAbsent(cluster, k -> new Counter[] {
          scope.counter(k + ".aborts_injected"), scope.counter(k + ".delays_injected")});
    }
    return c;
  }
}
