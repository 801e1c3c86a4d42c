package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.Counter;
import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

class LoadBalancerTest {
  private final StatsStore store = new StatsStore();
  private final Counter panic = store.counter("cluster.c.lb_healthy_panic");

  /** Returns the given numbers in order, then 0 forever. */
  private static RandomGenerator randoms(long... values) {
    Deque<Long> q = new ArrayDeque<>();
    for (long v : values) {
      q.add(v);
    }
    return () -> q.isEmpty() ? 0L : q.poll();
  }

  private static Host host(String name, int weight, int priority) {
    int last = name.charAt(0);
    return new Host("c", new InetSocketAddress("10.0.0." + last % 250, 80), name, weight, priority, "");
  }

  private static Host unhealthy(Host h) {
    h.setHealthFlag(Host.FAILED_ACTIVE_HC);
    return h;
  }

  private LoadBalancer lb(LbFactory.Policy policy, PrioritySet set, RandomGenerator random) {
    return new LbFactory(policy, 50, 2, 1.0, panic).create(set, random);
  }

  private static List<String> picks(LoadBalancer lb, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Host h = lb.chooseHost(LoadBalancer.LbContext.NONE);
      out.add(h == null ? null : h.hostname());
    }
    return out;
  }

  @Test
  void weightedRoundRobinOrder() {
    PrioritySet set =
        new PrioritySet(List.of(List.of(host("a", 1, 0), host("b", 2, 0), host("c", 3, 0))));
    LoadBalancer lb = lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0));
    // EDF deadlines 1/w: c(1/3) b(1/2) c(2/3) a(1) b(1) c(1)
    assertThat(picks(lb, 6)).containsExactly("c", "b", "c", "a", "b", "c");
    Map<String, Integer> counts = new HashMap<>();
    for (String h : picks(lb, 600)) {
      counts.merge(h, 1, Integer::sum);
    }
    assertThat(counts).containsEntry("a", 100).containsEntry("b", 200).containsEntry("c", 300);
  }

  @Test
  void weightedRoundRobinStartsAtTheSeed() {
    PrioritySet set =
        new PrioritySet(List.of(List.of(host("a", 1, 0), host("b", 2, 0), host("c", 3, 0))));
    // seed 2: two picks of the schedule are consumed up front
    LoadBalancer lb = lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(2));
    assertThat(picks(lb, 4)).containsExactly("c", "a", "b", "c");
    // seed 8 is 8 mod 6 = 2 picks of one period
    LoadBalancer lb8 = lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(8));
    assertThat(picks(lb8, 4)).containsExactly("c", "a", "b", "c");
  }

  @Test
  void equalWeightsRotateFromTheSeed() {
    PrioritySet set =
        new PrioritySet(List.of(List.of(host("a", 1, 0), host("b", 1, 0), host("c", 1, 0))));
    assertThat(picks(lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0)), 5))
        .containsExactly("a", "b", "c", "a", "b");
    assertThat(picks(lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(4)), 4))
        .containsExactly("b", "c", "a", "b");
  }

  @Test
  void emptyClusterHasNoHost() {
    assertThat(lb(LbFactory.Policy.ROUND_ROBIN, PrioritySet.EMPTY, randoms()).chooseHost(null))
        .isNull();
    PrioritySet emptyLevel = new PrioritySet(List.of(List.of()));
    assertThat(picks(lb(LbFactory.Policy.LEAST_REQUEST, emptyLevel, randoms()), 1))
        .containsExactly((String) null);
  }

  @Test
  void leastRequestPicksTheLessLoadedOfTwo() {
    Host a = host("a", 1, 0);
    Host b = host("b", 1, 0);
    a.activeRequests.set(5);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b)));
    // seed, priority hash, then the two sampled indexes
    assertThat(lb(LbFactory.Policy.LEAST_REQUEST, set, randoms(0, 0, 0, 1)).chooseHost(null))
        .isSameAs(b);
    assertThat(lb(LbFactory.Policy.LEAST_REQUEST, set, randoms(0, 0, 1, 0)).chooseHost(null))
        .isSameAs(b);
    // both samples hit a: a wins (Envoy samples with replacement)
    assertThat(lb(LbFactory.Policy.LEAST_REQUEST, set, randoms(0, 0, 0, 0)).chooseHost(null))
        .isSameAs(a);
    a.activeRequests.set(0);
    b.activeRequests.set(1);
    assertThat(lb(LbFactory.Policy.LEAST_REQUEST, set, randoms(0, 0, 0, 1)).chooseHost(null))
        .isSameAs(a);
  }

  @Test
  void leastRequestChoiceCount() {
    Host a = host("a", 1, 0);
    Host b = host("b", 1, 0);
    Host c = host("c", 1, 0);
    a.activeRequests.set(3);
    b.activeRequests.set(2);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b, c)));
    LoadBalancer three = new LbFactory(LbFactory.Policy.LEAST_REQUEST, 50, 3, 1.0, panic)
        .create(set, randoms(0, 0, 0, 1, 2));
    assertThat(three.chooseHost(null)).isSameAs(c);
  }

  @Test
  void weightedLeastRequestDividesWeightByActiveRequests() {
    Host a = host("a", 1, 0);
    Host b = host("b", 2, 0);
    b.activeRequests.set(9); // 2 / (9 + 1) = 0.2 against a's 1 / 1
    PrioritySet set = new PrioritySet(List.of(List.of(a, b)));
    LoadBalancer lb = lb(LbFactory.Policy.LEAST_REQUEST, set, randoms(0));
    assertThat(picks(lb, 4)).containsExactly("a", "a", "a", "a");
    b.activeRequests.set(0);
    // a's deadline is now 5 (order 5), b's still 5 (order 1): b, then b's weight 2 counts again
    assertThat(picks(lb, 3)).containsExactly("b", "a", "b");
  }

  @Test
  void randomUsesTheRandomIndex() {
    PrioritySet set =
        new PrioritySet(List.of(List.of(host("a", 1, 0), host("b", 5, 0), host("c", 1, 0))));
    LoadBalancer lb = lb(LbFactory.Policy.RANDOM, set, randoms(0, 2, 0, 1, 0, 3));
    assertThat(picks(lb, 3)).containsExactly("c", "b", "a");
  }

  @Test
  void priorityLoadFollowsHealthWithOverprovisioning() {
    Host a = host("a", 1, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = host("c", 1, 1);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b), List.of(c)));
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0, 69, 70, 99));
    // P0 health = 1.4 * 1/2 = 70%, P1 takes the remaining 30%
    assertThat(lb.priorityLoad(0)).isEqualTo(70);
    assertThat(lb.priorityLoad(1)).isEqualTo(30);
    assertThat(lb.inPanic(0)).isFalse();
    assertThat(picks(lb, 3)).containsExactly("a", "c", "c");
    assertThat(panic.value()).isZero();
  }

  @Test
  void failsOverWhenPriorityZeroIsDown() {
    Host a = unhealthy(host("a", 1, 0));
    Host b = unhealthy(host("b", 1, 0));
    Host c = host("c", 1, 1);
    Host d = host("d", 1, 1);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b), List.of(c, d)));
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0));
    assertThat(lb.priorityLoad(0)).isZero();
    assertThat(lb.priorityLoad(1)).isEqualTo(100);
    assertThat(lb.inPanic(0)).isFalse();
    assertThat(picks(lb, 4)).containsExactly("c", "d", "c", "d");
  }

  @Test
  void allHealthyStaysOnPriorityZero() {
    PrioritySet set =
        new PrioritySet(List.of(List.of(host("a", 1, 0)), List.of(host("b", 1, 1))));
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0, 99, 55));
    assertThat(lb.priorityLoad(0)).isEqualTo(100);
    assertThat(picks(lb, 2)).containsExactly("a", "a");
  }

  @Test
  void panicModeUsesAllHosts() {
    Host a = host("a", 1, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = unhealthy(host("c", 1, 0));
    PrioritySet set = new PrioritySet(List.of(List.of(a, b, c)));
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0));
    assertThat(lb.inPanic(0)).isTrue();
    assertThat(picks(lb, 3)).containsExactly("a", "b", "c");
    assertThat(panic.value()).isEqualTo(3);
  }

  @Test
  void noPanicAtThresholdZero() {
    Host a = host("a", 1, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = unhealthy(host("c", 1, 0));
    PrioritySet set = new PrioritySet(List.of(List.of(a, b, c)));
    LoadBalancer lb = new LbFactory(LbFactory.Policy.ROUND_ROBIN, 0, 2, 1.0, panic).create(set, randoms(0));
    assertThat(picks(lb, 3)).containsExactly("a", "a", "a");
    assertThat(panic.value()).isZero();
    PrioritySet down = new PrioritySet(List.of(List.of(unhealthy(host("d", 1, 0)))));
    LoadBalancer none = new LbFactory(LbFactory.Policy.ROUND_ROBIN, 0, 2, 1.0, panic).create(down, randoms(0));
    assertThat(none.chooseHost(null)).isNull();
  }

  @Test
  void totalPanicSpreadsByHostCount() {
    Host a = host("a", 1, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = unhealthy(host("c", 1, 0));
    Host d = unhealthy(host("d", 1, 0));
    Host e = unhealthy(host("e", 1, 1));
    PrioritySet set = new PrioritySet(List.of(List.of(a, b, c, d), List.of(e)));
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0, 79, 80));
    assertThat(lb.inPanic(0)).isTrue();
    assertThat(lb.inPanic(1)).isTrue();
    assertThat(lb.priorityLoad(0)).isEqualTo(80);
    assertThat(lb.priorityLoad(1)).isEqualTo(20);
    assertThat(picks(lb, 2)).containsExactly("a", "e");
  }

  @Test
  void overprovisioningFactorOfTheAssignment() {
    Host a = host("a", 1, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = host("c", 1, 1);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b), List.of(c)), 100, false);
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0));
    assertThat(lb.priorityLoad(0)).isEqualTo(50);
    assertThat(lb.priorityLoad(1)).isEqualTo(50);
  }

  @Test
  void weightedPriorityHealth() {
    Host a = host("a", 3, 0);
    Host b = unhealthy(host("b", 1, 0));
    Host c = host("c", 1, 1);
    PrioritySet set = new PrioritySet(List.of(List.of(a, b), List.of(c)), 100, true);
    RoundRobinLoadBalancer lb =
        (RoundRobinLoadBalancer) lb(LbFactory.Policy.ROUND_ROBIN, set, randoms(0));
    assertThat(lb.priorityLoad(0)).isEqualTo(75);
    assertThat(lb.priorityLoad(1)).isEqualTo(25);
  }
}
