package io.legate.upstream;

import io.netty.channel.EventLoop;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * One configured cluster at run time: its settings and its current hosts. Owned by the main thread,
 * which discovers hosts and publishes them as immutable {@link PrioritySet} snapshots; workers read
 * the snapshot with one volatile read and rebuild their {@link LoadBalancer} when its identity
 * changes.
 */
public abstract class Cluster {
  private final ClusterInfo info;
  /** The main event loop: discovery, timers and listener calls run on it. */
  protected final EventLoop mainLoop;

  private final CopyOnWriteArrayList<Consumer<PrioritySet>> listeners =
      new CopyOnWriteArrayList<>();
  private final CopyOnWriteArrayList<Consumer<PrioritySet>> prePublishHooks =
      new CopyOnWriteArrayList<>();
  private final CopyOnWriteArrayList<Runnable> shutdownHooks = new CopyOnWriteArrayList<>();
  private final CompletableFuture<Void> initialized = new CompletableFuture<>();
  private volatile PrioritySet prioritySet = PrioritySet.EMPTY;
  private boolean started;
  private boolean shutdown;

  protected Cluster(ClusterInfo info, EventLoop mainLoop) {
    this.info = info;
    this.mainLoop = mainLoop;
  }

  /** Returns the cluster's settings. */
  public ClusterInfo info() {
    return info;
  }

  /**
   * Returns the current hosts: a volatile read of an immutable snapshot. Workers compare identity to
   * notice changes and rebuild their LoadBalancer.
   */
  public PrioritySet prioritySet() {
    return prioritySet;
  }

  /** Adds a listener called on the main loop with each newly published snapshot. */
  public void addUpdateListener(Consumer<PrioritySet> listener) {
    listeners.add(listener);
  }

  /**
   * Adds a hook called on the main loop with each snapshot before workers can see it: the health
   * checker marks new hosts as not yet checked and the outlier detector gives them a recorder.
   */
  public void addPrePublishHook(Consumer<PrioritySet> hook) {
    prePublishHooks.add(hook);
  }

  /** Adds a hook run once on the main loop when the cluster shuts down (health checks, detector). */
  public void addShutdownHook(Runnable hook) {
    shutdownHooks.add(hook);
  }

  /** Removes a listener added with {@link #addUpdateListener}. */
  public void removeUpdateListener(Consumer<PrioritySet> listener) {
    listeners.remove(listener);
  }

  /**
   * Starts discovery (DNS); the future completes after the first resolution finished (success or
   * failure), as Envoy's cluster warming. Calling it again returns the same future.
   */
  public CompletableFuture<Void> initialize() {
    if (mainLoop.inEventLoop()) {
      initialize0();
    } else {
      mainLoop.execute(this::initialize0);
    }
    return initialized;
  }

  private void initialize0() {
    if (started || shutdown) {
      return;
    }
    started = true;
    startPreInit();
    if (!info.waitForWarmOnInit()) {
      onPreInitComplete();
    }
  }

  /** Starts discovery on the main loop; calls {@link #onPreInitComplete()} when warm. */
  protected abstract void startPreInit();

  /** Marks the cluster warm (idempotent). */
  protected final void onPreInitComplete() {
    initialized.complete(null);
  }

  /** Returns whether the cluster has been shut down (main loop only). */
  protected final boolean isShutdown() {
    return shutdown;
  }

  /** Stops discovery and timers; the last snapshot stays readable. */
  public void shutdown() {
    if (!mainLoop.inEventLoop() && !mainLoop.isShuttingDown()) {
      mainLoop.execute(this::shutdown);
      return;
    }
    if (shutdown) {
      return;
    }
    shutdown = true;
    for (Runnable r : shutdownHooks) {
      r.run();
    }
    onShutdown();
    initialized.complete(null);
  }

  /** Releases discovery resources; runs once on the main loop. */
  protected void onShutdown() {}

  /**
   * Publishes the same hosts again after a health flag changed on one of them, so that workers
   * rebuild their balancers with the new healthy sets.
   */
  public void notifyHealthChanged() {
    if (!mainLoop.inEventLoop()) {
      mainLoop.execute(this::notifyHealthChanged);
      return;
    }
    publish(prioritySet.copy());
  }

  /**
   * Publishes {@code next} as the current snapshot: updates the membership stats, then does the
   * volatile write, then calls the listeners. Main loop only.
   */
  protected final void publish(PrioritySet next) {
    assert mainLoop.inEventLoop();
    PrioritySet previous = prioritySet;
    for (Consumer<PrioritySet> hook : prePublishHooks) {
      hook.accept(next);
    }
    ClusterStats stats = info.stats();
    int healthy = 0;
    int maxWeight = 0;
    for (Host h : next.hosts()) {
      if (h.healthy()) {
        healthy++;
      }
      maxWeight = Math.max(maxWeight, h.weight());
    }
    if (!sameHosts(previous.hosts(), next.hosts())) {
      stats.membershipChange.inc();
    }
    stats.membershipTotal.set(next.hosts().size());
    stats.membershipHealthy.set(healthy);
    stats.maxHostWeight.set(maxWeight);
    prioritySet = next;
    RuntimeException failure = null;
    for (Consumer<PrioritySet> l : listeners) {
      try {
        l.accept(next);
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private static boolean sameHosts(List<Host> a, List<Host> b) {
    if (a.size() != b.size()) {
      return false;
    }
    Map<Host, Boolean> seen = new IdentityHashMap<>();
    for (Host h : a) {
      seen.put(h, Boolean.TRUE);
    }
    for (Host h : b) {
      if (seen.remove(h) == null) {
        return false;
      }
    }
    return seen.isEmpty();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + info.name() + "]";
  }
}
