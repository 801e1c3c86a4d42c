package io.legate.listener;

import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import io.legate.stats.Gauge;
import io.legate.stats.StatsStore;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import java.net.BindException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The process's listeners, static and dynamic (Envoy's listener manager). An LDS update is applied
 * whole or not at all: every new address is bound first, and only when all binds succeed are
 * listeners replaced (the old one drains) or removed (it drains too).
 *
 * <p>Binding waits for the socket, so the methods must not be called on an event loop.
 */
public final class ListenerManager {
  private final EventLoopGroup acceptors;
  private final EventLoopGroup workers;
  private final ChannelGroup connections;
  private final long drainMillis;
  private final Map<String, ActiveListener> staticListeners = new LinkedHashMap<>();
  private final Map<String, ActiveListener> dynamicListeners = new LinkedHashMap<>();
  private final Gauge totalActive;
  private final Gauge totalDraining;
  private final Counter added;
  private final Counter modified;
  private final Counter removed;
  private final Counter createFailure;
  private int draining;

  /**
   * Creates the manager.
   *
   * @param connections every downstream connection of the process
   * @param drainMillis how long a replaced or removed listener's connections drain
   */
  public ListenerManager(
      EventLoopGroup acceptors, EventLoopGroup workers, ChannelGroup connections, long drainMillis, StatsStore stats) {
    this.acceptors = acceptors;
    this.workers = workers;
    this.connections = connections;
    this.drainMillis = drainMillis;
    this.totalActive = stats.gauge("listener_manager.total_listeners_active");
    this.totalDraining = stats.gauge("listener_manager.total_listeners_draining");
    this.added = stats.counter("listener_manager.listener_added");
    this.modified = stats.counter("listener_manager.listener_modified");
    this.removed = stats.counter("listener_manager.listener_removed");
    this.createFailure = stats.counter("listener_manager.listener_create_failure");
  }

  /**
   * Binds a static listener.
   *
   * @param path the field path of the listener, for errors
   * @throws ConfigException {@code <path>.address: cannot bind listener '<name>' to <ip>:<port>: <why>}
   */
  public synchronized ActiveListener addStatic(ListenerConfig lc, String path) {
    ActiveListener al = bind(lc, path);
    staticListeners.put(lc.name, al);
    added.inc();
    totalActive.set(size());
    return al;
  }

  private volatile ListenSockets inherited = ListenSockets.NONE;

  /** Sets where listeners find sockets handed over by a hot restart (before any is bound). */
  public void setInheritedSockets(ListenSockets sockets) {
    this.inherited = sockets;
  }

  private ActiveListener bind(ListenerConfig lc, String path) {
    ActiveListener al = new ActiveListener(lc, connections);
    ChannelFuture f = al.bind(acceptors, workers, inherited.inherited(lc.name, lc.address)).awaitUninterruptibly();
    if (!f.isSuccess()) {
      String why = rootMessage(f.cause());
      if (f.cause() instanceof BindException || why.contains("Address already in use")) {
        why = "address already in use";
      }
      createFailure.inc();
      throw new ConfigException(
          path + ".address",
          "cannot bind listener '" + lc.name + "' to " + lc.address.getAddress().getHostAddress() + ":" + lc.address.getPort() + ": " + why);
    }
    return al;
  }

  /**
   * Replaces the dynamic listeners with {@code next} (an LDS state of the world). A listener whose
   * proto did not change is kept; one whose address is the same is updated in place (its old
   * connections drain); one with a new address is bound anew and the old one drains; names not in
   * {@code next} are removed and drain. Nothing changes when a bind fails or a name clashes.
   *
   * @param paths the field path of each config, for errors (the LDS resource name)
   * @throws ConfigException naming the listener that could not be added
   */
  public synchronized void update(List<ListenerConfig> next, List<String> paths) {
    Set<String> names = new HashSet<>();
    for (int i = 0; i < next.size(); i++) {
      ListenerConfig lc = next.get(i);
      if (!names.add(lc.name)) {
        throw new ConfigException(paths.get(i), "duplicate listener '" + lc.name + "'");
      }
      if (staticListeners.containsKey(lc.name)) {
        throw new ConfigException(paths.get(i), "cannot update static listener '" + lc.name + "'");
      }
    }
    Map<String, ActiveListener> bound = new LinkedHashMap<>();
    try {
      for (int i = 0; i < next.size(); i++) {
        ListenerConfig lc = next.get(i);
        ActiveListener old = dynamicListeners.get(lc.name);
        if (old == null || !old.config().address.equals(lc.address)) {
          bound.put(lc.name, bind(lc, paths.get(i)));
        }
      }
    } catch (RuntimeException e) {
      for (ActiveListener al : bound.values()) {
        al.stopAccepting();
      }
      throw e;
    }
    Map<String, ActiveListener> result = new LinkedHashMap<>();
    for (ListenerConfig lc : next) {
      ActiveListener old = dynamicListeners.get(lc.name);
      ActiveListener fresh = bound.get(lc.name);
      if (fresh != null) {
        result.put(lc.name, fresh);
        if (old == null) {
          added.inc();
        } else {
          modified.inc();
          drain(old);
        }
      } else if (old.config().proto.equals(lc.proto)) {
        result.put(lc.name, old);
      } else {
        modified.inc();
        draining++;
        totalDraining.set(draining);
        old.update(lc, drainMillis, acceptors.next()).whenComplete((v, e) -> drained());
        result.put(lc.name, old);
      }
    }
    for (Map.Entry<String, ActiveListener> e : dynamicListeners.entrySet()) {
      if (!result.containsKey(e.getKey())) {
        removed.inc();
        drain(e.getValue());
      }
    }
    dynamicListeners.clear();
    dynamicListeners.putAll(result);
    totalActive.set(size());
  }

  private void drain(ActiveListener l) {
    draining++;
    totalDraining.set(draining);
    l.drain(drainMillis, acceptors.next()).whenComplete((v, e) -> drained());
  }

  private synchronized void drained() {
    draining--;
    totalDraining.set(draining);
  }

  private int size() {
    return staticListeners.size() + dynamicListeners.size();
  }

  /** Returns every active listener, static first. */
  public synchronized List<ActiveListener> listeners() {
    List<ActiveListener> out = new ArrayList<>(staticListeners.values());
    out.addAll(dynamicListeners.values());
    return out;
  }

  /** Returns the dynamic (LDS) listeners by name. */
  public synchronized Map<String, ActiveListener> dynamicListeners() {
    return Map.copyOf(dynamicListeners);
  }

  /** Stops every listener accepting. */
  public synchronized void stopAccepting() {
    for (ActiveListener l : listeners()) {
      l.stopAccepting();
    }
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
