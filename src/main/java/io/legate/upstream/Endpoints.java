package io.legate.upstream;

import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.legate.config.ConfigException;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** Reads a {@link ClusterLoadAssignment} into endpoint specs, validated once at config time. */
final class Endpoints {
  /** The highest priority level accepted (a guard against absurd values, not an Envoy limit). */
  static final int MAX_PRIORITY = 127;

  /**
   * One configured endpoint.
   *
   * @param address the IP literal or DNS name
   * @param hostname the endpoint's {@code hostname}, or empty
   * @param healthFlags {@link Host#FAILED_EDS_HEALTH} when {@code health_status} says so
   * @param path the field path of the endpoint's {@code socket_address}
   */
  record Spec(
      String address,
      int port,
      String hostname,
      int weight,
      int priority,
      String zone,
      int healthFlags,
      String path,
      Host.Locality locality) {}

  /** A parsed assignment: the endpoints and the policy that goes with them. */
  record Assignment(List<Spec> endpoints, int overprovisioningFactor, boolean weightedPriorityHealth) {}

  private Endpoints() {}

  /**
   * Returns the endpoints of {@code cla}.
   *
   * @param path the field path of the assignment, e.g. {@code static_resources.clusters[0].load_assignment}
   * @param resolverError the message for a custom {@code resolver_name}, or null to report
   *     Envoy's {@code Unknown address resolver}
   */
  static Assignment parse(ClusterLoadAssignment cla, String path, String resolverError) {
    List<Spec> out = new ArrayList<>();
    for (int l = 0; l < cla.getEndpointsCount(); l++) {
      LocalityLbEndpoints locality = cla.getEndpoints(l);
      String lPath = path + ".endpoints[" + l + "]";
      if (locality.hasLoadBalancingWeight() && locality.getLoadBalancingWeight().getValue() < 1) {
        throw new ConfigException(
            lPath + ".load_balancing_weight.value", "value must be greater than or equal to 1");
      }
      if (locality.getPriority() > MAX_PRIORITY) {
        throw new ConfigException(
            lPath + ".priority", "value must be less than or equal to " + MAX_PRIORITY);
      }
      if (locality.hasLedsClusterLocalityConfig()) {
        throw new ConfigException(lPath + ".leds_cluster_locality_config", "unsupported");
      }
      for (int e = 0; e < locality.getLbEndpointsCount(); e++) {
        LbEndpoint lb = locality.getLbEndpoints(e);
        String ePath = lPath + ".lb_endpoints[" + e + "]";
        if (!lb.hasEndpoint()) {
          throw new ConfigException(ePath + ".endpoint", "value is required");
        }
        if (lb.hasLoadBalancingWeight() && lb.getLoadBalancingWeight().getValue() < 1) {
          throw new ConfigException(
              ePath + ".load_balancing_weight.value", "value must be greater than or equal to 1");
        }
        Address address = lb.getEndpoint().getAddress();
        String aPath = ePath + ".endpoint.address";
        if (!address.hasSocketAddress()) {
          throw new ConfigException(
              aPath, "unsupported address type " + address.getAddressCase().name().toLowerCase());
        }
        SocketAddress sa = address.getSocketAddress();
        String sPath = aPath + ".socket_address";
        if (!sa.getResolverName().isEmpty()) {
          throw new ConfigException(
              sPath + ".resolver_name",
              resolverError != null
                  ? resolverError
                  : "Unknown address resolver: " + sa.getResolverName());
        }
        if (sa.getPortSpecifierCase() == SocketAddress.PortSpecifierCase.NAMED_PORT) {
          throw new ConfigException(sPath + ".named_port", "unsupported; use port_value");
        }
        if (sa.getPortValue() > 65535) {
          throw new ConfigException(
              sPath + ".port_value", "value must be less than or equal to 65535");
        }
        if (sa.getProtocol() != SocketAddress.Protocol.TCP) {
          throw new ConfigException(sPath + ".protocol", "unsupported protocol " + sa.getProtocol());
        }
        int weight = lb.hasLoadBalancingWeight() ? lb.getLoadBalancingWeight().getValue() : 1;
        out.add(
            new Spec(
                sa.getAddress(),
                sa.getPortValue(),
                lb.getEndpoint().getHostname(),
                weight,
                locality.getPriority(),
                locality.getLocality().getZone(),
                unhealthy(lb.getHealthStatus()) ? Host.FAILED_EDS_HEALTH : 0,
                sPath,
                localityOf(locality)));
      }
    }
    int factor =
        cla.getPolicy().hasOverprovisioningFactor()
            ? cla.getPolicy().getOverprovisioningFactor().getValue()
            : PrioritySet.DEFAULT_OVERPROVISIONING_FACTOR;
    if (factor < 1) {
      throw new ConfigException(
          path + ".policy.overprovisioning_factor.value", "value must be greater than 0");
    }
    return new Assignment(List.copyOf(out), factor, cla.getPolicy().getWeightedPriorityHealth());
  }

  private static Host.Locality localityOf(LocalityLbEndpoints l) {
    var loc = l.getLocality();
    return new Host.Locality(loc.getRegion() + "/" + loc.getZone() + "/" + loc.getSubZone(),
        l.hasLoadBalancingWeight() ? l.getLoadBalancingWeight().getValue() : 0);
  }

  private static boolean unhealthy(HealthStatus status) {
    return status == HealthStatus.UNHEALTHY
        || status == HealthStatus.DRAINING
        || status == HealthStatus.TIMEOUT;
  }

  /** Returns the IP literal {@code ip} with {@code port}, or null when it is not an IP literal. */
  static InetSocketAddress parseIp(String ip, int port) {
    byte[] bytes = NetUtil.createByteArrayFromIpAddressString(ip);
    if (bytes == null) {
      return null;
    }
    try {
      return new InetSocketAddress(InetAddress.getByAddress(bytes), port);
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** Returns the address of {@code spec}, which must be an IP literal (Envoy's STATIC and EDS rule). */
  static InetSocketAddress ipAddress(Spec spec) {
    InetSocketAddress a = parseIp(spec.address(), spec.port());
    if (a == null) {
      throw new ConfigException(spec.path() + ".address", "malformed IP address: " + spec.address());
    }
    return a;
  }

  /** Returns the IP socket address in {@code address} (used for name servers). */
  static InetSocketAddress ipAddress(Address address, String path, int defaultPort) {
    if (!address.hasSocketAddress()) {
      throw new ConfigException(path, "value is required");
    }
    SocketAddress sa = address.getSocketAddress();
    InetSocketAddress a =
        parseIp(sa.getAddress(), sa.getPortValue() == 0 ? defaultPort : sa.getPortValue());
    if (a == null) {
      throw new ConfigException(path + ".address", "malformed IP address: " + sa.getAddress());
    }
    return a;
  }

  /** Groups hosts by priority into a snapshot (levels without hosts stay as empty levels). */
  static PrioritySet prioritySet(List<Host> hosts, int overprovisioningFactor, boolean weighted) {
    int levels = 0;
    for (Host h : hosts) {
      levels = Math.max(levels, h.priority() + 1);
    }
    List<List<Host>> byPriority = new ArrayList<>(levels);
    for (int p = 0; p < levels; p++) {
      byPriority.add(new ArrayList<>());
    }
    for (Host h : hosts) {
      byPriority.get(h.priority()).add(h);
    }
    return new PrioritySet(byPriority, overprovisioningFactor, weighted);
  }
}
