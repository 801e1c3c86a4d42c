package io.legate.upstream;

/**
 * Picks a host for a request. An instance belongs to one worker and one snapshot of the cluster's
 * hosts: it is not thread-safe and needs no locks. When the host set changes, each worker builds a
 * new instance from the new {@link PrioritySet}.
 */
public interface LoadBalancer {
  /**
   * Returns the host for this request, or null when no host is available (the router answers 503
   * with response flag UH).
   */
  Host chooseHost(LbContext context);

  /** Per-request input to host selection (hash keys for ring hash and Maglev come later). */
  interface LbContext {
    /** A context with nothing in it. */
    LbContext NONE = new LbContext() {};

    /** Returns a hash of the request for consistent-hashing balancers, or -1 when there is none. */
    default long hashKey() {
      return -1;
    }
  }

  /** Builds per-worker load balancers for one cluster; one factory per cluster, immutable. */
  interface Factory {
    LoadBalancer create(PrioritySet hosts);
  }
}
