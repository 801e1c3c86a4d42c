package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** slow_start_config: a host newer than the window gets a ramped-up share of the traffic. */
class SlowStartLbTest {
  private static final long S = 1_000_000_000L;
  private long now = 1000 * S;

  private static Host host(String name, int n) {
    return new Host("c", new InetSocketAddress("10.0.1." + n, 80), name, 1, 0, "");
  }

  private Map<String, Integer> counts(LoadBalancer lb, int n) {
    Map<String, Integer> c = new HashMap<>();
    for (int i = 0; i < n; i++) {
      c.merge(lb.chooseHost(LoadBalancer.LbContext.NONE).hostname(), 1, Integer::sum);
    }
    return c;
  }

  private LoadBalancer lb(LbFactory.Policy policy, List<Host> hosts, double aggression, double min) {
    LbFactory f = new LbFactory(policy, 50, 2, 1.0, new StatsStore().counter("p"));
    LoadBalancer lb = f.create(new PrioritySet(List.of(hosts)), new SplittableRandom(3), () -> now);
    ((PriorityLoadBalancer) lb).enableSlowStart(
        new PriorityLoadBalancer.SlowStart(10 * S, aggression, min), () -> now);
    return lb;
  }

  @Test
  void aNewHostRampsUpOverTheWindow() {
    Host old = host("old", 1);
    Host fresh = host("new", 2);
    old.restartSlowStart(now - 100 * S);
    fresh.restartSlowStart(now - 5 * S);
    for (LbFactory.Policy p : List.of(LbFactory.Policy.ROUND_ROBIN, LbFactory.Policy.LEAST_REQUEST)) {
      // Halfway through the window with aggression 1: weight 0.5 against 1.
      Map<String, Integer> c = counts(lb(p, List.of(old, fresh), 1.0, 0.1), 300);
      assertThat(c.get("new")).as(p.name()).isBetween(95, 105);
      assertThat(c.get("old")).as(p.name()).isBetween(195, 205);
    }
    // Aggression 2: the factor is (0.5)^(1/2) = 0.707.
    Map<String, Integer> c = counts(lb(LbFactory.Policy.ROUND_ROBIN, List.of(old, fresh), 2.0, 0.1), 1707);
    assertThat(c.get("new")).isBetween(702, 712);
  }

  @Test
  void theMinimumWeightAppliesFirstAndTheFullWeightAfterTheWindow() {
    Host old = host("old", 1);
    Host fresh = host("new", 2);
    old.restartSlowStart(now - 100 * S);
    fresh.restartSlowStart(now);
    LoadBalancer lb = lb(LbFactory.Policy.ROUND_ROBIN, List.of(old, fresh), 1.0, 0.1);
    Map<String, Integer> early = counts(lb, 1100);
    assertThat(early.get("new")).isBetween(95, 105);
    now += 11 * S;
    Map<String, Integer> later = counts(lb, 1000);
    assertThat(later.get("new")).isBetween(480, 520);
  }
}
