package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Envoy's MAGLEV: a lookup table of prime size filled by each host's permutation
 * ({@code offset = xxHash64(key) % size}, {@code skip = xxHash64(key, 1) % (size - 1) + 1}) in turns
 * proportional to its weight, hosts ordered by key; a request goes to {@code table[hash % size]}.
 */
final class MaglevLoadBalancer extends HashLoadBalancer {
  private final int tableSize;

  MaglevLoadBalancer(
      PrioritySet prioritySet,
      RandomGenerator random,
      int panicThreshold,
      Counter healthyPanic,
      boolean useHostnameForHashing,
      int tableSize) {
    super(prioritySet, random, panicThreshold, healthyPanic, useHostnameForHashing);
    this.tableSize = tableSize;
  }

  private static final class Entry {
    final String key;
    final Host host;
    final long offset;
    final long skip;
    final double weight;
    double targetWeight;
    long next;

    Entry(String key, Host host, long offset, long skip, double weight) {
      this.key = key;
      this.host = host;
      this.offset = offset;
      this.skip = skip;
      this.weight = weight;
    }
  }

  @Override
  Object buildTable(List<Host> hosts) {
    double[] weights = normalizedWeights(hosts);
    double max = 0;
    List<Entry> entries = new ArrayList<>(hosts.size());
    for (int i = 0; i < hosts.size(); i++) {
      Host h = hosts.get(i);
      String key = hashKey(h);
      entries.add(
          new Entry(
              key,
              h,
              Long.remainderUnsigned(XxHash64.hash(key), tableSize),
              Long.remainderUnsigned(XxHash64.hash(key, 1), tableSize - 1) + 1,
              weights[i]));
      max = Math.max(max, weights[i]);
    }
    entries.sort(Comparator.comparing((Entry e) -> e.key).thenComparingDouble(e -> e.weight));
    Host[] table = new Host[tableSize];
    long filled = 0;
    for (long iteration = 1; filled < tableSize; iteration++) {
      for (int i = 0; i < entries.size() && filled < tableSize; i++) {
        Entry e = entries.get(i);
        if (iteration * e.weight < e.targetWeight) {
          continue;
        }
        e.targetWeight += max;
        int c = permutation(e);
        while (table[c] != null) {
          e.next++;
          c = permutation(e);
        }
        table[c] = e.host;
        e.next++;
        filled++;
      }
    }
    return table;
  }

  private int permutation(Entry e) {
    return (int) Long.remainderUnsigned(e.offset + e.skip * e.next, tableSize);
  }

  @Override
  Host lookup(Object table, long hash) {
    Host[] t = (Host[]) table;
    return t[(int) Long.remainderUnsigned(hash, tableSize)];
  }
}
