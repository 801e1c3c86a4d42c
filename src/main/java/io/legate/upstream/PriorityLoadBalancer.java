package io.legate.upstream;

import io.legate.stats.Counter;
import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * The part Envoy's host-picking load balancers share (its {@code LoadBalancerBase}): the share of
 * requests each priority level gets, computed from the healthy ratio of every level and the
 * overprovisioning factor, and panic mode, in which a level whose healthy share is under
 * {@code healthy_panic_threshold} balances over all of its hosts. Everything is computed once from
 * the immutable {@link PrioritySet}; an instance belongs to one worker and takes no locks.
 */
abstract class PriorityLoadBalancer implements LoadBalancer {
  /** The hosts one pick chooses from (one priority's healthy or all hosts) and its pick state. */
  static final class Source {
    final List<Host> hosts;
    final boolean weightsEqual;
    EdfScheduler<Host> edf;
    /** A consistent-hashing table built on first use. */
    Object table;
    long rrIndex;
    boolean started;
    /** With locality weighting: the localities' sources by EDF (built on first use), or none. */
    EdfScheduler<Source> localities;
    boolean localitiesBuilt;
    /** This source's effective locality weight, when it is one locality's hosts. */
    double localityWeight;

    Source(List<Host> hosts) {
      this.hosts = hosts;
      this.weightsEqual = weightsEqual(hosts);
    }
  }

  final PrioritySet prioritySet;
  final RandomGenerator random;
  private final Counter healthyPanic;
  private final int levels;
  private final int[] priorityLoad;
  private final int[] health;
  private final boolean[] panic;
  private final Source[] healthySources;
  private final Source[] allSources;
  private boolean localityWeighted;
  private SlowStart slowStart;
  private java.util.function.LongSupplier clock = System::nanoTime;

  /**
   * Envoy's {@code slow_start_config}: a host younger than the window has its weight scaled by
   * {@code max(min_weight_percent, (age / window) ^ (1 / aggression))}.
   */
  record SlowStart(long windowNanos, double aggression, double minWeightFraction) {}

  /**
   * @param panicThreshold {@code healthy_panic_threshold} in percent (0..100)
   * @param healthyPanic the cluster's {@code lb_healthy_panic} counter
   */
  PriorityLoadBalancer(
      PrioritySet prioritySet, RandomGenerator random, int panicThreshold, Counter healthyPanic) {
    this.prioritySet = prioritySet;
    this.random = random;
    this.healthyPanic = healthyPanic;
    List<List<Host>> byPriority = prioritySet.byPriority();
    this.levels = byPriority.size();
    this.priorityLoad = new int[Math.max(1, levels)];
    this.panic = new boolean[Math.max(1, levels)];
    this.healthySources = new Source[levels];
    this.allSources = new Source[levels];
    int[] health = new int[levels];
    this.health = health;
    int[] healthyHostCount = new int[levels];
    for (int p = 0; p < levels; p++) {
      List<Host> all = byPriority.get(p);
      List<Host> healthy = new ArrayList<>(all.size());
      long healthyWeight = 0;
      long totalWeight = 0;
      for (Host h : all) {
        totalWeight += prioritySet.weightedPriorityHealth() ? h.weight() : 1;
        if (h.healthy()) {
          healthy.add(h);
          healthyWeight += prioritySet.weightedPriorityHealth() ? h.weight() : 1;
        }
      }
      healthyHostCount[p] = healthy.size();
      if (!all.isEmpty()) {
        health[p] =
            (int) Math.min(100, prioritySet.overprovisioningFactor() * healthyWeight / totalWeight);
      }
      allSources[p] = new Source(all);
      healthySources[p] =
          healthy.size() == all.size() ? allSources[p] : new Source(List.copyOf(healthy));
    }
    computeLoad(byPriority, health, healthyHostCount, panicThreshold);
  }

  private void computeLoad(
      List<List<Host>> byPriority, int[] health, int[] healthyHostCount, int panicThreshold) {
    int normalized = 0;
    for (int h : health) {
      normalized += h;
    }
    normalized = Math.min(100, normalized);
    if (normalized > 0) {
      int remaining = 100;
      int firstAvailable = -1;
      for (int p = 0; p < levels; p++) {
        if (firstAvailable < 0 && health[p] > 0) {
          firstAvailable = p;
        }
        priorityLoad[p] = Math.min(remaining, health[p] * 100 / normalized);
        remaining -= priorityLoad[p];
      }
      if (remaining != 0) {
        priorityLoad[firstAvailable] += remaining;
      }
    }
    if (panicThreshold == 0 && normalized == 0) {
      priorityLoad[0] = 100;
      return;
    }
    boolean totalPanic = true;
    for (int p = 0; p < levels; p++) {
      int count = byPriority.get(p).size();
      double healthyPercent = count == 0 ? 0.0 : 100.0 * healthyHostCount[p] / count;
      panic[p] = normalized != 100 && healthyPercent < panicThreshold;
      totalPanic &= panic[p];
    }
    if (totalPanic) {
      int totalHosts = prioritySet.hosts().size();
      if (totalHosts == 0) {
        priorityLoad[0] = 100;
        return;
      }
      int remaining = 100;
      int firstNonEmpty = -1;
      for (int p = 0; p < levels; p++) {
        int n = byPriority.get(p).size();
        if (firstNonEmpty < 0 && n != 0) {
          firstNonEmpty = p;
        }
        priorityLoad[p] = 100 * n / totalHosts;
        remaining -= priorityLoad[p];
      }
      priorityLoad[firstNonEmpty] += remaining;
    }
  }

  /** Returns the percentage of requests priority {@code p} receives (for tests and admin). */
  int priorityLoad(int p) {
    return priorityLoad[p];
  }

  /** Returns whether priority {@code p} is in panic mode. */
  boolean inPanic(int p) {
    return panic[p];
  }

  @Override
  public Host chooseHost(LbContext context) {
    if (levels == 0) {
      return null;
    }
    long hash = selectionHash(context);
    int p = choosePriority(hash, context == null ? priorityLoad : context.determinePriorityLoad(priorityLoad, health));
    Source source;
    if (panic[p]) {
      healthyPanic.inc();
      source = allSources[p];
    } else {
      source = healthySources[p];
    }
    if (source.hosts.isEmpty()) {
      return null;
    }
    if (localityWeighted) {
      Source l = localitySource(source, p);
      if (l != null) {
        source = l;
      }
    }
    return pick(source, hash);
  }

  /**
   * Turns on Envoy's {@code locality_weighted_lb_config}: a pick first chooses a locality of the
   * priority by EDF over the localities' effective weights (the locality's {@code
   * load_balancing_weight} times {@code min(1, overprovisioning factor * healthy / all)} of its
   * hosts), then a host within that locality. Localities without a weight get no traffic.
   */
  void enableLocalityWeights() {
    localityWeighted = true;
  }

  /** Turns on slow start, reading time from {@code clock} (nanoseconds, as System.nanoTime). */
  void enableSlowStart(SlowStart s, java.util.function.LongSupplier clock) {
    this.slowStart = s;
    this.clock = clock;
  }

  /** Returns whether some host of {@code source} is still in its slow start window. */
  boolean inSlowStart(Source source) {
    if (slowStart == null) {
      return false;
    }
    long now = clock.getAsLong();
    for (int i = 0; i < source.hosts.size(); i++) {
      if (now - source.hosts.get(i).slowStartSinceNanos() < slowStart.windowNanos()) {
        return true;
      }
    }
    return false;
  }

  /** Returns {@code weight} scaled by the host's slow start factor (unchanged when none applies). */
  double applySlowStart(Host host, double weight) {
    if (slowStart == null) {
      return weight;
    }
    long age = clock.getAsLong() - host.slowStartSinceNanos();
    if (age >= slowStart.windowNanos() || !host.healthy()) {
      return weight;
    }
    double t = Math.max(1_000_000L, age) / (double) slowStart.windowNanos();
    double f = slowStart.aggression() == 1.0 ? t : Math.pow(t, 1.0 / slowStart.aggression());
    return weight * Math.max(f, slowStart.minWeightFraction());
  }

  /** Returns the locality chosen for this pick within {@code source}, or null when none has weight. */
  private Source localitySource(Source source, int p) {
    if (!source.localitiesBuilt) {
      source.localitiesBuilt = true;
      java.util.Map<String, List<Host>> groups = new java.util.LinkedHashMap<>();
      for (Host h : source.hosts) {
        groups.computeIfAbsent(h.locality().name(), k -> new ArrayList<>()).add(h);
      }
      java.util.Map<String, Integer> totals = new java.util.HashMap<>();
      for (Host h : prioritySet.byPriority().get(p)) {
        totals.merge(h.locality().name(), 1, Integer::sum);
      }
      List<Source> weighted = new ArrayList<>();
      for (var e : groups.entrySet()) {
        int w = e.getValue().get(0).locality().weight();
        if (w <= 0) {
          continue;
        }
        double ratio = prioritySet.overprovisioningFactor() / 100.0 * e.getValue().size()
            / totals.getOrDefault(e.getKey(), e.getValue().size());
        Source s = new Source(List.copyOf(e.getValue()));
        s.localityWeight = w * Math.min(1.0, ratio);
        if (s.localityWeight > 0) {
          weighted.add(s);
        }
      }
      if (!weighted.isEmpty()) {
        source.localities = EdfScheduler.createWithPicks(weighted, s -> s.localityWeight, random.nextLong());
      }
    }
    return source.localities == null ? null : source.localities.pickAndAdd(s -> s.localityWeight);
  }

  /**
   * Returns the number that chooses the priority (and, for consistent hashing, the host): a random
   * number unless overridden.
   */
  long selectionHash(LbContext context) {
    return random.nextLong();
  }

  private int choosePriority(long hash, int[] load) {
    long h = Long.remainderUnsigned(hash, 100) + 1;
    int aggregate = 0;
    for (int p = 0; p < levels && p < load.length; p++) {
      aggregate += load[p];
      if (h <= aggregate) {
        return p;
      }
    }
    return 0;
  }

  /**
   * Returns a host of {@code source}, which is not empty.
   *
   * @param hash the number that chose the priority (consistent-hashing balancers use it)
   */
  abstract Host pick(Source source, long hash);

  static boolean weightsEqual(List<Host> hosts) {
    for (int i = 1; i < hosts.size(); i++) {
      if (hosts.get(i).weight() != hosts.get(0).weight()) {
        return false;
      }
    }
    return true;
  }

  static int index(long random, int size) {
    return (int) Long.remainderUnsigned(random, size);
  }
}
