package io.legate.config;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import org.junit.jupiter.api.Test;

class BootstrapValidatorTest {
  private static final Address ADDRESS = Address.newBuilder()
      .setSocketAddress(SocketAddress.newBuilder().setAddress("0.0.0.0").setPortValue(80)).build();

  private static Listener listener(String name) {
    return Listener.newBuilder().setName(name).setAddress(ADDRESS).build();
  }

  private static LocalityLbEndpoints locality(int endpoints) {
    LocalityLbEndpoints.Builder b = LocalityLbEndpoints.newBuilder();
    for (int i = 0; i < endpoints; i++) {
      b.addLbEndpoints(LbEndpoint.newBuilder().setEndpoint(Endpoint.newBuilder().setAddress(ADDRESS)));
    }
    return b.build();
  }

  private static Cluster cluster(String name, Cluster.DiscoveryType type, LocalityLbEndpoints... localities) {
    Cluster.Builder b = Cluster.newBuilder().setName(name).setType(type);
    if (localities.length > 0) {
      ClusterLoadAssignment.Builder la = ClusterLoadAssignment.newBuilder().setClusterName(name);
      for (LocalityLbEndpoints l : localities) {
        la.addEndpoints(l);
      }
      b.setLoadAssignment(la);
    }
    return b.build();
  }

  private static Bootstrap bootstrap(Listener[] listeners, Cluster... clusters) {
    Bootstrap.Builder b = Bootstrap.newBuilder();
    for (Listener l : listeners) {
      b.getStaticResourcesBuilder().addListeners(l);
    }
    for (Cluster c : clusters) {
      b.getStaticResourcesBuilder().addClusters(c);
    }
    return b.build();
  }

  private static void assertInvalid(Bootstrap b, String expected) {
    assertThatThrownBy(() -> BootstrapValidator.validate(b)).isInstanceOf(ConfigException.class).hasMessage(expected);
  }

  @Test
  void validBootstrapPasses() {
    Bootstrap b = bootstrap(new Listener[] {listener("a"), listener("b"), listener(""), listener("")},
        cluster("s", Cluster.DiscoveryType.STATIC, locality(2)), cluster("e", Cluster.DiscoveryType.EDS),
        cluster("l", Cluster.DiscoveryType.LOGICAL_DNS, locality(1)), cluster("o", Cluster.DiscoveryType.ORIGINAL_DST));
    assertThatCode(() -> BootstrapValidator.validate(b)).doesNotThrowAnyException();
  }

  @Test
  void duplicateListenerName() {
    assertInvalid(bootstrap(new Listener[] {listener("a"), listener("b"), listener("a")}),
        "static_resources.listeners[2].name: duplicate listener name 'a' (also used by static_resources.listeners[0])");
  }

  @Test
  void listenerWithoutAddress() {
    assertInvalid(bootstrap(new Listener[] {Listener.newBuilder().setName("x").build()}),
        "static_resources.listeners[0].address: value is required (a listener needs an address unless it is an"
            + " api_listener or internal_listener)");
  }

  @Test
  void duplicateClusterName() {
    assertInvalid(bootstrap(new Listener[0], cluster("a", Cluster.DiscoveryType.EDS), cluster("a", Cluster.DiscoveryType.EDS)),
        "static_resources.clusters[1].name: duplicate cluster name 'a' (also used by static_resources.clusters[0])");
  }

  @Test
  void clusterTypeThatNeedsEndpoints() {
    assertInvalid(bootstrap(new Listener[0], cluster("a", Cluster.DiscoveryType.STRICT_DNS)),
        "static_resources.clusters[0].load_assignment: cluster 'a' of type STRICT_DNS needs endpoints: set load_assignment");
  }

  @Test
  void logicalDnsNeedsExactlyOneEndpoint() {
    assertInvalid(bootstrap(new Listener[0], cluster("a", Cluster.DiscoveryType.LOGICAL_DNS, locality(2))),
        "static_resources.clusters[0].load_assignment: LOGICAL_DNS clusters must have a single locality_lb_endpoint"
            + " and a single lb_endpoint");
  }

  @Test
  void originalDstTakesNoEndpoints() {
    assertInvalid(bootstrap(new Listener[0], cluster("a", Cluster.DiscoveryType.ORIGINAL_DST, locality(1))),
        "static_resources.clusters[0].load_assignment: ORIGINAL_DST clusters must have no load assignment configured");
  }
}
