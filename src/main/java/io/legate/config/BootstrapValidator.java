package io.legate.config;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import java.util.HashMap;
import java.util.Map;

/**
 * The structural checks Envoy makes when it loads a bootstrap that need no running server: unique
 * listener and cluster names, endpoints for clusters whose type needs them, and Envoy's per-type
 * endpoint rules (a LOGICAL_DNS cluster has exactly one endpoint, an ORIGINAL_DST cluster none).
 */
public final class BootstrapValidator {
  private BootstrapValidator() {}

  /** Checks a bootstrap that has passed {@link ProtoValidator}. Throws ConfigException at the first problem. */
  public static void validate(Bootstrap bootstrap) {
    Map<String, Integer> listeners = new HashMap<>();
    for (int i = 0; i < bootstrap.getStaticResources().getListenersCount(); i++) {
      Listener listener = bootstrap.getStaticResources().getListeners(i);
      String path = "static_resources.listeners[" + i + "]";
      if (!listener.getName().isEmpty()) {
        Integer first = listeners.putIfAbsent(listener.getName(), i);
        if (first != null) {
          throw new ConfigException(path + ".name", "duplicate listener name '" + listener.getName()
              + "' (also used by static_resources.listeners[" + first + "])");
        }
      }
      if (!listener.hasAddress() && !listener.hasApiListener() && !listener.hasInternalListener()) {
        throw new ConfigException(path + ".address", "value is required (a listener needs an address unless it is an"
            + " api_listener or internal_listener)");
      }
    }
    Map<String, Integer> clusters = new HashMap<>();
    for (int i = 0; i < bootstrap.getStaticResources().getClustersCount(); i++) {
      Cluster cluster = bootstrap.getStaticResources().getClusters(i);
      String path = "static_resources.clusters[" + i + "]";
      Integer first = clusters.putIfAbsent(cluster.getName(), i);
      if (first != null) {
        throw new ConfigException(path + ".name", "duplicate cluster name '" + cluster.getName()
            + "' (also used by static_resources.clusters[" + first + "])");
      }
      checkEndpoints(cluster, path);
    }
  }

  private static void checkEndpoints(Cluster cluster, String path) {
    if (cluster.hasClusterType()) {
      return;
    }
    Cluster.DiscoveryType type = cluster.getType();
    int endpoints = 0;
    int localities = cluster.getLoadAssignment().getEndpointsCount();
    for (LocalityLbEndpoints locality : cluster.getLoadAssignment().getEndpointsList()) {
      endpoints += locality.getLbEndpointsCount();
    }
    switch (type) {
      case STATIC, STRICT_DNS, LOGICAL_DNS -> {
        if (!cluster.hasLoadAssignment()) {
          throw new ConfigException(path + ".load_assignment", "cluster '" + cluster.getName() + "' of type " + type
              + " needs endpoints: set load_assignment");
        }
        if (type == Cluster.DiscoveryType.LOGICAL_DNS && (localities != 1 || endpoints != 1)) {
          throw new ConfigException(path + ".load_assignment", "LOGICAL_DNS clusters must have a single"
              + " locality_lb_endpoint and a single lb_endpoint");
        }
      }
      case ORIGINAL_DST -> {
        if (endpoints > 0) {
          throw new ConfigException(path + ".load_assignment", "ORIGINAL_DST clusters must have no load assignment"
              + " configured");
        }
      }
      default -> { }
    }
  }
}
