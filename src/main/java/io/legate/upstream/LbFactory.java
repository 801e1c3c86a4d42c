package io.legate.upstream;

import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.legate.config.ConfigException;
import io.legate.stats.Counter;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/** The immutable load-balancer settings of a cluster; builds one balancer per worker and snapshot. */
final class LbFactory implements LoadBalancer.Factory {
  enum Policy {
    ROUND_ROBIN,
    LEAST_REQUEST,
    RANDOM
  }

  private final Policy policy;
  private final int panicThreshold;
  private final int choiceCount;
  private final double activeRequestBias;
  private final Counter healthyPanic;

  LbFactory(
      Policy policy,
      int panicThreshold,
      int choiceCount,
      double activeRequestBias,
      Counter healthyPanic) {
    this.policy = policy;
    this.panicThreshold = panicThreshold;
    this.choiceCount = choiceCount;
    this.activeRequestBias = activeRequestBias;
    this.healthyPanic = healthyPanic;
  }

  static LbFactory build(Cluster proto, String path, ClusterStats stats) {
    Policy policy =
        switch (proto.getLbPolicy()) {
          case ROUND_ROBIN -> Policy.ROUND_ROBIN;
          case LEAST_REQUEST -> Policy.LEAST_REQUEST;
          case RANDOM -> Policy.RANDOM;
          default -> throw new ConfigException(
              path + ".lb_policy", "unsupported load balancing policy " + proto.getLbPolicy());
        };
    if (proto.hasLoadBalancingPolicy()) {
      throw new ConfigException(
          path + ".load_balancing_policy", "unsupported; use lb_policy");
    }
    if (proto.hasLbSubsetConfig()) {
      throw new ConfigException(path + ".lb_subset_config", "unsupported");
    }
    if (proto.getRoundRobinLbConfig().hasSlowStartConfig()) {
      throw new ConfigException(
          path + ".round_robin_lb_config.slow_start_config", "unsupported");
    }
    if (proto.getLeastRequestLbConfig().hasSlowStartConfig()) {
      throw new ConfigException(
          path + ".least_request_lb_config.slow_start_config", "unsupported");
    }
    Cluster.CommonLbConfig common = proto.getCommonLbConfig();
    if (common.hasLocalityWeightedLbConfig()) {
      throw new ConfigException(
          path + ".common_lb_config.locality_weighted_lb_config", "unsupported");
    }
    int panicThreshold = 50;
    if (common.hasHealthyPanicThreshold()) {
      double v = common.getHealthyPanicThreshold().getValue();
      if (v < 0 || v > 100 || Double.isNaN(v)) {
        throw new ConfigException(
            path + ".common_lb_config.healthy_panic_threshold.value",
            "value must be inside range [0, 100]");
      }
      panicThreshold = (int) Math.round(v);
    }
    int choiceCount = 2;
    double bias = 1.0;
    Cluster.LeastRequestLbConfig lr = proto.getLeastRequestLbConfig();
    if (lr.hasChoiceCount()) {
      choiceCount = lr.getChoiceCount().getValue();
      if (choiceCount < 2) {
        throw new ConfigException(
            path + ".least_request_lb_config.choice_count", "value must be greater than or equal to 2");
      }
    }
    if (lr.hasActiveRequestBias()) {
      bias = lr.getActiveRequestBias().getDefaultValue();
      if (bias < 0 || Double.isNaN(bias)) {
        throw new ConfigException(
            path + ".least_request_lb_config.active_request_bias",
            "value must be greater than or equal to 0");
      }
    }
    return new LbFactory(policy, panicThreshold, choiceCount, bias, stats.lbHealthyPanic);
  }

  Policy policy() {
    return policy;
  }

  int panicThreshold() {
    return panicThreshold;
  }

  int choiceCount() {
    return choiceCount;
  }

  double activeRequestBias() {
    return activeRequestBias;
  }

  @Override
  public LoadBalancer create(PrioritySet hosts) {
    return create(hosts, new SplittableRandom(ThreadLocalRandom.current().nextLong()));
  }

  /** Returns a balancer drawing its random numbers from {@code random} (tests pass a fixed one). */
  LoadBalancer create(PrioritySet hosts, RandomGenerator random) {
    return switch (policy) {
      case ROUND_ROBIN -> new RoundRobinLoadBalancer(hosts, random, panicThreshold, healthyPanic);
      case LEAST_REQUEST -> new LeastRequestLoadBalancer(
          hosts, random, panicThreshold, healthyPanic, choiceCount, activeRequestBias);
      case RANDOM -> new RandomLoadBalancer(hosts, random, panicThreshold, healthyPanic);
    };
  }
}
