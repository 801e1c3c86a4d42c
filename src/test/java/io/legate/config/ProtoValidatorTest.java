package io.legate.config;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.UInt32Value;
import com.google.protobuf.util.Durations;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import org.junit.jupiter.api.Test;

class ProtoValidatorTest {
  private static void assertInvalid(Message m, String path, String expected) {
    assertThatThrownBy(() -> ProtoValidator.validate(m, path)).isInstanceOf(ConfigException.class).hasMessage(expected);
  }

  private static Cluster.Builder cluster() {
    return Cluster.newBuilder().setName("c").setConnectTimeout(Durations.fromSeconds(1));
  }

  @Test
  void validMessagePasses() {
    assertThatCode(() -> ProtoValidator.validate(cluster().build(), "")).doesNotThrowAnyException();
  }

  @Test
  void stringMinLength() {
    assertInvalid(cluster().setName("").build(), "clusters[0]", "clusters[0].name: value length must be at least 1 characters");
  }

  @Test
  void durationGreaterThan() {
    assertInvalid(cluster().setConnectTimeout(Durations.fromNanos(0)).build(), "",
        "connect_timeout: value must be greater than 0s");
  }

  @Test
  void enumDefinedOnly() {
    assertInvalid(cluster().setTypeValue(99).build(), "", "type: value must be one of the defined enum values");
  }

  @Test
  void numberRange() {
    Address address = Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress("1.2.3.4").setPortValue(65536)).build();
    assertInvalid(address, "address", "address.socket_address.port_value: value must be less than or equal to 65535");
  }

  @Test
  void repeatedMinItems() {
    assertInvalid(VirtualHost.newBuilder().setName("vh").build(), "virtual_hosts[0]",
        "virtual_hosts[0].domains: value must contain at least 1 item(s)");
  }

  @Test
  void requiredMessage() {
    assertInvalid(Route.newBuilder().setRoute(RouteAction.newBuilder().setCluster("c")).build(), "",
        "match: value is required");
  }

  @Test
  void requiredOneof() {
    assertInvalid(Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/")).build(), "routes[2]",
        "routes[2].action: value is required (set one of: route, redirect, direct_response, filter_action,"
            + " non_forwarding_action)");
  }

  @Test
  void headerNameWellKnownRegex() {
    HeaderMatcher matcher = HeaderMatcher.newBuilder().setName("x-a\nb").setPresentMatch(true).build();
    assertInvalid(matcher, "headers[0]", "headers[0].name: value does not match regex pattern \"^[^\\x00\\n\\r]*$\"");
  }

  @Test
  void wrapperValueRules() {
    Cluster c = cluster().setCircuitBreakers(CircuitBreakers.newBuilder()
        .addThresholds(CircuitBreakers.Thresholds.newBuilder().setMaxConnections(UInt32Value.of(0)))).build();
    assertThatCode(() -> ProtoValidator.validate(c, "")).doesNotThrowAnyException();
    Cluster lb = cluster().setLbPolicyValue(42).build();
    assertInvalid(lb, "", "lb_policy: value must be one of the defined enum values");
  }

  @Test
  void rulesInsidePackedAnys() {
    Any hcm = Any.pack(HttpConnectionManager.newBuilder().setStatPrefix("")
        .setRouteConfig(io.envoyproxy.envoy.config.route.v3.RouteConfiguration.getDefaultInstance()).build());
    var filter = io.envoyproxy.envoy.config.listener.v3.Filter.newBuilder().setName("hcm").setTypedConfig(hcm).build();
    assertInvalid(filter, "filters[0]", "filters[0].typed_config.stat_prefix: value length must be at least 1 characters");
  }

  @Test
  void unsetOneofMembersAreNotChecked() {
    // RouteAction.cluster has min_len 1 but belongs to the cluster_specifier oneof, here given by cluster_header
    Route r = Route.newBuilder().setMatch(RouteMatch.newBuilder().setPrefix("/"))
        .setRoute(RouteAction.newBuilder().setClusterHeader("x-cluster")).build();
    assertThatCode(() -> ProtoValidator.validate(r, "")).doesNotThrowAnyException();
  }
}
