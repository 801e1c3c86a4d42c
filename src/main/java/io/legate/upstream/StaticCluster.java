package io.legate.upstream;

import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.List;

/**
 * A STATIC cluster: hosts are the IP literals of {@code load_assignment}, fixed for the cluster's
 * life. Envoy refuses a host name here ({@code malformed IP address: <name>}), and so does Legate.
 */
public final class StaticCluster extends Cluster {
  private final PrioritySet hosts;

  /** Creates the cluster; endpoint errors are {@link io.legate.config.ConfigException}s. */
  public StaticCluster(ClusterInfo info, EventLoop mainLoop) {
    super(info, mainLoop);
    Endpoints.Assignment a =
        Endpoints.parse(info.proto().getLoadAssignment(), info.path() + ".load_assignment", null);
    List<Host> list = new ArrayList<>();
    for (Endpoints.Spec s : a.endpoints()) {
      Host h =
          new Host(
              info.name(),
              Endpoints.ipAddress(s),
              s.hostname(),
              s.weight(),
              s.priority(),
              s.zone(),
              s.locality());
      if (s.healthFlags() != 0) {
        h.setHealthFlag(s.healthFlags());
      }
      list.add(h);
    }
    this.hosts = Endpoints.prioritySet(list, a.overprovisioningFactor(), a.weightedPriorityHealth());
  }

  @Override
  protected void startPreInit() {
    publish(hosts);
    onPreInitComplete();
  }
}
