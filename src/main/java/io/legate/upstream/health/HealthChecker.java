package io.legate.upstream.health;

import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterStats;
import io.legate.upstream.Host;
import io.legate.upstream.PrioritySet;
import io.netty.channel.EventLoop;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiConsumer;

/**
 * Active health checking of one cluster, as Envoy's {@code HealthCheckerImplBase}: one session per
 * host, running on the main event loop with non-blocking Netty clients. Hosts that join the cluster
 * start with {@link Host#FAILED_ACTIVE_HC} set (so they take no traffic before their first check);
 * the first successful check admits a host at once, later transitions need {@code
 * healthy_threshold} successes or {@code unhealthy_threshold} network failures (any other failure
 * marks the host unhealthy at once, as in Envoy). Every change of the flag republishes the
 * cluster's hosts ({@link Cluster#notifyHealthChanged()}) so that workers rebuild their balancers.
 *
 * <p>Main loop only, except {@link #attach}, which may be called before the cluster starts.
 */
public final class HealthChecker {
  private final Cluster cluster;
  private final HealthCheckConfig config;
  private final EventLoop loop;
  private final HealthCheckStats stats;
  private final ClusterStats clusterStats;
  private final HealthCheckEventLogger eventLogger;
  private final Map<Host, HealthCheckSession> sessions = new IdentityHashMap<>();
  private final List<BiConsumer<Host, Boolean>> listeners = new CopyOnWriteArrayList<>();
  private final List<CompletableFuture<Void>> firstCheckWaiters = new ArrayList<>();
  private boolean stopped;

  private HealthChecker(Cluster cluster, HealthCheckConfig config, EventLoop loop) {
    this.cluster = cluster;
    this.config = config;
    this.loop = loop;
    this.clusterStats = cluster.info().stats();
    this.stats = new HealthCheckStats(clusterStats.scope());
    this.eventLogger =
        config.eventLogPath().isEmpty()
            ? null
            : new HealthCheckEventLogger(
                Path.of(config.eventLogPath()), config.type(), cluster.info().name(),
                System::currentTimeMillis);
  }

  /**
   * Creates the health checker of {@code cluster} and hooks it to the cluster: each host the
   * cluster publishes gets a session before workers see it, and the checker stops when the cluster
   * shuts down. Call before the cluster is initialized.
   *
   * @param loop the cluster's main event loop
   */
  public static HealthChecker attach(Cluster cluster, HealthCheckConfig config, EventLoop loop) {
    HealthChecker hc = new HealthChecker(cluster, config, loop);
    cluster.addPrePublishHook(hc::onHosts);
    cluster.addShutdownHook(hc::stop);
    return hc;
  }

  /** Returns the checker's stats. */
  public HealthCheckStats stats() {
    return stats;
  }

  /** Returns the settings. */
  public HealthCheckConfig config() {
    return config;
  }

  /**
   * Adds a listener called on the main loop after every check with the host and whether the check
   * passed (the outlier detector un-ejects hosts that pass).
   */
  public void addCheckCompleteListener(BiConsumer<Host, Boolean> listener) {
    listeners.add(listener);
  }

  /**
   * Returns a future that completes once every host known now has had its first check (Envoy's
   * cluster warming waits for it). Completes at once when there are no hosts.
   */
  public CompletableFuture<Void> awaitFirstChecks() {
    CompletableFuture<Void> f = new CompletableFuture<>();
    loop.execute(
        () -> {
          if (stopped || pendingFirstChecks() == 0) {
            f.complete(null);
          } else {
            firstCheckWaiters.add(f);
          }
        });
    return f;
  }

  private int pendingFirstChecks() {
    int n = 0;
    for (HealthCheckSession s : sessions.values()) {
      if (s.firstCheck()) {
        n++;
      }
    }
    return n;
  }

  void firstCheckDone() {
    if (!firstCheckWaiters.isEmpty() && pendingFirstChecks() == 0) {
      List<CompletableFuture<Void>> done = new ArrayList<>(firstCheckWaiters);
      firstCheckWaiters.clear();
      done.forEach(f -> f.complete(null));
    }
  }

  private void onHosts(PrioritySet next) {
    assert loop.inEventLoop();
    if (stopped) {
      return;
    }
    Map<Host, Boolean> live = new IdentityHashMap<>();
    for (Host h : next.hosts()) {
      live.put(h, Boolean.TRUE);
      if (!sessions.containsKey(h)) {
        h.setHealthFlag(Host.FAILED_ACTIVE_HC);
        HealthCheckSession s = newSession(h);
        sessions.put(h, s);
        s.start();
      }
    }
    List<Host> removed = new ArrayList<>();
    for (Host h : sessions.keySet()) {
      if (!live.containsKey(h)) {
        removed.add(h);
      }
    }
    for (Host h : removed) {
      sessions.remove(h).stop();
    }
    if (!removed.isEmpty()) {
      firstCheckDone();
    }
  }

  private HealthCheckSession newSession(Host h) {
    return switch (config.type()) {
      case TCP -> new TcpHealthCheckSession(this, h);
      case HTTP, GRPC -> new HttpHealthCheckSession(this, h);
    };
  }

  /** Stops every session and closes their connections (the cluster is shutting down). */
  public void stop() {
    if (!loop.inEventLoop()) {
      if (!loop.isShuttingDown()) {
        loop.execute(this::stop);
      }
      return;
    }
    if (stopped) {
      return;
    }
    stopped = true;
    for (HealthCheckSession s : sessions.values()) {
      s.stop();
    }
    sessions.clear();
    firstCheckWaiters.forEach(f -> f.complete(null));
    firstCheckWaiters.clear();
    if (eventLogger != null) {
      eventLogger.close();
    }
  }

  // ---------------------------------------------------------------- used by sessions

  EventLoop loop() {
    return loop;
  }

  Cluster cluster() {
    return cluster;
  }

  HealthCheckEventLogger eventLogger() {
    return eventLogger;
  }

  void onCheckComplete(Host host, boolean passed, boolean changed) {
    if (changed) {
      cluster.notifyHealthChanged();
    }
    for (BiConsumer<Host, Boolean> l : listeners) {
      l.accept(host, passed);
    }
  }

  /**
   * Returns the wait before the next check, as Envoy's {@code HealthCheckerImplBase::interval}:
   * the {@code no_traffic} intervals until the cluster has carried traffic, then {@code interval}
   * / {@code unhealthy_interval}, or the edge intervals while a transition is pending; plus jitter.
   */
  long nextIntervalMs(boolean healthy, Transition transition) {
    long base;
    if (clusterStats.upstreamCxTotal.used()
        || clusterStats.upstreamCxTxBytesTotal.used()
        || clusterStats.upstreamCxRxBytesTotal.used()) {
      if (!healthy) {
        base = transition == Transition.PENDING ? config.unhealthyEdgeIntervalMs() : config.unhealthyIntervalMs();
      } else {
        base = transition == Transition.PENDING ? config.healthyEdgeIntervalMs() : config.intervalMs();
      }
    } else {
      base = healthy && transition != Transition.PENDING
          ? config.noTrafficHealthyIntervalMs()
          : config.noTrafficIntervalMs();
    }
    return withJitter(base, config.intervalJitterMs());
  }

  long withJitter(long baseMs, long jitterMs) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long ms = baseMs;
    long percent = config.intervalJitterPercent() * baseMs / 100;
    if (percent > 0) {
      ms += r.nextLong(percent);
    }
    if (jitterMs > 0) {
      ms += r.nextLong(jitterMs);
    }
    return Math.max(1, ms);
  }

  /** How a check changed the host's health, as Envoy's {@code HealthTransition}. */
  enum Transition {
    UNCHANGED,
    CHANGED,
    PENDING
  }
}
