package io.legate.upstream;

import io.legate.stats.Counter;
import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The base of Envoy's consistent-hashing balancers (its {@code ThreadAwareLoadBalancerBase}): the
 * request's hash ({@link LoadBalancer.LbContext#hashKey()}, or a random number when the request has
 * none) chooses the priority and then the host in a table built from that priority's healthy hosts
 * (all hosts in panic), each weighted by its share of the total weight.
 */
abstract class HashLoadBalancer extends PriorityLoadBalancer {
  final boolean useHostnameForHashing;

  HashLoadBalancer(
      PrioritySet prioritySet,
      RandomGenerator random,
      int panicThreshold,
      Counter healthyPanic,
      boolean useHostnameForHashing) {
    super(prioritySet, random, panicThreshold, healthyPanic);
    this.useHostnameForHashing = useHostnameForHashing;
  }

  @Override
  long selectionHash(LbContext context) {
    long h = context == null ? -1 : context.hashKey();
    return h != -1 ? h : random.nextLong();
  }

  @Override
  Host pick(Source source, long hash) {
    if (source.table == null) {
      source.table = buildTable(source.hosts);
    }
    return lookup(source.table, hash);
  }

  abstract Object buildTable(List<Host> hosts);

  abstract Host lookup(Object table, long hash);

  /**
   * Returns the key a host is hashed by: its hostname with {@code use_hostname_for_hashing},
   * otherwise its address as Envoy prints it ({@code 10.0.0.1:80}, {@code [::1]:80}).
   */
  String hashKey(Host host) {
    if (useHostnameForHashing) {
      return host.hostname();
    }
    return envoyAddress(host);
  }

  static String envoyAddress(Host host) {
    if (host.address().getAddress() instanceof Inet6Address) {
      return "[" + NetUtil.toAddressString(host.address().getAddress()) + "]:" + host.address().getPort();
    }
    return host.address().getAddress().getHostAddress() + ":" + host.address().getPort();
  }

  /** Returns each host's weight divided by the total weight of {@code hosts}. */
  static double[] normalizedWeights(List<Host> hosts) {
    long total = 0;
    for (Host h : hosts) {
      total += h.weight();
    }
    double[] out = new double[hosts.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = (double) hosts.get(i).weight() / total;
    }
    return out;
  }
}
