package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class HashLoadBalancerTest {
  private final Counter panic = new StatsStore().counter("cluster.c.lb_healthy_panic");

  private static Host host(String ip, int weight) {
    return new Host("c", new InetSocketAddress(ip, 80), "h-" + ip, weight, 0, "");
  }

  private static LoadBalancer.LbContext hash(long h) {
    return new LoadBalancer.LbContext() {
      @Override
      public long hashKey() {
        return h;
      }
    };
  }

  private RingHashLoadBalancer ring(PrioritySet set, long minRing, boolean hostname) {
    return new RingHashLoadBalancer(
        set, new SplittableRandom(1), 50, panic, hostname, minRing, LbFactory.DEFAULT_MAX_RING_SIZE);
  }

  private MaglevLoadBalancer maglev(PrioritySet set, int size) {
    return new MaglevLoadBalancer(set, new SplittableRandom(1), 50, panic, false, size);
  }

  @Test
  void ringPointsAreXxHashesOfAddressAndIndex() {
    Host a = host("10.0.0.1", 1);
    Host b = host("10.0.0.2", 1);
    RingHashLoadBalancer lb = ring(new PrioritySet(List.of(List.of(a, b))), 4, false);
    RingHashLoadBalancer.Ring r = (RingHashLoadBalancer.Ring) lb.buildTable(List.of(a, b));
    Map<Long, Host> expected = new HashMap<>();
    for (int i = 0; i < 2; i++) {
      expected.put(XxHash64.hash("10.0.0.1:80_" + i), a);
      expected.put(XxHash64.hash("10.0.0.2:80_" + i), b);
    }
    List<Long> sorted = new ArrayList<>(expected.keySet());
    sorted.sort(Long::compareUnsigned);
    assertThat(r.hashes()).containsExactly(sorted.stream().mapToLong(Long::longValue).toArray());
    for (int i = 0; i < 4; i++) {
      assertThat(r.hosts()[i]).isSameAs(expected.get(r.hashes()[i]));
      // a request hashing exactly to a point lands on it; one just above goes to the next point
      assertThat(lb.lookup(r, r.hashes()[i])).isSameAs(r.hosts()[i]);
      assertThat(lb.lookup(r, r.hashes()[i] + 1)).isSameAs(r.hosts()[(i + 1) % 4]);
    }
    // above the last point wraps to the first
    assertThat(lb.lookup(r, -1L)).isSameAs(r.hosts()[0]);
  }

  @Test
  void ringSizeScalesWithWeights() {
    Host a = host("10.0.0.1", 1);
    Host b = host("10.0.0.2", 3);
    RingHashLoadBalancer lb = ring(new PrioritySet(List.of(List.of(a, b))), 1024, false);
    RingHashLoadBalancer.Ring r = (RingHashLoadBalancer.Ring) lb.buildTable(List.of(a, b));
    // the lightest host gets minimum_ring_size * 1/4 rounded up, scale = 256 / 0.25
    assertThat(r.hashes()).hasSize(1024);
    long forA = java.util.Arrays.stream(r.hosts()).filter(h -> h == a).count();
    assertThat(forA).isEqualTo(256);
  }

  @Test
  void ringIsConsistentAcrossBalancersAndMostlyStable() {
    List<Host> hosts = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      hosts.add(host("10.0.0." + i, 1));
    }
    PrioritySet all = new PrioritySet(List.of(hosts));
    LoadBalancer lb1 = ring(all, 1024, false);
    LoadBalancer lb2 = ring(all, 1024, false);
    LoadBalancer fewer = ring(new PrioritySet(List.of(hosts.subList(0, 4))), 1024, false);
    SplittableRandom r = new SplittableRandom(7);
    int kept = 0;
    int others = 0;
    Map<Host, Integer> counts = new HashMap<>();
    for (int i = 0; i < 5000; i++) {
      long h = r.nextLong();
      if (h == -1) {
        continue;
      }
      Host chosen = lb1.chooseHost(hash(h));
      counts.merge(chosen, 1, Integer::sum);
      assertThat(lb2.chooseHost(hash(h))).isSameAs(chosen);
      Host after = fewer.chooseHost(hash(h));
      if (chosen != hosts.get(4)) {
        others++;
        if (after == chosen) {
          kept++;
        }
      }
    }
    // Each remaining host keeps its 205 points and gains 51 (the scale changes with the host
    // count, as in Envoy), so most but not all of their keys stay put.
    assertThat((double) kept / others).isGreaterThan(0.75);
    for (Host h : hosts) {
      assertThat(counts.get(h)).isBetween(700, 1300);
    }
  }

  @Test
  void hostnameForHashing() {
    Host a = host("10.0.0.1", 1);
    RingHashLoadBalancer lb = ring(new PrioritySet(List.of(List.of(a))), 2, true);
    RingHashLoadBalancer.Ring r = (RingHashLoadBalancer.Ring) lb.buildTable(List.of(a));
    long h0 = XxHash64.hash("h-10.0.0.1_0");
    long h1 = XxHash64.hash("h-10.0.0.1_1");
    assertThat(r.hashes())
        .containsExactly(Long.compareUnsigned(h0, h1) < 0 ? new long[] {h0, h1} : new long[] {h1, h0});
  }

  @Test
  void ipv6KeysUseEnvoysFormat() {
    Host v6 = new Host("c", new InetSocketAddress("fd00:0:0:0:0:0:0:1", 8080), "", 1, 0, "");
    assertThat(HashLoadBalancer.envoyAddress(v6)).isEqualTo("[fd00::1]:8080");
    assertThat(HashLoadBalancer.envoyAddress(host("10.1.2.3", 1))).isEqualTo("10.1.2.3:80");
  }

  @Test
  void maglevFillsTheTableInWeightProportion() {
    Host a = host("10.0.0.1", 1);
    Host b = host("10.0.0.2", 3);
    MaglevLoadBalancer lb = maglev(new PrioritySet(List.of(List.of(a, b))), 65537);
    Host[] table = (Host[]) lb.buildTable(List.of(a, b));
    long forA = java.util.Arrays.stream(table).filter(h -> h == a).count();
    long forB = java.util.Arrays.stream(table).filter(h -> h == b).count();
    assertThat(forA + forB).isEqualTo(65537);
    assertThat(forA).isBetween(16000L, 16800L);
    for (int i = 0; i < 100; i++) {
      assertThat(lb.chooseHost(hash(i))).isSameAs(table[i]);
    }
  }

  @Test
  void maglevTableFollowsThePermutations() {
    Host a = host("10.0.0.1", 1);
    Host b = host("10.0.0.2", 1);
    int size = 7;
    MaglevLoadBalancer lb = maglev(new PrioritySet(List.of(List.of(a, b))), size);
    Host[] table = (Host[]) lb.buildTable(List.of(b, a));
    // rebuild by hand: hosts in key order, alternate turns, first free slot of each permutation
    Host[] expected = new Host[size];
    long[] next = new long[2];
    Host[] order = {a, b};
    int filled = 0;
    while (filled < size) {
      for (int i = 0; i < 2 && filled < size; i++) {
        String key = HashLoadBalancer.envoyAddress(order[i]);
        long offset = Long.remainderUnsigned(XxHash64.hash(key), size);
        long skip = Long.remainderUnsigned(XxHash64.hash(key, 1), size - 1) + 1;
        int c = (int) ((offset + skip * next[i]) % size);
        while (expected[c] != null) {
          next[i]++;
          c = (int) ((offset + skip * next[i]) % size);
        }
        expected[c] = order[i];
        next[i]++;
        filled++;
      }
    }
    assertThat(table).containsExactly(expected);
  }

  @Test
  void withoutAHashTheChoiceIsRandom() {
    List<Host> hosts = List.of(host("10.0.0.1", 1), host("10.0.0.2", 1), host("10.0.0.3", 1));
    LoadBalancer lb = maglev(new PrioritySet(List.of(hosts)), 251);
    Map<Host, Integer> counts = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      counts.merge(lb.chooseHost(LoadBalancer.LbContext.NONE), 1, Integer::sum);
    }
    assertThat(counts).hasSize(3);
  }

  @Test
  void hashChoosesThePriorityToo() {
    Host a = host("10.0.0.1", 1);
    Host b = host("10.0.0.2", 1);
    b.setHealthFlag(Host.FAILED_ACTIVE_HC);
    Host c = host("10.0.0.3", 1);
    // P0 health 70%, P1 30%: hashes 0..69 (mod 100) stay on P0
    LoadBalancer lb = maglev(new PrioritySet(List.of(List.of(a, b), List.of(c))), 251);
    assertThat(lb.chooseHost(hash(69))).isSameAs(a);
    assertThat(lb.chooseHost(hash(170))).isSameAs(c);
  }
}
