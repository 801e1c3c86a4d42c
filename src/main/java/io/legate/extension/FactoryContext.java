package io.legate.extension;

import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;

/** What an extension factory may use at config time. */
public interface FactoryContext {
  /** The process's stats. */
  StatsStore stats();

  /** The HTTP connection manager's {@code stat_prefix}-derived scope, e.g. {@code http.ingress_http.}. */
  StatsStore.Scope scope();

  /** The clusters. */
  ClusterManager clusterManager();
}
