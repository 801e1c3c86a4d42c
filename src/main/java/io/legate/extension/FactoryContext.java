package io.legate.extension;

import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import java.util.function.BooleanSupplier;

/** What an extension factory may use at config time. */
public interface FactoryContext {
  /** The process's stats. */
  StatsStore stats();

  /** The HTTP connection manager's {@code stat_prefix}-derived scope, e.g. {@code http.ingress_http.}. */
  StatsStore.Scope scope();

  /** The clusters. */
  ClusterManager clusterManager();

  /**
   * Returns whether the server is failing health checks right now (admin {@code POST
   * /healthcheck/fail}). The supplier is safe to call from any thread, on the request path.
   */
  default BooleanSupplier serverHealthCheckFailed() {
    return () -> false;
  }

  /** Returns the local service cluster name (node.cluster or --service-cluster), possibly "". */
  default String localClusterName() {
    return "";
  }

  /**
   * Returns the name of the filter being configured, as written in the HCM's {@code http_filters}
   * entry: the key its per-route configs are found under ({@code typed_per_filter_config}).
   * Empty when the context is not for one filter.
   */
  default String filterConfigName() {
    return "";
  }

  /** Returns this context, naming the filter it configures ({@link #filterConfigName()}). */
  default FactoryContext withFilterConfigName(String name) {
    FactoryContext outer = this;
    return new FactoryContext() {
      @Override
      public StatsStore stats() {
        return outer.stats();
      }

      @Override
      public StatsStore.Scope scope() {
        return outer.scope();
      }

      @Override
      public ClusterManager clusterManager() {
        return outer.clusterManager();
      }

      @Override
      public BooleanSupplier serverHealthCheckFailed() {
        return outer.serverHealthCheckFailed();
      }

      @Override
      public String localClusterName() {
        return outer.localClusterName();
      }

      @Override
      public String filterConfigName() {
        return name;
      }
    };
  }
}
