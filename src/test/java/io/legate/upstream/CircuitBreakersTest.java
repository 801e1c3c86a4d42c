package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CircuitBreakersTest {
  private static final String PATH = "static_resources.clusters[0]";
  private final StatsStore store = new StatsStore();

  private CircuitBreakers build(String yaml) {
    return ClusterInfo.build(Yaml.cluster(yaml), PATH, store).circuitBreakers();
  }

  private long gauge(String name) {
    return store.gauge(name).value();
  }

  @Test
  void defaultsAreEnvoys() {
    CircuitBreakers cb = build("name: c\n");
    for (CircuitBreakers.Priority p : CircuitBreakers.Priority.values()) {
      CircuitBreakers.ResourceManager rm = cb.forPriority(p);
      assertThat(rm.thresholds()).isEqualTo(CircuitBreakers.Thresholds.DEFAULTS);
      assertThat(rm.connections().max()).isEqualTo(1024);
      assertThat(rm.pendingRequests().max()).isEqualTo(1024);
      assertThat(rm.requests().max()).isEqualTo(1024);
      assertThat(rm.retries().max()).isEqualTo(3);
    }
    assertThat(gauge("cluster.c.circuit_breakers.default.cx_open")).isZero();
    assertThat(gauge("cluster.c.circuit_breakers.high.rq_retry_open")).isZero();
    assertThat(store.gauges()).extracting(g -> g.name()).doesNotContain("cluster.c.circuit_breakers.default.remaining_rq");
  }

  @Test
  void thresholdsPerPriorityFirstWins() {
    CircuitBreakers cb =
        build(
            "name: c\ncircuit_breakers:\n  thresholds:\n"
                + "  - {max_connections: 1, max_pending_requests: 2, max_requests: 3, max_retries: 4, track_remaining: true}\n"
                + "  - {priority: HIGH, max_requests: 9}\n"
                + "  - {priority: DEFAULT, max_requests: 99}\n");
    assertThat(cb.forPriority(CircuitBreakers.Priority.DEFAULT).thresholds())
        .isEqualTo(new CircuitBreakers.Thresholds(1, 2, 3, 4, -1, 3, true));
    assertThat(cb.forPriority(CircuitBreakers.Priority.HIGH).thresholds())
        .isEqualTo(new CircuitBreakers.Thresholds(1024, 1024, 9, 3, -1, 3, false));
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_cx")).isEqualTo(1);
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_pending")).isEqualTo(2);
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_rq")).isEqualTo(3);
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_retries")).isEqualTo(4);
  }

  @Test
  void acquireAndReleaseMoveGauges() {
    CircuitBreakers cb =
        build("name: c\ncircuit_breakers: {thresholds: [{max_requests: 2, track_remaining: true}]}\n");
    CircuitBreakers.Resource rq = cb.forPriority(CircuitBreakers.Priority.DEFAULT).requests();
    assertThat(rq.tryAcquire()).isTrue();
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_rq")).isEqualTo(1);
    assertThat(gauge("cluster.c.circuit_breakers.default.rq_open")).isZero();
    assertThat(rq.tryAcquire()).isTrue();
    assertThat(gauge("cluster.c.circuit_breakers.default.rq_open")).isEqualTo(1);
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_rq")).isZero();
    assertThat(rq.tryAcquire()).isFalse();
    assertThat(rq.count()).isEqualTo(2);
    rq.release();
    assertThat(gauge("cluster.c.circuit_breakers.default.rq_open")).isZero();
    assertThat(rq.canCreate()).isTrue();
    rq.forceAcquire();
    rq.forceAcquire();
    assertThat(rq.count()).isEqualTo(3);
    assertThat(gauge("cluster.c.circuit_breakers.default.remaining_rq")).isZero();
  }

  @Test
  void tryAcquireIsExactUnderConcurrency() throws Exception {
    CircuitBreakers cb = build("name: c\ncircuit_breakers: {thresholds: [{max_requests: 100}]}\n");
    CircuitBreakers.Resource rq = cb.forPriority(CircuitBreakers.Priority.DEFAULT).requests();
    AtomicInteger won = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      Thread th =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  return;
                }
                for (int i = 0; i < 1000; i++) {
                  if (rq.tryAcquire()) {
                    won.incrementAndGet();
                  }
                }
              });
      th.start();
      threads.add(th);
    }
    go.countDown();
    for (Thread th : threads) {
      th.join();
    }
    assertThat(won.get()).isEqualTo(100);
    assertThat(rq.count()).isEqualTo(100);
  }

  @Test
  void retryBudgetFollowsActiveRequests() {
    CircuitBreakers cb =
        build(
            "name: c\ncircuit_breakers: {thresholds: [{max_retries: 1, retry_budget:"
                + " {budget_percent: {value: 50}, min_retry_concurrency: 2}}]}\n");
    CircuitBreakers.ResourceManager rm = cb.forPriority(CircuitBreakers.Priority.DEFAULT);
    assertThat(rm.retries().max()).isEqualTo(2);
    for (int i = 0; i < 6; i++) {
      rm.requests().tryAcquire();
    }
    rm.pendingRequests().tryAcquire();
    rm.pendingRequests().tryAcquire();
    assertThat(rm.retries().max()).isEqualTo(4);
    CircuitBreakers defaults =
        build("name: d\ncircuit_breakers: {thresholds: [{retry_budget: {}}]}\n");
    assertThat(defaults.forPriority(CircuitBreakers.Priority.DEFAULT).thresholds())
        .isEqualTo(new CircuitBreakers.Thresholds(1024, 1024, 1024, 3, 20.0, 3, false));
  }

  @Test
  void unsupportedFieldsAreRefused() {
    assertThatThrownBy(() -> build("name: c\ncircuit_breakers: {per_host_thresholds: [{max_connections: 1}]}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.clusters[0].circuit_breakers.per_host_thresholds: not supported");
    assertThatThrownBy(() -> build("name: c\ncircuit_breakers: {thresholds: [{}, {max_connection_pools: 1}]}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("static_resources.clusters[0].circuit_breakers.thresholds[1].max_connection_pools: not supported");
    assertThatThrownBy(
            () -> build("name: c\ncircuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 120}}}]}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[0].circuit_breakers.thresholds[0].retry_budget.budget_percent.value:"
                + " value must be inside range [0, 100]");
  }
}
