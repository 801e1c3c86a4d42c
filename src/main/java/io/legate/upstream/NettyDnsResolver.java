package io.legate.upstream;

import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.dns.DnsRecord;
import io.netty.resolver.HostsFileEntriesResolver;
import io.netty.resolver.ResolvedAddressTypes;
import io.netty.resolver.dns.DnsCache;
import io.netty.resolver.dns.DnsCacheEntry;
import io.netty.resolver.dns.DnsNameResolver;
import io.netty.resolver.dns.DnsNameResolverBuilder;
import io.netty.resolver.dns.DnsServerAddressStreamProvider;
import io.netty.resolver.dns.DnsServerAddressStreamProviders;
import io.netty.resolver.dns.SequentialDnsServerAddressStreamProvider;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A {@link DnsResolver} on Netty's non-blocking {@link DnsNameResolver}, bound to the main event
 * loop (epoll or NIO datagram channels, matching the loop). It reads {@code /etc/hosts} first, as
 * c-ares does, and keeps no cache: every resolution asks the name servers again, and the TTLs of
 * the answers are reported so that {@code respect_dns_ttl} can use them.
 *
 * <p>Lookup families follow Envoy: AUTO asks for both families and keeps the IPv6 answers when there
 * are any, else the IPv4 ones; V4_PREFERRED the reverse; ALL keeps both.
 */
public final class NettyDnsResolver implements DnsResolver {
  private final EventLoop loop;
  private final List<InetSocketAddress> nameServers;
  private final boolean useHostsFile;
  private final long queryTimeoutMs;
  private final TtlRecorder ttls = new TtlRecorder();
  private DnsNameResolver v4;
  private DnsNameResolver v6;
  private DnsNameResolver both;

  /** Creates a resolver using the system's name servers and {@code /etc/hosts}. */
  public NettyDnsResolver(EventLoop loop) {
    this(loop, List.of(), true, 5000);
  }

  /**
   * Creates a resolver.
   *
   * @param nameServers the name servers to ask, or empty for the system's ({@code /etc/resolv.conf})
   * @param useHostsFile whether {@code /etc/hosts} answers first
   */
  public NettyDnsResolver(
      EventLoop loop, List<InetSocketAddress> nameServers, boolean useHostsFile, long queryTimeoutMs) {
    this.loop = loop;
    this.nameServers = List.copyOf(nameServers);
    this.useHostsFile = useHostsFile;
    this.queryTimeoutMs = queryTimeoutMs;
  }

  private DnsNameResolver build(ResolvedAddressTypes types) {
    DnsServerAddressStreamProvider servers =
        nameServers.isEmpty()
            ? DnsServerAddressStreamProviders.platformDefault()
            : new SequentialDnsServerAddressStreamProvider(nameServers);
    DnsNameResolverBuilder b =
        new DnsNameResolverBuilder(loop)
            .datagramChannelType(datagramChannelType(loop))
            .resolvedAddressTypes(types)
            .resolveCache(ttls)
            .nameServerProvider(servers)
            .queryTimeoutMillis(queryTimeoutMs)
            .completeOncePreferredResolved(false);
    if (!useHostsFile) {
      b.hostsFileEntriesResolver((name, types0) -> null);
    } else {
      b.hostsFileEntriesResolver(HostsFileEntriesResolver.DEFAULT);
    }
    if (!nameServers.isEmpty()) {
      b.searchDomains(List.of()).ndots(1);
    }
    return b.build();
  }

  private static Class<? extends DatagramChannel> datagramChannelType(EventLoop loop) {
    return io.legate.network.Transport.datagramChannel(loop);
  }


  private DnsNameResolver resolverFor(DnsLookupFamily family) {
    switch (family) {
      case V4_ONLY:
        if (v4 == null) {
          v4 = build(ResolvedAddressTypes.IPV4_ONLY);
        }
        return v4;
      case V6_ONLY:
        if (v6 == null) {
          v6 = build(ResolvedAddressTypes.IPV6_ONLY);
        }
        return v6;
      default:
        if (both == null) {
          both = build(ResolvedAddressTypes.IPV6_PREFERRED);
        }
        return both;
    }
  }

  @Override
  public void resolve(String hostname, DnsLookupFamily family, Callback callback) {
    if (!loop.inEventLoop()) {
      loop.execute(() -> resolve(hostname, family, callback));
      return;
    }
    String key = normalize(hostname);
    ttls.start(key);
    resolverFor(family)
        .resolveAll(hostname)
        .addListener(
            f -> {
              long ttl = ttls.finish(key);
              if (!f.isSuccess()) {
                callback.onFailure(f.cause());
                return;
              }
              @SuppressWarnings("unchecked")
              List<InetAddress> all = (List<InetAddress>) f.getNow();
              callback.onResolved(filter(all, family), ttl);
            });
  }

  /** Applies Envoy's lookup-family preference to the answers of a two-family query. */
  static List<InetAddress> filter(List<InetAddress> all, DnsLookupFamily family) {
    List<InetAddress> v4s = new ArrayList<>();
    List<InetAddress> v6s = new ArrayList<>();
    for (InetAddress a : all) {
      if (a instanceof Inet6Address) {
        v6s.add(a);
      } else if (a instanceof Inet4Address) {
        v4s.add(a);
      }
    }
    return switch (family) {
      case V4_ONLY -> List.copyOf(v4s);
      case V6_ONLY -> List.copyOf(v6s);
      case AUTO -> List.copyOf(v6s.isEmpty() ? v4s : v6s);
      case V4_PREFERRED -> List.copyOf(v4s.isEmpty() ? v6s : v4s);
      case ALL -> {
        List<InetAddress> out = new ArrayList<>(v4s);
        out.addAll(v6s);
        yield List.copyOf(out);
      }
    };
  }

  private static String normalize(String hostname) {
    String h = hostname.toLowerCase(Locale.ROOT);
    return h.endsWith(".") ? h.substring(0, h.length() - 1) : h;
  }

  @Override
  public void close() {
    if (!loop.inEventLoop() && !loop.isShuttingDown()) {
      loop.execute(this::close);
      return;
    }
    for (DnsNameResolver r : new DnsNameResolver[] {v4, v6, both}) {
      if (r != null) {
        r.close();
      }
    }
    v4 = v6 = both = null;
  }

  /**
   * A "cache" that stores nothing and records the smallest TTL seen per name while a resolution of
   * that name is in flight. Only used on the event loop.
   */
  private static final class TtlRecorder implements DnsCache {
    private final Map<String, long[]> inFlight = new HashMap<>();

    void start(String name) {
      long[] slot = inFlight.get(name);
      if (slot == null) {
        inFlight.put(name, new long[] {Long.MAX_VALUE, 1});
      } else {
        slot[1]++;
      }
    }

    long finish(String name) {
      long[] slot = inFlight.get(name);
      if (slot == null) {
        return 0;
      }
      long ttl = slot[0] == Long.MAX_VALUE ? 0 : slot[0];
      if (--slot[1] == 0) {
        inFlight.remove(name);
      }
      return ttl;
    }

    @Override
    public void clear() {}

    @Override
    public boolean clear(String hostname) {
      return false;
    }

    @Override
    public List<? extends DnsCacheEntry> get(String hostname, DnsRecord[] additionals) {
      return null;
    }

    @Override
    public DnsCacheEntry cache(
        String hostname,
        DnsRecord[] additionals,
        InetAddress address,
        long originalTtl,
        EventLoop loop) {
      long[] slot = inFlight.get(normalize(hostname));
      if (slot != null) {
        slot[0] = Math.min(slot[0], originalTtl);
      }
      return new Entry(address, null);
    }

    @Override
    public DnsCacheEntry cache(
        String hostname, DnsRecord[] additionals, Throwable cause, EventLoop loop) {
      return new Entry(null, cause);
    }

    private record Entry(InetAddress address, Throwable cause) implements DnsCacheEntry {}
  }
}
