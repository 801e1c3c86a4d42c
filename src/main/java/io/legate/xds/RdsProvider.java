package io.legate.xds;

import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.legate.http.RouteConfigProvider;
import io.legate.router.RouteTable;
import java.util.concurrent.CompletableFuture;

/**
 * The route table of one RDS route configuration name, shared by every connection manager that
 * names it. An update builds a whole new {@link RouteTable} and publishes it with one volatile write;
 * a table that does not build is refused and the current one keeps serving. Until the first update
 * the table is empty (every request gets 404 NR, as Envoy's empty route config).
 */
public final class RdsProvider implements RouteConfigProvider {
  private final String name;
  private final UpdateStats stats;
  private final CompletableFuture<Void> ready = new CompletableFuture<>();
  private volatile RouteTable table;
  private volatile RouteConfiguration proto;
  private volatile String version = "";
  private volatile long lastUpdatedMillis;

  /** Creates a provider for {@code name}; the table is empty until the first update. */
  public RdsProvider(String name, UpdateStats stats) {
    this.name = name;
    this.stats = stats;
    this.table = RouteTable.build(RouteConfiguration.newBuilder().setName(name).build(), name, null);
  }

  /** Returns the route configuration name. */
  public String name() {
    return name;
  }

  @Override
  public RouteTable routeTable() {
    return table;
  }

  @Override
  public CompletableFuture<Void> ready() {
    return ready;
  }

  /** Returns the stats ({@code http.<stat_prefix>.rds.<name>.*}). */
  public UpdateStats stats() {
    return stats;
  }

  /**
   * Builds the table of {@code rc} and returns the action that publishes it; throws
   * {@link io.legate.config.ConfigException} (path = the route configuration name) when it does not
   * build. RDS does not validate cluster names unless {@code validate_clusters} says so; a route to a
   * missing cluster answers 503 NC until the cluster arrives.
   */
  public Runnable prepare(RouteConfiguration rc, String versionInfo) {
    RouteTable next = RouteTable.build(rc, name, null);
    return () -> {
      table = next;
      proto = rc;
      version = versionInfo;
      lastUpdatedMillis = System.currentTimeMillis();
      ready.complete(null);
    };
  }

  /** Marks the provider ready without routes (the initial fetch timed out). */
  void initialFetchTimedOut() {
    if (ready.complete(null)) {
      stats.initFetchTimeout.inc();
    }
  }

  /** Returns the last accepted route configuration, or null. */
  public RouteConfiguration proto() {
    return proto;
  }

  /** Returns the version of the last accepted update. */
  public String version() {
    return version;
  }

  /** Returns when the last update was accepted (ms since the epoch), 0 if never. */
  public long lastUpdatedMillis() {
    return lastUpdatedMillis;
  }
}
