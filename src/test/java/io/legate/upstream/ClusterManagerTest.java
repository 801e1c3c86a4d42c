package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ClusterManagerTest {
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

  private static Cluster staticCluster(String name, String ip) {
    return Yaml.cluster(
        "name: "
            + name
            + "\nload_assignment:\n  endpoints:\n  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: "
            + ip
            + ", port_value: 80}}}\n");
  }

  @Test
  void buildsAndWarmsStaticAndDnsClusters() throws Exception {
    ClusterManager cm = new ClusterManager(store, loop);
    cm.addStaticClusters(
        List.of(
            staticCluster("a", "10.0.0.1"),
            Yaml.cluster(
                "name: local\ntype: STRICT_DNS\ndns_lookup_family: V4_ONLY\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + "    - endpoint: {address: {socket_address: {address: localhost,"
                    + " port_value: 8080}}}\n"),
            Yaml.cluster(
                "name: logical\ntype: LOGICAL_DNS\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + "    - endpoint: {address: {socket_address: {address: localhost,"
                    + " port_value: 9090}}}\n"),
            Yaml.cluster("name: eds\ntype: EDS\nwait_for_warm_on_init: false\n")),
        "static_resources.clusters");
    assertThat(cm.clusters()).extracting(c -> c.info().name())
        .containsExactly("a", "local", "logical", "eds");
    assertThat(cm.get("local")).isInstanceOf(StrictDnsCluster.class);
    assertThat(cm.get("logical")).isInstanceOf(LogicalDnsCluster.class);
    assertThat(cm.get("eds")).isInstanceOf(EdsCluster.class);
    assertThat(cm.get("nope")).isNull();
    assertThat(cm.exists("a")).isTrue();
    assertThat(cm.exists("nope")).isFalse();
    cm.initialize().get(10, TimeUnit.SECONDS);
    assertThat(cm.get("a").prioritySet().hosts()).extracting(Host::addressString)
        .containsExactly("10.0.0.1:80");
    assertThat(cm.get("local").prioritySet().hosts()).extracting(Host::addressString)
        .containsExactly("127.0.0.1:8080");
    assertThat(cm.get("logical").prioritySet().hosts()).extracting(Host::addressString)
        .containsExactly("127.0.0.1:9090");
    assertThat(cm.get("eds").prioritySet().hosts()).isEmpty();
    LoadBalancer lb = cm.get("a").info().lbFactory().create(cm.get("a").prioritySet());
    assertThat(lb.chooseHost(LoadBalancer.LbContext.NONE).addressString()).isEqualTo("10.0.0.1:80");
    cm.shutdown();
  }

  @Test
  void resolvesOnAnEpollMainLoop() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(io.netty.channel.epoll.Epoll.isAvailable());
    MultiThreadIoEventLoopGroup epoll =
        new MultiThreadIoEventLoopGroup(1, io.netty.channel.epoll.EpollIoHandler.newFactory());
    try {
      ClusterManager cm = new ClusterManager(store, epoll.next());
      cm.addStaticClusters(
          List.of(
              Yaml.cluster(
                  "name: e\ntype: STRICT_DNS\n"
                      + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                      + "    - endpoint: {address: {socket_address: {address: localhost,"
                      + " port_value: 1}}}\n")),
          "static_resources.clusters");
      cm.initialize().get(10, TimeUnit.SECONDS);
      assertThat(cm.get("e").prioritySet().hosts()).extracting(Host::addressString)
          .containsExactly("127.0.0.1:1");
      cm.shutdown();
    } finally {
      epoll.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void duplicateNamesAreRefusedAndNothingIsAdded() {
    ClusterManager cm = new ClusterManager(store, loop, new FakeDnsResolver(), false);
    assertThatThrownBy(
            () ->
                cm.addStaticClusters(
                    List.of(staticCluster("a", "10.0.0.1"), staticCluster("a", "10.0.0.2")),
                    "static_resources.clusters"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("cluster manager: duplicate cluster 'a'");
    assertThat(cm.clusters()).isEmpty();
  }

  @Test
  void errorsCarryTheClusterIndex() {
    ClusterManager cm = new ClusterManager(store, loop, new FakeDnsResolver(), false);
    assertThatThrownBy(
            () ->
                cm.addStaticClusters(
                    List.of(
                        staticCluster("a", "10.0.0.1"),
                        staticCluster("b", "10.0.0.2"),
                        Yaml.cluster("name: c\ntype: ORIGINAL_DST\n")),
                    "static_resources.clusters"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.clusters[2].type: unsupported cluster type ORIGINAL_DST");
    assertThatThrownBy(
            () ->
                cm.addStaticClusters(
                    List.of(staticCluster("a", "backend.example.com")),
                    "static_resources.clusters"))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
                + ".address.socket_address.address: malformed IP address: backend.example.com");
    assertThat(cm.clusters()).isEmpty();
  }

  @Test
  void dynamicClustersAreAddedReplacedAndRemoved() throws Exception {
    ClusterManager cm = new ClusterManager(store, loop, new FakeDnsResolver(), false);
    cm.addStaticClusters(List.of(staticCluster("boot", "10.0.0.1")), "static_resources.clusters");
    io.legate.upstream.Cluster first = cm.addOrUpdateCluster(staticCluster("dyn", "10.0.0.2"));
    first.initialize().get(5, TimeUnit.SECONDS);
    io.legate.upstream.Cluster second = cm.addOrUpdateCluster(staticCluster("dyn", "10.0.0.3"));
    // The replacement serves once it has warmed; until then the first one does.
    second.initialize().get(5, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while ((cm.get("dyn") != second || !first.isShutdown()) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    assertThat(cm.get("dyn")).isSameAs(second);
    assertThat(first.isShutdown()).isTrue();
    assertThat(second.prioritySet().hosts()).extracting(Host::addressString)
        .containsExactly("10.0.0.3:80");
    assertThatThrownBy(() -> cm.addOrUpdateCluster(staticCluster("boot", "10.0.0.4")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("cluster manager: cannot update static cluster 'boot'");
    assertThatThrownBy(() -> cm.addOrUpdateCluster(Yaml.cluster("name: x\nlb_policy: CLUSTER_PROVIDED\n")))
        .isInstanceOf(ConfigException.class)
        .hasMessage("x.lb_policy: unsupported load balancing policy CLUSTER_PROVIDED");
    assertThat(cm.exists("x")).isFalse();
    assertThat(cm.removeCluster("boot")).isFalse();
    assertThat(cm.removeCluster("dyn")).isTrue();
    assertThat(cm.removeCluster("dyn")).isFalse();
    assertThat(cm.clusters()).extracting(c -> c.info().name()).containsExactly("boot");
  }
}
