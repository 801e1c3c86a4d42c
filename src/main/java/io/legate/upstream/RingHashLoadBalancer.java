package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Envoy's RING_HASH (ketama): each host gets {@code weight share * scale} points on a ring of
 * xxHash64 values of {@code "<key>_<i>"}; a request goes to the first point at or after its hash,
 * wrapping around.
 */
final class RingHashLoadBalancer extends HashLoadBalancer {
  /** A ring: sorted hashes and the host of each. */
  record Ring(long[] hashes, Host[] hosts) {}

  private final long minRingSize;
  private final long maxRingSize;

  RingHashLoadBalancer(
      PrioritySet prioritySet,
      RandomGenerator random,
      int panicThreshold,
      Counter healthyPanic,
      boolean useHostnameForHashing,
      long minRingSize,
      long maxRingSize) {
    super(prioritySet, random, panicThreshold, healthyPanic, useHostnameForHashing);
    this.minRingSize = minRingSize;
    this.maxRingSize = maxRingSize;
  }

  @Override
  Object buildTable(List<Host> hosts) {
    double[] weights = normalizedWeights(hosts);
    double min = 1.0;
    for (double w : weights) {
      min = Math.min(min, w);
    }
    double scale = Math.min(Math.ceil(min * minRingSize) / min, (double) maxRingSize);
    int size = (int) Math.ceil(scale);
    long[] hashes = new long[size + hosts.size()];
    Host[] owners = new Host[hashes.length];
    int n = 0;
    double current = 0;
    double target = 0;
    for (int h = 0; h < hosts.size(); h++) {
      String prefix = hashKey(hosts.get(h)) + "_";
      target += scale * weights[h];
      for (long i = 0; current < target; i++, current++) {
        if (n == hashes.length) {
          hashes = Arrays.copyOf(hashes, n * 2);
          owners = Arrays.copyOf(owners, n * 2);
        }
        hashes[n] = XxHash64.hash(prefix + i);
        owners[n] = hosts.get(h);
        n++;
      }
    }
    // sort the points by unsigned hash, keeping owners aligned
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    final long[] hs = hashes;
    Arrays.sort(order, (a, b) -> Long.compareUnsigned(hs[a], hs[b]));
    long[] sortedHashes = new long[n];
    Host[] sortedHosts = new Host[n];
    for (int i = 0; i < n; i++) {
      sortedHashes[i] = hashes[order[i]];
      sortedHosts[i] = owners[order[i]];
    }
    return new Ring(sortedHashes, sortedHosts);
  }

  @Override
  Host lookup(Object table, long h) {
    Ring ring = (Ring) table;
    long[] hashes = ring.hashes();
    if (hashes.length == 0) {
      return null;
    }
    // Envoy's port of ketama_get_server, with unsigned comparisons.
    long lowp = 0;
    long highp = hashes.length;
    long midp;
    while (true) {
      midp = (lowp + highp) / 2;
      if (midp == hashes.length) {
        midp = 0;
        break;
      }
      long midval = hashes[(int) midp];
      long midval1 = midp == 0 ? 0 : hashes[(int) midp - 1];
      if (Long.compareUnsigned(h, midval) <= 0 && Long.compareUnsigned(h, midval1) > 0) {
        break;
      }
      if (Long.compareUnsigned(midval, h) < 0) {
        lowp = midp + 1;
      } else {
        highp = midp - 1;
      }
      if (lowp > highp) {
        midp = 0;
        break;
      }
    }
    return ring.hosts()[(int) midp];
  }
}
