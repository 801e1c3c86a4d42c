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

  /** Per-request input to host selection: the request's hash and its retry priority. */
  interface LbContext {
    /** A context with nothing in it. */
    LbContext NONE = new LbContext() {};

    /** Returns a hash of the request for consistent-hashing balancers, or -1 when there is none. */
    default long hashKey() {
      return -1;
    }

    /**
     * Returns the share of requests (percent, summing to 100) each priority level gets for this
     * pick, as Envoy's {@code LoadBalancerContext::determinePriorityLoad}: a route's {@code
     * retry_priority} may move load away from the levels already tried. The arrays must not be
     * modified; the default returns {@code original}.
     *
     * @param original the balancer's load per priority
     * @param health the health per priority (percent of healthy hosts times the overprovisioning
     *     factor, capped at 100)
     */
    default int[] determinePriorityLoad(int[] original, int[] health) {
      return original;
    }
  }

  /** Builds per-worker load balancers for one cluster; one factory per cluster, immutable. */
  interface Factory {
    LoadBalancer create(PrioritySet hosts);
  }
}
