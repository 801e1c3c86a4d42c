package io.legate.upstream.pool;

import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.Cluster;
import io.legate.upstream.ClusterInfo;
import io.legate.upstream.Host;
import io.legate.upstream.LoadBalancer;
import io.legate.upstream.PrioritySet;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A worker's view of the clusters (Envoy's thread-local cluster): its load balancer over the latest
 * host snapshot and its connection pools. Confined to one event loop; nothing here is shared.
 */
public final class WorkerClusters {
  private static final FastThreadLocal<WorkerClusters> CURRENT =
      new FastThreadLocal<>() {
        @Override
        protected WorkerClusters initialValue() {
          return new WorkerClusters();
        }
      };

  private final IdentityHashMap<Cluster, Entry> entries = new IdentityHashMap<>();

  /** Returns the calling worker's instance. Must be called on an event loop. */
  public static WorkerClusters current() {
    return CURRENT.get();
  }

  /** Returns this worker's state for a cluster. */
  public Entry get(Cluster cluster, EventLoop loop) {
    Entry e = entries.get(cluster);
    if (e == null) {
      e = new Entry(cluster, loop);
      entries.put(cluster, e);
    }
    return e;
  }

  /** Drains and forgets a removed cluster's pools. */
  public void remove(Cluster cluster) {
    Entry e = entries.remove(cluster);
    if (e != null) {
      e.drainAll();
    }
  }

  /** One cluster on one worker. */
  public static final class Entry {
    private final Cluster cluster;
    private final EventLoop loop;
    private PrioritySet hosts;
    private LoadBalancer lb;
    private final Map<Host, ConnPool> http1 = new HashMap<>();
    private final Map<Host, ConnPool> http2 = new HashMap<>();
    private final Map<Host, ConnPool> http1High = new HashMap<>();
    private final Map<Host, ConnPool> http2High = new HashMap<>();
    /** auto_sni: pools per SNI as Envoy's (connections made with different SNI are never shared). */
    private final Map<SniKey, ConnPool> bySni = new HashMap<>();

    Entry(Cluster cluster, EventLoop loop) {
      this.cluster = cluster;
      this.loop = loop;
    }

    public ClusterInfo info() {
      return cluster.info();
    }

    /** Picks a host with this worker's load balancer, rebuilding it when the hosts changed. */
    public Host chooseHost(LoadBalancer.LbContext context) {
      PrioritySet current = cluster.prioritySet();
      if (current != hosts) {
        PrioritySet old = hosts;
        hosts = current;
        lb = cluster.info().lbFactory().create(current);
        if (old != null) {
          Set<Host> live = new HashSet<>(current.hosts());
          drainRemoved(http1, live);
          drainRemoved(http2, live);
          drainRemoved(http1High, live);
          drainRemoved(http2High, live);
          for (Iterator<Map.Entry<SniKey, ConnPool>> it = bySni.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<SniKey, ConnPool> e = it.next();
            if (!live.contains(e.getKey().host())) {
              e.getValue().drain();
              it.remove();
            }
          }
        }
      }
      return lb.chooseHost(context);
    }

    private static void drainRemoved(Map<Host, ConnPool> pools, Set<Host> live) {
      for (Iterator<Map.Entry<Host, ConnPool>> it = pools.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<Host, ConnPool> e = it.next();
        if (!live.contains(e.getKey())) {
          e.getValue().drain();
          it.remove();
        }
      }
    }

    /** Returns the pool for a host and protocol at the default priority, creating it on first use. */
    public ConnPool pool(Host host, boolean h2) {
      return pool(host, h2, CircuitBreakers.Priority.DEFAULT);
    }

    /**
     * Returns the pool for a host, protocol and routing priority (each priority has its own pools
     * and circuit breakers, as in Envoy), creating it on first use.
     */
    public ConnPool pool(Host host, boolean h2, CircuitBreakers.Priority priority) {
      return pool(host, h2, priority, null);
    }

    /**
     * Returns the pool for a host, protocol, routing priority and SNI ({@code auto_sni}; null: the
     * transport socket's own), creating it on first use.
     */
    public ConnPool pool(Host host, boolean h2, CircuitBreakers.Priority priority, String sni) {
      boolean high = priority == CircuitBreakers.Priority.HIGH;
      if (sni != null) {
        SniKey key = new SniKey(host, sni, h2, high);
        ConnPool p = bySni.get(key);
        if (p == null) {
          CircuitBreakers.ResourceManager rm = cluster.info().circuitBreakers().forPriority(priority);
          p = h2 ? new Http2ConnPool(loop, host, cluster.info(), rm, sni) : new Http1ConnPool(loop, host, cluster.info(), rm, sni);
          bySni.put(key, p);
        }
        return p;
      }
      Map<Host, ConnPool> pools = h2 ? (high ? http2High : http2) : (high ? http1High : http1);
      ConnPool p = pools.get(host);
      if (p == null) {
        CircuitBreakers.ResourceManager rm = cluster.info().circuitBreakers().forPriority(priority);
        p = h2 ? new Http2ConnPool(loop, host, cluster.info(), rm) : new Http1ConnPool(loop, host, cluster.info(), rm);
        pools.put(host, p);
      }
      return p;
    }

    private record SniKey(Host host, String sni, boolean h2, boolean high) {}

    void drainAll() {
      bySni.values().forEach(ConnPool::drain);
      bySni.clear();
      for (Map<Host, ConnPool> pools : List.of(http1, http2, http1High, http2High)) {
        pools.values().forEach(ConnPool::drain);
        pools.clear();
      }
    }
  }
}
