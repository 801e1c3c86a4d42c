package io.legate.http;

import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.legate.router.RouteTable;
import java.util.concurrent.CompletableFuture;

/**
 * The source of an HTTP connection manager's route table: fixed for an inline {@code route_config},
 * replaced atomically by RDS. Workers read {@link #routeTable()} with one volatile read per stream.
 */
public interface RouteConfigProvider {
  /** Returns the current route table. */
  RouteTable routeTable();

  /**
   * Returns a future completed once the first route table arrived (or the initial fetch timed out):
   * a listener that uses this provider warms until then. Inline tables are ready at once.
   */
  default CompletableFuture<Void> ready() {
    return CompletableFuture.completedFuture(null);
  }

  /** Returns a provider that always answers {@code table}. */
  static RouteConfigProvider of(RouteTable table) {
    return () -> table;
  }

  /** Subscribes to route configurations for HCMs that name {@code rds}. */
  @FunctionalInterface
  interface Factory {
    /**
     * Returns the provider for {@code rds.route_config_name} from {@code rds.config_source}, shared by
     * every HCM that names the same route configuration.
     *
     * @param statPrefix the HCM's stat prefix (Envoy's {@code http.<stat_prefix>.rds.<name>.*})
     * @param path the field path of {@code rds}, for errors
     * @throws io.legate.config.ConfigException when the config source is unusable
     */
    RouteConfigProvider subscribe(Rds rds, String statPrefix, String path);
  }
}
