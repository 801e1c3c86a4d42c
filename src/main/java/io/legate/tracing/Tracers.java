package io.legate.tracing;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.trace.v3.Tracing;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.upstream.ClusterManager;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.WeakHashMap;

/**
 * The tracing providers on the class path, and the drivers built from them. A driver (an SDK tracer
 * with its export thread) is built once per server (cluster manager) and distinct provider config,
 * and shared by every connection manager that names the same config, so a listener update does not
 * start another exporter.
 */
public final class Tracers {
  private static final Map<String, TracerFactory> BY_TYPE = new HashMap<>();
  private static final Map<String, TracerFactory> BY_NAME = new HashMap<>();
  private static final Map<Object, Map<Any, TracerDriver>> DRIVERS =
      Collections.synchronizedMap(new WeakHashMap<>());

  static {
    for (TracerFactory f : ServiceLoader.load(TracerFactory.class)) {
      BY_TYPE.put(f.typeUrl(), f);
      BY_NAME.put(f.name(), f);
    }
  }

  private Tracers() {}

  /**
   * Returns the driver for a {@code tracing.provider}, building it on first use.
   *
   * @param path the field path of the provider, for errors
   * @throws ConfigException for an unknown provider or an invalid config
   */
  public static TracerDriver driver(Tracing.Http provider, FactoryContext context, String path) {
    TracerFactory f;
    if (provider.hasTypedConfig()) {
      f = BY_TYPE.get(provider.getTypedConfig().getTypeUrl());
      if (f == null) {
        throw new ConfigException(
            path + ".typed_config",
            "unsupported tracer type '" + provider.getTypedConfig().getTypeUrl() + "' (tracer '" + provider.getName() + "')");
      }
    } else {
      f = BY_NAME.get(provider.getName());
      if (f == null) {
        throw new ConfigException(path + ".name", "unsupported tracer '" + provider.getName() + "'");
      }
      throw new ConfigException(path + ".typed_config", "tracer '" + provider.getName() + "' needs a typed_config");
    }
    Object owner = context.clusterManager() == null ? Tracers.class : context.clusterManager();
    Map<Any, TracerDriver> drivers;
    synchronized (DRIVERS) {
      drivers = DRIVERS.computeIfAbsent(owner, k -> new HashMap<>());
    }
    synchronized (drivers) {
      TracerDriver d = drivers.get(provider.getTypedConfig());
      if (d == null) {
        d = f.create(provider.getTypedConfig(), context, path + ".typed_config");
        drivers.put(provider.getTypedConfig(), d);
      }
      return d;
    }
  }

  /**
   * Flushes and stops every driver built for this server's cluster manager. The server calls it
   * when it stops, before the cluster manager shuts down.
   */
  public static void shutdown(ClusterManager clusters) {
    Map<Any, TracerDriver> drivers = DRIVERS.remove(clusters);
    if (drivers == null) {
      return;
    }
    List<TracerDriver> all;
    synchronized (drivers) {
      all = new ArrayList<>(drivers.values());
      drivers.clear();
    }
    for (TracerDriver d : all) {
      d.shutdown();
    }
  }

  /** Returns the names of the tracing providers available. */
  public static java.util.Set<String> names() {
    return new java.util.TreeSet<>(BY_NAME.keySet());
  }
}
