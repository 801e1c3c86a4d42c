package io.legate.upstream;

import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An EDS cluster: hosts arrive as {@link ClusterLoadAssignment}s from xDS through
 * {@link #updateLoadAssignment}. A host whose address, weight, priority and hostname did not change
 * keeps its {@link Host} object (and its stats). The cluster is warm after the first assignment
 * (Envoy waits for EDS the same way) or after {@link #shutdown()}.
 */
public final class EdsCluster extends Cluster {
  private Map<String, Host> current = Map.of();

  public EdsCluster(ClusterInfo info, EventLoop mainLoop) {
    super(info, mainLoop);
    if (info.proto().hasLoadAssignment()) {
      // Validate any inline assignment now; EDS replaces it.
      Endpoints.parse(info.proto().getLoadAssignment(), info.path() + ".load_assignment", null);
    }
  }

  @Override
  protected void startPreInit() {
    // Warm when the first assignment arrives.
  }

  /**
   * Replaces the hosts with those of {@code cla}. The assignment is validated in the calling thread:
   * a bad one throws {@link io.legate.config.ConfigException} (the xDS client NACKs it) and leaves the
   * hosts unchanged. The new hosts are published on the main loop (at once when called there).
   */
  public void updateLoadAssignment(ClusterLoadAssignment cla) {
    Endpoints.Assignment a = Endpoints.parse(cla, "cluster_load_assignment", null);
    List<InetSocketAddress> addresses = new ArrayList<>();
    for (Endpoints.Spec s : a.endpoints()) {
      addresses.add(Endpoints.ipAddress(s));
    }
    if (mainLoop.inEventLoop()) {
      apply(a, addresses);
    } else {
      mainLoop.execute(() -> apply(a, addresses));
    }
  }

  private void apply(Endpoints.Assignment a, List<InetSocketAddress> addresses) {
    if (isShutdown()) {
      return;
    }
    ClusterStats stats = info().stats();
    stats.updateAttempt.inc();
    Map<String, Host> next = new HashMap<>();
    List<Host> hosts = new ArrayList<>();
    for (int i = 0; i < a.endpoints().size(); i++) {
      Endpoints.Spec s = a.endpoints().get(i);
      InetSocketAddress address = addresses.get(i);
      String key = key(address, s);
      Host h = current.get(key);
      if (h == null || next.containsKey(key)) {
        h = new Host(info().name(), address, s.hostname(), s.weight(), s.priority(), s.zone(), s.locality());
      }
      if (s.healthFlags() != 0) {
        h.setHealthFlag(Host.FAILED_EDS_HEALTH);
      } else {
        h.clearHealthFlag(Host.FAILED_EDS_HEALTH);
      }
      next.putIfAbsent(key, h);
      hosts.add(h);
    }
    if (hosts.isEmpty()) {
      stats.updateEmpty.inc();
    }
    stats.updateSuccess.inc();
    current = next;
    publish(Endpoints.prioritySet(hosts, a.overprovisioningFactor(), a.weightedPriorityHealth()));
    onPreInitComplete();
  }

  private static String key(InetSocketAddress address, Endpoints.Spec s) {
    return address.getAddress().getHostAddress()
        + "|"
        + address.getPort()
        + "|"
        + s.weight()
        + "|"
        + s.priority()
        + "|"
        + s.hostname()
        + "|"
        + s.zone();
  }
}
