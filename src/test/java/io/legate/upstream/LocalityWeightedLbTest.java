package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** locality_weighted_lb_config: localities by EDF over their effective weights, then a host within. */
class LocalityWeightedLbTest {
  private static Host host(String name, int n, String locality, int localityWeight) {
    return new Host("c", new InetSocketAddress("10.0.0." + n, 80), name, 1, 0, "",
        new Host.Locality(locality, localityWeight));
  }

  private static Map<String, Integer> counts(LoadBalancer lb, int n) {
    Map<String, Integer> c = new HashMap<>();
    for (int i = 0; i < n; i++) {
      c.merge(lb.chooseHost(LoadBalancer.LbContext.NONE).hostname(), 1, Integer::sum);
    }
    return c;
  }

  private static LoadBalancer lb(LbFactory.Policy policy, PrioritySet set) {
    LbFactory f = new LbFactory(policy, 50, 2, 1.0, new StatsStore().counter("p"));
    LoadBalancer lb = f.create(set, new SplittableRandom(7));
    ((PriorityLoadBalancer) lb).enableLocalityWeights();
    return lb;
  }

  @Test
  void trafficSplitsByLocalityWeightThenWithinTheLocality() {
    PrioritySet set = new PrioritySet(List.of(List.of(
        host("a1", 1, "r/z1/", 1), host("a2", 2, "r/z1/", 1),
        host("b1", 3, "r/z2/", 3),
        host("c1", 4, "r/z3/", 0))));
    for (LbFactory.Policy p : List.of(LbFactory.Policy.ROUND_ROBIN, LbFactory.Policy.LEAST_REQUEST,
        LbFactory.Policy.RANDOM)) {
      Map<String, Integer> c = counts(lb(p, set), 400);
      assertThat(c.get("b1")).as(p.name()).isEqualTo(300);
      assertThat(c.get("a1") + c.get("a2")).as(p.name()).isEqualTo(100);
      assertThat(c).as(p.name()).doesNotContainKey("c1");
    }
  }

  @Test
  void anUnhealthyHostLowersItsLocalitysWeight() {
    Host a1 = host("a1", 1, "r/z1/", 1);
    Host a2 = host("a2", 2, "r/z1/", 1);
    Host a3 = host("a3", 3, "r/z1/", 1);
    Host a4 = host("a4", 4, "r/z1/", 1);
    a1.setHealthFlag(Host.FAILED_ACTIVE_HC);
    a2.setHealthFlag(Host.FAILED_ACTIVE_HC);
    PrioritySet set = new PrioritySet(List.of(List.of(a1, a2, a3, a4, host("b1", 5, "r/z2/", 1))));
    // z1: 1 * min(1, 1.4 * 2/4) = 0.7; z2: 1.
    Map<String, Integer> c = counts(lb(LbFactory.Policy.ROUND_ROBIN, set), 1700);
    assertThat(c.get("b1")).isEqualTo(1000);
    assertThat(c.get("a3") + c.get("a4")).isEqualTo(700);
  }
}
