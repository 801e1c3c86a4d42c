package io.legate.server;

import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.overload.v3.OverloadAction;
import io.envoyproxy.envoy.config.overload.v3.ResourceMonitor;
import io.envoyproxy.envoy.config.overload.v3.Trigger;
import io.envoyproxy.envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig;
import io.envoyproxy.envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig;
import io.envoyproxy.envoy.extensions.resource_monitors.injected_resource.v3.InjectedResourceConfig;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Envoy's overload manager ({@code bootstrap.overload_manager}): resource monitors sampled every
 * {@code refresh_interval} on the main thread, and the actions their triggers fire, which the data
 * path reads as plain volatile flags.
 *
 * <p>Monitors: {@code envoy.resource_monitors.fixed_heap} (the JVM heap in use against {@code
 * max_heap_size_bytes}), {@code envoy.resource_monitors.injected_resource} (a pressure read from a
 * file, as Envoy's tests use it), and the proactive {@code
 * envoy.resource_monitors.global_downstream_max_connections}, which is checked at every accept
 * rather than sampled. Actions: {@code envoy.overload_actions.stop_accepting_requests} (503 {@code
 * envoy overloaded}, flag {@code OM}), {@code disable_http_keepalive} (HTTP/1.1 responses close the
 * connection; an HTTP/2 connection sends GOAWAY and closes once its open streams end), {@code stop_accepting_connections} and {@code reject_incoming_connections} (new
 * connections are closed on accept), and {@code shrink_heap} (accepted; the JVM manages its heap).
 */
public final class OverloadManager {
  static final String FIXED_HEAP = "envoy.resource_monitors.fixed_heap";
  static final String INJECTED = "envoy.resource_monitors.injected_resource";
  static final String GLOBAL_CX = "envoy.resource_monitors.global_downstream_max_connections";
  static final String DOWNSTREAM_CX = "envoy.resource_monitors.downstream_connections";
  static final String STOP_ACCEPTING_REQUESTS = "envoy.overload_actions.stop_accepting_requests";
  static final String DISABLE_KEEPALIVE = "envoy.overload_actions.disable_http_keepalive";
  static final String STOP_ACCEPTING_CONNECTIONS = "envoy.overload_actions.stop_accepting_connections";
  static final String REJECT_INCOMING_CONNECTIONS = "envoy.overload_actions.reject_incoming_connections";
  static final String SHRINK_HEAP = "envoy.overload_actions.shrink_heap";
  private static final Set<String> ACTIONS =
      Set.of(STOP_ACCEPTING_REQUESTS, DISABLE_KEEPALIVE, STOP_ACCEPTING_CONNECTIONS, REJECT_INCOMING_CONNECTIONS, SHRINK_HEAP);

  /** An overload manager with no monitors: nothing is ever overloaded. */
  public static final OverloadManager NONE = new OverloadManager();

  private final List<Monitor> monitors = new ArrayList<>();
  private final List<Action> actions = new ArrayList<>();
  private final long refreshMillis;
  private final long maxConnections;
  private final AtomicLong connections = new AtomicLong();
  private final Gauge connectionPressure;
  private volatile boolean stopAcceptingRequests;
  private volatile boolean disableKeepalive;
  private volatile boolean rejectConnections;
  private ScheduledFuture<?> refresh;

  private OverloadManager() {
    refreshMillis = 1000;
    maxConnections = 0;
    connectionPressure = null;
  }

  /**
   * Builds the manager from {@code bootstrap.overload_manager}.
   *
   * @throws ConfigException naming the field under {@code overload_manager}
   */
  public OverloadManager(io.envoyproxy.envoy.config.overload.v3.OverloadManager proto, StatsStore stats) {
    String path = "overload_manager";
    refreshMillis =
        proto.hasRefreshInterval()
            ? Math.max(1, proto.getRefreshInterval().getSeconds() * 1000 + proto.getRefreshInterval().getNanos() / 1_000_000)
            : 1000;
    Map<String, Monitor> byName = new HashMap<>();
    long maxCx = 0;
    Gauge cxPressure = null;
    for (int i = 0; i < proto.getResourceMonitorsCount(); i++) {
      ResourceMonitor m = proto.getResourceMonitors(i);
      String p = path + ".resource_monitors[" + i + "]";
      String scope = "overload." + m.getName() + ".";
      switch (m.getName()) {
        case FIXED_HEAP -> {
          FixedHeapConfig c = unpack(m, FixedHeapConfig.class, p);
          if (c.getMaxHeapSizeBytes() == 0) {
            throw new ConfigException(p + ".typed_config.max_heap_size_bytes", "value must be greater than 0");
          }
          MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
          long max = c.getMaxHeapSizeBytes();
          add(byName, new Monitor(m.getName(), () -> memory.getHeapMemoryUsage().getUsed() / (double) max, stats, scope), p);
        }
        case INJECTED -> {
          InjectedResourceConfig c = unpack(m, InjectedResourceConfig.class, p);
          Path file = Path.of(c.getFilename());
          add(byName, new Monitor(m.getName(), () -> readPressure(file), stats, scope), p);
        }
        case GLOBAL_CX, DOWNSTREAM_CX -> {
          DownstreamConnectionsConfig c = unpack(m, DownstreamConnectionsConfig.class, p);
          if (c.getMaxActiveDownstreamConnections() <= 0) {
            throw new ConfigException(p + ".typed_config.max_active_downstream_connections", "value must be greater than 0");
          }
          maxCx = c.getMaxActiveDownstreamConnections();
          cxPressure = stats.gauge(scope + "pressure");
          if (byName.containsKey(m.getName())) {
            throw new ConfigException(p + ".name", "duplicate resource monitor '" + m.getName() + "'");
          }
          byName.put(m.getName(), null); // proactive: no sampled monitor
        }
        default ->
            throw new ConfigException(
                p + ".name",
                "unsupported resource monitor '" + m.getName() + "' (supported: " + FIXED_HEAP + ", " + INJECTED + ", " + GLOBAL_CX + ")");
      }
    }
    maxConnections = maxCx;
    connectionPressure = cxPressure;
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < proto.getActionsCount(); i++) {
      OverloadAction a = proto.getActions(i);
      String p = path + ".actions[" + i + "]";
      if (!ACTIONS.contains(a.getName())) {
        throw new ConfigException(p + ".name", "unknown overload action '" + a.getName() + "'");
      }
      if (!seen.add(a.getName())) {
        throw new ConfigException(p + ".name", "duplicate overload action '" + a.getName() + "'");
      }
      List<TriggerRule> rules = new ArrayList<>();
      for (int j = 0; j < a.getTriggersCount(); j++) {
        Trigger t = a.getTriggers(j);
        String tp = p + ".triggers[" + j + "]";
        if (!byName.containsKey(t.getName())) {
          throw new ConfigException(tp + ".name", "unknown resource monitor '" + t.getName() + "'");
        }
        Monitor monitor = byName.get(t.getName());
        if (monitor == null) {
          throw new ConfigException(tp + ".name", "'" + t.getName() + "' is checked at accept time and cannot trigger actions");
        }
        if (t.hasThreshold()) {
          rules.add(new TriggerRule(monitor, t.getThreshold().getValue(), t.getThreshold().getValue()));
        } else if (t.hasScaled()) {
          if (t.getScaled().getScalingThreshold() >= t.getScaled().getSaturationThreshold()) {
            throw new ConfigException(tp + ".scaled", "scaling_threshold must be less than saturation_threshold");
          }
          rules.add(new TriggerRule(monitor, t.getScaled().getScalingThreshold(), t.getScaled().getSaturationThreshold()));
        } else {
          throw new ConfigException(tp, "one of threshold or scaled is required");
        }
      }
      actions.add(
          new Action(a.getName(), rules, stats.gauge("overload." + a.getName() + ".active"), stats.gauge("overload." + a.getName() + ".scale_percent")));
    }
    for (Monitor m : byName.values()) {
      if (m != null) {
        monitors.add(m);
      }
    }
  }

  private static void add(Map<String, Monitor> byName, Monitor m, String path) {
    if (byName.containsKey(m.name)) {
      throw new ConfigException(path + ".name", "duplicate resource monitor '" + m.name + "'");
    }
    byName.put(m.name, m);
  }

  private static <T extends com.google.protobuf.Message> T unpack(ResourceMonitor m, Class<T> type, String path) {
    if (!m.hasTypedConfig()) {
      throw new ConfigException(path + ".typed_config", "value is required");
    }
    try {
      return m.getTypedConfig().unpack(type);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path + ".typed_config", "expected " + type.getSimpleName() + ": " + e.getMessage());
    }
  }

  private static double readPressure(Path file) throws IOException {
    String s = Files.readString(file, StandardCharsets.US_ASCII).trim();
    try {
      double v = Double.parseDouble(s);
      if (v < 0 || v > 1 || Double.isNaN(v)) {
        throw new IOException("pressure " + s + " is not in [0, 1]");
      }
      return v;
    } catch (NumberFormatException e) {
      throw new IOException("not a number: '" + s + "'");
    }
  }

  /** Starts sampling the monitors on {@code executor} (the main thread). */
  public synchronized void start(ScheduledExecutorService executor) {
    if (monitors.isEmpty() || refresh != null) {
      return;
    }
    refresh();
    refresh = executor.scheduleAtFixedRate(this::refresh, refreshMillis, refreshMillis, TimeUnit.MILLISECONDS);
  }

  /** Stops sampling. */
  public synchronized void stop() {
    if (refresh != null) {
      refresh.cancel(false);
      refresh = null;
    }
  }

  /** Samples every monitor and updates the actions (on the main thread). */
  void refresh() {
    for (Monitor m : monitors) {
      m.sample();
    }
    for (Action a : actions) {
      double scale = 0;
      for (TriggerRule r : a.rules) {
        scale = Math.max(scale, r.scale());
      }
      boolean active = scale >= 1.0;
      a.active.set(active ? 1 : 0);
      a.scalePercent.set(Math.round(scale * 100));
      switch (a.name) {
        case STOP_ACCEPTING_REQUESTS -> stopAcceptingRequests = active;
        case DISABLE_KEEPALIVE -> disableKeepalive = active;
        case STOP_ACCEPTING_CONNECTIONS, REJECT_INCOMING_CONNECTIONS -> rejectConnections = active;
        default -> {
          // shrink_heap: nothing to do on the JVM
        }
      }
    }
  }

  /** Returns whether new requests are answered 503 (stop_accepting_requests). Safe on the data path. */
  public boolean stopAcceptingRequests() {
    return stopAcceptingRequests;
  }

  /** Returns whether responses end their connections' keep-alive (disable_http_keepalive). */
  public boolean disableHttpKeepalive() {
    return disableKeepalive;
  }

  /**
   * Admits a new downstream connection: false when connections are being rejected (an action) or
   * the global connection limit is reached. A true answer must be paired with {@link
   * #connectionClosed()}.
   */
  public boolean admitConnection() {
    if (rejectConnections) {
      return false;
    }
    if (maxConnections <= 0) {
      return true;
    }
    long n = connections.incrementAndGet();
    if (n > maxConnections) {
      connections.decrementAndGet();
      return false;
    }
    connectionPressure.set(n * 100 / maxConnections);
    return true;
  }

  /** Returns whether admitted connections must report their close ({@link #connectionClosed()}). */
  public boolean countsConnections() {
    return maxConnections > 0;
  }

  /** Releases a connection admitted by {@link #admitConnection()}. */
  public void connectionClosed() {
    if (maxConnections > 0) {
      long n = connections.decrementAndGet();
      connectionPressure.set(n * 100 / maxConnections);
    }
  }

  /** A sampled resource. */
  private static final class Monitor {
    interface Sampler {
      double sample() throws Exception;
    }

    final String name;
    final Sampler sampler;
    final Gauge pressureGauge;
    final Counter failedUpdates;
    double pressure;

    Monitor(String name, Sampler sampler, StatsStore stats, String scope) {
      this.name = name;
      this.sampler = sampler;
      this.pressureGauge = stats.gauge(scope + "pressure");
      this.failedUpdates = stats.counter(scope + "failed_updates");
    }

    void sample() {
      try {
        pressure = sampler.sample();
        pressureGauge.set(Math.round(pressure * 100));
      } catch (Exception e) {
        // Envoy keeps the last value and counts the failure.
        failedUpdates.inc();
      }
    }
  }

  /** A trigger: 0 below {@code low}, 1 at or above {@code high}, linear between (scaled triggers). */
  private record TriggerRule(Monitor monitor, double low, double high) {
    double scale() {
      double p = monitor.pressure;
      if (p >= high) {
        return 1;
      }
      if (p < low || high == low) {
        return 0;
      }
      return (p - low) / (high - low);
    }
  }

  private record Action(String name, List<TriggerRule> rules, Gauge active, Gauge scalePercent) {}
}
