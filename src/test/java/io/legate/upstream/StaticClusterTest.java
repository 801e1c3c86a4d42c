package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StaticClusterTest {
  private static final String PATH = "static_resources.clusters[0]";
  private MultiThreadIoEventLoopGroup group;
  private EventLoop loop;
  private final StatsStore store = new StatsStore();

  @BeforeEach
  void setUp() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = group.next();
  }

  @AfterEach
  void tearDown() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private StaticCluster cluster(String yaml) {
    return new StaticCluster(ClusterInfo.build(Yaml.cluster(yaml), PATH, store), loop);
  }

  @Test
  void hostsWithWeightsPrioritiesAndHostnames() throws Exception {
    StaticCluster c =
        cluster(
            "name: backend\n"
                + "load_assignment:\n"
                + "  cluster_name: backend\n"
                + "  endpoints:\n"
                + "  - locality: {zone: us-east-1a}\n"
                + "    lb_endpoints:\n"
                + "    - endpoint:\n"
                + "        address: {socket_address: {address: 10.0.0.1, port_value: 8080}}\n"
                + "        hostname: api.internal\n"
                + "      load_balancing_weight: 3\n"
                + "    - endpoint:\n"
                + "        address: {socket_address: {address: '::1', port_value: 8081}}\n"
                + "  - priority: 2\n"
                + "    load_balancing_weight: 5\n"
                + "    lb_endpoints:\n"
                + "    - endpoint:\n"
                + "        address: {socket_address: {address: 10.0.0.3, port_value: 80}}\n"
                + "      health_status: UNHEALTHY\n");
    assertThat(c.prioritySet()).isSameAs(PrioritySet.EMPTY);
    c.initialize().get(5, TimeUnit.SECONDS);
    PrioritySet set = c.prioritySet();
    assertThat(set.byPriority()).hasSize(3);
    assertThat(set.byPriority().get(1)).isEmpty();
    Host a = set.byPriority().get(0).get(0);
    assertThat(a.address()).isEqualTo(new InetSocketAddress("10.0.0.1", 8080));
    assertThat(a.hostname()).isEqualTo("api.internal");
    assertThat(a.weight()).isEqualTo(3);
    assertThat(a.zone()).isEqualTo("us-east-1a");
    assertThat(a.clusterName()).isEqualTo("backend");
    Host b = set.byPriority().get(0).get(1);
    assertThat(b.addressString()).isEqualTo("0:0:0:0:0:0:0:1:8081");
    assertThat(b.weight()).isEqualTo(1);
    assertThat(b.hostname()).isEmpty();
    Host c3 = set.byPriority().get(2).get(0);
    assertThat(c3.priority()).isEqualTo(2);
    assertThat(c3.healthy()).isFalse();
    assertThat(set.overprovisioningFactor()).isEqualTo(140);
    assertThat(store.gauge("cluster.backend.membership_total").value()).isEqualTo(3);
    assertThat(store.gauge("cluster.backend.membership_healthy").value()).isEqualTo(2);
    assertThat(store.gauge("cluster.backend.max_host_weight").value()).isEqualTo(3);
    assertThat(store.counter("cluster.backend.membership_change").value()).isEqualTo(1);
  }

  @Test
  void policyOfTheAssignment() throws Exception {
    StaticCluster c =
        cluster(
            "name: b\nload_assignment:\n  policy: {overprovisioning_factor: 100,"
                + " weighted_priority_health: true}\n");
    c.initialize().get(5, TimeUnit.SECONDS);
    assertThat(c.prioritySet().overprovisioningFactor()).isEqualTo(100);
    assertThat(c.prioritySet().weightedPriorityHealth()).isTrue();
    assertThat(c.prioritySet().hosts()).isEmpty();
  }

  @Test
  void listenersSeeEachSnapshotOnTheLoop() throws Exception {
    StaticCluster c =
        cluster(
            "name: b\nload_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                + "    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}\n");
    List<PrioritySet> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Boolean> onLoop = new java.util.concurrent.CopyOnWriteArrayList<>();
    c.addUpdateListener(
        s -> {
          seen.add(s);
          onLoop.add(loop.inEventLoop());
        });
    c.initialize().get(5, TimeUnit.SECONDS);
    assertThat(seen).containsExactly(c.prioritySet());
    Host h = c.prioritySet().hosts().get(0);
    h.setHealthFlag(Host.FAILED_OUTLIER_CHECK);
    PrioritySet before = c.prioritySet();
    c.notifyHealthChanged();
    Loops.await(loop, () -> seen.size() == 2);
    assertThat(c.prioritySet()).isNotSameAs(before);
    assertThat(c.prioritySet().hosts()).containsExactly(h);
    assertThat(onLoop).containsExactly(true, true);
    assertThat(store.gauge("cluster.b.membership_healthy").value()).isZero();
    assertThat(store.counter("cluster.b.membership_change").value()).isEqualTo(1);
  }

  private void assertError(String endpointsYaml, String message) {
    assertThatThrownBy(() -> cluster("name: b\nload_assignment:\n  endpoints:\n" + endpointsYaml))
        .isInstanceOf(ConfigException.class)
        .hasMessage(message);
  }

  @Test
  void hostnameIsRefused() {
    assertError(
        "  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}\n"
            + "    - endpoint: {address: {socket_address: {address: backend.example.com,"
            + " port_value: 80}}}\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[1].endpoint"
            + ".address.socket_address.address: malformed IP address: backend.example.com");
  }

  @Test
  void endpointErrors() {
    assertError(
        "  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80,"
            + " resolver_name: custom}}}\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
            + ".address.socket_address.resolver_name: Unknown address resolver: custom");
    assertError(
        "  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 80}}}\n"
            + "      load_balancing_weight: 0\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0]"
            + ".load_balancing_weight.value: value must be greater than or equal to 1");
    assertError(
        "  - load_balancing_weight: 0\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].load_balancing_weight.value:"
            + " value must be greater than or equal to 1");
    assertError(
        "  - lb_endpoints:\n    - endpoint: {address: {pipe: {path: /tmp/sock}}}\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
            + ".address: unsupported address type pipe");
    assertError(
        "  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 70000}}}\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
            + ".address.socket_address.port_value: value must be less than or equal to 65535");
    assertError(
        "  - priority: 128\n",
        "static_resources.clusters[0].load_assignment.endpoints[0].priority: value must be less"
            + " than or equal to 127");
  }
}
