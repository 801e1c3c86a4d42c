package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DnsClusterTest {
  private static final String PATH = "static_resources.clusters[1]";
  private MultiThreadIoEventLoopGroup group;
  private EventLoop loop;
  private final StatsStore store = new StatsStore();
  private final FakeDnsResolver dns = new FakeDnsResolver();

  @BeforeEach
  void setUp() {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = group.next();
  }

  @AfterEach
  void tearDown() {
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  private ClusterInfo info(String yaml) {
    return ClusterInfo.build(Yaml.cluster(yaml), PATH, store);
  }

  private static String endpoint(String address, int port) {
    return "    - endpoint: {address: {socket_address: {address: "
        + address
        + ", port_value: "
        + port
        + "}}}\n";
  }

  private long stat(String name) {
    return store.counter("cluster.web." + name).value();
  }

  private FakeDnsResolver.Query next() throws Exception {
    Loops.await(loop, () -> !dns.pending.isEmpty());
    return Loops.on(loop, dns.pending::poll);
  }

  private void answerNext(long ttl, String... ips) throws Exception {
    FakeDnsResolver.Query q = next();
    Loops.run(loop, () -> q.answer(ttl, ips));
  }

  private void failNext() throws Exception {
    FakeDnsResolver.Query q = next();
    Loops.run(loop, q::fail);
  }

  @Test
  void strictDnsResolvesEveryEndpointAndWarmsAfterAll() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 3600s\ndns_lookup_family: V4_ONLY\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("a.test", 80)
                    + "      load_balancing_weight: 2\n"
                    + "  - priority: 1\n    lb_endpoints:\n"
                    + endpoint("b.test", 81)),
            loop,
            dns,
            false);
    CompletableFuture<Void> warm = c.initialize();
    FakeDnsResolver.Query a = next();
    FakeDnsResolver.Query b = next();
    assertThat(a.hostname()).isEqualTo("a.test");
    assertThat(a.family()).isEqualTo(DnsLookupFamily.V4_ONLY);
    assertThat(b.hostname()).isEqualTo("b.test");
    Loops.run(loop, () -> a.answer(0, "10.0.0.1", "10.0.0.2", "10.0.0.1"));
    assertThat(warm).isNotDone();
    Loops.run(loop, () -> b.answer(0, "10.0.1.1"));
    warm.get(5, TimeUnit.SECONDS);
    PrioritySet set = c.prioritySet();
    assertThat(set.byPriority()).hasSize(2);
    assertThat(set.byPriority().get(0)).extracting(Host::addressString)
        .containsExactly("10.0.0.1:80", "10.0.0.2:80");
    assertThat(set.byPriority().get(0)).extracting(Host::weight).containsExactly(2, 2);
    assertThat(set.byPriority().get(0)).extracting(Host::hostname)
        .containsExactly("a.test", "a.test");
    assertThat(set.byPriority().get(1)).extracting(Host::addressString)
        .containsExactly("10.0.1.1:81");
    assertThat(stat("update_attempt")).isEqualTo(2);
    assertThat(stat("update_success")).isEqualTo(2);
    assertThat(store.gauge("cluster.web.membership_total").value()).isEqualTo(3);
    c.shutdown();
  }

  @Test
  void strictDnsKeepsHostsWhoseAddressDidNotChange() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 0.02s\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("a.test", 80)),
            loop,
            dns,
            false);
    c.initialize();
    answerNext(0, "10.0.0.1", "10.0.0.2");
    Loops.run(loop, () -> {});
    PrioritySet first = c.prioritySet();
    Host h1 = first.hosts().get(0);
    Host h2 = first.hosts().get(1);

    // same answer: no new snapshot
    FakeDnsResolver.Query q2 = next();
    Loops.run(loop, () -> q2.answer(0, "10.0.0.2", "10.0.0.1"));
    assertThat(c.prioritySet()).isSameAs(first);
    assertThat(stat("update_no_rebuild")).isEqualTo(1);

    // one address replaced: the kept host is the same object
    FakeDnsResolver.Query q3 = next();
    Loops.run(loop, () -> q3.answer(0, "10.0.0.2", "10.0.0.3"));
    PrioritySet third = c.prioritySet();
    assertThat(third).isNotSameAs(first);
    assertThat(third.hosts()).hasSize(2);
    assertThat(third.hosts().get(0)).isSameAs(h2);
    assertThat(third.hosts().get(1).addressString()).isEqualTo("10.0.0.3:80");
    assertThat(third.hosts()).doesNotContain(h1);

    // failure: previous hosts stay
    FakeDnsResolver.Query q4 = next();
    Loops.run(loop, q4::fail);
    assertThat(c.prioritySet()).isSameAs(third);
    assertThat(stat("update_failure")).isEqualTo(1);
    assertThat(stat("membership_change")).isEqualTo(2);

    // the refresh continues after a failure
    FakeDnsResolver.Query q5 = next();
    Loops.run(loop, () -> q5.answer(0));
    assertThat(c.prioritySet().hosts()).isEmpty();
    c.shutdown();
  }

  @Test
  void strictDnsFailureStillWarms() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("a.test", 80)),
            loop,
            dns,
            false);
    CompletableFuture<Void> warm = c.initialize();
    failNext();
    warm.get(5, TimeUnit.SECONDS);
    assertThat(c.prioritySet()).isSameAs(PrioritySet.EMPTY);
    assertThat(stat("update_failure")).isEqualTo(1);
    c.shutdown();
  }

  @Test
  void strictDnsWithoutEndpointsIsWarmAtOnce() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(info("name: web\ntype: STRICT_DNS\n"), loop, dns, false);
    c.initialize().get(5, TimeUnit.SECONDS);
    assertThat(c.prioritySet().hosts()).isEmpty();
  }

  @Test
  void respectDnsTtlUsesTheAnswerTtl() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 0.01s\nrespect_dns_ttl: true\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("a.test", 80)),
            loop,
            dns,
            false);
    c.initialize();
    answerNext(3600, "10.0.0.1");
    Thread.sleep(200);
    assertThat(Loops.on(loop, () -> dns.queries)).isEqualTo(1);
    c.shutdown();
    // without a TTL the refresh rate applies
    StrictDnsCluster d =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 0.01s\nrespect_dns_ttl: true\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("b.test", 80)),
            loop,
            dns,
            false);
    d.initialize();
    answerNext(0, "10.0.0.1");
    next();
    d.shutdown();
  }

  @Test
  void shutdownStopsRefreshing() throws Exception {
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 0.01s\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("a.test", 80)),
            loop,
            dns,
            true);
    c.initialize();
    answerNext(0, "10.0.0.1");
    c.shutdown();
    Loops.run(loop, () -> {});
    int queries = Loops.on(loop, () -> dns.queries);
    Thread.sleep(100);
    assertThat(Loops.on(loop, () -> dns.queries)).isEqualTo(queries);
    assertThat(Loops.on(loop, () -> dns.closed)).isTrue();
  }

  @Test
  void logicalDnsUsesTheFirstAddressAndKeepsTheHost() throws Exception {
    LogicalDnsCluster c =
        new LogicalDnsCluster(
            info(
                "name: web\ntype: LOGICAL_DNS\ndns_refresh_rate: 0.01s\n"
                    + "load_assignment:\n  endpoints:\n  - priority: 3\n    lb_endpoints:\n"
                    + endpoint("api.test", 443)
                    + "      load_balancing_weight: 7\n"),
            loop,
            dns,
            false);
    CompletableFuture<Void> warm = c.initialize();
    FakeDnsResolver.Query q1 = next();
    assertThat(q1.hostname()).isEqualTo("api.test");
    assertThat(q1.family()).isEqualTo(DnsLookupFamily.AUTO);
    Loops.run(loop, () -> q1.answer(0, "10.0.0.5", "10.0.0.6"));
    warm.get(5, TimeUnit.SECONDS);
    PrioritySet first = c.prioritySet();
    assertThat(first.byPriority()).hasSize(1);
    Host h = first.hosts().get(0);
    assertThat(h.addressString()).isEqualTo("10.0.0.5:443");
    assertThat(h.hostname()).isEqualTo("api.test");
    assertThat(h.priority()).isZero();
    assertThat(h.weight()).isEqualTo(7);

    FakeDnsResolver.Query q2 = next();
    Loops.run(loop, () -> q2.answer(0, "10.0.0.5", "10.0.0.9"));
    assertThat(c.prioritySet()).isSameAs(first);
    assertThat(stat("update_no_rebuild")).isEqualTo(1);

    FakeDnsResolver.Query q3 = next();
    Loops.run(loop, () -> q3.answer(0));
    assertThat(c.prioritySet()).isSameAs(first);
    assertThat(stat("update_failure")).isEqualTo(1);

    FakeDnsResolver.Query q4 = next();
    Loops.run(loop, () -> q4.answer(0, "10.0.0.7"));
    assertThat(c.prioritySet().hosts()).hasSize(1);
    assertThat(c.prioritySet().hosts().get(0).addressString()).isEqualTo("10.0.0.7:443");
    assertThat(c.prioritySet().hosts().get(0)).isNotSameAs(h);
    c.shutdown();
  }

  @Test
  void logicalDnsNeedsOneEndpoint() {
    assertThatThrownBy(
            () ->
                new LogicalDnsCluster(
                    info(
                        "name: web\ntype: LOGICAL_DNS\n"
                            + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                            + endpoint("a.test", 80)
                            + endpoint("b.test", 80)),
                    loop,
                    dns,
                    false))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[1].load_assignment: LOGICAL_DNS clusters must have a"
                + " single locality_lb_endpoint and a single lb_endpoint");
    assertThatThrownBy(
            () -> new LogicalDnsCluster(info("name: web\ntype: LOGICAL_DNS\n"), loop, dns, false))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.clusters[1]: LOGICAL_DNS clusters must have a single host");
  }

  @Test
  void customResolverNamesAreRefused() {
    String ep =
        "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
            + "    - endpoint: {address: {socket_address: {address: a.test, port_value: 80,"
            + " resolver_name: r}}}\n";
    assertThatThrownBy(
            () -> new StrictDnsCluster(info("name: web\ntype: STRICT_DNS\n" + ep), loop, dns, false))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
                + ".address.socket_address.resolver_name: STRICT_DNS clusters must NOT have a"
                + " custom resolver name set");
    assertThatThrownBy(
            () ->
                new LogicalDnsCluster(info("name: web\ntype: LOGICAL_DNS\n" + ep), loop, dns, false))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[1].load_assignment.endpoints[0].lb_endpoints[0].endpoint"
                + ".address.socket_address.resolver_name: LOGICAL_DNS clusters must NOT have a"
                + " custom resolver name set");
  }

  @Test
  void failureBackoff() {
    ClusterInfo i =
        info("name: web\ndns_refresh_rate: 7s\ndns_failure_refresh_rate: {base_interval: 1s,"
            + " max_interval: 3s}\n");
    // a random source that returns the largest value below each bound
    DnsRefresh r = new DnsRefresh(i, () -> -1L);
    assertThat(r.afterFailure()).isEqualTo(Long.remainderUnsigned(-1L, 1000));
    assertThat(r.afterFailure()).isEqualTo(Long.remainderUnsigned(-1L, 2000));
    assertThat(r.afterFailure()).isEqualTo(Long.remainderUnsigned(-1L, 3000));
    assertThat(r.afterFailure()).isEqualTo(Long.remainderUnsigned(-1L, 3000));
    assertThat(r.afterSuccess(0)).isEqualTo(7000);
    assertThat(r.afterFailure()).isEqualTo(Long.remainderUnsigned(-1L, 1000));
    DnsRefresh fixed = new DnsRefresh(info("name: web\ndns_refresh_rate: 7s\n"), () -> 5L);
    assertThat(fixed.afterFailure()).isEqualTo(7000);
    DnsRefresh jitter =
        new DnsRefresh(info("name: web\ndns_refresh_rate: 7s\ndns_jitter: 0.1s\n"), () -> 1234L);
    assertThat(jitter.afterSuccess(0)).isEqualTo(7034);
    DnsRefresh ttl =
        new DnsRefresh(info("name: web\nrespect_dns_ttl: true\n"), () -> 0L);
    assertThat(ttl.afterSuccess(30)).isEqualTo(30000);
    assertThat(ttl.afterSuccess(0)).isEqualTo(5000);
  }

  @Test
  void strictDnsAgainstANameServer() throws Exception {
    try (TestDnsServer server = new TestDnsServer(group)) {
      NettyDnsResolver resolver = new NettyDnsResolver(loop, List.of(server.address()), false, 2000);
      server.set("svc.test", new TestDnsServer.Answer("10.1.0.1", 60));
      StrictDnsCluster c =
          new StrictDnsCluster(
              info(
                  "name: web\ntype: STRICT_DNS\ndns_refresh_rate: 0.05s\ndns_lookup_family: V4_ONLY\n"
                      + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                      + endpoint("svc.test", 8080)),
              loop,
              resolver,
              true);
      c.initialize().get(10, TimeUnit.SECONDS);
      assertThat(c.prioritySet().hosts()).extracting(Host::addressString)
          .containsExactly("10.1.0.1:8080");
      Host kept = c.prioritySet().hosts().get(0);

      server.set(
          "svc.test",
          new TestDnsServer.Answer("10.1.0.1", 60),
          new TestDnsServer.Answer("10.1.0.2", 60));
      Loops.await(loop, () -> c.prioritySet().hosts().size() == 2);
      assertThat(c.prioritySet().hosts().get(0)).isSameAs(kept);

      server.remove("svc.test");
      long failures = stat("update_failure");
      Loops.await(loop, () -> stat("update_failure") > failures);
      assertThat(c.prioritySet().hosts()).extracting(Host::addressString)
          .containsExactly("10.1.0.1:8080", "10.1.0.2:8080");
      c.shutdown();
    }
  }

  @Test
  void strictDnsLocalhostFromHostsFile() throws Exception {
    NettyDnsResolver resolver = new NettyDnsResolver(loop);
    StrictDnsCluster c =
        new StrictDnsCluster(
            info(
                "name: web\ntype: STRICT_DNS\n"
                    + "load_assignment:\n  endpoints:\n  - lb_endpoints:\n"
                    + endpoint("localhost", 9000)),
            loop,
            resolver,
            true);
    c.initialize().get(10, TimeUnit.SECONDS);
    assertThat(c.prioritySet().hosts()).extracting(Host::addressString)
        .containsExactly("127.0.0.1:9000");
    assertThat(c.prioritySet().hosts().get(0).hostname()).isEqualTo("localhost");
    c.shutdown();
  }
}
