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
    RANDOM,
    RING_HASH,
    MAGLEV
  }

  /** Envoy's default minimum ring size. */
  static final long DEFAULT_MIN_RING_SIZE = 1024;
  /** Envoy's default (and largest) maximum ring size. */
  static final long DEFAULT_MAX_RING_SIZE = 8388608;
  /** Envoy's default Maglev table size. */
  static final int DEFAULT_MAGLEV_TABLE_SIZE = 65537;

  private final Policy policy;
  private final int panicThreshold;
  private final int choiceCount;
  private final double activeRequestBias;
  private final Counter healthyPanic;
  private final boolean useHostnameForHashing;
  private final long minRingSize;
  private final long maxRingSize;
  private final int maglevTableSize;
  private boolean localityWeighted;
  private PriorityLoadBalancer.SlowStart slowStart;

  LbFactory(
      Policy policy,
      int panicThreshold,
      int choiceCount,
      double activeRequestBias,
      Counter healthyPanic) {
    this(
        policy,
        panicThreshold,
        choiceCount,
        activeRequestBias,
        healthyPanic,
        false,
        DEFAULT_MIN_RING_SIZE,
        DEFAULT_MAX_RING_SIZE,
        DEFAULT_MAGLEV_TABLE_SIZE);
  }

  LbFactory(
      Policy policy,
      int panicThreshold,
      int choiceCount,
      double activeRequestBias,
      Counter healthyPanic,
      boolean useHostnameForHashing,
      long minRingSize,
      long maxRingSize,
      int maglevTableSize) {
    this.policy = policy;
    this.panicThreshold = panicThreshold;
    this.choiceCount = choiceCount;
    this.activeRequestBias = activeRequestBias;
    this.healthyPanic = healthyPanic;
    this.useHostnameForHashing = useHostnameForHashing;
    this.minRingSize = minRingSize;
    this.maxRingSize = maxRingSize;
    this.maglevTableSize = maglevTableSize;
  }

  static LbFactory build(Cluster proto, String path, ClusterStats stats) {
    Policy policy =
        switch (proto.getLbPolicy()) {
          case ROUND_ROBIN -> Policy.ROUND_ROBIN;
          case LEAST_REQUEST -> Policy.LEAST_REQUEST;
          case RANDOM -> Policy.RANDOM;
          case RING_HASH -> Policy.RING_HASH;
          case MAGLEV -> Policy.MAGLEV;
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
    PriorityLoadBalancer.SlowStart slowStart = null;
    if (policy == Policy.ROUND_ROBIN && proto.getRoundRobinLbConfig().hasSlowStartConfig()) {
      slowStart = slowStart(proto.getRoundRobinLbConfig().getSlowStartConfig(),
          path + ".round_robin_lb_config.slow_start_config");
    } else if (policy == Policy.LEAST_REQUEST && proto.getLeastRequestLbConfig().hasSlowStartConfig()) {
      slowStart = slowStart(proto.getLeastRequestLbConfig().getSlowStartConfig(),
          path + ".least_request_lb_config.slow_start_config");
    }
    Cluster.CommonLbConfig common = proto.getCommonLbConfig();
    if (common.hasLocalityWeightedLbConfig()
        && (policy == Policy.RING_HASH || policy == Policy.MAGLEV)) {
      throw new ConfigException(
          path + ".common_lb_config.locality_weighted_lb_config",
          "unsupported with lb_policy " + policy);
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
    Cluster.CommonLbConfig.ConsistentHashingLbConfig ch = common.getConsistentHashingLbConfig();
    if (ch.hasHashBalanceFactor()) {
      throw new ConfigException(
          path + ".common_lb_config.consistent_hashing_lb_config.hash_balance_factor",
          "unsupported");
    }
    long minRing = DEFAULT_MIN_RING_SIZE;
    long maxRing = DEFAULT_MAX_RING_SIZE;
    Cluster.RingHashLbConfig rh = proto.getRingHashLbConfig();
    String rhPath = path + ".ring_hash_lb_config";
    if (rh.hasMinimumRingSize()) {
      minRing = rh.getMinimumRingSize().getValue();
      if (minRing > DEFAULT_MAX_RING_SIZE) {
        throw new ConfigException(
            rhPath + ".minimum_ring_size.value", "value must be less than or equal to 8388608");
      }
    }
    if (rh.hasMaximumRingSize()) {
      maxRing = rh.getMaximumRingSize().getValue();
      if (maxRing > DEFAULT_MAX_RING_SIZE) {
        throw new ConfigException(
            rhPath + ".maximum_ring_size.value", "value must be less than or equal to 8388608");
      }
    }
    if (minRing > maxRing) {
      throw new ConfigException(
          rhPath,
          "ring hash: minimum_ring_size (" + minRing + ") > maximum_ring_size (" + maxRing + ")");
    }
    if (rh.getHashFunction() != Cluster.RingHashLbConfig.HashFunction.XX_HASH) {
      throw new ConfigException(
          rhPath + ".hash_function", "unsupported hash function " + rh.getHashFunction());
    }
    int tableSize = DEFAULT_MAGLEV_TABLE_SIZE;
    if (proto.getMaglevLbConfig().hasTableSize()) {
      long t = proto.getMaglevLbConfig().getTableSize().getValue();
      String tPath = path + ".maglev_lb_config.table_size.value";
      if (t > 5000011) {
        throw new ConfigException(tPath, "value must be less than or equal to 5000011");
      }
      if (!isPrime(t)) {
        throw new ConfigException(tPath, "The table size of maglev must be prime number");
      }
      tableSize = (int) t;
    }
    LbFactory f = new LbFactory(
        policy,
        panicThreshold,
        choiceCount,
        bias,
        stats.lbHealthyPanic,
        ch.getUseHostnameForHashing(),
        minRing,
        maxRing,
        tableSize);
    f.localityWeighted = common.hasLocalityWeightedLbConfig();
    f.slowStart = slowStart;
    return f;
  }

  private static PriorityLoadBalancer.SlowStart slowStart(
      Cluster.SlowStartConfig c, String p) {
    long window = c.getSlowStartWindow().getSeconds() * 1_000_000_000L + c.getSlowStartWindow().getNanos();
    if (window <= 0) {
      return null;
    }
    double aggression = c.hasAggression() ? c.getAggression().getDefaultValue() : 1.0;
    if (aggression <= 0 || Double.isNaN(aggression)) {
      throw new ConfigException(p + ".aggression", "value must be greater than 0");
    }
    double min = c.hasMinWeightPercent() ? c.getMinWeightPercent().getValue() : 10.0;
    if (min < 0 || min > 100 || Double.isNaN(min)) {
      throw new ConfigException(p + ".min_weight_percent.value", "value must be inside range [0, 100]");
    }
    return new PriorityLoadBalancer.SlowStart(window, aggression, min / 100.0);
  }

  /** Returns the slow start settings, or null. */
  PriorityLoadBalancer.SlowStart slowStart() {
    return slowStart;
  }

  /** Returns whether {@code locality_weighted_lb_config} is set. */
  boolean localityWeighted() {
    return localityWeighted;
  }

  static boolean isPrime(long n) {
    if (n < 2) {
      return false;
    }
    for (long d = 2; d * d <= n; d++) {
      if (n % d == 0) {
        return false;
      }
    }
    return true;
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

  boolean useHostnameForHashing() {
    return useHostnameForHashing;
  }

  long minRingSize() {
    return minRingSize;
  }

  long maxRingSize() {
    return maxRingSize;
  }

  int maglevTableSize() {
    return maglevTableSize;
  }

  @Override
  public LoadBalancer create(PrioritySet hosts) {
    return create(hosts, new SplittableRandom(ThreadLocalRandom.current().nextLong()));
  }

  /** Returns a balancer drawing its random numbers from {@code random} (tests pass a fixed one). */
  LoadBalancer create(PrioritySet hosts, RandomGenerator random) {
    return create(hosts, random, System::nanoTime);
  }

  /** Returns a balancer with its random numbers and its clock (for slow start) given. */
  LoadBalancer create(PrioritySet hosts, RandomGenerator random, java.util.function.LongSupplier clock) {
    LoadBalancer lb = create0(hosts, random);
    if (lb instanceof PriorityLoadBalancer p) {
      if (localityWeighted) {
        p.enableLocalityWeights();
      }
      if (slowStart != null) {
        p.enableSlowStart(slowStart, clock);
      }
    }
    return lb;
  }

  private LoadBalancer create0(PrioritySet hosts, RandomGenerator random) {
    return switch (policy) {
      case ROUND_ROBIN -> new RoundRobinLoadBalancer(hosts, random, panicThreshold, healthyPanic);
      case LEAST_REQUEST -> new LeastRequestLoadBalancer(
          hosts, random, panicThreshold, healthyPanic, choiceCount, activeRequestBias);
      case RANDOM -> new RandomLoadBalancer(hosts, random, panicThreshold, healthyPanic);
      case RING_HASH -> new RingHashLoadBalancer(
          hosts, random, panicThreshold, healthyPanic, useHostnameForHashing, minRingSize, maxRingSize);
      case MAGLEV -> new MaglevLoadBalancer(
          hosts, random, panicThreshold, healthyPanic, useHostnameForHashing, maglevTableSize);
    };
  }
}
