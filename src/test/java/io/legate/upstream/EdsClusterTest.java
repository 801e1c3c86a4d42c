package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class EdsClusterTest {
  private MultiThreadIoEventLoopGroup group;
  private EventLoop loop;
  private final StatsStore store = new StatsStore();
  private EdsCluster cluster;

  @BeforeEach
  void setUp() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = group.next();
    cluster =
        new EdsCluster(
            ClusterInfo.build(
                Yaml.cluster(
                    "name: svc\ntype: EDS\n"
                        + "eds_cluster_config: {service_name: svc-v1, eds_config: {ads: {}}}\n"),
                "static_resources.clusters[0]",
                store),
            loop);
  }

  @AfterEach
  void tearDown() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private static String endpoint(String ip, int port, String extra) {
    return "    - endpoint: {address: {socket_address: {address: '"
        + ip
        + "', port_value: "
        + port
        + "}}}\n"
        + extra;
  }

  @Test
  void warmsOnTheFirstAssignmentAndKeepsUnchangedHosts() throws Exception {
    assertThat(cluster.info().edsServiceName()).isEqualTo("svc-v1");
    CompletableFuture<Void> warm = cluster.initialize();
    Thread.sleep(50);
    assertThat(warm).isNotDone();
    cluster.updateLoadAssignment(
        Yaml.cla(
            "cluster_name: svc-v1\nendpoints:\n- lb_endpoints:\n"
                + endpoint("10.0.0.1", 80, "")
                + endpoint("10.0.0.2", 80, "      load_balancing_weight: 4\n")
                + "- priority: 1\n  lb_endpoints:\n"
                + endpoint("fd00::3", 80, "      health_status: DRAINING\n")));
    warm.get(5, TimeUnit.SECONDS);
    PrioritySet first = cluster.prioritySet();
    assertThat(first.byPriority()).hasSize(2);
    assertThat(first.hosts()).extracting(Host::addressString)
        .containsExactly("10.0.0.1:80", "10.0.0.2:80", "fd00:0:0:0:0:0:0:3:80");
    assertThat(first.hosts().get(2).healthy()).isFalse();
    Host kept = first.hosts().get(0);

    Loops.run(
        loop,
        () ->
            cluster.updateLoadAssignment(
                Yaml.cla(
                    "cluster_name: svc-v1\nendpoints:\n- lb_endpoints:\n"
                        + endpoint("10.0.0.1", 80, "")
                        + endpoint("10.0.0.2", 80, "      load_balancing_weight: 5\n")
                        + "policy: {overprovisioning_factor: 200}\n")));
    PrioritySet second = cluster.prioritySet();
    assertThat(second.hosts()).hasSize(2);
    assertThat(second.hosts().get(0)).isSameAs(kept);
    assertThat(second.hosts().get(1)).isNotSameAs(first.hosts().get(1));
    assertThat(second.hosts().get(1).weight()).isEqualTo(5);
    assertThat(second.overprovisioningFactor()).isEqualTo(200);

    Loops.run(loop, () -> cluster.updateLoadAssignment(Yaml.cla("cluster_name: svc-v1\n")));
    assertThat(cluster.prioritySet().hosts()).isEmpty();
    assertThat(store.counter("cluster.svc.update_empty").value()).isEqualTo(1);
    assertThat(store.counter("cluster.svc.update_success").value()).isEqualTo(3);
    assertThat(store.counter("cluster.svc.membership_change").value()).isEqualTo(3);
  }

  @Test
  void badAssignmentIsRefusedAndChangesNothing() throws Exception {
    Loops.run(
        loop,
        () ->
            cluster.updateLoadAssignment(
                Yaml.cla("endpoints:\n- lb_endpoints:\n" + endpoint("10.0.0.1", 80, ""))));
    PrioritySet before = cluster.prioritySet();
    assertThatThrownBy(
            () ->
                cluster.updateLoadAssignment(
                    Yaml.cla("endpoints:\n- lb_endpoints:\n" + endpoint("db.internal", 80, ""))))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "cluster_load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address"
                + ".address: malformed IP address: db.internal");
    Loops.run(loop, () -> {});
    assertThat(cluster.prioritySet()).isSameAs(before);
  }
}
