package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class NettyDnsResolverTest {
  private MultiThreadIoEventLoopGroup group;
  private EventLoop loop;
  private TestDnsServer server;
  private final List<NettyDnsResolver> resolvers = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    loop = group.next();
    server = new TestDnsServer(group);
  }

  @AfterEach
  void tearDown() {
    resolvers.forEach(NettyDnsResolver::close);
    server.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }

  /** The outcome of one resolution. */
  record Outcome(List<String> addresses, long ttl, Throwable failure, boolean onLoop) {}

  private Outcome resolve(NettyDnsResolver r, String name, DnsLookupFamily family)
      throws Exception {
    CompletableFuture<Outcome> f = new CompletableFuture<>();
    r.resolve(
        name,
        family,
        new DnsResolver.Callback() {
          @Override
          public void onResolved(List<InetAddress> addresses, long ttlSeconds) {
            List<String> s = new ArrayList<>();
            addresses.forEach(a -> s.add(a.getHostAddress()));
            f.complete(new Outcome(s, ttlSeconds, null, loop.inEventLoop()));
          }

          @Override
          public void onFailure(Throwable cause) {
            f.complete(new Outcome(List.of(), 0, cause, loop.inEventLoop()));
          }
        });
    return f.get(10, TimeUnit.SECONDS);
  }

  private NettyDnsResolver system() {
    NettyDnsResolver r = new NettyDnsResolver(loop);
    resolvers.add(r);
    return r;
  }

  private NettyDnsResolver local() {
    NettyDnsResolver r = new NettyDnsResolver(loop, List.of(server.address()), false, 2000);
    resolvers.add(r);
    return r;
  }

  @Test
  void localhostComesFromTheHostsFileOffline() throws Exception {
    Outcome v4 = resolve(system(), "localhost", DnsLookupFamily.V4_ONLY);
    assertThat(v4.addresses()).containsExactly("127.0.0.1");
    assertThat(v4.ttl()).isZero();
    assertThat(v4.onLoop()).isTrue();
    // /etc/hosts has no ::1 entry for localhost here, so AUTO falls back to IPv4
    Outcome auto = resolve(system(), "localhost", DnsLookupFamily.AUTO);
    assertThat(auto.addresses()).containsExactly("127.0.0.1");
  }

  @Test
  void ipLiteralsResolveToThemselves() throws Exception {
    assertThat(resolve(system(), "127.0.0.2", DnsLookupFamily.V4_ONLY).addresses())
        .containsExactly("127.0.0.2");
  }

  @Test
  void answersAndSmallestTtlFromTheNameServer() throws Exception {
    server.set(
        "backend.test",
        new TestDnsServer.Answer("10.0.0.1", 30),
        new TestDnsServer.Answer("10.0.0.2", 10));
    Outcome o = resolve(local(), "backend.test", DnsLookupFamily.V4_ONLY);
    assertThat(o.failure()).isNull();
    assertThat(o.addresses()).containsExactly("10.0.0.1", "10.0.0.2");
    assertThat(o.ttl()).isEqualTo(10);
    assertThat(o.onLoop()).isTrue();
  }

  @Test
  void noCacheBetweenResolutions() throws Exception {
    NettyDnsResolver r = local();
    server.set("backend.test", new TestDnsServer.Answer("10.0.0.1", 300));
    assertThat(resolve(r, "backend.test", DnsLookupFamily.V4_ONLY).addresses())
        .containsExactly("10.0.0.1");
    server.set("backend.test", new TestDnsServer.Answer("10.0.0.9", 300));
    assertThat(resolve(r, "backend.test", DnsLookupFamily.V4_ONLY).addresses())
        .containsExactly("10.0.0.9");
  }

  @Test
  void lookupFamilies() throws Exception {
    server.set(
        "dual.test",
        new TestDnsServer.Answer("10.0.0.1", 60),
        new TestDnsServer.Answer("fd00::1", 60));
    server.set("v4.test", new TestDnsServer.Answer("10.0.0.4", 60));
    NettyDnsResolver r = local();
    assertThat(resolve(r, "dual.test", DnsLookupFamily.AUTO).addresses())
        .containsExactly("fd00:0:0:0:0:0:0:1");
    assertThat(resolve(r, "v4.test", DnsLookupFamily.AUTO).addresses())
        .containsExactly("10.0.0.4");
    assertThat(resolve(r, "dual.test", DnsLookupFamily.V4_PREFERRED).addresses())
        .containsExactly("10.0.0.1");
    assertThat(resolve(r, "dual.test", DnsLookupFamily.ALL).addresses())
        .containsExactly("10.0.0.1", "fd00:0:0:0:0:0:0:1");
    assertThat(resolve(r, "dual.test", DnsLookupFamily.V6_ONLY).addresses())
        .containsExactly("fd00:0:0:0:0:0:0:1");
    assertThat(resolve(r, "dual.test", DnsLookupFamily.V4_ONLY).addresses())
        .containsExactly("10.0.0.1");
  }

  @Test
  void unknownNameFails() throws Exception {
    Outcome o = resolve(local(), "missing.test", DnsLookupFamily.V4_ONLY);
    assertThat(o.failure()).isInstanceOf(UnknownHostException.class);
    assertThat(o.onLoop()).isTrue();
  }

  @Test
  void filterKeepsPreferredFamily() throws Exception {
    InetAddress v4 = InetAddress.getByName("10.0.0.1");
    InetAddress v6 = InetAddress.getByName("fd00::1");
    assertThat(NettyDnsResolver.filter(List.of(v4, v6), DnsLookupFamily.AUTO)).containsExactly(v6);
    assertThat(NettyDnsResolver.filter(List.of(v4), DnsLookupFamily.AUTO)).containsExactly(v4);
    assertThat(NettyDnsResolver.filter(List.of(v6, v4), DnsLookupFamily.V4_PREFERRED))
        .containsExactly(v4);
    assertThat(NettyDnsResolver.filter(List.of(v6), DnsLookupFamily.V4_PREFERRED))
        .containsExactly(v6);
    assertThat(NettyDnsResolver.filter(List.of(v6, v4), DnsLookupFamily.ALL))
        .containsExactly(v4, v6);
  }
}
